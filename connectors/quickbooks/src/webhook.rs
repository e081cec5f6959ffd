//! `intuit-signature` verification (base64 HMAC-SHA256 of the raw body with the verifier
//! token, constant time), and both payload formats: the classic `eventNotifications` object and
//! the CloudEvents array. Notifications are hints: each becomes "fetch this object".

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use relance_core::{
    InboundEvent, ObjectKind, ObjectRef, SignatureCheck, UnverifiedWebhook, WebhookError,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

const HEADER: &str = "intuit-signature";

/// Checks `intuit-signature`. Intuit signs no timestamp, so there is no replay window to
/// check: a replayed notification only makes Relance fetch the named objects again (events are
/// also de-duplicated by id).
pub struct IntuitSignature {
    token: SecretString,
}

impl IntuitSignature {
    /// A check with the app's verifier token.
    pub fn new(token: SecretString) -> Self {
        IntuitSignature { token }
    }
}

impl SignatureCheck for IntuitSignature {
    fn check(&self, webhook: &UnverifiedWebhook, _now: DateTime<Utc>) -> Result<(), WebhookError> {
        let value = webhook
            .headers
            .get(HEADER)
            .ok_or(WebhookError::MissingSignature(HEADER))?
            .to_str()
            .map_err(|_| WebhookError::MalformedSignature(HEADER))?;
        let signature = STANDARD
            .decode(value.trim())
            .map_err(|_| WebhookError::MalformedSignature(HEADER))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.token.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(&webhook.body);
        mac.verify_slice(&signature)
            .map_err(|_| WebhookError::BadSignature)
    }
}

#[derive(Deserialize)]
struct Legacy {
    #[serde(rename = "eventNotifications")]
    notifications: Vec<Notification>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "realmId")]
    realm: String,
    #[serde(rename = "dataChangeEvent")]
    change: Option<DataChange>,
}

#[derive(Deserialize)]
struct DataChange {
    #[serde(default)]
    entities: Vec<Entity>,
}

#[derive(Deserialize)]
struct Entity {
    name: String,
    id: String,
    operation: String,
    #[serde(rename = "lastUpdated", default)]
    last_updated: Option<String>,
}

#[derive(Deserialize)]
struct CloudEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "intuitentityid")]
    entity_id: String,
    #[serde(rename = "intuitaccountid")]
    realm: String,
}

fn object_kind(entity: &str) -> Option<ObjectKind> {
    match entity.to_ascii_lowercase().as_str() {
        "invoice" => Some(ObjectKind::Invoice),
        "payment" => Some(ObjectKind::Payment),
        "customer" => Some(ObjectKind::Customer),
        _ => None,
    }
}

/// The notification's events for company `realm` (others are skipped and counted).
pub fn parse(body: &[u8], realm: Option<&str>) -> Result<(Vec<InboundEvent>, usize), WebhookError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
    let mut events = Vec::new();
    let mut foreign = 0;
    let ours = |r: &str| realm.is_none_or(|ours| ours == r);
    if value.is_array() {
        let list: Vec<CloudEvent> = serde_json::from_value(value)
            .map_err(|e| WebhookError::Malformed(format!("not a CloudEvents array: {e}")))?;
        for e in list {
            if !ours(&e.realm) {
                foreign += 1;
                continue;
            }
            // `qbo.invoice.updated.v1`: entity and verb from the segments, any case.
            let segments: Vec<&str> = e.kind.split('.').collect();
            let Some(kind) = segments.get(1).and_then(|s| object_kind(s)) else {
                continue;
            };
            events.push(InboundEvent {
                id: Some(format!("ce:{}", e.id)),
                kind: e.kind.to_ascii_lowercase(),
                changes: Vec::new(),
                refetch: vec![ObjectRef {
                    kind,
                    external_id: e.entity_id,
                }],
            });
        }
    } else if value.get("eventNotifications").is_some() {
        let legacy: Legacy = serde_json::from_value(value).map_err(|e| {
            WebhookError::Malformed(format!("not an eventNotifications object: {e}"))
        })?;
        for n in legacy.notifications {
            if !ours(&n.realm) {
                foreign += 1;
                continue;
            }
            for entity in n.change.map(|c| c.entities).unwrap_or_default() {
                let Some(kind) = object_kind(&entity.name) else {
                    continue;
                };
                // The classic format has no event id: this tuple names the notification.
                let id = format!(
                    "legacy:{}:{}:{}:{}:{}",
                    n.realm,
                    entity.name.to_ascii_lowercase(),
                    entity.id,
                    entity.operation.to_ascii_lowercase(),
                    entity.last_updated.as_deref().unwrap_or("-")
                );
                events.push(InboundEvent {
                    id: Some(id),
                    kind: format!(
                        "{}.{}",
                        entity.name.to_ascii_lowercase(),
                        entity.operation.to_ascii_lowercase()
                    ),
                    changes: Vec::new(),
                    refetch: vec![ObjectRef {
                        kind,
                        external_id: entity.id,
                    }],
                });
            }
        }
    } else {
        return Err(WebhookError::Malformed(
            "neither a CloudEvents array nor an eventNotifications object".into(),
        ));
    }
    Ok((events, foreign))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue};

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/quickbooks/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn hook(body: &[u8], sig: &str) -> UnverifiedWebhook {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(sig).unwrap());
        UnverifiedWebhook {
            headers,
            body: Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn the_published_vectors() {
        let vector: serde_json::Value =
            serde_json::from_slice(&fixture("webhook-vector.json")).unwrap();
        let token = vector["verifier_token"].as_str().unwrap();
        let check = IntuitSignature::new(SecretString::from(token.to_string()));
        let now = DateTime::UNIX_EPOCH;
        let body = fixture("webhook-vector.payload.json");
        let expected = vector["expected_signature"].as_str().unwrap();
        assert!(check.check(&hook(&body, expected), now).is_ok());
        let mut longer = body.clone();
        longer.push(b'\n');
        assert_eq!(
            check.check(&hook(&longer, expected), now),
            Err(WebhookError::BadSignature)
        );
        let wrong = IntuitSignature::new(SecretString::from(format!("{token}x")));
        assert_eq!(
            wrong.check(&hook(&body, expected), now),
            Err(WebhookError::BadSignature)
        );
        let legacy = fixture("webhook-legacy.json");
        let sig = vector["additional_vectors"][0]["expected_signature"]
            .as_str()
            .unwrap();
        assert!(check.check(&hook(&legacy, sig), now).is_ok());
        let up = &vector["upstream_cross_check"];
        let check = IntuitSignature::new(SecretString::from(
            up["verifier_token"].as_str().unwrap().to_string(),
        ));
        let payload = up["payload"].as_str().unwrap().as_bytes();
        assert!(
            check
                .check(
                    &hook(payload, up["expected_signature"].as_str().unwrap()),
                    now
                )
                .is_ok()
        );
        let missing = UnverifiedWebhook {
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"[]"),
        };
        assert_eq!(
            check.check(&missing, now),
            Err(WebhookError::MissingSignature(HEADER))
        );
        assert_eq!(
            check.check(&hook(b"[]", "not base64!"), now),
            Err(WebhookError::MalformedSignature(HEADER))
        );
    }

    #[test]
    fn both_formats_become_refetches() {
        let (ce, foreign) = parse(
            &fixture("webhook-cloudevents.json"),
            Some("9341452119837706"),
        )
        .unwrap();
        assert_eq!(foreign, 0);
        assert_eq!(ce.len(), 2);
        assert_eq!(ce[0].refetch[0].kind, ObjectKind::Payment);
        assert_eq!(ce[1].refetch[0], ObjectRef::invoice("134"));
        assert_eq!(
            ce[1].id.as_deref(),
            Some("ce:7c1e9a24-3f58-4b06-a2d1-96e4b8f0c5d3")
        );
        let (legacy, _) = parse(&fixture("webhook-legacy.json"), Some("9341452119837706")).unwrap();
        assert_eq!(legacy.len(), 2);
        assert_eq!(legacy[1].refetch[0], ObjectRef::invoice("134"));
        assert_eq!(legacy[1].kind, "invoice.update");
        let (other, foreign) = parse(&fixture("webhook-legacy.json"), Some("1")).unwrap();
        assert!(other.is_empty());
        assert_eq!(foreign, 1);
        assert!(matches!(
            parse(b"{\"x\":1}", None),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"[{\"id\":1}]", None),
            Err(WebhookError::Malformed(_))
        ));
        let (voided, _) = parse(
            br#"[{"specversion":"1.0","id":"a","type":"QBO.Invoice.Voided.v1","intuitentityid":"7","intuitaccountid":"5","data":{}}]"#,
            Some("5"),
        )
        .unwrap();
        assert_eq!(voided[0].refetch[0], ObjectRef::invoice("7"));
    }
}
