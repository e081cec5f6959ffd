//! The org's API allocation and Salesforce's error answers.
//!
//! Salesforce counts API requests per org over a rolling 24 hours, shared with every other
//! integration; every REST response says how much is used in `Sforce-Limit-Info:
//! api-usage=used/max`. [`ApiBudget`] keeps Relance to a configured share of that allocation and
//! stops it altogether when the org as a whole is nearly out. [`classify_error`] turns an error
//! answer into a [`ConnectorError`].
//!
//! Everything here is pure: the time is always passed in.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use relance_core::ConnectorError;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;

/// How long to wait after the daily allocation is exhausted (403 `TotalRequests Limit
/// exceeded.`) or when the org is above [`ORG_CEILING_PERCENT`]: Salesforce sends no
/// `Retry-After` and the window is rolling, so usage only drops gradually.
pub const DAILY_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);

/// How long to wait after 403 `ConcurrentPerOrgLongTxn Limit exceeded.` (25 requests of 20 s
/// or more already running in the org).
pub const CONCURRENT_LIMIT_WAIT: Duration = Duration::from_secs(30);

/// Above this share of the org's allocation (in percent, org-wide `used`), Relance makes no
/// request but one probe per [`DAILY_LIMIT_WAIT`] to learn whether usage went down.
pub const ORG_CEILING_PERCENT: u64 = 95;

const BUCKETS: usize = 24;
const HOUR: i64 = 3600;

/// The first `api-usage=used/max` of a `Sforce-Limit-Info` header value (the header name may
/// be included). Later pairs (`; per-app-api-usage=17/250(appName=…)`, `; api-bursts=1/750`)
/// are ignored.
pub fn parse_limit_info(header: &str) -> Option<(u64, u64)> {
    let value = header
        .split_once(':')
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("sforce-limit-info"))
        .map_or(header, |(_, v)| v);
    value.split([';', ',']).find_map(|part| {
        let (key, pair) = part.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("api-usage") {
            return None;
        }
        let (used, max) = pair.trim().split_once('/')?;
        let digits = |s: &str| {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            s[..end].parse::<u64>().ok()
        };
        Some((used.trim().parse().ok()?, digits(max.trim())?))
    })
}

/// Keeps Relance within its share of the org's rolling 24-hour API allocation.
///
/// Relance may make at most `share × max` requests in any 24 hours, `max` being the latest
/// allocation seen in a `Sforce-Limit-Info` header; until one has been seen nothing is known and
/// every request is allowed (the first answer tells). Independently, when the org-wide `used`
/// reaches [`ORG_CEILING_PERCENT`] % of `max`, or after a 403 `REQUEST_LIMIT_EXCEEDED`
/// ([`ApiBudget::exhausted`]), requests are refused.
///
/// Relance's own requests are counted in 24 hourly buckets keyed by the hour of `now`; the
/// window is the current hour and the 23 before it, so a request stops counting between 23 and
/// 24 hours after it was made (at most an hour early, which the share's margin absorbs).
///
/// No smooth pacing: requests are allowed in bursts up to the share. Relance's traffic is a few
/// sync pages and write-backs at a time, far below any allocation; what matters is never to
/// starve the org's other integrations, which the share and the org-wide ceiling do.
#[derive(Debug)]
pub struct ApiBudget {
    share: Decimal,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Latest `(used, max)` from a header, and when it was seen (or when the last probe was
    /// allowed while the org was above the ceiling).
    org: Option<Org>,
    /// `(hour since the epoch, requests)`, indexed by hour modulo 24.
    buckets: [(i64, u64); BUCKETS],
    /// After a 403 `REQUEST_LIMIT_EXCEEDED`: refuse until then.
    exhausted_until: Option<DateTime<Utc>>,
    /// The latest time passed to any method, for [`ApiBudget::snapshot`].
    latest: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy)]
struct Org {
    used: u64,
    max: u64,
    seen: DateTime<Utc>,
    /// When the ceiling last let a probe through.
    probed: Option<DateTime<Utc>>,
}

/// The budget's state, for logs and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSnapshot {
    /// Requests the whole org made in its rolling 24 hours, as last reported.
    pub org_used: Option<u64>,
    /// The org's 24-hour allocation, as last reported.
    pub org_max: Option<u64>,
    /// Requests Relance made in the last 24 hours (hourly buckets).
    pub ours_24h: u64,
    /// Relance's cap, `share × org_max` rounded down; `None` until the allocation is known.
    pub ours_allowed: Option<u64>,
    /// Requests are refused until then after a 403 `REQUEST_LIMIT_EXCEEDED`.
    pub exhausted_until: Option<DateTime<Utc>>,
}

fn hour_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(HOUR)
}

fn to_std(d: TimeDelta) -> Duration {
    d.to_std()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1))
}

impl State {
    fn touch(&mut self, now: DateTime<Utc>) {
        self.latest = Some(self.latest.map_or(now, |l| l.max(now)));
    }

    /// Buckets inside the window ending at `now`, oldest first.
    fn window(&self, now: DateTime<Utc>) -> Vec<(i64, u64)> {
        let current = hour_of(now);
        let mut inside: Vec<(i64, u64)> = self
            .buckets
            .iter()
            .copied()
            .filter(|(hour, n)| *n > 0 && *hour > current - BUCKETS as i64 && *hour <= current)
            .collect();
        inside.sort_unstable();
        inside
    }

    fn ours(&self, now: DateTime<Utc>) -> u64 {
        self.window(now).iter().map(|(_, n)| n).sum()
    }
}

impl ApiBudget {
    /// A budget allowing Relance `share` of the org's allocation, `0 < share <= 1` (e.g.
    /// `0.2`). Values above 1 are taken as 1; zero or less lets no request through once the
    /// allocation is known (the configuration should refuse such values before).
    pub fn new(share: Decimal) -> Self {
        ApiBudget {
            share: share.clamp(Decimal::ZERO, Decimal::ONE),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn allowed(&self, max: u64) -> u64 {
        (self.share * Decimal::from(max))
            .floor()
            .to_u64()
            .unwrap_or(u64::MAX)
    }

    /// Takes the org's usage from a response's `Sforce-Limit-Info` (see [`parse_limit_info`]).
    /// An observation older than the one kept is ignored (answers may arrive out of order).
    pub fn observe(&self, used: u64, max: u64, now: DateTime<Utc>) {
        let mut state = self.lock();
        state.touch(now);
        if state.org.is_some_and(|o| o.seen > now) {
            return;
        }
        state.org = Some(Org {
            used,
            max,
            seen: now,
            probed: None,
        });
    }

    /// Counts one request Relance made at `now`.
    pub fn record(&self, now: DateTime<Utc>) {
        let mut state = self.lock();
        state.touch(now);
        let hour = hour_of(now);
        let slot = &mut state.buckets[hour.rem_euclid(BUCKETS as i64) as usize];
        if slot.0 != hour {
            *slot = (hour, 0);
        }
        slot.1 += 1;
    }

    /// Records a 403 `REQUEST_LIMIT_EXCEEDED` answer: [`ApiBudget::check`] refuses until
    /// `until` (e.g. `now + DAILY_LIMIT_WAIT`).
    pub fn exhausted(&self, until: DateTime<Utc>) {
        let mut state = self.lock();
        state.exhausted_until = Some(state.exhausted_until.map_or(until, |u| u.max(until)));
    }

    /// `Ok` when a request may be made at `now`, else how long to wait:
    /// - after [`ApiBudget::exhausted`], until the time given;
    /// - when the org-wide `used` has reached [`ORG_CEILING_PERCENT`] % of `max`,
    ///   [`DAILY_LIMIT_WAIT`] counted from the observation; then one request is let through as
    ///   a probe (its answer brings fresh usage) and the next waits again;
    /// - when Relance's own count in the last 24 hours has reached `share × max`, until enough
    ///   of the oldest buckets leave the window to bring it below.
    ///
    /// `check` does not count the request: call [`ApiBudget::record`] when it is made.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), Duration> {
        let mut state = self.lock();
        state.touch(now);
        if let Some(until) = state.exhausted_until {
            if now < until {
                return Err(to_std(until - now));
            }
            state.exhausted_until = None;
        }
        let Some(org) = state.org else {
            return Ok(());
        };
        let wait = TimeDelta::from_std(DAILY_LIMIT_WAIT).expect("15 minutes");
        if org.used.saturating_mul(100) >= org.max.saturating_mul(ORG_CEILING_PERCENT) {
            let since = org.probed.unwrap_or(org.seen);
            if now < since + wait {
                return Err(to_std(since + wait - now));
            }
            state.org = Some(Org {
                probed: Some(now),
                ..org
            });
        }
        let allowed = self.allowed(org.max);
        let window = state.window(now);
        let mut ours: u64 = window.iter().map(|(_, n)| n).sum();
        if ours < allowed {
            return Ok(());
        }
        if allowed == 0 {
            return Err(DAILY_LIMIT_WAIT);
        }
        // The earliest time the count drops below the cap: when enough old buckets leave.
        for (hour, n) in window {
            ours -= n;
            if ours < allowed {
                let leaves = DateTime::<Utc>::from_timestamp((hour + BUCKETS as i64) * HOUR, 0)
                    .expect("an hour within chrono's range");
                return Err(to_std(leaves - now));
            }
        }
        unreachable!("the window's counts sum to `ours`, and 0 < allowed")
    }

    /// The state as of the latest time passed to any method.
    pub fn snapshot(&self) -> BudgetSnapshot {
        let latest = self.lock().latest;
        self.snapshot_at(latest.unwrap_or(DateTime::<Utc>::UNIX_EPOCH))
    }

    /// The state as of `now`.
    pub fn snapshot_at(&self, now: DateTime<Utc>) -> BudgetSnapshot {
        let state = self.lock();
        BudgetSnapshot {
            org_used: state.org.map(|o| o.used),
            org_max: state.org.map(|o| o.max),
            ours_24h: state.ours(now),
            ours_allowed: state.org.map(|o| self.allowed(o.max)),
            exhausted_until: state.exhausted_until.filter(|u| *u > now),
        }
    }
}

/// One entry of Salesforce's error array. Collections use `statusCode` instead of `errorCode`.
#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "errorCode", alias = "statusCode")]
    code: Option<String>,
    #[serde(default)]
    fields: Vec<String>,
}

/// The OAuth shape: `{"error","error_description"}`.
#[derive(Debug, Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Reads the errors out of a body: the REST array, a single object, the OAuth object.
fn parse_errors(body: &[u8]) -> Option<Vec<ApiError>> {
    if let Ok(list) = serde_json::from_slice::<Vec<ApiError>>(body) {
        let list: Vec<ApiError> = list
            .into_iter()
            .filter(|e| e.code.is_some() || e.message.is_some())
            .collect();
        return (!list.is_empty()).then_some(list);
    }
    if let Ok(e) = serde_json::from_slice::<OAuthError>(body) {
        return Some(vec![ApiError {
            message: e.error_description,
            code: Some(e.error),
            fields: Vec::new(),
        }]);
    }
    match serde_json::from_slice::<ApiError>(body) {
        Ok(e) if e.code.is_some() || e.message.is_some() => Some(vec![e]),
        _ => None,
    }
}

/// One line from a possibly multi-line message (SOQL errors embed the query and a caret line).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a body that is not a Salesforce error says, without dumping a whole page.
fn describe_other(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no error details".to_string();
    }
    if text.starts_with('<') {
        return format!(
            "an HTML/XML page instead of a JSON error ({} bytes; maintenance or a proxy?)",
            body.len()
        );
    }
    let line = one_line(text);
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

fn describe(status: u16, errors: &[ApiError]) -> String {
    errors
        .iter()
        .map(|e| {
            let code = e.code.as_deref().unwrap_or("UNKNOWN_ERROR");
            let message = one_line(e.message.as_deref().unwrap_or("no message"));
            let mut line = format!("{status} {code}: {message}");
            if !e.fields.is_empty() {
                line.push_str(&format!(" (fields: {})", e.fields.join(", ")));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// True for a 401 that a new access token may cure: `INVALID_SESSION_ID` (expired or revoked
/// session), or a 401 with no readable error. Not for "This session is not valid for use with
/// the REST API", which is a policy or scope problem a refresh will not fix.
pub fn is_invalid_session(status: u16, body: &[u8]) -> bool {
    if status != 401 {
        return false;
    }
    match parse_errors(body) {
        None => true,
        Some(errors) => errors.iter().any(|e| {
            e.code.as_deref() == Some("INVALID_SESSION_ID")
                && !e
                    .message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("not valid for use with the REST API")
        }),
    }
}

/// Classifies an error answer. The caller has already refreshed the token once on a 401
/// (see [`is_invalid_session`]); `now` dates the retry hint of rate-limit errors.
///
/// | Status | Class |
/// |---|---|
/// | 401 | `Auth` |
/// | 403 `REQUEST_LIMIT_EXCEEDED` | `RateLimited`: 15 min for the daily allocation, 30 s for `ConcurrentPerOrgLongTxn` |
/// | other 403 | `Auth`, with a hint (API Enabled, permissions) |
/// | 404 | `NotFound` |
/// | 400, 405, 409, 410, 412, 414, 415, 431 | `Invalid` |
/// | 429 (not Salesforce's own, a proxy's) | `RateLimited` without a delay |
/// | 420, 5xx | `Transient` |
/// | anything else | `Provider` with the first error code |
pub fn classify_error(status: u16, body: &[u8], now: DateTime<Utc>) -> ConnectorError {
    let errors = parse_errors(body).unwrap_or_default();
    let message = if errors.is_empty() {
        format!("{status} {}", describe_other(body))
    } else {
        describe(status, &errors)
    };
    let has_code = |code: &str| errors.iter().any(|e| e.code.as_deref() == Some(code));
    let first_code = errors.iter().find_map(|e| e.code.clone());
    let rate_limited = |wait: Duration, what: &str| {
        let at = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::zero());
        ConnectorError::RateLimited {
            retry_after: Some(wait),
            message: format!(
                "{message}: {what}; retrying after {}",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        }
    };
    match status {
        401 => ConnectorError::Auth(format!(
            "{message}: the access token was refused even after a new one was obtained; check \
             that the integration user is active and the app still authorised"
        )),
        403 if has_code("REQUEST_LIMIT_EXCEEDED") => {
            let concurrent = errors.iter().any(|e| {
                e.message
                    .as_deref()
                    .is_some_and(|m| m.contains("ConcurrentPerOrgLongTxn"))
            });
            if concurrent {
                rate_limited(
                    CONCURRENT_LIMIT_WAIT,
                    "too many long-running requests in the org at once",
                )
            } else {
                rate_limited(
                    DAILY_LIMIT_WAIT,
                    "the org's rolling 24-hour API allocation is used up",
                )
            }
        }
        403 => ConnectorError::Auth(format!(
            "{message}: the integration user lacks a permission; check that its profile or a \
             permission set grants API Enabled and read access to the invoice object and fields \
             (and that the org's edition includes API access)"
        )),
        404 => ConnectorError::NotFound(message),
        400 | 405 | 409 | 410 | 412 | 414 | 415 | 431 => ConnectorError::Invalid(message),
        429 => ConnectorError::RateLimited {
            retry_after: None,
            message,
        },
        420 | 500..=599 => ConnectorError::Transient(message),
        _ => ConnectorError::Provider {
            status,
            code: first_code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/salesforce/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        at("2026-11-24T09:00:00Z")
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn limit_info_headers() {
        let line = String::from_utf8(fixture("headers-sforce-limit-info.txt")).unwrap();
        assert_eq!(parse_limit_info(line.trim()), Some((18442, 115000)));
        assert_eq!(
            parse_limit_info("api-usage=18442/115000"),
            Some((18442, 115000))
        );
        assert_eq!(
            parse_limit_info("api-usage=18/5000; per-app-api-usage=17/250(appName=Relance)"),
            Some((18, 5000))
        );
        assert_eq!(
            parse_limit_info("api-usage=25/5000; api-bursts=1/750"),
            Some((25, 5000))
        );
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=X); api-usage=30/5000"),
            Some((30, 5000))
        );
        assert_eq!(parse_limit_info("api-bursts=1/750"), None);
        assert_eq!(parse_limit_info("api-usage=x/5000"), None);
        assert_eq!(parse_limit_info(""), None);
    }

    #[test]
    fn nothing_known_allows_everything() {
        let budget = ApiBudget::new(dec("0.2"));
        for _ in 0..1000 {
            assert_eq!(budget.check(now()), Ok(()));
            budget.record(now());
        }
        let s = budget.snapshot();
        assert_eq!(s.ours_24h, 1000);
        assert_eq!((s.org_used, s.org_max, s.ours_allowed), (None, None, None));
    }

    #[test]
    fn the_share_caps_our_own_requests_until_the_oldest_bucket_leaves() {
        let budget = ApiBudget::new(dec("0.001")); // 0.1 % of 10,000 = 10 requests a day
        budget.observe(100, 10_000, now());
        // 4 requests at 09:xx, 6 at 12:xx.
        for _ in 0..4 {
            assert!(budget.check(now()).is_ok());
            budget.record(now());
        }
        let noon = at("2026-11-24T12:30:00Z");
        for _ in 0..6 {
            assert!(budget.check(noon).is_ok());
            budget.record(noon);
        }
        let s = budget.snapshot();
        assert_eq!((s.ours_24h, s.ours_allowed), (10, Some(10)));
        // Full: wait until the 09:00 bucket leaves, at 09:00 the next day.
        let later = at("2026-11-24T20:00:00Z");
        assert_eq!(budget.check(later), Err(Duration::from_secs(13 * 3600)));
        let next_day = at("2026-11-25T09:00:00Z");
        assert_eq!(budget.check(next_day), Ok(()));
        assert_eq!(budget.snapshot_at(next_day).ours_24h, 6);
        // A larger allocation lifts the cap at once.
        budget.observe(100, 20_000, later);
        assert_eq!(budget.check(later), Ok(()));
    }

    #[test]
    fn the_wait_skips_buckets_too_small_to_free_enough() {
        let budget = ApiBudget::new(dec("0.5"));
        budget.observe(0, 10, now());
        budget.record(now()); // 1 at 09:xx
        for _ in 0..4 {
            budget.record(at("2026-11-24T10:10:00Z")); // 4 at 10:xx
        }
        budget.record(at("2026-11-24T11:10:00Z")); // 1 at 11:xx → 6 > 5
        // Dropping 09:xx leaves 5, still the cap: wait for 10:xx to leave too.
        assert_eq!(
            budget.check(at("2026-11-24T12:00:00Z")),
            Err(Duration::from_secs(22 * 3600)) // 10:00 tomorrow
        );
    }

    #[test]
    fn buckets_are_reused_a_day_later() {
        let budget = ApiBudget::new(dec("1"));
        budget.record(now());
        budget.record(now());
        let tomorrow = now() + TimeDelta::hours(24);
        budget.record(tomorrow);
        assert_eq!(budget.snapshot_at(tomorrow).ours_24h, 1);
        assert_eq!(budget.snapshot().ours_24h, 1);
    }

    #[test]
    fn the_org_ceiling_stops_everything_but_a_probe() {
        let budget = ApiBudget::new(dec("1"));
        budget.observe(94_999, 100_000, now());
        assert_eq!(budget.check(now()), Ok(()));
        budget.observe(95_000, 100_000, now());
        assert_eq!(budget.check(now()), Err(DAILY_LIMIT_WAIT));
        let five = now() + TimeDelta::minutes(5);
        assert_eq!(budget.check(five), Err(Duration::from_secs(10 * 60)));
        // 15 minutes on: one probe, then wait again.
        let probe = now() + TimeDelta::minutes(15);
        assert_eq!(budget.check(probe), Ok(()));
        assert_eq!(budget.check(probe), Err(DAILY_LIMIT_WAIT));
        // The probe's answer says usage dropped.
        budget.observe(80_000, 100_000, probe);
        assert_eq!(budget.check(probe), Ok(()));
        // An older answer arriving late does not undo that.
        budget.observe(99_000, 100_000, now());
        assert_eq!(budget.check(probe), Ok(()));
        assert_eq!(budget.snapshot().org_used, Some(80_000));
    }

    #[test]
    fn exhausted_refuses_until_the_given_time() {
        let budget = ApiBudget::new(dec("0.5"));
        let until = now() + TimeDelta::minutes(15);
        budget.exhausted(until);
        assert_eq!(budget.check(now()), Err(DAILY_LIMIT_WAIT));
        assert_eq!(budget.snapshot_at(now()).exhausted_until, Some(until));
        assert_eq!(budget.check(until), Ok(()));
        assert_eq!(budget.snapshot_at(until).exhausted_until, None);
    }

    #[test]
    fn share_bounds() {
        let zero = ApiBudget::new(Decimal::ZERO);
        assert_eq!(zero.check(now()), Ok(()), "nothing known yet");
        zero.observe(0, 100_000, now());
        assert_eq!(zero.check(now()), Err(DAILY_LIMIT_WAIT));
        let more = ApiBudget::new(dec("3"));
        more.observe(0, 1000, now());
        assert_eq!(more.snapshot().ours_allowed, Some(1000));
        let third = ApiBudget::new(dec("0.3333"));
        third.observe(0, 115_000, now());
        assert_eq!(third.snapshot().ours_allowed, Some(38329));
    }

    #[test]
    fn the_budget_is_shared_across_threads() {
        let budget = std::sync::Arc::new(ApiBudget::new(dec("1")));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let b = budget.clone();
                std::thread::spawn(move || (0..250).for_each(|_| b.record(now())))
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(budget.snapshot().ours_24h, 1000);
    }

    #[test]
    fn the_401_fixture() {
        let body = fixture("error-401-invalid-session-id.json");
        assert!(is_invalid_session(401, &body));
        assert!(!is_invalid_session(403, &body));
        let e = classify_error(401, &body, now());
        let ConnectorError::Auth(m) = &e else {
            panic!("{e:?}")
        };
        assert!(
            m.starts_with("401 INVALID_SESSION_ID: Session expired or invalid"),
            "{m}"
        );
        let policy = br#"[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]"#;
        assert!(!is_invalid_session(401, policy));
        assert!(is_invalid_session(401, b""));
    }

    #[test]
    fn the_403_limit_fixtures() {
        let daily = classify_error(
            403,
            &fixture("error-403-request-limit-exceeded.json"),
            now(),
        );
        assert_eq!(daily.retry_after(), Some(DAILY_LIMIT_WAIT));
        assert!(matches!(daily, ConnectorError::RateLimited { .. }));
        let m = daily.to_string();
        assert!(
            m.starts_with("403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."),
            "{m}"
        );
        assert!(m.contains("2026-11-24T09:15:00Z"), "{m}");

        let concurrent = classify_error(
            403,
            &fixture("error-403-concurrent-limit-exceeded.json"),
            now(),
        );
        assert_eq!(concurrent.retry_after(), Some(CONCURRENT_LIMIT_WAIT));
        assert!(concurrent.is_retryable());
        assert!(
            concurrent
                .to_string()
                .starts_with("403 REQUEST_LIMIT_EXCEEDED: ConcurrentPerOrgLongTxn")
        );
    }

    #[test]
    fn other_403_is_auth_with_a_hint() {
        let body = br#"[{"message":"The REST API is not enabled for this Organization.","errorCode":"API_DISABLED_FOR_ORG"}]"#;
        let e = classify_error(403, body, now());
        let ConnectorError::Auth(m) = &e else {
            panic!("{e:?}")
        };
        assert!(
            m.starts_with("403 API_DISABLED_FOR_ORG: The REST API"),
            "{m}"
        );
        assert!(m.contains("API Enabled"), "{m}");
    }

    #[test]
    fn the_400_fixture_and_several_errors() {
        let e = classify_error(400, &fixture("error-400-invalid-field.json"), now());
        let ConnectorError::Invalid(m) = &e else {
            panic!("{e:?}")
        };
        assert!(
            m.starts_with("400 INVALID_FIELD: SELECT Id, blng__Balance__c"),
            "{m}"
        );
        assert!(m.contains("No such column 'blng__DunningLevel__c'"), "{m}");
        assert!(!m.contains('\n'));

        let body = br#"[{"message":"bad","errorCode":"MALFORMED_QUERY"},
            {"message":"Required fields are missing: [Subject]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Subject","WhoId"]}]"#;
        let e = classify_error(400, body, now());
        assert_eq!(
            e,
            ConnectorError::Invalid(
                "400 MALFORMED_QUERY: bad; 400 REQUIRED_FIELD_MISSING: Required fields are \
                 missing: [Subject] (fields: Subject, WhoId)"
                    .into()
            )
        );
    }

    #[test]
    fn other_statuses_and_bodies() {
        let not_found =
            br#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#;
        assert!(matches!(
            classify_error(404, not_found, now()),
            ConnectorError::NotFound(m) if m == "404 NOT_FOUND: The requested resource does not exist"
        ));
        let html = b"<html><head><title>Down for maintenance</title></head><body>...</body></html>";
        let e = classify_error(503, html, now());
        assert!(
            matches!(&e, ConnectorError::Transient(m) if m.starts_with("503 an HTML/XML page")),
            "{e:?}"
        );
        assert!(matches!(
            classify_error(420, b"", now()),
            ConnectorError::Transient(m) if m == "420 no error details"
        ));
        let oauth =
            br#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#;
        assert_eq!(
            classify_error(400, oauth, now()),
            ConnectorError::Invalid("400 invalid_grant: expired access/refresh token".into())
        );
        assert_eq!(
            classify_error(
                300,
                br#"[{"errorCode":"MULTIPLE_CHOICES","message":"x"}]"#,
                now()
            ),
            ConnectorError::Provider {
                status: 300,
                code: Some("MULTIPLE_CHOICES".into()),
                message: "300 MULTIPLE_CHOICES: x".into()
            }
        );
        assert!(matches!(
            classify_error(409, b"conflict", now()),
            ConnectorError::Invalid(m) if m == "409 conflict"
        ));
        let long = "x".repeat(500);
        let ConnectorError::Transient(m) = classify_error(500, long.as_bytes(), now()) else {
            panic!()
        };
        assert!(m.chars().count() < 220, "{m}");
        assert_eq!(
            classify_error(429, b"", now()).retry_after(),
            None,
            "a proxy's 429"
        );
    }
}
