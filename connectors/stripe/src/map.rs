//! Stripe objects → Relance's normalised types. Pure functions.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use relance_core::{
    Change, Currency, Customer, CustomerHint, ExternalPayment, InboundEvent, Invoice,
    InvoiceStatus, Money, ObjectRef, Payment,
};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use crate::model;

/// Prefix of the idempotency keys of Relance's own write-backs, to recognise their echo.
pub const WRITE_BACK_KEY_PREFIX: &str = "relance-wb-";

/// Event types Relance listens to (webhook endpoint and events feed alike).
pub const EVENT_TYPES: &[&str] = &[
    "invoice.created",
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.overdue",
    "invoice.deleted",
    "invoice_payment.paid",
    "customer.created",
    "customer.updated",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
];

/// Mapping settings.
#[derive(Debug, Clone, Copy)]
pub struct MapOptions {
    /// Time zone of the Stripe account, to turn instants into dates.
    pub timezone: Tz,
    /// Also chase invoices Stripe charges automatically.
    pub chase_automatic_collection: bool,
}

/// Number of decimals Stripe uses on the wire for `currency` (not always ISO 4217's).
pub fn stripe_exponent(currency: &Currency) -> u32 {
    match currency.code() {
        "BIF" | "CLP" | "DJF" | "GNF" | "JPY" | "KMF" | "KRW" | "MGA" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "JOD" | "KWD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// An amount in Stripe's minor units as exact money.
pub fn money(minor: i64, currency: Currency) -> Money {
    Money::new(Decimal::new(minor, stripe_exponent(&currency)), currency)
}

fn instant(seconds: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| format!("timestamp {seconds} out of range"))
}

fn date_in(seconds: i64, tz: Tz) -> Result<NaiveDate, String> {
    Ok(tz
        .from_utc_datetime(&instant(seconds)?.naive_utc())
        .date_naive())
}

fn status(s: Option<&str>) -> Result<InvoiceStatus, String> {
    match s {
        Some(s) => InvoiceStatus::parse(s).ok_or_else(|| format!("unknown invoice status `{s}`")),
        None => Err("invoice has no status".into()),
    }
}

/// The newest of the invoice's own timestamps: Stripe objects carry no "updated" field.
pub fn object_time(inv: &model::Invoice) -> i64 {
    let t = &inv.status_transitions;
    [
        Some(inv.created),
        inv.effective_at,
        t.finalized_at,
        t.paid_at,
        t.voided_at,
        t.marked_uncollectible_at,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(inv.created)
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Maps an invoice. `seen_at` is the time of the event that carried it, if any; the version's
/// time is the newer of that and the invoice's own timestamps.
pub fn invoice(
    inv: &model::Invoice,
    seen_at: Option<i64>,
    options: MapOptions,
) -> Result<Invoice, String> {
    let context = |e: String| format!("invoice {}: {e}", inv.id);
    let currency = Currency::parse(&inv.currency).map_err(|e| context(e.to_string()))?;
    let status = status(inv.status.as_deref()).map_err(context)?;
    let customer_external_id = match (&inv.customer, &inv.customer_account) {
        (Some(c), _) => c.id().to_string(),
        (None, Some(account)) => account.clone(),
        (None, None) => return Err(context("invoice has no customer".into())),
    };
    let balance = match status {
        InvoiceStatus::Paid | InvoiceStatus::Void => 0,
        _ => inv.amount_remaining.max(0),
    };
    let automatic = inv.collection_method.as_deref() == Some("charge_automatically");
    let due_on = inv
        .due_date
        .map(|d| date_in(d, options.timezone))
        .transpose()
        .map_err(context)?;
    let issued = inv
        .effective_at
        .or(inv.status_transitions.finalized_at)
        .unwrap_or(inv.created);
    let updated = object_time(inv).max(seen_at.unwrap_or(i64::MIN));
    Ok(Invoice {
        external_id: inv.id.clone(),
        number: non_empty(&inv.number).unwrap_or_else(|| inv.id.clone()),
        customer_external_id,
        customer_hint: Some(CustomerHint {
            name: non_empty(&inv.customer_name),
            email: non_empty(&inv.customer_email),
            phone: non_empty(&inv.customer_phone),
        }),
        issued_on: Some(date_in(issued, options.timezone).map_err(context)?),
        due_on,
        total: money(inv.total, currency),
        balance: money(balance, currency),
        status,
        chase: !automatic || options.chase_automatic_collection,
        email: non_empty(&inv.customer_email),
        payment_url: non_empty(&inv.hosted_invoice_url),
        paid_at: inv
            .status_transitions
            .paid_at
            .map(instant)
            .transpose()
            .map_err(context)?,
        source_updated_at: instant(updated).map_err(context)?,
    })
}

/// One page of `GET /v1/invoices`, mapped.
#[derive(Debug, Default)]
pub struct InvoicePage {
    /// The invoices that could be read and mapped.
    pub changes: Vec<Change>,
    /// One line per invoice skipped.
    pub warnings: Vec<String>,
    /// Id of the page's last item (the next `starting_after`).
    pub last_id: Option<String>,
    /// More pages follow.
    pub has_more: bool,
}

/// Parses and maps a page of invoices: the whole page in one pass, or, when that fails, item
/// by item, so that one unreadable invoice is skipped with a warning instead of failing the
/// page. An answer that is not a list at all is an error.
pub fn invoice_page(
    body: &[u8],
    options: MapOptions,
    connector: &str,
) -> Result<InvoicePage, String> {
    let mut out = InvoicePage::default();
    let take = |inv: model::Invoice, out: &mut InvoicePage| {
        match invoice(&inv, None, options) {
            Ok(i) => out.changes.push(Change::Invoice(i)),
            Err(e) => out.warnings.push(format!("{connector}: {e}; skipped")),
        }
        out.last_id = Some(inv.id);
    };
    if let Ok(page) = serde_json::from_slice::<model::List<model::Invoice>>(body) {
        out.has_more = page.has_more;
        for inv in page.data {
            take(inv, &mut out);
        }
        return Ok(out);
    }
    let page: model::List<Box<RawValue>> =
        serde_json::from_slice(body).map_err(|e| format!("unexpected answer from Stripe ({e})"))?;
    out.has_more = page.has_more;
    for raw in &page.data {
        match serde_json::from_str::<model::Invoice>(raw.get()) {
            Ok(inv) => take(inv, &mut out),
            Err(e) => {
                let id = serde_json::from_str::<model::IdOnly>(raw.get())
                    .ok()
                    .and_then(|o| o.id);
                out.warnings.push(format!(
                    "{connector}: invoice {}: unreadable ({e}); skipped",
                    id.as_deref().unwrap_or("?")
                ));
                out.last_id = id;
            }
        }
    }
    Ok(out)
}

/// Maps a customer; `None` for a deleted one (its invoices keep the stored copy).
pub fn customer(c: &model::Customer) -> Option<Customer> {
    if c.deleted {
        return None;
    }
    let name = non_empty(&c.name)
        .or_else(|| non_empty(&c.business_name))
        .or_else(|| non_empty(&c.individual_name))
        .or_else(|| non_empty(&c.email))
        .unwrap_or_else(|| c.id.clone());
    Some(Customer {
        external_id: c.id.clone(),
        name,
        emails: non_empty(&c.email).into_iter().collect(),
        phone: non_empty(&c.phone),
        locale: c
            .preferred_locales
            .as_ref()
            .and_then(|l| l.first())
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty()),
        time_zone: None,
        source_updated_at: None,
        address: c.address.as_ref().and_then(model::Address::one_line),
        consumer: None,
    })
}

/// Maps a paid invoice payment; `None` while it is not paid.
pub fn payment(p: &model::InvoicePayment) -> Result<Option<Payment>, String> {
    if p.status != "paid" {
        return Ok(None);
    }
    let context = |e: String| format!("invoice payment {}: {e}", p.id);
    let currency = Currency::parse(&p.currency).map_err(|e| context(e.to_string()))?;
    let paid_at = p
        .status_transitions
        .paid_at
        .ok_or_else(|| context("paid without paid_at".into()))?;
    Ok(Some(Payment {
        external_id: p.id.clone(),
        invoice_external_id: p.invoice.id().to_string(),
        amount: money(p.amount_paid.unwrap_or(0), currency),
        paid_at: instant(paid_at).map_err(context)?,
        method: p.payment.as_ref().map(|m| m.kind.clone()),
    }))
}

/// True for the `invoice.updated` that echoes Relance's own metadata write-back.
pub fn is_own_write_back(event: &model::Event) -> bool {
    let ours = event
        .request
        .as_ref()
        .and_then(|r| r.idempotency_key.as_deref())
        .is_some_and(|k| k.starts_with(WRITE_BACK_KEY_PREFIX));
    let only_metadata = event
        .data
        .previous_attributes
        .as_ref()
        .is_some_and(|p| p.keys().all(|k| k == "metadata"));
    event.kind == "invoice.updated" && ours && only_metadata
}

/// A paid Checkout Session naming a Relance invoice (`metadata.relance_invoice`, else
/// `client_reference_id`) as a payment for that invoice; nothing for other sessions, or while
/// an asynchronous method (SEPA debit) has not succeeded yet.
pub fn external_payment(
    session: &model::CheckoutSession,
    created: i64,
) -> Result<Option<Change>, String> {
    if session.payment_status.as_deref() != Some("paid") {
        return Ok(None);
    }
    let Some(target) = session
        .metadata
        .get("relance_invoice")
        .or(session.client_reference_id.as_ref())
        .filter(|t| t.contains(':'))
    else {
        return Ok(None);
    };
    let (Some(amount), Some(currency)) = (session.amount_total, session.currency.as_deref()) else {
        return Err(format!("session {} has no amount", session.id));
    };
    let currency = Currency::parse(&currency.to_ascii_uppercase()).map_err(|e| e.to_string())?;
    let reference = session
        .payment_intent
        .as_ref()
        .and_then(|p| p.as_str().map(str::to_string))
        .unwrap_or_else(|| session.id.clone());
    Ok(Some(Change::ExternalPayment(ExternalPayment {
        target: target.clone(),
        reference,
        amount: money(amount, currency),
        paid_at: instant(created)?,
        method: session.payment_method_types.first().cloned(),
    })))
}

/// Maps an event to the changes it carries. Unknown types carry none (but are still recorded,
/// so a redelivery is recognised).
pub fn event(event: &model::Event, options: MapOptions) -> Result<InboundEvent, String> {
    let mut out = InboundEvent {
        id: Some(event.id.clone()),
        kind: event.kind.clone(),
        ..InboundEvent::default()
    };
    let context = |e: String| format!("event {} ({}): {e}", event.id, event.kind);
    let object = event.data.object.get();
    match event.kind.as_str() {
        "invoice.deleted" => {
            let id = serde_json::from_str::<model::IdOnly>(object)
                .ok()
                .and_then(|o| o.id)
                .ok_or_else(|| context("object has no id".into()))?;
            out.changes.push(Change::InvoiceDeleted {
                external_id: id,
                at: instant(event.created).map_err(context)?,
            });
        }
        "invoice.upcoming" | "invoice.will_be_due" => {}
        kind if kind.starts_with("invoice.") => {
            if is_own_write_back(event) {
                return Ok(out);
            }
            let inv: model::Invoice = serde_json::from_str(object)
                .map_err(|e| context(format!("unreadable invoice: {e}")))?;
            out.changes.push(Change::Invoice(invoice(
                &inv,
                Some(event.created),
                options,
            )?));
        }
        "invoice_payment.paid" => {
            let p: model::InvoicePayment = serde_json::from_str(object)
                .map_err(|e| context(format!("unreadable invoice payment: {e}")))?;
            if let Some(payment) = payment(&p)? {
                out.refetch
                    .push(ObjectRef::invoice(payment.invoice_external_id.clone()));
                out.changes.push(Change::Payment(payment));
            }
        }
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let session: model::CheckoutSession = serde_json::from_str(object)
                .map_err(|e| context(format!("unreadable checkout session: {e}")))?;
            out.changes
                .extend(external_payment(&session, event.created).map_err(context)?);
        }
        "customer.created" | "customer.updated" => {
            let c: model::Customer = serde_json::from_str(object)
                .map_err(|e| context(format!("unreadable customer: {e}")))?;
            if let Some(mut c) = customer(&c) {
                c.source_updated_at = Some(instant(event.created).map_err(context)?);
                out.changes.push(Change::Customer(c));
            }
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../tests/fixtures/stripe/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn options() -> MapOptions {
        MapOptions {
            timezone: chrono_tz::Europe::Paris,
            chase_automatic_collection: false,
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn open_overdue_invoice() {
        let inv: model::Invoice =
            serde_json::from_str(&fixture("invoice-open-overdue.json")).unwrap();
        let m = invoice(&inv, None, options()).unwrap();
        assert_eq!(m.number, "4C7B2D9E-0007");
        assert_eq!(m.status, InvoiceStatus::Open);
        assert_eq!(m.total.to_string(), "1248.00 EUR");
        assert_eq!(m.balance.to_string(), "1248.00 EUR");
        // 1794265199 = 2026-11-09 22:59:59 UTC = 23:59:59 in Paris.
        assert_eq!(m.due_on, Some(d("2026-11-09")));
        assert_eq!(m.customer_external_id, "cus_RsQ4m1Vd8LpX2a");
        assert!(m.chase);
        assert_eq!(m.email.as_deref(), Some("compta@brasserie-du-port.example"));
        assert!(
            m.payment_url
                .unwrap()
                .starts_with("https://invoice.stripe.com/i/")
        );
        assert_eq!(m.paid_at, None);
    }

    #[test]
    fn due_date_is_taken_in_the_account_time_zone() {
        let mut inv: model::Invoice =
            serde_json::from_str(&fixture("invoice-open-overdue.json")).unwrap();
        // 2026-07-09 22:30:00 UTC is already 10 July in Paris (summer time, UTC+2).
        inv.due_date = Some(1783636200);
        let m = invoice(&inv, None, options()).unwrap();
        assert_eq!(m.due_on, Some(d("2026-07-10")));
        let utc = MapOptions {
            timezone: chrono_tz::UTC,
            ..options()
        };
        assert_eq!(
            invoice(&inv, None, utc).unwrap().due_on,
            Some(d("2026-07-09"))
        );
    }

    #[test]
    fn paid_invoice_has_zero_balance_and_paid_at() {
        let inv: model::Invoice = serde_json::from_str(&fixture("invoice-paid.json")).unwrap();
        let m = invoice(&inv, None, options()).unwrap();
        assert_eq!(m.status, InvoiceStatus::Paid);
        assert!(m.balance.is_settled());
        assert_eq!(m.paid_at.unwrap().timestamp(), 1794998487);
        assert_eq!(m.source_updated_at.timestamp(), 1794998487);
    }

    #[test]
    fn zero_decimal_currency() {
        let inv: model::Invoice = serde_json::from_str(&fixture("invoice-jpy.json")).unwrap();
        let m = invoice(&inv, None, options()).unwrap();
        assert_eq!(m.total.to_string(), "185000 JPY");
        assert_eq!(m.total.to_minor().unwrap(), 185000);
    }

    #[test]
    fn three_decimal_and_stripe_specific_currencies() {
        let kwd = Currency::parse("kwd").unwrap();
        assert_eq!(money(5120, kwd).amount, Decimal::new(5120, 3));
        // ISK: zero-decimal in ISO 4217, two decimals on Stripe's wire.
        let isk = Currency::parse("isk").unwrap();
        let m = money(12300, isk);
        assert_eq!(m.amount, Decimal::from(123));
        assert_eq!(m.to_minor().unwrap(), 123);
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(money(199, usd).amount, Decimal::new(199, 2));
    }

    #[test]
    fn automatic_collection_is_not_chased_by_default() {
        let mut inv: model::Invoice =
            serde_json::from_str(&fixture("invoice-open-overdue.json")).unwrap();
        inv.collection_method = Some("charge_automatically".into());
        inv.due_date = None;
        let m = invoice(&inv, None, options()).unwrap();
        assert!(!m.chase);
        assert_eq!(m.due_on, None);
        let chase_all = MapOptions {
            chase_automatic_collection: true,
            ..options()
        };
        assert!(invoice(&inv, None, chase_all).unwrap().chase);
    }

    #[test]
    fn void_invoice_owes_nothing_whatever_it_says() {
        let mut inv: model::Invoice =
            serde_json::from_str(&fixture("invoice-open-overdue.json")).unwrap();
        inv.status = Some("void".into());
        let m = invoice(&inv, None, options()).unwrap();
        assert_eq!(m.status, InvoiceStatus::Void);
        assert!(m.balance.is_settled());
    }

    #[test]
    fn unknown_status_is_an_error_naming_the_invoice() {
        let mut inv: model::Invoice =
            serde_json::from_str(&fixture("invoice-open-overdue.json")).unwrap();
        inv.status = Some("frozen".into());
        let e = invoice(&inv, None, options()).unwrap_err();
        assert!(
            e.contains("in_1SGmQ2Rln8DemoA4vX7pKe3T") && e.contains("frozen"),
            "{e}"
        );
    }

    #[test]
    fn customer_with_locale() {
        let c: model::Customer = serde_json::from_str(&fixture("customer.json")).unwrap();
        let m = customer(&c).unwrap();
        assert_eq!(m.name, "Brasserie du Port");
        assert_eq!(
            m.emails,
            vec!["compta@brasserie-du-port.example".to_string()]
        );
        assert_eq!(m.locale.as_deref(), Some("fr-FR"));
        assert_eq!(m.phone.as_deref(), Some("+33491000000"));
        let deleted: model::Customer =
            serde_json::from_str(r#"{"id":"cus_x","object":"customer","deleted":true}"#).unwrap();
        assert!(customer(&deleted).is_none());
    }

    #[test]
    fn a_page_with_one_unreadable_invoice_keeps_the_others() {
        let mut page: serde_json::Value =
            serde_json::from_str(&fixture("invoice-list-page.json")).unwrap();
        page["data"][1]["total"] = serde_json::json!("not a number");
        let body = serde_json::to_vec(&page).unwrap();
        let p = invoice_page(&body, options(), "stripe-main").unwrap();
        assert_eq!(p.changes.len(), 2);
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("in_1SKt7bRln8DemoB3nM5qLw8Z"),
            "{}",
            p.warnings[0]
        );
        assert_eq!(p.last_id.as_deref(), Some("in_1SGmQ2Rln8DemoA4vX7pKe3T"));
        assert!(p.has_more);
        assert!(invoice_page(b"<html>", options(), "stripe-main").is_err());
        let whole =
            invoice_page(fixture("invoice-list-page.json").as_bytes(), options(), "x").unwrap();
        assert_eq!((whole.changes.len(), whole.warnings.len()), (3, 0));
    }

    #[test]
    fn invoice_payment() {
        let list: model::List<model::InvoicePayment> =
            serde_json::from_str(&fixture("invoice-payments-list.json")).unwrap();
        let p = payment(&list.data[0]).unwrap().unwrap();
        assert_eq!(p.invoice_external_id, "in_1SKt7bRln8DemoB3nM5qLw8Z");
        assert_eq!(p.amount.to_string(), "580.00 EUR");
        assert_eq!(p.method.as_deref(), Some("payment_intent"));
    }

    #[test]
    fn events_page() {
        let list: model::List<model::Event> =
            serde_json::from_str(&fixture("events-list-page.json")).unwrap();
        let events: Vec<InboundEvent> = list
            .data
            .iter()
            .map(|e| event(e, options()).unwrap())
            .collect();
        // Our own metadata write-back is recognised and carries no change.
        assert_eq!(events[0].kind, "invoice.updated");
        assert!(events[0].changes.is_empty());
        // The payment: the invoice is paid, stamped with the event time.
        assert_eq!(events[1].kind, "invoice.paid");
        match &events[1].changes[0] {
            Change::Invoice(i) => {
                assert_eq!(i.status, InvoiceStatus::Paid);
                assert_eq!(i.source_updated_at.timestamp(), 1794998489);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(events[2].changes.len(), 1);
    }

    #[test]
    fn deleted_and_unknown_events() {
        let deleted: model::Event = serde_json::from_str(
            r#"{"id":"evt_1","type":"invoice.deleted","created":1794998489,
                "data":{"object":{"id":"in_draft","object":"invoice"}}}"#,
        )
        .unwrap();
        let e = event(&deleted, options()).unwrap();
        assert!(
            matches!(&e.changes[0], Change::InvoiceDeleted { external_id, .. } if external_id == "in_draft")
        );
        let other: model::Event = serde_json::from_str(
            r#"{"id":"evt_2","type":"charge.refunded","created":1794998489,"data":{"object":{}}}"#,
        )
        .unwrap();
        let e = event(&other, options()).unwrap();
        assert!(e.changes.is_empty() && e.refetch.is_empty());
        assert_eq!(e.id.as_deref(), Some("evt_2"));
    }
}
