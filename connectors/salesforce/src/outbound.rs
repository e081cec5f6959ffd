//! (interface placeholder while the real module is written on branch sf-pure)
use relance_core::{InboundEvent, SignatureCheck, UnverifiedWebhook, WebhookError};
pub struct Notification { pub id: String, pub object_type: Option<String>, pub record_id: Option<String> }
pub struct Notifications { pub organization_id: String, pub action_id: Option<String>, pub items: Vec<Notification> }
pub fn parse(_b: &[u8]) -> Result<Notifications, String> { Err("placeholder".into()) }
pub fn ack() -> String { String::new() }
pub fn fault(_m: &str) -> String { String::new() }
pub fn events(_n: &Notifications) -> Vec<InboundEvent> { Vec::new() }
pub struct OrgCheck { org_id: String }
impl OrgCheck { pub fn new(org_id: &str) -> Self { OrgCheck { org_id: org_id.to_string() } } }
impl SignatureCheck for OrgCheck {
    fn check(&self, _w: &UnverifiedWebhook, _now: chrono::DateTime<chrono::Utc>) -> Result<(), WebhookError> { let _ = &self.org_id; Ok(()) }
}
