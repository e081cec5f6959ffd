//! The retry decision, as a pure function of what one attempt produced.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;

/// What one HTTP attempt produced, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// No answer: connection refused or reset, DNS failure.
    Connection,
    /// No answer in time.
    Timeout,
    /// An answer.
    Status {
        /// HTTP status.
        status: u16,
        /// Response headers.
        headers: &'a HeaderMap,
    },
}

/// Whether and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Do not retry: success, or an error that will not pass.
    No,
    /// Retry after the exponential backoff delay (with jitter).
    Backoff,
    /// Retry after the delay the provider asked for.
    After(Duration),
}

/// Provider-specific inputs to the decision.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryRules {
    /// A header by which the provider says whether to retry (`Stripe-Should-Retry`).
    pub should_retry_header: Option<&'static str>,
    /// How long to wait after a 429 that names no delay (QuickBooks: 60 s), instead of the
    /// exponential backoff.
    pub throttle_wait: Option<Duration>,
}

/// Decides whether an attempt is worth repeating: connection errors, timeouts, 409 (conflict,
/// e.g. an idempotency key in flight), 429 and 5xx are; `Retry-After` is honoured; a provider's
/// explicit "should retry" header overrides the status.
pub fn decide(outcome: Outcome<'_>, rules: RetryRules, now: DateTime<Utc>) -> Retry {
    let (status, headers) = match outcome {
        Outcome::Connection | Outcome::Timeout => return Retry::Backoff,
        Outcome::Status { status, headers } => (status, headers),
    };
    if (200..400).contains(&status) {
        return Retry::No;
    }
    if let Some(name) = rules.should_retry_header
        && let Some(value) = headers.get(name).and_then(|v| v.to_str().ok())
    {
        match value.trim() {
            "false" => return Retry::No,
            "true" => return retry_after(headers, now).map_or(Retry::Backoff, Retry::After),
            _ => {}
        }
    }
    let retryable = status == 409 || status == 429 || status >= 500;
    if !retryable {
        return Retry::No;
    }
    match (retry_after(headers, now), status, rules.throttle_wait) {
        (Some(after), _, _) => Retry::After(after),
        (None, 429, Some(wait)) => Retry::After(wait),
        _ => Retry::Backoff,
    }
}

/// Reads `Retry-After`, in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_millis((seconds * 1000.0) as u64));
        }
        return None;
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn now() -> DateTime<Utc> {
        "2026-11-24T09:00:00Z".parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn status(code: u16, h: &HeaderMap) -> Retry {
        let rules = RetryRules {
            should_retry_header: Some("stripe-should-retry"),
            throttle_wait: None,
        };
        decide(
            Outcome::Status {
                status: code,
                headers: h,
            },
            rules,
            now(),
        )
    }

    #[test]
    fn table() {
        let none = HeaderMap::new();
        let cases: Vec<(u16, HeaderMap, Retry)> = vec![
            (200, none.clone(), Retry::No),
            (400, none.clone(), Retry::No),
            (401, none.clone(), Retry::No),
            (404, none.clone(), Retry::No),
            (409, none.clone(), Retry::Backoff),
            (429, none.clone(), Retry::Backoff),
            (
                429,
                headers(&[("retry-after", "2")]),
                Retry::After(Duration::from_secs(2)),
            ),
            (500, none.clone(), Retry::Backoff),
            (503, none.clone(), Retry::Backoff),
            (503, headers(&[("stripe-should-retry", "false")]), Retry::No),
            (
                400,
                headers(&[("stripe-should-retry", "true")]),
                Retry::Backoff,
            ),
            (
                429,
                headers(&[("retry-after", "Tue, 24 Nov 2026 09:00:30 GMT")]),
                Retry::After(Duration::from_secs(30)),
            ),
            (429, headers(&[("retry-after", "soon")]), Retry::Backoff),
        ];
        for (code, h, expected) in cases {
            assert_eq!(status(code, &h), expected, "status {code} with {h:?}");
        }
    }

    #[test]
    fn transport_failures_are_retried() {
        let rules = RetryRules::default();
        assert_eq!(decide(Outcome::Connection, rules, now()), Retry::Backoff);
        assert_eq!(decide(Outcome::Timeout, rules, now()), Retry::Backoff);
    }

    #[test]
    fn retry_after_in_the_past_means_now() {
        let h = headers(&[("retry-after", "Tue, 24 Nov 2026 08:00:00 GMT")]);
        assert_eq!(retry_after(&h, now()), Some(Duration::ZERO));
    }
}
