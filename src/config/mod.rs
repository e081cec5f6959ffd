//! `relance.yaml`: parsed section by section so that every error is reported at once, each
//! with its YAML path, then validated into [`Config`]. Secrets come from `${VAR}` references
//! and are held as `SecretString`, which never prints.

pub mod duration;
pub mod expand;
mod sections;

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use crate::policy::config::Policy;
pub use sections::{ConnectorSettings, EmailConfig, iban_formatted, siren_is_valid};

/// One problem in the configuration, at a YAML path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `policy.steps[2].offset_days`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem found, in file order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    /// Records a problem.
    pub fn push(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(Issue {
            path: if path.is_empty() {
                "(top level)".into()
            } else {
                path.to_string()
            },
            message: message.into(),
        });
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Issues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", issue.path, issue.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Issues {}

/// `server:`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Public base URL (webhook and link addresses shown to users).
    pub public_url: Option<url::Url>,
}

/// `company:`.
#[derive(Debug, Clone)]
pub struct CompanyConfig {
    /// Trading name, signed under every message.
    pub name: String,
    /// Contact address shown in messages.
    pub email: String,
    /// Time zone of the business: dates and days are counted there.
    pub timezone: Tz,
    /// Default language of messages (`fr`, `en`).
    pub locale: String,
    /// Legal name on formal notices (defaults to `name`).
    pub legal_name: String,
    /// Postal address on letters.
    pub address: Option<String>,
    /// SIREN (nine digits), shown on formal notices.
    pub siren: Option<String>,
    /// Bank details for a transfer (`IBAN FR76 … – BIC …`), from `iban` and `bic`; on letters.
    pub bank: Option<String>,
    /// ISO country code (`FR`).
    pub country: String,
    /// Public holidays: `FR`, `FR-alsace-moselle` or `none`.
    pub holidays: String,
    /// Days messages may go out.
    pub send_days: Vec<chrono::Weekday>,
    /// Local time from which messages may go out.
    pub send_from: chrono::NaiveTime,
    /// Local time until which messages may go out.
    pub send_to: chrono::NaiveTime,
    /// Business days and send window: from `holidays` and `send_window` when either is
    /// given; every day, any time otherwise (the behaviour before policy v2).
    pub calendar: crate::calendar::Calendar,
}

/// B2B (professional) or B2C (consumer) customers, for late-payment law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CustomerKindConfig {
    /// Businesses: statutory interest and the EUR 40 indemnity.
    #[default]
    B2b,
    /// Consumers: nothing before a formal notice, then the legal rate.
    B2c,
}

/// The penalty rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PenaltyRate {
    /// ECB rate + 10 points, floored at three times the legal rate.
    #[default]
    Statutory,
    /// A rate from the terms of sale, % a year (floored the same way).
    Contractual(rust_decimal::Decimal),
}

/// `late_payment:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatePaymentConfig {
    /// Default kind of customer.
    pub customer_kind: CustomerKindConfig,
    /// Penalty rate.
    pub penalty_rate: PenaltyRate,
    /// Recovery indemnity per invoice (B2B).
    pub recovery_indemnity: rust_decimal::Decimal,
    /// A rates table overriding the shipped one.
    pub rates_file: Option<PathBuf>,
    /// Customers (name or provider id) who are consumers, whatever `customer_kind` says.
    pub b2c_customers: Vec<String>,
    /// Customers (name or provider id) who are businesses, whatever `customer_kind` says.
    pub b2b_customers: Vec<String>,
}

impl LatePaymentConfig {
    /// The kind of a customer: an override naming it, else what the provider says (`b2c`,
    /// `b2b`), else the default.
    pub fn kind_of(
        &self,
        name: &str,
        external_id: &str,
        provider: Option<&str>,
    ) -> CustomerKindConfig {
        let named = |list: &[String]| list.iter().any(|c| c == name || c == external_id);
        if named(&self.b2c_customers) {
            CustomerKindConfig::B2c
        } else if named(&self.b2b_customers) {
            CustomerKindConfig::B2b
        } else {
            match provider {
                Some("b2c") => CustomerKindConfig::B2c,
                Some("b2b") => CustomerKindConfig::B2b,
                _ => self.customer_kind,
            }
        }
    }
}

impl Default for LatePaymentConfig {
    fn default() -> Self {
        LatePaymentConfig {
            customer_kind: CustomerKindConfig::B2b,
            penalty_rate: PenaltyRate::Statutory,
            recovery_indemnity: rust_decimal::Decimal::new(4000, 2),
            rates_file: None,
            b2c_customers: Vec::new(),
            b2b_customers: Vec::new(),
        }
    }
}

/// One entry of `connectors:`.
#[derive(Debug)]
pub struct ConnectorEntry {
    /// `stripe-main`.
    pub id: String,
    /// How often to poll.
    pub poll_interval: Duration,
    /// The provider's own section.
    pub settings: ConnectorSettings,
}

/// `dispatch:`: how the outbox is worked.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Pause between two planning and sending rounds of the daemon.
    pub interval: Duration,
    /// How long a claimed reminder stays reserved to its worker.
    pub lease: Duration,
    /// Reminders claimed at once.
    pub batch: u32,
    /// Attempts before a transiently failing reminder is given up.
    pub max_attempts: u32,
    /// Refresh an invoice from its provider right before reminding (fresh status and link).
    pub refresh_before_send: bool,
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// Its folder: relative paths are taken from here.
    pub base_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); may hold a password.
    pub database: SecretString,
    /// HTTP server.
    pub server: ServerConfig,
    /// The business.
    pub company: CompanyConfig,
    /// Providers.
    pub connectors: Vec<ConnectorEntry>,
    /// E-mail channel, if configured.
    pub email: Option<EmailConfig>,
    /// The reminder policy.
    pub policy: Policy,
    /// Templates folder.
    pub templates: PathBuf,
    /// Outbox work.
    pub dispatch: DispatchConfig,
    /// Remarks that do not stop anything (a secret written inline...).
    pub warnings: Vec<String>,
    /// French late-payment law settings.
    pub late_payment: LatePaymentConfig,
    /// `RELANCE_SECRET_KEY` from the environment: encrypts connector tokens at rest.
    pub secret_key: Option<SecretString>,
}

const TOP_KEYS: &[&str] = &[
    "database",
    "server",
    "company",
    "connectors",
    "channels",
    "policy",
    "templates",
    "dispatch",
    "late_payment",
];

/// Reads, expands, parses and validates `path`, with `env` to look variables up.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Issues> {
    let mut issues = Issues::default();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let mut i = Issues::default();
        i.push(
            &path.display().to_string(),
            format!("cannot read the configuration file: {e}"),
        );
        i
    })?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    // Absolute, so every path shown or used later is unambiguous.
    let base_dir = std::fs::canonicalize(&base_dir).unwrap_or(base_dir);
    let config = parse(&text, path, &base_dir, env, &mut issues);
    match config {
        Some(c) if issues.is_empty() => Ok(c),
        _ => Err(issues),
    }
}

/// Like [`load`], from text already read.
pub fn parse(
    text: &str,
    path: &Path,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    issues: &mut Issues,
) -> Option<Config> {
    let mut root: Value = match serde_yaml_ng::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            issues.push("", format!("not valid YAML: {e}"));
            return None;
        }
    };
    let secret_paths = expand::expand_tree(&mut root, "", base_dir, env, issues);
    let Value::Mapping(map) = root else {
        issues.push(
            "",
            "expected a mapping of sections (database, company, connectors, …)",
        );
        return None;
    };
    let mut sections = std::collections::HashMap::new();
    for (k, v) in map {
        match k {
            Value::String(k) if TOP_KEYS.contains(&k.as_str()) => {
                sections.insert(k, v);
            }
            Value::String(k) => issues.push(
                &k,
                format!("unknown section, expected one of {}", TOP_KEYS.join(", ")),
            ),
            other => issues.push("", format!("unexpected key {other:?}")),
        }
    }
    let ctx = Ctx {
        secret_paths: &secret_paths,
        base_dir,
    };
    let mut config = sections::build(ctx, sections, path, issues)?;
    config.secret_key = env(crate::store::SECRET_KEY_VAR)
        .filter(|k| !k.trim().is_empty())
        .map(SecretString::from);
    Some(config)
}

/// What section builders need.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    secret_paths: &'a BTreeSet<String>,
    base_dir: &'a Path,
}

impl Ctx<'_> {
    /// Deserialises `value` found at `path`; on failure records the error with its full path.
    pub(crate) fn de<T: DeserializeOwned>(
        &self,
        value: Value,
        path: &str,
        issues: &mut Issues,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                let inner = e.path().to_string();
                let full = join(path, if inner == "." { "" } else { &inner });
                let secret = self
                    .secret_paths
                    .iter()
                    .any(|p| p == &full || full.starts_with(&format!("{p}.")));
                issues.push(&full, humanize(&e.into_inner().to_string(), secret));
                None
            }
        }
    }

    /// A path relative to the configuration file's folder.
    pub(crate) fn resolve(&self, p: &Path) -> PathBuf {
        resolve(self.base_dir, p)
    }

    /// True when the value at `path` came from a `${…}` reference.
    pub(crate) fn is_referenced(&self, path: &str) -> bool {
        self.secret_paths.contains(path)
    }
}

/// `p` taken from `base` when relative, with `.` and `..` folded away.
pub fn resolve(base: &Path, p: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `a` + `b` as a YAML path (`policy` + `steps[2]` → `policy.steps[2]`).
pub(crate) fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ if b.starts_with('[') => format!("{a}{b}"),
        _ => format!("{a}.{b}"),
    }
}

/// Serde's messages in a finance admin's words; a value that came from a secret reference is
/// never repeated.
fn humanize(message: &str, secret: bool) -> String {
    let mut m = message.to_string();
    for ty in [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize",
    ] {
        m = m.replace(&format!("expected {ty}"), "expected an integer");
    }
    m = m.replace("expected f64", "expected a number");
    if let Some(rest) = m.strip_prefix("invalid type: ") {
        // "invalid type: string \"x\", expected an integer" → "expected an integer, found string \"x\""
        if let Some((found, expected)) = rest.split_once(", expected ") {
            m = format!("expected {expected}, found {found}");
        }
    }
    if secret {
        match m.find("expected") {
            Some(i) => format!("value from a ${{…}} reference is invalid: {}", &m[i..]),
            None => "value from a ${…} reference is invalid".to_string(),
        }
    } else {
        m
    }
}

#[cfg(test)]
mod tests;

/// Days in a span such as `30d`, `4w` or `30` (days).
pub fn parse_days(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(n) = s.strip_suffix('d') {
        return n.trim().parse().ok();
    }
    if let Some(n) = s.strip_suffix('w') {
        return n.trim().parse::<i64>().ok().map(|w| w * 7);
    }
    s.parse().ok()
}
