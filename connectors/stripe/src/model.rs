//! Stripe's JSON, as much of it as Relance reads. Unknown fields are ignored and enums are kept
//! as strings: Stripe adds values without a version change.

use std::collections::HashMap;

use serde::Deserialize;

/// A list page.
#[derive(Debug, Deserialize)]
pub struct List<T> {
    /// The objects, newest first.
    pub data: Vec<T>,
    /// More objects exist after the last one.
    pub has_more: bool,
}

/// A field Stripe sends as an id or, when expanded, as the object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    /// Not expanded.
    Id(String),
    /// Expanded.
    Object(Box<T>),
}

impl<T: HasId> Expandable<T> {
    /// The id either way.
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) => id,
            Expandable::Object(o) => o.id(),
        }
    }
}

/// Objects with an id.
pub trait HasId {
    /// The id.
    fn id(&self) -> &str;
}

/// `status_transitions` of an invoice.
#[derive(Debug, Default, Deserialize)]
pub struct StatusTransitions {
    /// Finalized.
    pub finalized_at: Option<i64>,
    /// Paid.
    pub paid_at: Option<i64>,
    /// Voided.
    pub voided_at: Option<i64>,
    /// Marked uncollectible.
    pub marked_uncollectible_at: Option<i64>,
}

/// An invoice (`object: "invoice"`).
#[derive(Debug, Deserialize)]
pub struct Invoice {
    /// `in_…`.
    pub id: String,
    /// Number, `null` for drafts.
    pub number: Option<String>,
    /// `draft`, `open`, `paid`, `void`, `uncollectible`.
    pub status: Option<String>,
    /// `send_invoice` or `charge_automatically`.
    pub collection_method: Option<String>,
    /// The customer.
    pub customer: Option<Expandable<Customer>>,
    /// Accounts v2 customer id, when `customer` is null.
    pub customer_account: Option<String>,
    /// Copies of the customer at finalization.
    pub customer_email: Option<String>,
    /// Copies of the customer at finalization.
    pub customer_name: Option<String>,
    /// Copies of the customer at finalization.
    pub customer_phone: Option<String>,
    /// Due instant, Unix seconds.
    pub due_date: Option<i64>,
    /// Created, Unix seconds.
    pub created: i64,
    /// Date of issue.
    pub effective_at: Option<i64>,
    /// Lifecycle times.
    #[serde(default)]
    pub status_transitions: StatusTransitions,
    /// Total, minor units.
    pub total: i64,
    /// Still owed, minor units.
    pub amount_remaining: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// Customer-facing payment page.
    pub hosted_invoice_url: Option<String>,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: bool,
    /// Merchant metadata (Relance writes `relance_*` keys).
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

impl HasId for Invoice {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A customer (`object: "customer"`), possibly deleted.
#[derive(Debug, Deserialize)]
pub struct Customer {
    /// `cus_…`.
    pub id: String,
    /// True for a deleted customer (then most fields are absent).
    #[serde(default)]
    pub deleted: bool,
    /// Billing e-mail.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Business name (optional field).
    pub business_name: Option<String>,
    /// Individual name (optional field).
    pub individual_name: Option<String>,
    /// Phone, free text.
    pub phone: Option<String>,
    /// Ordered locales (`["fr-FR"]`).
    pub preferred_locales: Option<Vec<String>>,
    /// Billing address.
    #[serde(default)]
    pub address: Option<Address>,
    /// Created, Unix seconds.
    pub created: Option<i64>,
}

impl HasId for Customer {
    fn id(&self) -> &str {
        &self.id
    }
}

/// `status_transitions` of an invoice payment.
#[derive(Debug, Default, Deserialize)]
pub struct PaymentTransitions {
    /// Paid.
    pub paid_at: Option<i64>,
}

/// `payment` of an invoice payment.
#[derive(Debug, Deserialize)]
pub struct PaymentRef {
    /// `payment_intent`, `charge`, `payment_record`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// An invoice payment (`object: "invoice_payment"`, basil and later).
#[derive(Debug, Deserialize)]
pub struct InvoicePayment {
    /// `inpay_…`.
    pub id: String,
    /// The invoice it pays.
    pub invoice: Expandable<Invoice>,
    /// Amount paid, `null` until paid.
    pub amount_paid: Option<i64>,
    /// Lower-case ISO code.
    pub currency: String,
    /// `open`, `paid`, `canceled`.
    pub status: String,
    /// Times.
    #[serde(default)]
    pub status_transitions: PaymentTransitions,
    /// What paid it.
    pub payment: Option<PaymentRef>,
}

/// The request behind an event.
#[derive(Debug, Default, Deserialize)]
pub struct EventRequest {
    /// `req_…`, `null` when Stripe acted on its own.
    pub id: Option<String>,
    /// The idempotency key of that request.
    pub idempotency_key: Option<String>,
}

/// `data` of an event.
#[derive(Debug, Deserialize)]
pub struct EventData {
    /// The object as it was, kept raw: its type depends on the event type.
    pub object: Box<serde_json::value::RawValue>,
    /// Old values of the changed keys (`*.updated` only).
    pub previous_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An event (`object: "event"`).
#[derive(Debug, Deserialize)]
pub struct Event {
    /// `evt_…`.
    pub id: String,
    /// Event type (`invoice.paid`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Created, Unix seconds.
    pub created: i64,
    /// The object.
    pub data: EventData,
    /// The request that caused it.
    #[serde(default)]
    pub request: Option<EventRequest>,
}

/// Just the id of an object, to name one that cannot be read otherwise.
#[derive(Debug, Deserialize)]
pub struct IdOnly {
    /// The id, if any.
    pub id: Option<String>,
}

/// An error answer.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

/// The error object.
#[derive(Debug, Deserialize)]
pub struct ApiError {
    /// `invalid_request_error`, `api_error`, `idempotency_error`, `card_error`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Machine-readable code (`resource_missing`, `rate_limit`).
    pub code: Option<String>,
    /// Human message.
    pub message: Option<String>,
    /// Parameter at fault.
    pub param: Option<String>,
}

/// A Checkout Session (`checkout.session.*` events): how a payment link for an invoice that
/// lives elsewhere is paid.
#[derive(Debug, Deserialize)]
pub struct CheckoutSession {
    /// `cs_…`.
    pub id: String,
    /// `paid`, `unpaid` (asynchronous methods still pending) or `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// Total in minor units.
    #[serde(default)]
    pub amount_total: Option<i64>,
    /// Lower-case ISO code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Relance's invoice key, also in `metadata.relance_invoice`.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// Metadata set at creation.
    #[serde(default)]
    pub metadata: std::collections::HashMap<String, String>,
    /// `pi_…` (expanded objects are not requested).
    #[serde(default)]
    pub payment_intent: Option<serde_json::Value>,
    /// Methods offered.
    #[serde(default)]
    pub payment_method_types: Vec<String>,
}

/// A postal address.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Address {
    /// Street.
    #[serde(default)]
    pub line1: Option<String>,
    /// More of it.
    #[serde(default)]
    pub line2: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// ISO country code.
    #[serde(default)]
    pub country: Option<String>,
}

impl Address {
    /// One line: `12 rue X, 67000 Strasbourg, FR`; `None` when empty.
    pub fn one_line(&self) -> Option<String> {
        relance_core::address_line(
            [self.line1.as_deref(), self.line2.as_deref()],
            self.postal_code.as_deref(),
            self.city.as_deref(),
            None,
            self.country.as_deref(),
        )
    }
}
