//! The `kind: quickbooks` section of `relance.yaml`.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Intuit's production API host.
pub const PRODUCTION_API: &str = "https://quickbooks.api.intuit.com";
/// Intuit's sandbox API host.
pub const SANDBOX_API: &str = "https://sandbox-quickbooks.api.intuit.com";
/// Token endpoint host (the same for sandbox and production).
pub const OAUTH_BASE: &str = "https://oauth.platform.intuit.com";
/// Where users are sent to authorize the app (the same for sandbox and production).
pub const AUTHORIZE_URL: &str = "https://appcenter.intuit.com/connect/oauth2";

/// Production or sandbox company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Real companies.
    #[default]
    Production,
    /// Intuit developer sandbox companies.
    Sandbox,
}

/// Settings of one QuickBooks Online company.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickBooksConfig {
    /// `production` or `sandbox`: selects the API host.
    #[serde(default)]
    pub environment: Environment,
    /// The company id; optional before `relance connect`, which records it.
    #[serde(default)]
    pub realm_id: Option<String>,
    /// OAuth client id of the Intuit app.
    pub client_id: SecretString,
    /// OAuth client secret of the Intuit app.
    pub client_secret: SecretString,
    /// Redirect URI registered on the Intuit app; the daemon answers it at
    /// `/oauth/{connector_id}/callback`.
    pub redirect_url: String,
    /// Webhook verifier token from the Intuit developer portal; webhooks are refused without it.
    #[serde(default)]
    pub webhook_verifier_token: Option<SecretString>,
    /// API base URL (tests point it at a mock); defaults from `environment`.
    #[serde(default)]
    pub api_base: Option<String>,
    /// Token endpoint base URL.
    #[serde(default = "default_oauth_base")]
    pub oauth_base: String,
    /// Authorization page URL.
    #[serde(default = "default_authorize_url")]
    pub authorize_url: String,
    /// Requests per second to the company (Intuit allows 10; 8 leaves headroom).
    #[serde(default = "default_rps")]
    pub requests_per_second: u32,
    /// Requests per minute to the company (Intuit allows 500).
    #[serde(default = "default_rpm")]
    pub requests_per_minute: u32,
    /// Record in QuickBooks the payments of its invoices received through another provider
    /// (a payment link): the account they are deposited to (`DepositToAccountRef`).
    #[serde(default)]
    pub payment_deposit_account: Option<String>,
    /// Longest private note kept (Intuit's limit is commonly given as 4000 characters).
    #[serde(default = "default_note_limit")]
    pub private_note_limit: usize,
}

fn default_oauth_base() -> String {
    OAUTH_BASE.to_string()
}
fn default_authorize_url() -> String {
    AUTHORIZE_URL.to_string()
}
fn default_rps() -> u32 {
    8
}
fn default_rpm() -> u32 {
    500
}
fn default_note_limit() -> usize {
    4000
}

impl QuickBooksConfig {
    /// The API base in use.
    pub fn api_base(&self) -> String {
        self.api_base
            .clone()
            .unwrap_or_else(|| match self.environment {
                Environment::Production => PRODUCTION_API.to_string(),
                Environment::Sandbox => SANDBOX_API.to_string(),
            })
            .trim_end_matches('/')
            .to_string()
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!(
            "{}/oauth2/v1/tokens/bearer",
            self.oauth_base.trim_end_matches('/')
        )
    }

    /// Problems worth reporting before anything runs; never includes a secret.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.client_id.expose_secret().trim().is_empty() {
            errors.push(("client_id".into(), "is empty".into()));
        }
        if self.client_secret.expose_secret().trim().is_empty() {
            errors.push(("client_secret".into(), "is empty".into()));
        }
        if let Some(realm) = &self.realm_id
            && (realm.is_empty() || !realm.chars().all(|c| c.is_ascii_digit()))
        {
            errors.push((
                "realm_id".into(),
                "expected the company id QuickBooks shows (digits only)".into(),
            ));
        }
        let url_ok = |u: &str| {
            url::Url::parse(u).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https")
        };
        if !url_ok(&self.redirect_url) {
            errors.push(("redirect_url".into(), "is not an http(s) URL".into()));
        }
        if let Some(base) = &self.api_base
            && !url_ok(base)
        {
            errors.push(("api_base".into(), "is not an http(s) URL".into()));
        }
        if !url_ok(&self.oauth_base) {
            errors.push(("oauth_base".into(), "is not an http(s) URL".into()));
        }
        if !url_ok(&self.authorize_url) {
            errors.push(("authorize_url".into(), "is not an http(s) URL".into()));
        }
        if !(1..=10).contains(&self.requests_per_second) {
            errors.push((
                "requests_per_second".into(),
                "must be between 1 and 10 (Intuit's limit per company)".into(),
            ));
        }
        if !(1..=500).contains(&self.requests_per_minute) {
            errors.push((
                "requests_per_minute".into(),
                "must be between 1 and 500 (Intuit's limit per company)".into(),
            ));
        }
        if self.private_note_limit < 200 {
            errors.push(("private_note_limit".into(), "must be at least 200".into()));
        }
        errors
    }
}
