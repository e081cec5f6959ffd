//! The `kind: stripe` section of `relance.yaml`.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Stripe's API base when none is configured.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// Settings of one Stripe account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeConfig {
    /// Secret or restricted key (`sk_live_…`, `rk_live_…`), from `${STRIPE_SECRET_KEY}`.
    pub api_key: SecretString,
    /// Webhook endpoint signing secret (`whsec_…`); webhooks are refused without it.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
    /// API base URL; tests point it at a local mock.
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Time zone of the Stripe account, used to turn `due_date` instants into dates
    /// (defaults to the company's).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Request rate ceiling; defaults to 25/s for test keys and 100/s for live keys.
    #[serde(default)]
    pub requests_per_second: Option<u32>,
    /// Also chase `charge_automatically` invoices (off: Stripe's own dunning retries them).
    #[serde(default)]
    pub chase_automatic_collection: bool,
    /// Webhook replay window in seconds.
    #[serde(default = "default_tolerance")]
    pub webhook_tolerance_seconds: u64,
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_string()
}

fn default_tolerance() -> u64 {
    300
}

impl StripeConfig {
    /// True for test-mode keys.
    pub fn is_test_key(&self) -> bool {
        let key = self.api_key.expose_secret();
        key.starts_with("sk_test_") || key.starts_with("rk_test_")
    }

    /// The request rate to use.
    pub fn rate(&self) -> u32 {
        self.requests_per_second
            .unwrap_or(if self.is_test_key() { 25 } else { 100 })
    }

    /// Problems worth reporting before anything runs; never includes the key itself.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let key = self.api_key.expose_secret();
        if key.is_empty() {
            errors.push(("api_key".into(), "is empty".into()));
        } else if !["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
            .iter()
            .any(|p| key.starts_with(p))
        {
            errors.push((
                "api_key".into(),
                "does not look like a Stripe secret or restricted key (sk_… or rk_…)".into(),
            ));
        }
        if let Some(secret) = &self.webhook_secret
            && !secret.expose_secret().starts_with("whsec_")
        {
            errors.push((
                "webhook_secret".into(),
                "does not look like a webhook signing secret (whsec_…)".into(),
            ));
        }
        match url::Url::parse(&self.api_base) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => errors.push(("api_base".into(), "is not an http(s) URL".into())),
        }
        if let Some(tz) = &self.timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            errors.push(("timezone".into(), format!("unknown time zone `{tz}`")));
        }
        if self.requests_per_second == Some(0) {
            errors.push(("requests_per_second".into(), "must be at least 1".into()));
        }
        errors
    }
}
