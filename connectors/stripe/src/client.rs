//! HTTP calls to Stripe: key auth, pinned version, errors classified by status and code.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use relance_core::http::{HttpClient, HttpConfig, HttpResponse};
use relance_core::retry::RetryRules;
use relance_core::{Clock, ConnectorError};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::model::ErrorBody;

/// The API version every request pins (`Stripe-Version`), so responses never change shape
/// with the account's default version.
pub const STRIPE_VERSION: &str = "2026-10-28.endive";

/// A Stripe API client for one account.
pub struct StripeClient {
    http: HttpClient,
    base: String,
    key: SecretString,
    label: String,
    clock: Arc<dyn Clock>,
}

impl StripeClient {
    /// A client for `base` (`https://api.stripe.com`) with `key`, at most `rate` requests/s.
    pub fn new(
        label: &str,
        base: &str,
        key: SecretString,
        rate: u32,
        clock: Arc<dyn Clock>,
        tune: impl FnOnce(&mut HttpConfig),
    ) -> Result<Self, ConnectorError> {
        let mut config = HttpConfig::new(label, rate);
        config.rules = RetryRules {
            should_retry_header: Some("stripe-should-retry"),
            throttle_wait: None,
        };
        tune(&mut config);
        Ok(StripeClient {
            http: HttpClient::new(config, clock.clone())?,
            base: base.trim_end_matches('/').to_string(),
            key,
            label: label.to_string(),
            clock,
        })
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.http.requests()
    }

    /// `GET {base}{path}?{query}` decoded as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let body = self.get_raw(what, path, query).await?;
        self.parse(what, &body)
    }

    /// `GET {base}{path}?{query}`: the body of a successful answer, errors classified.
    pub async fn get_raw(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<bytes::Bytes, ConnectorError> {
        let url = format!("{}{}", self.base, path);
        let response = self
            .http
            .send(what, |c| {
                c.get(&url)
                    .bearer_auth(self.key.expose_secret())
                    .header("Stripe-Version", STRIPE_VERSION)
                    .query(query)
            })
            .await?;
        self.check(what, response)
    }

    /// `POST {base}{path}` with a form body and an idempotency key, decoded as `T`.
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<T, ConnectorError> {
        let url = format!("{}{}", self.base, path);
        let response = self
            .http
            .send(what, |c| {
                c.post(&url)
                    .bearer_auth(self.key.expose_secret())
                    .header("Stripe-Version", STRIPE_VERSION)
                    .header("Idempotency-Key", idempotency_key)
                    .form(form)
            })
            .await?;
        let body = self.check(what, response)?;
        self.parse(what, &body)
    }

    /// The body of a successful answer, or the classified error.
    fn check(&self, what: &str, response: HttpResponse) -> Result<bytes::Bytes, ConnectorError> {
        if !response.is_success() {
            return Err(
                classify(&response, self.clock.now()).context(format!("{}: {what}", self.label))
            );
        }
        Ok(response.body)
    }

    /// Decodes a successful answer's body as `T`.
    pub fn parse<T: DeserializeOwned>(&self, what: &str, body: &[u8]) -> Result<T, ConnectorError> {
        serde_json::from_slice(body).map_err(|e| {
            ConnectorError::Invalid(format!(
                "{}: {what}: unexpected answer from Stripe ({e})",
                self.label
            ))
        })
    }
}

/// Turns a Stripe error answer into a classified error. Never matches on the message text,
/// and never repeats the message of a 401 (it quotes part of the key).
pub fn classify(response: &HttpResponse, now: DateTime<Utc>) -> ConnectorError {
    let body: Option<ErrorBody> = serde_json::from_slice(&response.body).ok();
    let code = body.as_ref().and_then(|b| b.error.code.clone());
    let message = body
        .as_ref()
        .and_then(|b| b.error.message.clone())
        .unwrap_or_else(|| "no error details".to_string());
    let request_id = response.header("request-id").unwrap_or("-");
    let status = response.status;
    let described = format!("{status} {message} (request {request_id})");
    match (status, code.as_deref()) {
        (401, _) => ConnectorError::Auth(format!(
            "401 invalid or revoked API key (check the connector's api_key, e.g. STRIPE_SECRET_KEY; request {request_id})"
        )),
        (403, _) => ConnectorError::Auth(format!(
            "403 the key lacks a permission: {message} (request {request_id})"
        )),
        (404, Some("resource_missing")) => ConnectorError::NotFound(described),
        (400 | 429, Some("rate_limit")) => ConnectorError::RateLimited {
            retry_after: relance_core::retry::retry_after(&response.headers, now),
            message: described,
        },
        (429, Some("lock_timeout")) | (409 | 424, _) => ConnectorError::Transient(described),
        (429, _) => ConnectorError::RateLimited {
            retry_after: None,
            message: described,
        },
        (s, _) if s >= 500 => ConnectorError::Transient(described),
        (400, _) => ConnectorError::Invalid(match code {
            Some(code) => format!("400 {code}: {message} (request {request_id})"),
            None => described,
        }),
        (s, c) => ConnectorError::Provider {
            status: s,
            code: c.map(str::to_string),
            message: described,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

    fn fixture(name: &str) -> Bytes {
        let path = format!(
            "{}/../../tests/fixtures/stripe/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        Bytes::from(std::fs::read(&path).unwrap())
    }

    fn response(status: u16, body: Bytes) -> HttpResponse {
        HttpResponse {
            status,
            headers: HeaderMap::new(),
            body,
            attempts: 1,
        }
    }

    #[test]
    fn error_fixtures_are_classified() {
        let e = classify(
            &response(401, fixture("error-401-invalid-key.json")),
            DateTime::UNIX_EPOCH,
        );
        assert!(matches!(e, ConnectorError::Auth(_)));
        assert!(!e.to_string().contains("sk_test"), "{e}");
        assert!(e.to_string().contains("STRIPE_SECRET_KEY"));
        let e = classify(
            &response(404, fixture("error-404-no-such-invoice.json")),
            DateTime::UNIX_EPOCH,
        );
        assert!(matches!(e, ConnectorError::NotFound(_)));
        let e = classify(
            &response(429, fixture("error-429-rate-limit.json")),
            DateTime::UNIX_EPOCH,
        );
        assert!(matches!(e, ConnectorError::RateLimited { .. }));
        let e = classify(
            &response(429, fixture("error-429-lock-timeout.json")),
            DateTime::UNIX_EPOCH,
        );
        assert!(matches!(e, ConnectorError::Transient(_)));
        let e = classify(
            &response(400, fixture("error-400-idempotency-mismatch.json")),
            DateTime::UNIX_EPOCH,
        );
        assert!(matches!(e, ConnectorError::Invalid(_)), "{e:?}");
        let e = classify(
            &response(502, Bytes::from_static(b"<html>bad gateway</html>")),
            DateTime::UNIX_EPOCH,
        );
        assert!(matches!(e, ConnectorError::Transient(_)));
        assert!(e.to_string().contains("no error details"));
        let e = classify(
            &response(402, Bytes::from_static(b"{}")),
            DateTime::UNIX_EPOCH,
        );
        assert!(matches!(e, ConnectorError::Provider { status: 402, .. }));
    }
}
