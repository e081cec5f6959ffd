//! Incoming webhooks: an unverified request becomes a [`VerifiedEvent`] only through a
//! connector's [`SignatureCheck`], so unverified bytes cannot reach the parsing or the store.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderMap;

/// A webhook request exactly as received: headers and the raw body bytes.
#[derive(Debug, Clone)]
pub struct UnverifiedWebhook {
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw body, never re-serialised.
    pub body: Bytes,
}

/// Why a webhook was refused. Messages never echo secrets or signatures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebhookError {
    /// The signature header is absent.
    #[error("missing {0} header")]
    MissingSignature(&'static str),
    /// The signature header cannot be read.
    #[error("malformed {0} header")]
    MalformedSignature(&'static str),
    /// No signature matches the body under the configured secret.
    #[error("signature does not match the body (wrong secret, or altered body)")]
    BadSignature,
    /// The signed timestamp is outside the replay window.
    #[error("timestamp outside the tolerance window ({age_seconds} s from now)")]
    StaleTimestamp {
        /// Distance between the signed time and now.
        age_seconds: i64,
    },
    /// The sender is not the account this connector is configured for.
    #[error("not for this connector: {0}")]
    WrongAccount(String),
    /// Signed, but not a body we can read.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// This connector takes no webhooks.
    #[error("this connector does not accept webhooks")]
    NotSupported,
}

impl WebhookError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::NotSupported => 404,
            WebhookError::WrongAccount(_) => 403,
            _ => 400,
        }
    }
}

/// Checks a provider's signature over the raw body, in constant time, with a replay window.
pub trait SignatureCheck: Send + Sync {
    /// `Ok` only when the request was signed with the configured secret within the window.
    fn check(&self, webhook: &UnverifiedWebhook, now: DateTime<Utc>) -> Result<(), WebhookError>;
}

/// A webhook whose signature was checked. Only [`verify`] builds one.
#[derive(Debug, Clone)]
pub struct VerifiedEvent {
    headers: HeaderMap,
    body: Bytes,
}

impl VerifiedEvent {
    /// Request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The raw body, as signed.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// Runs `check` over `webhook`; the only way to obtain a [`VerifiedEvent`].
pub fn verify(
    check: &dyn SignatureCheck,
    webhook: UnverifiedWebhook,
    now: DateTime<Utc>,
) -> Result<VerifiedEvent, WebhookError> {
    check.check(&webhook, now)?;
    Ok(VerifiedEvent {
        headers: webhook.headers,
        body: webhook.body,
    })
}

/// The HTTP answer to a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookReply {
    /// HTTP status.
    pub status: u16,
    /// Content type of `body`.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

impl WebhookReply {
    /// `200 {"received":true}`.
    pub fn json_ok() -> Self {
        WebhookReply {
            status: 200,
            content_type: "application/json",
            body: r#"{"received":true}"#.to_string(),
        }
    }

    /// A JSON error answer with the error's status.
    pub fn error(error: &WebhookError) -> Self {
        WebhookReply {
            status: error.status(),
            content_type: "application/json",
            body: serde_json::json!({ "error": error.to_string() }).to_string(),
        }
    }
}
