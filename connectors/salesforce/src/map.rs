//! Salesforce records → Relance's normalised types. Records are read field by field from the
//! JSON text, so amounts are exact decimals (never through floating point).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use relance_core::{Change, Currency, Customer, CustomerHint, Invoice, InvoiceStatus, Money};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::Mapping;

/// One record, its fields kept as raw JSON.
pub type Record = HashMap<String, Box<RawValue>>;

/// A query answer.
#[derive(Debug, Deserialize)]
pub struct QueryPage {
    /// True on the last page.
    pub done: bool,
    /// Path of the next page.
    #[serde(rename = "nextRecordsUrl", default)]
    pub next: Option<String>,
    /// The rows.
    #[serde(default)]
    pub records: Vec<Record>,
}

/// The raw JSON text at `path` (`a__r.Email` goes through the nested record); `None` when
/// absent or null.
fn raw(rec: &Record, path: &str) -> Option<String> {
    let mut parts = path.split('.');
    let mut current = rec.get(parts.next()?)?.get().to_string();
    for part in parts {
        let nested: Record = serde_json::from_str(&current).ok()?;
        current = nested.get(part)?.get().to_string();
    }
    (current != "null").then_some(current)
}

/// A text field (or path through relationships).
pub fn text(rec: &Record, path: &str) -> Option<String> {
    let v = raw(rec, path)?;
    serde_json::from_str::<String>(&v).ok()
}

/// A number field, exactly.
pub fn decimal(rec: &Record, path: &str) -> Result<Option<Decimal>, String> {
    let Some(v) = raw(rec, path) else {
        return Ok(None);
    };
    let t = v.trim().trim_matches('"');
    t.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(t))
        .map(Some)
        .map_err(|_| format!("{path}: `{t}` is not a number"))
}

/// A date field (`2026-10-30`).
pub fn date(rec: &Record, path: &str) -> Result<Option<NaiveDate>, String> {
    match text(rec, path) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{path}: `{s}` is not a date")),
    }
}

/// A Salesforce datetime (`2026-11-18T16:02:11.000+0000`, or RFC 3339).
pub fn datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// What mapping needs besides the record.
#[derive(Debug, Clone)]
pub struct MapContext<'a> {
    /// Field mapping.
    pub mapping: &'a Mapping,
    /// Path of the account's name (`blng__Account__r.Name`), when the lookup has one.
    pub account_name: Option<String>,
    /// True when records carry `CurrencyIsoCode`.
    pub multi_currency: bool,
    /// The org's currency otherwise.
    pub default_currency: Currency,
}

/// An invoice record as a change.
pub fn invoice(rec: &Record, ctx: &MapContext<'_>) -> Result<Change, String> {
    let m = ctx.mapping;
    let id = text(rec, "Id").ok_or("record without Id")?;
    let what = |e: String| format!("{} {id}: {e}", m.object);
    let field = |key: &str| m.field(key).unwrap_or("");
    let updated = text(rec, "SystemModstamp")
        .and_then(|s| datetime(&s))
        .ok_or_else(|| what("no SystemModstamp".into()))?;
    let currency = if ctx.multi_currency {
        match text(rec, "CurrencyIsoCode") {
            Some(c) => Currency::parse(&c).map_err(|e| what(format!("currency `{c}`: {e}")))?,
            None => ctx.default_currency,
        }
    } else {
        ctx.default_currency
    };
    let balance = decimal(rec, field("balance"))
        .map_err(what)?
        .unwrap_or_default();
    let total = match m.field("total") {
        Some(f) => decimal(rec, f).map_err(what)?.unwrap_or(balance),
        None => balance,
    };
    let status_value = m.field("status").and_then(|f| text(rec, f));
    let payment_status = m.field("payment_status").and_then(|f| text(rec, f));
    let status = match &status_value {
        Some(s) if m.void_statuses.iter().any(|v| v.eq_ignore_ascii_case(s)) => InvoiceStatus::Void,
        Some(s)
            if !m.open_statuses.is_empty()
                && !m.open_statuses.iter().any(|v| v.eq_ignore_ascii_case(s)) =>
        {
            // Draft, or a value Relance does not know: never chased.
            InvoiceStatus::Draft
        }
        _ if payment_status
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("paid")) =>
        {
            InvoiceStatus::Paid
        }
        _ if balance <= Decimal::ZERO => InvoiceStatus::Paid,
        _ => InvoiceStatus::Open,
    };
    let account = m
        .field("account")
        .and_then(|f| text(rec, f))
        .ok_or_else(|| what("no account".into()))?;
    let email = m.contact_email.as_deref().and_then(|p| text(rec, p));
    let number = m
        .field("number")
        .and_then(|f| text(rec, f))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| id.clone());
    Ok(Change::Invoice(Invoice {
        external_id: id.clone(),
        number,
        customer_external_id: account,
        customer_hint: Some(CustomerHint {
            name: ctx.account_name.as_deref().and_then(|p| text(rec, p)),
            email: email.clone(),
            phone: None,
        }),
        issued_on: match m.field("issued_on") {
            Some(f) => date(rec, f).map_err(what)?,
            None => None,
        },
        due_on: date(rec, field("due_date")).map_err(what)?,
        total: Money::new(total, currency),
        balance: Money::new(
            if status == InvoiceStatus::Open {
                balance
            } else {
                Decimal::ZERO
            },
            currency,
        ),
        status,
        chase: true,
        email,
        payment_url: None,
        paid_at: (status == InvoiceStatus::Paid).then_some(updated),
        source_updated_at: updated,
    }))
}

/// The Account's billing address fields (standard in every org), read with each account.
pub const ACCOUNT_ADDRESS: &str =
    "BillingStreet, BillingPostalCode, BillingCity, BillingState, BillingCountry";

/// An Account's billing address on one line, for letters: street lines, then postal code and
/// city, state, country (`12 rue des Tanneurs, 67000 Strasbourg, France`).
fn billing_address(rec: &Record) -> Option<String> {
    let street = text(rec, "BillingStreet");
    relance_core::address_line(
        [street.as_deref()],
        text(rec, "BillingPostalCode").as_deref(),
        text(rec, "BillingCity").as_deref(),
        text(rec, "BillingState").as_deref(),
        text(rec, "BillingCountry").as_deref(),
    )
}

/// An Account record as a customer.
pub fn account(rec: &Record) -> Option<Change> {
    let id = text(rec, "Id")?;
    Some(Change::Customer(Customer {
        name: text(rec, "Name").unwrap_or_else(|| id.clone()),
        external_id: id,
        // An individual's own e-mail (Person Accounts); a business's comes from the contact.
        emails: text(rec, "PersonEmail")
            .filter(|e| !e.trim().is_empty())
            .into_iter()
            .collect(),
        phone: text(rec, "Phone"),
        locale: None,
        time_zone: None,
        source_updated_at: text(rec, "SystemModstamp").and_then(|s| datetime(&s)),
        address: billing_address(rec),
        // A Person Account is an individual: a consumer under late-payment law.
        consumer: raw(rec, "IsPersonAccount").and_then(|v| v.trim().parse::<bool>().ok()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InvoicesConfig;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../../tests/fixtures/salesforce/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn blng() -> Mapping {
        InvoicesConfig {
            object: "blng__Invoice__c".into(),
            fields: Default::default(),
            contact_email: None,
            open_statuses: None,
            void_statuses: None,
        }
        .mapping()
    }

    #[test]
    fn billing_pages_map() {
        let m = blng();
        let ctx = MapContext {
            mapping: &m,
            account_name: Some("blng__Account__r.Name".into()),
            multi_currency: true,
            default_currency: Currency::parse("EUR").unwrap(),
        };
        let page: QueryPage =
            serde_json::from_str(&fixture("query-blng-invoices-page1.json")).unwrap();
        assert!(!page.done);
        assert!(
            page.next
                .as_deref()
                .unwrap()
                .starts_with("/services/data/v66.0/query/0r8")
        );
        let Change::Invoice(a) = invoice(&page.records[0], &ctx).unwrap() else {
            panic!()
        };
        assert_eq!(a.number, "INV-0000001042");
        assert_eq!(a.customer_external_id, "0015e00000AcMe1AAF");
        assert_eq!(a.email.as_deref(), Some("compta@acme-outillage.example"));
        assert_eq!(a.balance.to_string(), "850.00 EUR");
        assert_eq!(a.status, InvoiceStatus::Open);
        assert_eq!(
            a.source_updated_at.to_rfc3339(),
            "2026-11-18T16:02:11+00:00"
        );
        assert_eq!(
            a.customer_hint.unwrap().name.as_deref(),
            Some("Acme Outillage SAS")
        );
        let Change::Invoice(b) = invoice(&page.records[1], &ctx).unwrap() else {
            panic!()
        };
        assert_eq!(b.email, None, "no bill-to contact");
        assert_eq!(b.balance.to_string(), "12400.50 EUR", "exact from 12400.5");
        let page2: QueryPage =
            serde_json::from_str(&fixture("query-blng-invoices-page2.json")).unwrap();
        let Change::Invoice(c) = invoice(&page2.records[0], &ctx).unwrap() else {
            panic!()
        };
        assert_eq!(c.total.currency.code(), "USD");
    }

    #[test]
    fn statuses() {
        let m = blng();
        let ctx = MapContext {
            mapping: &m,
            account_name: None,
            multi_currency: false,
            default_currency: Currency::parse("EUR").unwrap(),
        };
        let rec = |status: &str, pay: &str, balance: &str| -> Record {
            serde_json::from_str(&format!(
                r#"{{"Id":"a1X","Name":"I","blng__Account__c":"001","blng__DueDate__c":"2026-10-30",
                    "blng__Balance__c":{balance},"blng__TotalAmount__c":100.0,
                    "blng__InvoiceStatus__c":"{status}","blng__PaymentStatus__c":"{pay}",
                    "SystemModstamp":"2026-11-18T16:02:11.000+0000"}}"#
            ))
            .unwrap()
        };
        let status = |r: Record| match invoice(&r, &ctx).unwrap() {
            Change::Invoice(i) => i.status,
            _ => panic!(),
        };
        assert_eq!(
            status(rec("Posted", "Unpaid", "100.0")),
            InvoiceStatus::Open
        );
        assert_eq!(status(rec("Posted", "Paid", "0")), InvoiceStatus::Paid);
        assert_eq!(
            status(rec("Posted", "Partially Paid", "0.0")),
            InvoiceStatus::Paid
        );
        assert_eq!(
            status(rec("Draft", "Unpaid", "100.0")),
            InvoiceStatus::Draft
        );
        assert_eq!(
            status(rec("Cancelled", "Unpaid", "100.0")),
            InvoiceStatus::Void
        );
        assert_eq!(
            status(rec("Rebilled", "Unpaid", "100.0")),
            InvoiceStatus::Void
        );
    }

    #[test]
    fn an_account_brings_its_billing_address() {
        let rec: Record = serde_json::from_str(
            r#"{"attributes": {"type": "Account"}, "Id": "0015e00000AcMe1AAF",
                "Name": "Acme Outillage SAS", "Phone": null,
                "BillingStreet": "Service comptabilité\n4 quai des Bateliers",
                "BillingPostalCode": "67000", "BillingCity": "Strasbourg",
                "BillingState": null, "BillingCountry": "France",
                "SystemModstamp": "2026-11-01T10:00:00.000+0000"}"#,
        )
        .unwrap();
        let Some(Change::Customer(c)) = account(&rec) else {
            panic!()
        };
        assert_eq!(
            c.address.as_deref(),
            Some("Service comptabilité, 4 quai des Bateliers, 67000 Strasbourg, France")
        );
        let bare: Record = serde_json::from_str(
            r#"{"Id": "0015e00000GlBx2AAF", "Name": "Globex", "BillingStreet": null,
                "BillingPostalCode": "", "BillingCity": null}"#,
        )
        .unwrap();
        let Some(Change::Customer(c)) = account(&bare) else {
            panic!()
        };
        assert_eq!(c.address, None);
        assert_eq!(c.consumer, None, "no Person Accounts in the org");
        let person: Record = serde_json::from_str(
            r#"{"Id": "001P", "Name": "Jeanne Martin", "IsPersonAccount": true,
                "PersonEmail": "jeanne@example.com"}"#,
        )
        .unwrap();
        let Some(Change::Customer(c)) = account(&person) else {
            panic!()
        };
        assert_eq!(c.consumer, Some(true));
        assert_eq!(c.emails, vec!["jeanne@example.com"]);
        let business: Record = serde_json::from_str(
            r#"{"Id": "001B", "IsPersonAccount": false, "PersonEmail": null}"#,
        )
        .unwrap();
        let Some(Change::Customer(c)) = account(&business) else {
            panic!()
        };
        assert_eq!((c.consumer, c.emails.len()), (Some(false), 0));
    }
}
