//! The `kind: salesforce` section of `relance.yaml`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How Relance logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// OAuth 2.0 JWT bearer: a signed assertion, no user present (recommended).
    JwtBearer,
    /// Web-server flow once (`relance connect`), then refresh tokens.
    RefreshToken,
}

/// `auth:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `jwt_bearer` or `refresh_token`.
    pub flow: Flow,
    /// Consumer key of the External Client App.
    pub client_id: SecretString,
    /// Consumer secret (web-server flow only).
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Integration user (JWT bearer flow).
    #[serde(default)]
    pub username: Option<String>,
    /// PEM private key whose certificate is uploaded to the app (JWT bearer flow).
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// Callback registered on the app (web-server flow); the daemon answers it at
    /// `/oauth/{connector_id}/callback`.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// JWT audience; defaults to `login_url` (the My Domain URL is the safest choice).
    #[serde(default)]
    pub audience: Option<String>,
}

/// `invoices:`: which object holds invoices and which fields mean what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoicesConfig {
    /// API name: `blng__Invoice__c`, `Invoice`, or a custom object.
    pub object: String,
    /// Field mapping; presets fill what is not given for the two known objects.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Path to the bill-to e-mail (`blng__BillToContact__r.Email`).
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Status values that mean "issued, to be collected" (`Posted`).
    #[serde(default)]
    pub open_statuses: Option<Vec<String>>,
    /// Status values that mean "cancelled" (`Cancelled`, `Rebilled`).
    #[serde(default)]
    pub void_statuses: Option<Vec<String>>,
}

/// Settings of one Salesforce org.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceConfig {
    /// My Domain URL (best), or `https://login.salesforce.com` / `https://test.salesforce.com`.
    pub login_url: String,
    /// REST API version, e.g. `"66.0"`.
    #[serde(default = "default_version")]
    pub api_version: String,
    /// How to log in.
    pub auth: AuthConfig,
    /// The invoice object and its mapping.
    pub invoices: InvoicesConfig,
    /// Accept Outbound Messages from this org only (15 or 18 characters); without it they are
    /// refused.
    #[serde(default)]
    pub outbound_message_org_id: Option<String>,
    /// Use at most this share of the org's daily API allocation (0 < share ≤ 1).
    #[serde(default = "default_share")]
    pub api_share: Decimal,
    /// Currency of invoices when the org is single-currency (no `CurrencyIsoCode`).
    #[serde(default)]
    pub currency: Option<String>,
}

fn default_version() -> String {
    "66.0".to_string()
}

fn default_share() -> Decimal {
    Decimal::new(2, 1)
}

/// The meaning of each mapped field.
pub const FIELD_KEYS: &[&str] = &[
    "number",
    "account",
    "contact",
    "issued_on",
    "due_date",
    "total",
    "balance",
    "status",
    "payment_status",
    "currency",
];

/// A complete mapping: every key of [`FIELD_KEYS`] that the object has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Object API name.
    pub object: String,
    /// Key → field API name.
    pub fields: BTreeMap<String, String>,
    /// Path to the bill-to e-mail.
    pub contact_email: Option<String>,
    /// "To collect" statuses (none: every record with a balance is).
    pub open_statuses: Vec<String>,
    /// Cancelled statuses.
    pub void_statuses: Vec<String>,
}

impl Mapping {
    /// The field for `key`, if mapped.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

impl InvoicesConfig {
    /// The preset for the object, overridden by what the configuration says.
    pub fn mapping(&self) -> Mapping {
        type Preset = (
            &'static [(&'static str, &'static str)],
            Option<&'static str>,
            &'static [&'static str],
            &'static [&'static str],
        );
        let preset: Preset = match self.object.as_str() {
            "blng__Invoice__c" => (
                &[
                    ("number", "Name"),
                    ("account", "blng__Account__c"),
                    ("contact", "blng__BillToContact__c"),
                    ("issued_on", "blng__InvoiceDate__c"),
                    ("due_date", "blng__DueDate__c"),
                    ("total", "blng__TotalAmount__c"),
                    ("balance", "blng__Balance__c"),
                    ("status", "blng__InvoiceStatus__c"),
                    ("payment_status", "blng__PaymentStatus__c"),
                ],
                Some("blng__BillToContact__r.Email"),
                &["Posted"],
                &["Cancelled", "Rebilled"],
            ),
            "Invoice" => (
                &[
                    ("number", "DocumentNumber"),
                    ("account", "BillingAccountId"),
                    ("contact", "BillToContactId"),
                    ("issued_on", "InvoiceDate"),
                    ("due_date", "DueDate"),
                    ("total", "TotalAmountWithTax"),
                    ("balance", "Balance"),
                    ("status", "Status"),
                ],
                Some("BillToContact.Email"),
                &["Posted"],
                &["Canceled", "Cancelled"],
            ),
            _ => (&[], None, &[], &[]),
        };
        let mut fields: BTreeMap<String, String> = preset
            .0
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in &self.fields {
            fields.insert(k.clone(), v.clone());
        }
        Mapping {
            object: self.object.clone(),
            fields,
            contact_email: self
                .contact_email
                .clone()
                .or_else(|| preset.1.map(str::to_string)),
            open_statuses: self
                .open_statuses
                .clone()
                .unwrap_or_else(|| preset.2.iter().map(|s| s.to_string()).collect()),
            void_statuses: self
                .void_statuses
                .clone()
                .unwrap_or_else(|| preset.3.iter().map(|s| s.to_string()).collect()),
        }
    }
}

/// True for a Salesforce API name (`Name`, `blng__Balance__c`, `Account__r.Email`).
pub fn is_api_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

impl SalesforceConfig {
    /// The login host without a trailing slash.
    pub fn login(&self) -> String {
        self.login_url.trim_end_matches('/').to_string()
    }

    /// Problems worth reporting before anything runs; never includes a secret.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        match url::Url::parse(&self.login_url) {
            Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {}
            _ => errors.push(("login_url".into(), "is not an http(s) URL".into())),
        }
        let v = &self.api_version;
        if !v.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        }) {
            errors.push((
                "api_version".into(),
                format!("`{v}` is not a version like \"66.0\""),
            ));
        }
        if self.auth.client_id.expose_secret().trim().is_empty() {
            errors.push(("auth.client_id".into(), "is empty".into()));
        }
        match self.auth.flow {
            Flow::JwtBearer => {
                if self.auth.username.as_deref().is_none_or(str::is_empty) {
                    errors.push((
                        "auth.username".into(),
                        "is required by the jwt_bearer flow".into(),
                    ));
                }
                if self.auth.private_key_file.is_none() {
                    errors.push((
                        "auth.private_key_file".into(),
                        "is required by the jwt_bearer flow".into(),
                    ));
                }
            }
            Flow::RefreshToken => {
                if self.auth.client_secret.is_none() {
                    errors.push((
                        "auth.client_secret".into(),
                        "is required by the refresh_token flow".into(),
                    ));
                }
                if self.auth.redirect_url.is_none() {
                    errors.push((
                        "auth.redirect_url".into(),
                        "is required by the refresh_token flow".into(),
                    ));
                }
            }
        }
        if !is_api_name(&self.invoices.object) {
            errors.push((
                "invoices.object".into(),
                format!("`{}` is not an object API name", self.invoices.object),
            ));
        }
        for (k, v) in &self.invoices.fields {
            if !FIELD_KEYS.contains(&k.as_str()) {
                errors.push((
                    format!("invoices.fields.{k}"),
                    format!("unknown key, expected one of {}", FIELD_KEYS.join(", ")),
                ));
            } else if !is_api_name(v) {
                errors.push((
                    format!("invoices.fields.{k}"),
                    format!("`{v}` is not a field API name"),
                ));
            }
        }
        if let Some(path) = &self.invoices.contact_email
            && !is_api_name(path)
        {
            errors.push((
                "invoices.contact_email".into(),
                format!("`{path}` is not a field path"),
            ));
        }
        let mapping = self.invoices.mapping();
        for required in ["number", "account", "due_date", "balance"] {
            if mapping.field(required).is_none() {
                errors.push((
                    format!("invoices.fields.{required}"),
                    format!(
                        "missing: `{}` has no preset, name this field",
                        self.invoices.object
                    ),
                ));
            }
        }
        if let Some(org) = &self.outbound_message_org_id
            && !(org.len() == 15 || org.len() == 18)
        {
            errors.push((
                "outbound_message_org_id".into(),
                "expected the 15- or 18-character organization id".into(),
            ));
        }
        if self.api_share <= Decimal::ZERO || self.api_share > Decimal::ONE {
            errors.push((
                "api_share".into(),
                "must be more than 0 and at most 1".into(),
            ));
        }
        if let Some(c) = &self.currency
            && relance_core::Currency::parse(c).is_err()
        {
            errors.push(("currency".into(), format!("`{c}` is not a currency code")));
        }
        errors
    }
}
