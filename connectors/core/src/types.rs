//! The normalised objects every connector produces and the daemon stores.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// Where an invoice stands, the same five states for every provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Not issued yet: never chased.
    Draft,
    /// Issued and not fully paid.
    Open,
    /// Paid in full.
    Paid,
    /// Cancelled (or deleted at the source).
    Void,
    /// Written off by the merchant: not chased.
    Uncollectible,
}

impl InvoiceStatus {
    /// The stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
            InvoiceStatus::Uncollectible => "uncollectible",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => InvoiceStatus::Draft,
            "open" => InvoiceStatus::Open,
            "paid" => InvoiceStatus::Paid,
            "void" => InvoiceStatus::Void,
            "uncollectible" => InvoiceStatus::Uncollectible,
            _ => return None,
        })
    }

    /// Order of the lifecycle, used to break ties between two versions of an invoice stamped
    /// with the same time: a later state never loses to an earlier one.
    pub fn rank(&self) -> i32 {
        match self {
            InvoiceStatus::Draft => 0,
            InvoiceStatus::Open => 1,
            InvoiceStatus::Uncollectible => 2,
            InvoiceStatus::Paid | InvoiceStatus::Void => 3,
        }
    }

    /// True when nothing more is owed or chased.
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            InvoiceStatus::Paid | InvoiceStatus::Void | InvoiceStatus::Uncollectible
        )
    }
}

/// A customer as the provider describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The provider's id for the customer.
    pub external_id: String,
    /// Display name (company or person).
    pub name: String,
    /// Where reminders go, first one preferred.
    pub emails: Vec<String>,
    /// Phone number as the provider has it (not necessarily E.164).
    pub phone: Option<String>,
    /// Language for messages (`fr`, `en`, `fr-FR`); the company's when `None`.
    pub locale: Option<String>,
    /// IANA time zone (`Europe/Paris`); the company's when `None`.
    pub time_zone: Option<String>,
    /// When the provider last changed it, if it says.
    pub source_updated_at: Option<DateTime<Utc>>,
    /// Postal address, lines joined with `, ` (for letters), when the provider has one.
    #[serde(default)]
    pub address: Option<String>,
    /// True for a private individual (B2C), false for a business, when the provider says.
    #[serde(default)]
    pub consumer: Option<bool>,
}

/// A postal address on one line, as letters print it (split again at the commas): the street
/// lines (each may hold several, one per text line), then `postal code city`, the region and
/// the country; blank parts are left out; `None` when nothing is left.
pub fn address_line<'a>(
    street: impl IntoIterator<Item = Option<&'a str>>,
    postal_code: Option<&str>,
    city: Option<&str>,
    region: Option<&str>,
    country: Option<&str>,
) -> Option<String> {
    let mut parts: Vec<String> = street
        .into_iter()
        .flatten()
        .flat_map(str::lines)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let city = [postal_code, city]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    parts.push(city);
    parts.extend(
        [region, country]
            .into_iter()
            .flatten()
            .map(|s| s.trim().to_string()),
    );
    parts.retain(|p| !p.is_empty());
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// What an invoice says about its customer, used only when the customer itself is not known
/// yet (an invoice seen before its customer): it never overwrites a stored customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerHint {
    /// Name printed on the invoice.
    pub name: Option<String>,
    /// E-mail printed on the invoice.
    pub email: Option<String>,
    /// Phone printed on the invoice.
    pub phone: Option<String>,
}

/// An invoice in the shared schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    /// The provider's id for the invoice.
    pub external_id: String,
    /// The number the customer sees.
    pub number: String,
    /// The provider's id for the customer.
    pub customer_external_id: String,
    /// Customer details printed on the invoice.
    pub customer_hint: Option<CustomerHint>,
    /// Date of issue.
    pub issued_on: Option<NaiveDate>,
    /// Due date; `None` when the invoice has none (then it is not chased).
    pub due_on: Option<NaiveDate>,
    /// Amount invoiced.
    pub total: Money,
    /// Amount still owed (zero once paid or void).
    pub balance: Money,
    /// Lifecycle state.
    pub status: InvoiceStatus,
    /// False for invoices the provider collects by itself (automatic card charges).
    pub chase: bool,
    /// Bill-to e-mail on the invoice, preferred over the customer's.
    pub email: Option<String>,
    /// Customer-facing page where the invoice can be paid.
    pub payment_url: Option<String>,
    /// When it was paid in full.
    pub paid_at: Option<DateTime<Utc>>,
    /// The provider's own time for this version of the invoice; an older version never
    /// replaces a newer one.
    pub source_updated_at: DateTime<Utc>,
}

/// A payment applied to an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// The provider's id for the payment.
    pub external_id: String,
    /// The provider's id for the invoice it pays.
    pub invoice_external_id: String,
    /// Amount applied to the invoice.
    pub amount: Money,
    /// When it was paid.
    pub paid_at: DateTime<Utc>,
    /// How (`card`, `transfer`, `payment_intent`...), free text.
    pub method: Option<String>,
}

/// A payment for an invoice of another connector, named by its Relance key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalPayment {
    /// The invoice paid: `{connector_id}:{external_id}`, or `{connector_id}:{account}:{external_id}`
    /// (`qbo:9341452119837706:130`), as put in the payment link's metadata.
    pub target: String,
    /// The payment's id at the provider that took it (`pi_…`): one record per reference.
    pub reference: String,
    /// Amount paid (gross).
    pub amount: Money,
    /// When.
    pub paid_at: DateTime<Utc>,
    /// How (`card`, `sepa_debit`...).
    pub method: Option<String>,
}

impl ExternalPayment {
    /// `(connector, account, external_id)` of the target.
    pub fn target_parts(&self) -> Option<(&str, Option<&str>, &str)> {
        let mut parts = self.target.splitn(3, ':');
        let connector = parts.next().filter(|s| !s.is_empty())?;
        let second = parts.next().filter(|s| !s.is_empty())?;
        match parts.next() {
            Some(third) if !third.is_empty() => Some((connector, Some(second), third)),
            Some(_) => None,
            None => Some((connector, None, second)),
        }
    }
}

/// A payment to record on the platform where its invoice lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPayment {
    /// The provider's id for the invoice.
    pub invoice_external_id: String,
    /// The provider's id for the invoice's customer, when known (else read from the invoice).
    pub customer_external_id: Option<String>,
    /// Amount to record.
    pub amount: Money,
    /// When it was paid.
    pub paid_at: DateTime<Utc>,
    /// Where it came from (`stripe-main pi_…`), for the record's note.
    pub reference: String,
    /// Stable across retries (for provider idempotency).
    pub idempotency_key: String,
}

/// One change a connector observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// A customer was created or changed.
    Customer(Customer),
    /// An invoice was created or changed.
    Invoice(Invoice),
    /// A payment was recorded.
    Payment(Payment),
    /// A payment taken through this provider for an invoice that lives on another connector
    /// (a payment link): that invoice stops being chased and the payment is recorded there.
    ExternalPayment(ExternalPayment),
    /// An invoice was deleted at the source: it is treated as void.
    InvoiceDeleted {
        /// The provider's id for the invoice.
        external_id: String,
        /// When it was deleted.
        at: DateTime<Utc>,
    },
}

/// A provider event (from a webhook or from polling an events feed), applied at most once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InboundEvent {
    /// The provider's event id; `None` for snapshots that need no de-duplication (listings).
    pub id: Option<String>,
    /// Event type as the provider names it, for the audit trail.
    pub kind: String,
    /// Changes carried in the event itself.
    pub changes: Vec<Change>,
    /// Objects to fetch afresh because the event names them without carrying them.
    pub refetch: Vec<crate::connector::ObjectRef>,
}

/// What Relance did, as written back onto the source platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Policy step id (`friendly`, `thank_you`).
    pub step: String,
    /// Channel used (`email`).
    pub channel: String,
    /// When it was delivered.
    pub sent_at: DateTime<Utc>,
    /// How many reminders this invoice has had so far, this one included.
    pub reminders_sent: u32,
    /// Amount chased.
    pub amount: Option<Money>,
    /// One line for humans (`reminder 2 sent by email on 14 Dec`).
    pub summary: String,
}

/// A write-back request: one activity for one invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteBack {
    /// The provider's id for the invoice.
    pub invoice_external_id: String,
    /// Stable across retries of this write-back (for provider idempotency).
    pub idempotency_key: String,
    /// What to record.
    pub activity: Activity,
}

#[cfg(test)]
mod address_tests {
    use super::address_line;

    #[test]
    fn one_line_for_letters() {
        assert_eq!(
            address_line(
                [
                    Some("Service comptabilité\n4 quai des Bateliers"),
                    Some("  ")
                ],
                Some("67000"),
                Some("Strasbourg"),
                None,
                Some("France")
            )
            .as_deref(),
            Some("Service comptabilité, 4 quai des Bateliers, 67000 Strasbourg, France")
        );
        assert_eq!(
            address_line([None], None, Some(" Lyon "), Some(""), None).as_deref(),
            Some("Lyon")
        );
        assert_eq!(
            address_line([None, Some("")], Some(""), None, None, None),
            None
        );
    }
}
