//! `Stripe-Signature` verification (raw body, constant time, replay window), then parsing.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use relance_core::{InboundEvent, SignatureCheck, UnverifiedWebhook, VerifiedEvent, WebhookError};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::map::{self, MapOptions};
use crate::model;

const HEADER: &str = "Stripe-Signature";

/// Checks `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`: hex HMAC-SHA256, keyed with the whole
/// `whsec_…` string, of `t + "." + raw body`. Any `v1` may match (secret rotation); `v0` and
/// other schemes are ignored.
pub struct StripeSignature {
    secret: SecretString,
    tolerance_seconds: i64,
}

impl StripeSignature {
    /// A check with `secret` and a replay window of `tolerance_seconds`.
    pub fn new(secret: SecretString, tolerance_seconds: u64) -> Self {
        StripeSignature {
            secret,
            tolerance_seconds: i64::try_from(tolerance_seconds).unwrap_or(i64::MAX),
        }
    }
}

struct Header {
    timestamp: i64,
    v1: Vec<Vec<u8>>,
}

fn parse_header(value: &str) -> Result<Header, WebhookError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in value.split(',') {
        let Some((key, val)) = item.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => {
                timestamp = Some(
                    val.parse::<i64>()
                        .map_err(|_| WebhookError::MalformedSignature(HEADER))?,
                )
            }
            // A value that is not hex cannot match; keep looking at the others.
            "v1" => v1.extend(hex::decode(val).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::MalformedSignature(HEADER))?;
    Ok(Header { timestamp, v1 })
}

impl SignatureCheck for StripeSignature {
    fn check(&self, webhook: &UnverifiedWebhook, now: DateTime<Utc>) -> Result<(), WebhookError> {
        let value = webhook
            .headers
            .get(HEADER)
            .ok_or(WebhookError::MissingSignature(HEADER))?
            .to_str()
            .map_err(|_| WebhookError::MalformedSignature(HEADER))?;
        let header = parse_header(value)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(header.timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(&webhook.body);
        let matched = header
            .v1
            .iter()
            .any(|sig| mac.clone().verify_slice(sig).is_ok());
        if !matched {
            return Err(WebhookError::BadSignature);
        }
        let age = now.timestamp() - header.timestamp;
        if age.abs() > self.tolerance_seconds {
            return Err(WebhookError::StaleTimestamp { age_seconds: age });
        }
        Ok(())
    }
}

/// Parses a verified body into the event it carries.
pub fn parse(
    event: &VerifiedEvent,
    options: MapOptions,
) -> Result<Vec<InboundEvent>, WebhookError> {
    let parsed: model::Event = serde_json::from_slice(event.body())
        .map_err(|e| WebhookError::Malformed(format!("not a Stripe event: {e}")))?;
    let mapped = map::event(&parsed, options).map_err(WebhookError::Malformed)?;
    Ok(vec![mapped])
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue};

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../tests/fixtures/stripe/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn vector() -> serde_json::Value {
        serde_json::from_slice(&fixture("webhook-vector.json")).unwrap()
    }

    fn request(header: Option<&str>, body: Vec<u8>) -> UnverifiedWebhook {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert("stripe-signature", HeaderValue::from_str(h).unwrap());
        }
        UnverifiedWebhook {
            headers,
            body: Bytes::from(body),
        }
    }

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    fn check(secret: &str) -> StripeSignature {
        StripeSignature::new(SecretString::from(secret.to_string()), 300)
    }

    #[test]
    fn official_vector_verifies() {
        let v = vector();
        let payload = fixture("webhook-vector.payload.json");
        assert_eq!(payload.len(), 3669);
        let t = v["timestamp"].as_i64().unwrap();
        let c = check(v["endpoint_secret"].as_str().unwrap());
        let req = request(v["expected_header"].as_str(), payload);
        c.check(&req, at(t + 10)).unwrap();
    }

    #[test]
    fn rotation_header_verifies_with_either_secret() {
        let v = vector();
        let payload = fixture("webhook-vector.payload.json");
        let t = v["timestamp"].as_i64().unwrap();
        let header = v["rotation_case"]["header"].as_str().unwrap();
        for secret in v["rotation_case"]["verifies_with"].as_array().unwrap() {
            let c = check(secret.as_str().unwrap());
            c.check(&request(Some(header), payload.clone()), at(t))
                .unwrap();
        }
    }

    #[test]
    fn negative_cases_are_refused() {
        let v = vector();
        let payload = fixture("webhook-vector.payload.json");
        let t = v["timestamp"].as_i64().unwrap();
        let secret = v["endpoint_secret"].as_str().unwrap();
        let header = v["expected_header"].as_str().unwrap();

        let mut altered = payload.clone();
        altered.push(b'\n');
        assert_eq!(
            check(secret).check(&request(Some(header), altered), at(t)),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            check(&format!("{secret}x")).check(&request(Some(header), payload.clone()), at(t)),
            Err(WebhookError::BadSignature)
        );
        let v0_only = v["negative_cases"][2]["header"].as_str().unwrap();
        assert_eq!(
            check(secret).check(&request(Some(v0_only), payload.clone()), at(t)),
            Err(WebhookError::BadSignature)
        );
        assert!(matches!(
            check(secret).check(&request(Some(header), payload.clone()), at(t + 301)),
            Err(WebhookError::StaleTimestamp { age_seconds: 301 })
        ));
        assert!(matches!(
            check(secret).check(&request(Some(header), payload.clone()), at(t - 301)),
            Err(WebhookError::StaleTimestamp { .. })
        ));
        assert_eq!(
            check(secret).check(&request(None, payload.clone()), at(t)),
            Err(WebhookError::MissingSignature("Stripe-Signature"))
        );
        assert_eq!(
            check(secret).check(&request(Some("v1=abc"), payload.clone()), at(t)),
            Err(WebhookError::MalformedSignature("Stripe-Signature"))
        );
        assert_eq!(
            check(secret).check(&request(Some("t=abc,v1=00"), payload), at(t)),
            Err(WebhookError::MalformedSignature("Stripe-Signature"))
        );
    }
}
