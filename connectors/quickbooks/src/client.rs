//! HTTP calls to the QuickBooks Online API: bearer token (refreshed once on a 401), pinned
//! `minorversion`, both quotas of the company, and Intuit fault bodies in all their shapes
//! (documented `Fault`, the gateway's lower-case `fault`, XML) turned into clear errors.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::Quota;
use relance_core::auth::TokenManager;
use relance_core::http::{HttpClient, HttpConfig, HttpResponse};
use relance_core::retry::RetryRules;
use relance_core::{Clock, ConnectorError};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::oauth::IntuitOAuth;

/// Every call pins this minor version (75 is the floor since 2025-08-01).
pub const MINOR_VERSION: &str = "75";
/// How long Intuit asks clients to wait after a throttling answer.
pub const THROTTLE_WAIT: Duration = Duration::from_secs(60);

/// One error of a fault body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultError {
    /// Intuit's code (`5010`, `3200`...).
    pub code: String,
    /// Short message.
    pub message: String,
    /// Longer detail.
    pub detail: String,
}

/// A fault as any of Intuit's shapes carries it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fault {
    /// `ValidationFault`, `AUTHENTICATION`...
    pub kind: String,
    /// Every error listed.
    pub errors: Vec<FaultError>,
}

impl Fault {
    /// Reads a fault from a body, whatever its shape; `None` when the body holds none.
    pub fn parse(body: &[u8]) -> Option<Fault> {
        let text = std::str::from_utf8(body).ok()?.trim_start();
        if text.starts_with('<') {
            return Self::parse_xml(text);
        }
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(rename = "Fault", alias = "fault")]
            fault: Option<Inner>,
        }
        #[derive(Deserialize)]
        struct Inner {
            #[serde(rename = "Error", alias = "error", default)]
            errors: Vec<Item>,
            #[serde(rename = "type", default)]
            kind: Option<String>,
        }
        #[derive(Deserialize)]
        struct Item {
            #[serde(rename = "Message", alias = "message", default)]
            message: Option<String>,
            #[serde(rename = "Detail", alias = "detail", default)]
            detail: Option<String>,
            #[serde(default)]
            code: Option<serde_json::Value>,
        }
        let envelope: Envelope = serde_json::from_str(text).ok()?;
        let inner = envelope.fault?;
        Some(Fault {
            kind: inner.kind.unwrap_or_default(),
            errors: inner
                .errors
                .into_iter()
                .map(|i| FaultError {
                    code: match i.code {
                        Some(serde_json::Value::String(s)) => s,
                        Some(serde_json::Value::Number(n)) => n.to_string(),
                        _ => String::new(),
                    },
                    message: i.message.unwrap_or_default(),
                    detail: i.detail.unwrap_or_default(),
                })
                .collect(),
        })
    }

    /// `<IntuitResponse><Fault type="…"><Error code="…"><Message>…</Message><Detail>…`.
    fn parse_xml(text: &str) -> Option<Fault> {
        let fault_at = text.find("<Fault")?;
        let fault = &text[fault_at..];
        let attr = |s: &str, name: &str| -> Option<String> {
            let head = &s[..s.find('>')?];
            let at = head.find(&format!("{name}=\""))? + name.len() + 2;
            Some(head[at..].split('"').next()?.to_string())
        };
        let element = |s: &str, name: &str| -> String {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            s.find(&open)
                .and_then(|a| {
                    let rest = &s[a + open.len()..];
                    rest.find(&close).map(|b| xml_unescape(&rest[..b]))
                })
                .unwrap_or_default()
        };
        let mut errors = Vec::new();
        let mut rest = fault;
        while let Some(at) = rest.find("<Error") {
            let error = &rest[at..];
            let end = error.find("</Error>").unwrap_or(error.len());
            let body = &error[..end];
            errors.push(FaultError {
                code: attr(body, "code").unwrap_or_default(),
                message: element(body, "Message"),
                detail: element(body, "Detail"),
            });
            rest = &error[end..];
            if end == error.len() {
                break;
            }
        }
        Some(Fault {
            kind: attr(fault, "type").unwrap_or_default(),
            errors,
        })
    }

    /// The first error's code.
    pub fn code(&self) -> &str {
        self.errors.first().map(|e| e.code.as_str()).unwrap_or("")
    }

    /// Every error as `code message: detail`, `; `-separated. Details of authentication
    /// faults are left out: Intuit's gateway quotes part of the token in them.
    pub fn describe(&self) -> String {
        let auth = self.kind.to_ascii_uppercase().starts_with("AUTHENTICATION");
        self.errors
            .iter()
            .map(|e| {
                let mut s = format!("{} {}", e.code, e.message.trim());
                if !auth && !e.detail.trim().is_empty() && e.detail.trim() != e.message.trim() {
                    s.push_str(": ");
                    s.push_str(e.detail.trim());
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Why a call failed, before it becomes a [`ConnectorError`]: the cases the connector acts on.
#[derive(Debug)]
pub enum CallError {
    /// 400 code 5010: the `SyncToken` sent is out of date.
    StaleObject(String),
    /// Anything else, classified.
    Other(ConnectorError),
}

impl From<ConnectorError> for CallError {
    fn from(e: ConnectorError) -> Self {
        CallError::Other(e)
    }
}

impl From<CallError> for ConnectorError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::StaleObject(m) => ConnectorError::Transient(m),
            CallError::Other(e) => e,
        }
    }
}

/// Classifies an answer that is not a success (or a 200 that carries a fault). Never matches
/// on the message text; keeps `intuit_tid` for Intuit support.
pub fn classify(status: u16, body: &[u8], tid: &str) -> CallError {
    let fault = Fault::parse(body);
    let code = fault
        .as_ref()
        .map(|f| f.code().to_string())
        .unwrap_or_default();
    let described = match &fault {
        Some(f) if !f.errors.is_empty() => f.describe(),
        _ => "no error details".to_string(),
    };
    let message = format!("{status} {described} (intuit_tid {tid})");
    match (status, code.as_str()) {
        (400, "5010") => CallError::StaleObject(message),
        (400, "610") | (404, _) => CallError::Other(ConnectorError::NotFound(message)),
        (401, _) => CallError::Other(ConnectorError::Auth(format!(
            "{message}: the access token was refused for this company (reconnect if it persists)"
        ))),
        (403, "3001") | (429, _) => CallError::Other(ConnectorError::RateLimited {
            retry_after: Some(THROTTLE_WAIT),
            message,
        }),
        (403, _) => CallError::Other(ConnectorError::Auth(format!(
            "{message}: the app is disconnected from this company, or production keys meet a sandbox company (or the reverse): reconnect"
        ))),
        (400, "6190") => CallError::Other(ConnectorError::Auth(format!(
            "{message}: the company's QuickBooks subscription is not active"
        ))),
        (s, _) if s >= 500 => CallError::Other(ConnectorError::Transient(message)),
        (400, _) => CallError::Other(ConnectorError::Invalid(message)),
        (s, _) => CallError::Other(ConnectorError::Provider {
            status: s,
            code: (!code.is_empty()).then_some(code),
            message,
        }),
    }
}

/// A QuickBooks client for one company.
pub struct QboClient {
    http: HttpClient,
    base: String,
    label: String,
    pub(crate) tokens: TokenManager,
    pub(crate) oauth: IntuitOAuth,
    configured_realm: Option<String>,
}

/// The methods Relance uses.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    /// GET.
    Get,
    /// POST with a JSON body.
    Post,
}

impl QboClient {
    /// A client for `base` at `rps` requests a second and `rpm` a minute.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        label: &str,
        base: &str,
        rps: u32,
        rpm: u32,
        configured_realm: Option<String>,
        tokens: TokenManager,
        oauth: IntuitOAuth,
        clock: Arc<dyn Clock>,
        tune: impl FnOnce(&mut HttpConfig),
    ) -> Result<Self, ConnectorError> {
        let mut config = HttpConfig::new(label, rps);
        // A quota allows its burst plus its rate over any window: a burst of 2 at `rps` keeps
        // every rolling second within `rps + 2` (Intuit: 10), and a burst of 25 at 95% of
        // `rpm` keeps every rolling minute within `rpm` (Intuit: 500).
        let second = NonZeroU32::new(rps.clamp(1, 10)).expect("clamped");
        config.requests_per_second = second;
        let per_minute = rpm.clamp(30, 500);
        let burst = (per_minute / 20).max(1);
        let period = Duration::from_secs(60) / (per_minute - burst);
        config.extra_quotas = vec![
            Quota::with_period(Duration::from_secs(1) / second.get())
                .expect("non-zero")
                .allow_burst(NonZeroU32::new(2.min(second.get())).expect("non-zero")),
            Quota::with_period(period)
                .expect("non-zero")
                .allow_burst(NonZeroU32::new(burst).expect("non-zero")),
        ];
        config.rules = RetryRules {
            should_retry_header: None,
            throttle_wait: Some(THROTTLE_WAIT),
        };
        config.max_wait = Duration::from_secs(90);
        config.timeout = Duration::from_secs(125);
        config.request_id_header = "intuit_tid";
        tune(&mut config);
        Ok(QboClient {
            http: HttpClient::new(config, clock)?,
            base: base.trim_end_matches('/').to_string(),
            label: label.to_string(),
            tokens,
            oauth,
            configured_realm,
        })
    }

    /// Requests sent so far (token requests excluded).
    pub fn requests(&self) -> u64 {
        self.http.requests()
    }

    /// The company id: from the stored connection, checked against the configuration.
    fn realm(&self, stored: Option<&str>) -> Result<String, ConnectorError> {
        match (stored, self.configured_realm.as_deref()) {
            (Some(s), Some(c)) if s != c => Err(ConnectorError::Auth(format!(
                "{}: connected to company {s} but realm_id says {c}: reconnect or fix realm_id",
                self.label
            ))),
            (Some(s), _) => Ok(s.to_string()),
            (None, Some(c)) => Ok(c.to_string()),
            (None, None) => Err(ConnectorError::Auth(format!(
                "{0}: no company connected: run `relance connect {0}`",
                self.label
            ))),
        }
    }

    /// Calls `{base}/v3/company/{realm}/{path}` and returns the body of a success. A 401
    /// refreshes the access token once and tries again.
    pub async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Bytes, CallError> {
        let mut rejected = None;
        loop {
            let (version, tokens) = self.tokens.token(&self.oauth, rejected).await?;
            let realm = self.realm(tokens.account.as_deref())?;
            let url = format!("{}/v3/company/{realm}/{path}", self.base);
            let response = self
                .http
                .send(what, |c| {
                    let request = match method {
                        Method::Get => c.get(&url),
                        Method::Post => c.post(&url).json(body.unwrap_or(&serde_json::Value::Null)),
                    };
                    request
                        .bearer_auth(&tokens.access_token)
                        .header("Accept", "application/json")
                        .query(&[("minorversion", MINOR_VERSION)])
                        .query(query)
                })
                .await?;
            if response.status == 401 && rejected.is_none() {
                tracing::info!(connector = %self.label, call = what, "401: refreshing the access token once");
                rejected = Some(version);
                continue;
            }
            return self.check(what, response);
        }
    }

    fn check(&self, what: &str, response: HttpResponse) -> Result<Bytes, CallError> {
        let tid = response.header("intuit_tid").unwrap_or("-").to_string();
        let xml = response
            .header("content-type")
            .is_some_and(|c| c.contains("xml"));
        if !response.is_success() || xml || looks_like_fault(&response.body) {
            let status = if response.is_success() {
                400
            } else {
                response.status
            };
            return Err(match classify(status, &response.body, &tid) {
                CallError::StaleObject(m) => {
                    CallError::StaleObject(format!("{}: {what}: {m}", self.label))
                }
                CallError::Other(e) => {
                    CallError::Other(e.context(format!("{}: {what}", self.label)))
                }
            });
        }
        Ok(response.body)
    }

    /// Decodes a successful body as `T`.
    pub fn parse<T: DeserializeOwned>(&self, what: &str, body: &[u8]) -> Result<T, ConnectorError> {
        serde_json::from_slice(body).map_err(|e| {
            ConnectorError::Invalid(format!(
                "{}: {what}: unexpected answer from QuickBooks ({e})",
                self.label
            ))
        })
    }

    /// A query statement (`SELECT … FROM …`), decoded.
    pub async fn query(
        &self,
        what: &str,
        statement: &str,
    ) -> Result<crate::model::QueryResponse, ConnectorError> {
        let body = self
            .call(
                what,
                Method::Get,
                "query",
                &[("query", statement.to_string())],
                None,
            )
            .await?;
        Ok(self
            .parse::<crate::model::QueryEnvelope>(what, &body)?
            .query)
    }
}

/// A 200 whose body is a fault (Intuit documents that this happens).
fn looks_like_fault(body: &[u8]) -> bool {
    let head = &body[..body.len().min(64)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    t.starts_with("{\"Fault\"") || t.starts_with("{\"fault\"") || t.starts_with("<?xml")
}

/// Quotes a string literal for a query: single quotes, inner quotes and backslashes escaped
/// with a backslash; typographic quotes left as they are (they are plain characters).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/quickbooks/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn every_fault_shape_is_read_and_classified() {
        let f = Fault::parse(&fixture("fault-stale-synctoken.json")).unwrap();
        assert_eq!(f.code(), "5010");
        assert!(matches!(
            classify(400, &fixture("fault-stale-synctoken.json"), "t1"),
            CallError::StaleObject(_)
        ));
        let e = classify(401, &fixture("fault-401-token-expired.json"), "t2");
        let CallError::Other(e) = e else { panic!() };
        assert!(matches!(e, ConnectorError::Auth(_)));
        assert!(e.to_string().contains("3200"), "{e}");
        assert!(!e.to_string().contains("eyJ"), "token fragment leaked: {e}");
        let xml = fixture("fault-401-general-auth.xml");
        let f = Fault::parse(&xml).unwrap();
        assert_eq!((f.code(), f.kind.as_str()), ("100", "AuthenticationFault"));
        assert_eq!(f.errors[0].message, "General Authentication Error");
        let CallError::Other(e) = classify(429, &fixture("fault-429-throttle.xml"), "t3") else {
            panic!()
        };
        assert_eq!(e.retry_after(), Some(THROTTLE_WAIT));
        assert!(e.to_string().contains("3001"), "{e}");
        let CallError::Other(e) = classify(429, &fixture("fault-429-throttle.json"), "t4") else {
            panic!()
        };
        assert!(matches!(e, ConnectorError::RateLimited { .. }));
        let CallError::Other(e) = classify(403, &fixture("fault-403-app-authorization.json"), "t5")
        else {
            panic!()
        };
        assert!(matches!(e, ConnectorError::Auth(_)) && e.to_string().contains("3100"));
        let CallError::Other(e) = classify(
            400,
            br#"{"Fault":{"Error":[{"Message":"Object Not Found","Detail":"Object Not Found : Something you're trying to use has been made inactive.","code":"610"}],"type":"ValidationFault"}}"#,
            "t6",
        ) else {
            panic!()
        };
        assert!(matches!(e, ConnectorError::NotFound(_)));
        let CallError::Other(e) = classify(400, br#"{"Fault":{"Error":[{"Message":"Error parsing query","Detail":"QueryParserError: Encountered \" <STRING> \"'x\"","code":"4000"}],"type":"ValidationFault"}}"#, "t7") else { panic!() };
        assert!(matches!(e, ConnectorError::Invalid(_)));
        assert!(e.to_string().contains("QueryParserError") && e.to_string().contains("t7"));
        let CallError::Other(e) = classify(503, b"<html>down</html>", "t8") else {
            panic!()
        };
        assert!(matches!(e, ConnectorError::Transient(_)));
        assert!(e.to_string().contains("no error details"));
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(quote("O'Keefe"), r"'O\'Keefe'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
        assert_eq!(quote("L’Atelier"), "'L’Atelier'");
    }
}
