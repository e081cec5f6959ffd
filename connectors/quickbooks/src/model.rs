//! QuickBooks Online objects as the API sends them. Absent properties are left out of answers,
//! so every field is optional; amounts are read exactly from the JSON number's text.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// Reads a JSON number (or numeric string) as an exact decimal, never through `f64`.
pub fn exact<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let raw: Option<Box<serde_json::value::RawValue>> = Option::deserialize(d)?;
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get().trim().trim_matches('"');
    if text == "null" {
        return Ok(None);
    }
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(text))
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an amount")))
}

/// `{ "value": "23", "name": "Cool Cars" }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Ref {
    /// The referenced id (or currency code).
    pub value: String,
    /// Its display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `{ "Address": "…" }`.
#[derive(Debug, Clone, Deserialize)]
pub struct EmailAddr {
    /// The address (possibly several, comma-separated).
    #[serde(rename = "Address", default)]
    pub address: Option<String>,
}

/// `{ "FreeFormNumber": "…" }`.
#[derive(Debug, Clone, Deserialize)]
pub struct Phone {
    /// As typed.
    #[serde(rename = "FreeFormNumber", default)]
    pub number: Option<String>,
}

/// Creation and change times.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaData {
    /// Last change, with the offset QuickBooks gives (Pacific in practice).
    #[serde(rename = "LastUpdatedTime", default)]
    pub last_updated: Option<DateTime<FixedOffset>>,
}

/// A transaction linked to another (`{TxnId, TxnType}`).
#[derive(Debug, Clone, Deserialize)]
pub struct LinkedTxn {
    /// Its id.
    #[serde(rename = "TxnId")]
    pub id: String,
    /// `Invoice`, `Payment`, `CreditMemo`…
    #[serde(rename = "TxnType")]
    pub kind: String,
}

/// An invoice (only the fields Relance reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QboInvoice {
    pub id: String,
    #[serde(default)]
    pub sync_token: Option<String>,
    /// `Deleted` on CDC stubs of deleted invoices.
    #[serde(rename = "status", default)]
    pub status: Option<String>,
    #[serde(default)]
    pub meta_data: Option<MetaData>,
    #[serde(default)]
    pub doc_number: Option<String>,
    #[serde(default)]
    pub txn_date: Option<NaiveDate>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "exact")]
    pub total_amt: Option<Decimal>,
    #[serde(default, deserialize_with = "exact")]
    pub balance: Option<Decimal>,
    #[serde(default)]
    pub currency_ref: Option<Ref>,
    #[serde(default)]
    pub customer_ref: Option<Ref>,
    #[serde(default)]
    pub bill_email: Option<EmailAddr>,
    #[serde(default)]
    pub private_note: Option<String>,
    #[serde(default)]
    pub invoice_link: Option<String>,
    #[serde(default)]
    pub linked_txn: Vec<LinkedTxn>,
}

/// A customer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QboCustomer {
    pub id: String,
    #[serde(default)]
    pub meta_data: Option<MetaData>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub primary_email_addr: Option<EmailAddr>,
    #[serde(default)]
    pub primary_phone: Option<Phone>,
    #[serde(default)]
    pub mobile: Option<Phone>,
    #[serde(default)]
    pub currency_ref: Option<Ref>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub bill_addr: Option<PhysicalAddress>,
}

/// A postal address (`BillAddr`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PhysicalAddress {
    #[serde(default)]
    pub line1: Option<String>,
    #[serde(default)]
    pub line2: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

impl PhysicalAddress {
    /// One line: `12 quai du Port, 13002 Marseille`; `None` when empty.
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

/// One line of a payment.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentLine {
    #[serde(default, deserialize_with = "exact")]
    pub amount: Option<Decimal>,
    #[serde(default)]
    pub linked_txn: Vec<LinkedTxn>,
}

/// A payment received.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QboPayment {
    pub id: String,
    #[serde(rename = "status", default)]
    pub status: Option<String>,
    #[serde(default)]
    pub meta_data: Option<MetaData>,
    #[serde(default)]
    pub txn_date: Option<NaiveDate>,
    #[serde(default)]
    pub currency_ref: Option<Ref>,
    #[serde(default)]
    pub customer_ref: Option<Ref>,
    #[serde(default)]
    pub payment_method_ref: Option<Ref>,
    #[serde(default)]
    pub line: Vec<PaymentLine>,
}

/// `{"QueryResponse": {...}}`: one entity list (absent on an empty page).
#[derive(Debug, Deserialize, Default)]
pub struct QueryResponse {
    #[serde(rename = "Invoice", default)]
    pub invoices: Vec<QboInvoice>,
    #[serde(rename = "Customer", default)]
    pub customers: Vec<QboCustomer>,
    #[serde(rename = "Payment", default)]
    pub payments: Vec<QboPayment>,
    #[serde(rename = "totalCount", default)]
    pub total_count: Option<u64>,
}

/// A query answer.
#[derive(Debug, Deserialize)]
pub struct QueryEnvelope {
    #[serde(rename = "QueryResponse", default)]
    pub query: QueryResponse,
}

/// A change-data-capture answer: one `QueryResponse` per entity asked for.
#[derive(Debug, Deserialize)]
pub struct CdcEnvelope {
    #[serde(rename = "CDCResponse", default)]
    pub cdc: Vec<CdcItem>,
}

/// One element of `CDCResponse`.
#[derive(Debug, Deserialize)]
pub struct CdcItem {
    #[serde(rename = "QueryResponse", default)]
    pub query: Vec<QueryResponse>,
}

/// `{"Invoice": {...}}` from a read or an update.
#[derive(Debug, Deserialize)]
pub struct InvoiceEnvelope {
    #[serde(rename = "Invoice")]
    pub invoice: QboInvoice,
}

/// `{"Customer": {...}}`.
#[derive(Debug, Deserialize)]
pub struct CustomerEnvelope {
    #[serde(rename = "Customer")]
    pub customer: QboCustomer,
}

/// `{"Payment": {...}}`.
#[derive(Debug, Deserialize)]
pub struct PaymentEnvelope {
    #[serde(rename = "Payment")]
    pub payment: QboPayment,
}

/// `{"Preferences": {"CurrencyPrefs": {...}}}`.
#[derive(Debug, Deserialize)]
pub struct PreferencesEnvelope {
    #[serde(rename = "Preferences")]
    pub preferences: Preferences,
}

/// Company preferences (currency only).
#[derive(Debug, Deserialize)]
pub struct Preferences {
    #[serde(rename = "CurrencyPrefs", default)]
    pub currency: Option<CurrencyPrefs>,
}

/// Home currency and multi-currency switch.
#[derive(Debug, Deserialize)]
pub struct CurrencyPrefs {
    #[serde(rename = "HomeCurrency", default)]
    pub home: Option<Ref>,
    #[serde(rename = "MultiCurrencyEnabled", default)]
    pub multi_currency: Option<bool>,
}
