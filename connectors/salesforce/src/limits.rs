//! (interface placeholder while the real module is written on branch sf-pure)
use std::time::Duration;
use chrono::{DateTime, Utc};
use relance_core::ConnectorError;
use rust_decimal::Decimal;
pub fn parse_limit_info(_h: &str) -> Option<(u64, u64)> { None }
pub struct ApiBudget;
impl ApiBudget {
    pub fn new(_share: Decimal) -> Self { ApiBudget }
    pub fn observe(&self, _used: u64, _max: u64, _now: DateTime<Utc>) {}
    pub fn record(&self, _now: DateTime<Utc>) {}
    pub fn check(&self, _now: DateTime<Utc>) -> Result<(), Duration> { Ok(()) }
    pub fn exhausted(&self, _until: DateTime<Utc>) {}
}
pub fn classify_error(status: u16, _b: &[u8], _now: DateTime<Utc>) -> ConnectorError { ConnectorError::Provider { status, code: None, message: String::new() } }
pub fn is_invalid_session(status: u16, _b: &[u8]) -> bool { status == 401 }
