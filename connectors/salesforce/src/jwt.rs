//! (interface placeholder while the real module is written on branch sf-pure)
use chrono::{DateTime, Utc};
pub struct JwtSigner;
impl JwtSigner {
    pub fn from_file(_p: &std::path::Path) -> Result<Self, String> { Err("placeholder".into()) }
    pub fn assertion(&self, _c: &str, _u: &str, _a: &str, _now: DateTime<Utc>) -> String { String::new() }
}
pub fn token_form(a: &str) -> Vec<(&'static str, String)> { vec![("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer".into()), ("assertion", a.to_string())] }
