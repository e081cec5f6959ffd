//! REST calls to one org: the session from the token manager (a 401 `INVALID_SESSION_ID`
//! gets a new session once), the instance URL from the token response, `Sforce-Limit-Info`
//! read on every answer to stay within `api_share` of the daily allocation, error arrays
//! turned into clear errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::TimeDelta;
use relance_core::auth::{TokenManager, TokenSet};
use relance_core::http::{HttpClient, HttpConfig};
use relance_core::{Clock, ConnectorError};
use serde::de::DeserializeOwned;

use crate::auth::SalesforceAuth;
use crate::config::Flow;
use crate::limits::{self, ApiBudget};

/// Longest wait for the API budget inside one call; longer ends the call (rescheduled later).
const MAX_BUDGET_WAIT: Duration = Duration::from_secs(30);

/// HTTP methods used.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    /// GET.
    Get,
    /// POST with a JSON body.
    Post,
}

/// A client for one org.
pub struct SfClient {
    http: HttpClient,
    label: String,
    version: String,
    pub(crate) tokens: TokenManager,
    pub(crate) auth: SalesforceAuth,
    pub(crate) budget: ApiBudget,
    clock: Arc<dyn Clock>,
    bootstrapped: AtomicBool,
}

impl SfClient {
    /// A client for API `version`.
    pub fn new(
        label: &str,
        version: &str,
        tokens: TokenManager,
        auth: SalesforceAuth,
        budget: ApiBudget,
        clock: Arc<dyn Clock>,
        tune: impl FnOnce(&mut HttpConfig),
    ) -> Result<Self, ConnectorError> {
        // Salesforce limits per day, not per second; the budget paces the calls.
        let mut config = HttpConfig::new(label, 25);
        config.request_id_header = "sforce-limit-info";
        tune(&mut config);
        Ok(SfClient {
            http: HttpClient::new(config, clock.clone())?,
            label: label.to_string(),
            version: version.to_string(),
            tokens,
            auth,
            budget,
            clock,
            bootstrapped: AtomicBool::new(false),
        })
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.http.requests()
    }

    /// The REST base path (`/services/data/v66.0`).
    pub fn base_path(&self) -> String {
        format!("/services/data/v{}", self.version)
    }

    async fn session(&self, rejected: Option<i64>) -> Result<(i64, TokenSet), ConnectorError> {
        // The JWT flow needs nobody: its first session is made here and stored.
        if self.auth.flow() == Flow::JwtBearer && !self.bootstrapped.load(Ordering::Relaxed) {
            if self.tokens.store().load(&self.label).await?.is_none() {
                let set = self.auth.jwt_login().await.map_err(|e| match e {
                    relance_core::auth::RefreshError::Revoked(m) => ConnectorError::Auth(format!(
                        "{}: Salesforce refused the JWT login ({m}): check auth.client_id, auth.username, the certificate and that the user is pre-authorised on the app",
                        self.label
                    )),
                    relance_core::auth::RefreshError::Other(e) => e,
                })?;
                self.tokens
                    .store()
                    .save(&self.label, &set.to_secret(), None, self.clock.now())
                    .await?;
                self.tokens.forget().await;
            }
            self.bootstrapped.store(true, Ordering::Relaxed);
        }
        self.tokens.token(&self.auth, rejected).await
    }

    /// Calls `target` (a path under the REST base, or an absolute `/services/…` path such as
    /// a `nextRecordsUrl`) and returns the body of a success.
    pub async fn call(
        &self,
        what: &str,
        method: Method,
        target: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Bytes, ConnectorError> {
        self.wait_for_budget().await?;
        let mut rejected = None;
        loop {
            let (version, tokens) = self.session(rejected).await?;
            let instance = tokens.instance_url.clone().ok_or_else(|| {
                ConnectorError::Auth(format!(
                    "{0}: the stored session has no instance URL: run `relance connect {0}`",
                    self.label
                ))
            })?;
            let url = if target.starts_with("/services/") {
                format!("{instance}{target}")
            } else {
                format!("{instance}{}/{target}", self.base_path())
            };
            let response = self
                .http
                .send(what, |c| {
                    let r = match method {
                        Method::Get => c.get(&url),
                        Method::Post => c.post(&url).json(body.unwrap_or(&serde_json::Value::Null)),
                    };
                    r.bearer_auth(&tokens.access_token)
                        .header("Accept", "application/json")
                        .query(query)
                })
                .await?;
            let now = self.clock.now();
            for _ in 0..response.attempts {
                self.budget.record(now);
            }
            if let Some((used, max)) = response
                .header("sforce-limit-info")
                .and_then(limits::parse_limit_info)
            {
                self.budget.observe(used, max, now);
            }
            if response.is_success() {
                return Ok(response.body);
            }
            if rejected.is_none() && limits::is_invalid_session(response.status, &response.body) {
                tracing::info!(connector = %self.label, call = what, "session expired: logging in again");
                rejected = Some(version);
                continue;
            }
            let error = limits::classify_error(response.status, &response.body, now);
            if let ConnectorError::RateLimited {
                retry_after: Some(after),
                ..
            } = &error
                && *after > MAX_BUDGET_WAIT
            {
                self.budget
                    .exhausted(now + TimeDelta::from_std(*after).unwrap_or(TimeDelta::hours(1)));
            }
            return Err(error.context(format!("{}: {what}", self.label)));
        }
    }

    async fn wait_for_budget(&self) -> Result<(), ConnectorError> {
        loop {
            match self.budget.check(self.clock.now()) {
                Ok(()) => return Ok(()),
                Err(wait) if wait <= MAX_BUDGET_WAIT => tokio::time::sleep(wait).await,
                Err(wait) => {
                    return Err(ConnectorError::RateLimited {
                        retry_after: Some(wait),
                        message: format!(
                            "{}: holding back to stay within api_share of the org's daily API allocation (next call in {} s)",
                            self.label,
                            wait.as_secs()
                        ),
                    });
                }
            }
        }
    }

    /// Decodes a successful body.
    pub fn parse<T: DeserializeOwned>(&self, what: &str, body: &[u8]) -> Result<T, ConnectorError> {
        serde_json::from_slice(body).map_err(|e| {
            ConnectorError::Invalid(format!(
                "{}: {what}: unexpected answer from Salesforce ({e})",
                self.label
            ))
        })
    }
}

/// A SOQL string literal: single quotes, with `\` escapes for quote, backslash and controls.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn soql_literals() {
        assert_eq!(quote("Globex L'Atelier"), r"'Globex L\'Atelier'");
        assert_eq!(quote("a\\b\n"), r"'a\\b\n'");
    }
}
