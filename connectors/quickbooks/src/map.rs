//! QuickBooks objects → Relance's normalised types. Pure functions.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use relance_core::{
    Change, Currency, Customer, CustomerHint, Invoice, InvoiceStatus, Money, Payment,
};
use rust_decimal::Decimal;

use crate::model::{QboCustomer, QboInvoice, QboPayment};

/// What mapping needs besides the object.
#[derive(Debug, Clone, Copy)]
pub struct MapContext {
    /// The company's home currency (objects without `CurrencyRef` are in it).
    pub home_currency: Currency,
    /// The company's time zone (dates have none).
    pub timezone: Tz,
}

fn currency(r: Option<&crate::model::Ref>, ctx: &MapContext) -> Result<Currency, String> {
    match r {
        Some(r) => Currency::parse(&r.value).map_err(|e| format!("currency `{}`: {e}", r.value)),
        None => Ok(ctx.home_currency),
    }
}

fn updated(meta: Option<&crate::model::MetaData>) -> Option<DateTime<Utc>> {
    meta.and_then(|m| m.last_updated)
        .map(|t| t.with_timezone(&Utc))
}

/// Midnight of `date` in the company's zone.
fn start_of(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

/// Splits an e-mail field that may hold several addresses.
pub fn emails(field: Option<&str>) -> Vec<String> {
    field
        .unwrap_or("")
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| s.contains('@'))
        .map(str::to_string)
        .collect()
}

/// True for an invoice QuickBooks voided: amounts zeroed and "Voided" put in front of the
/// private note.
pub fn is_voided(inv: &QboInvoice) -> bool {
    inv.total_amt.unwrap_or_default().is_zero()
        && inv
            .private_note
            .as_deref()
            .is_some_and(|n| n.trim_start().starts_with("Voided"))
}

/// An invoice (or a CDC deletion stub) as a change.
pub fn invoice(inv: &QboInvoice, ctx: &MapContext) -> Result<Change, String> {
    let at = updated(inv.meta_data.as_ref());
    if inv
        .status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("deleted"))
    {
        return Ok(Change::InvoiceDeleted {
            external_id: inv.id.clone(),
            at: at.ok_or_else(|| format!("deleted invoice {} has no MetaData", inv.id))?,
        });
    }
    let source_updated_at =
        at.ok_or_else(|| format!("invoice {} has no MetaData.LastUpdatedTime", inv.id))?;
    let customer = inv
        .customer_ref
        .as_ref()
        .ok_or_else(|| format!("invoice {} has no CustomerRef", inv.id))?;
    let currency = currency(inv.currency_ref.as_ref(), ctx)?;
    let total = inv.total_amt.unwrap_or_default();
    let balance = inv.balance.unwrap_or_default();
    if balance.is_sign_negative() || total.is_sign_negative() {
        return Err(format!("invoice {} has a negative amount", inv.id));
    }
    let status = if is_voided(inv) {
        InvoiceStatus::Void
    } else if balance.is_zero() {
        InvoiceStatus::Paid
    } else {
        InvoiceStatus::Open
    };
    let email = emails(inv.bill_email.as_ref().and_then(|e| e.address.as_deref()))
        .into_iter()
        .next();
    Ok(Change::Invoice(Invoice {
        external_id: inv.id.clone(),
        number: inv
            .doc_number
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| inv.id.clone()),
        customer_external_id: customer.value.clone(),
        customer_hint: Some(CustomerHint {
            name: customer.name.clone(),
            email: email.clone(),
            phone: None,
        }),
        issued_on: inv.txn_date,
        due_on: inv.due_date,
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
        payment_url: inv.invoice_link.clone().filter(|u| u.starts_with("http")),
        // QuickBooks dates no payment on the invoice: the last change is when it became paid.
        paid_at: (status == InvoiceStatus::Paid).then_some(source_updated_at),
        source_updated_at,
    }))
}

/// A customer as a change.
pub fn customer(c: &QboCustomer) -> Change {
    let name = c
        .display_name
        .clone()
        .or_else(|| c.company_name.clone())
        .or_else(|| {
            let full = [c.given_name.as_deref(), c.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!full.is_empty()).then_some(full)
        })
        .unwrap_or_else(|| format!("customer {}", c.id));
    Change::Customer(Customer {
        external_id: c.id.clone(),
        name,
        emails: emails(
            c.primary_email_addr
                .as_ref()
                .and_then(|e| e.address.as_deref()),
        ),
        phone: c
            .primary_phone
            .as_ref()
            .or(c.mobile.as_ref())
            .and_then(|p| p.number.clone()),
        locale: None,
        time_zone: None,
        source_updated_at: updated(c.meta_data.as_ref()),
        address: c.bill_addr.as_ref().and_then(|a| a.one_line()),
        consumer: None,
    })
}

/// A payment as one change per invoice it pays; the invoice ids it names.
pub fn payment(p: &QboPayment, ctx: &MapContext) -> Result<(Vec<Change>, Vec<String>), String> {
    if p.status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("deleted"))
    {
        return Ok((Vec::new(), Vec::new()));
    }
    let currency = currency(p.currency_ref.as_ref(), ctx)?;
    let paid_at = match p.txn_date {
        Some(d) => start_of(d, ctx.timezone),
        None => updated(p.meta_data.as_ref())
            .ok_or_else(|| format!("payment {} has neither TxnDate nor MetaData", p.id))?,
    };
    let mut changes = Vec::new();
    let mut invoices = Vec::new();
    for line in &p.line {
        for linked in line.linked_txn.iter().filter(|l| l.kind == "Invoice") {
            invoices.push(linked.id.clone());
            changes.push(Change::Payment(Payment {
                external_id: format!("{}:{}", p.id, linked.id),
                invoice_external_id: linked.id.clone(),
                amount: Money::new(line.amount.unwrap_or_default(), currency),
                paid_at,
                method: p.payment_method_ref.as_ref().and_then(|m| m.name.clone()),
            }));
        }
    }
    Ok((changes, invoices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CdcEnvelope, PaymentEnvelope, QueryEnvelope};

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/quickbooks/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn ctx() -> MapContext {
        MapContext {
            home_currency: Currency::parse("USD").unwrap(),
            timezone: chrono_tz::America::Los_Angeles,
        }
    }

    #[test]
    fn the_documented_page_maps() {
        let page: QueryEnvelope =
            serde_json::from_slice(&fixture("query-invoices-page.json")).unwrap();
        let changes: Vec<Change> = page
            .query
            .invoices
            .iter()
            .map(|i| invoice(i, &ctx()).unwrap())
            .collect();
        let Change::Invoice(a) = &changes[0] else {
            panic!()
        };
        assert_eq!(a.number, "1037");
        assert_eq!(a.status, InvoiceStatus::Open);
        assert_eq!(a.total.to_string(), "1850.00 USD");
        assert_eq!(a.balance.to_string(), "850.00 USD");
        assert_eq!(a.due_on, NaiveDate::from_ymd_opt(2026, 10, 15));
        assert_eq!(a.email.as_deref(), Some("ap@coolcars.example"));
        assert!(
            a.payment_url
                .as_deref()
                .unwrap()
                .starts_with("https://connect.intuit.com/")
        );
        assert_eq!(
            a.source_updated_at.to_rfc3339(),
            "2026-10-22T16:14:05+00:00"
        );
        let Change::Invoice(b) = &changes[1] else {
            panic!()
        };
        assert_eq!(b.status, InvoiceStatus::Paid);
        let Change::Invoice(c) = &changes[2] else {
            panic!()
        };
        assert_eq!(c.total.currency.code(), "EUR", "invoice currency, not home");
    }

    #[test]
    fn cdc_deletions_voids_and_payments() {
        let cdc: CdcEnvelope = serde_json::from_slice(&fixture("cdc-response.json")).unwrap();
        let q = &cdc.cdc[0].query;
        let invoices: Vec<_> = q.iter().flat_map(|r| r.invoices.iter()).collect();
        assert!(matches!(
            invoice(invoices[0], &ctx()).unwrap(),
            Change::InvoiceDeleted { ref external_id, .. } if external_id == "129"
        ));
        let Change::Invoice(partial) = invoice(invoices[1], &ctx()).unwrap() else {
            panic!()
        };
        assert_eq!(partial.balance.to_string(), "1800.00 EUR");
        let mut voided = invoices[1].clone();
        voided.total_amt = Some(Decimal::ZERO);
        voided.balance = Some(Decimal::ZERO);
        voided.private_note = Some("Voided - PO 7781".into());
        let Change::Invoice(v) = invoice(&voided, &ctx()).unwrap() else {
            panic!()
        };
        assert_eq!(v.status, InvoiceStatus::Void);
        let p: PaymentEnvelope = serde_json::from_slice(&fixture("payment-linked.json")).unwrap();
        let (changes, invoices) = payment(&p.payment, &ctx()).unwrap();
        assert_eq!(invoices, vec!["131".to_string()]);
        let Change::Payment(pay) = &changes[0] else {
            panic!()
        };
        assert_eq!(pay.amount.to_string(), "420.00 USD");
        assert_eq!(pay.paid_at.to_rfc3339(), "2026-10-28T07:00:00+00:00");
    }

    #[test]
    fn amounts_are_exact() {
        let inv: QboInvoice = serde_json::from_str(
            r#"{"Id":"9","TotalAmt":0.1,"Balance":1e2,"CustomerRef":{"value":"1"},
                "MetaData":{"LastUpdatedTime":"2026-11-01T10:00:00-07:00"}}"#,
        )
        .unwrap();
        assert_eq!(inv.total_amt, Some(Decimal::new(1, 1)));
        assert_eq!(inv.balance, Some(Decimal::new(100, 0)));
    }

    #[test]
    fn the_documented_customer_with_its_postal_address() {
        let c: crate::model::CustomerEnvelope =
            serde_json::from_slice(&fixture("customer.json")).unwrap();
        let Change::Customer(c) = customer(&c.customer) else {
            panic!()
        };
        assert_eq!(
            c.address.as_deref(),
            Some("12 quai du Port, 13002 Marseille")
        );
        assert_eq!(c.phone.as_deref(), Some("+33 4 91 00 00 00"));
    }

    #[test]
    fn customers_with_several_addresses() {
        let c: QboCustomer = serde_json::from_value(serde_json::json!({
            "Id": "7", "DisplayName": "O'Keefe & Fils",
            "PrimaryEmailAddr": {"Address": "a@x.example, b@x.example"}
        }))
        .unwrap();
        let Change::Customer(c) = customer(&c) else {
            panic!()
        };
        assert_eq!(c.emails, vec!["a@x.example", "b@x.example"]);
        assert_eq!(c.name, "O'Keefe & Fils");
    }
}
