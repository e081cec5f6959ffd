//! Builders for each top-level section of `relance.yaml`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use relance_csv::CsvConfig;
use relance_quickbooks::QuickBooksConfig;
use relance_salesforce::SalesforceConfig;
use relance_stripe::StripeConfig;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use super::duration::YamlDuration;
use super::{
    CompanyConfig, Config, ConnectorEntry, Ctx, DispatchConfig, Issues, ServerConfig, join,
};
use crate::channels::email::SmtpTarget;
use crate::policy::config::{Alert, ChannelKind, Policy, Segment, Step, THANK_YOU_STEP, ThankYou};

/// A provider's own section, by `kind`.
#[derive(Debug)]
pub enum ConnectorSettings {
    /// `kind: stripe`.
    Stripe(StripeConfig),
    /// `kind: csv` (path already resolved).
    Csv(CsvConfig),
    /// `kind: quickbooks`.
    QuickBooks(QuickBooksConfig),
    /// `kind: salesforce` (key file path already resolved).
    Salesforce(SalesforceConfig),
}

impl ConnectorSettings {
    /// The `kind:` value.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorSettings::Stripe(_) => "stripe",
            ConnectorSettings::Csv(_) => "csv",
            ConnectorSettings::QuickBooks(_) => "quickbooks",
            ConnectorSettings::Salesforce(_) => "salesforce",
        }
    }
}

const CONNECTOR_KINDS: &[&str] = &["stripe", "quickbooks", "salesforce", "csv"];

/// `channels.email`.
#[derive(Debug)]
pub struct EmailConfig {
    /// `smtp://user:pass@host:587` (STARTTLS when offered), `smtps://…`, or `file:///folder`.
    pub smtp: SecretString,
    /// The parsed target.
    pub target: SmtpTarget,
    /// `From:` (`Atelier Dupont <compta@…>`).
    pub from: String,
    /// `Reply-To:`.
    pub reply_to: Option<String>,
    /// When set, every message goes there instead of to customers (test mode).
    pub test_recipient: Option<String>,
    /// SMTP timeout per command.
    pub timeout: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    public_url: Option<String>,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompany {
    name: String,
    email: String,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default = "default_locale")]
    locale: String,
    #[serde(default)]
    legal_name: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    siren: Option<String>,
    #[serde(default)]
    iban: Option<String>,
    #[serde(default)]
    bic: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    holidays: Option<String>,
    #[serde(default)]
    send_window: Option<RawSendWindow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSendWindow {
    #[serde(default)]
    days: Option<Vec<String>>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// `late_payment:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatePayment {
    #[serde(default)]
    customer_kind: Option<String>,
    #[serde(default)]
    penalty_rate: Option<Value>,
    #[serde(default)]
    recovery_indemnity: Option<Decimal>,
    #[serde(default)]
    rates_file: Option<PathBuf>,
    #[serde(default)]
    b2c_customers: Vec<String>,
    #[serde(default)]
    b2b_customers: Vec<String>,
}

/// An IBAN in groups of four (`FR76 3000 6000 …`) when it is one: 15 to 34 letters and digits,
/// a country code, and the ISO 13616 check (mod 97 = 1). Spaces may be anywhere.
pub fn iban_formatted(s: &str) -> Option<String> {
    let iban: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !(15..=34).contains(&iban.len())
        || !iban.chars().all(|c| c.is_ascii_alphanumeric())
        || !iban[..2].chars().all(|c| c.is_ascii_alphabetic())
        || !iban[2..4].chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let rearranged = iban[4..].chars().chain(iban[..4].chars());
    let remainder = rearranged.fold(0u32, |acc, c| {
        let v = c.to_digit(36).expect("alphanumeric");
        if v >= 10 {
            (acc * 100 + v) % 97
        } else {
            (acc * 10 + v) % 97
        }
    });
    (remainder == 1).then(|| {
        iban.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Checks a SIREN: nine digits with a valid Luhn key.
pub fn siren_is_valid(s: &str) -> bool {
    if s.len() != 9 || !s.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = s
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).expect("digits checked");
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn time_of(s: &str) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(s, "%H:%M").ok()
}

const WEEKDAYS: &[(&str, chrono::Weekday)] = &[
    ("mon", chrono::Weekday::Mon),
    ("tue", chrono::Weekday::Tue),
    ("wed", chrono::Weekday::Wed),
    ("thu", chrono::Weekday::Thu),
    ("fri", chrono::Weekday::Fri),
    ("sat", chrono::Weekday::Sat),
    ("sun", chrono::Weekday::Sun),
];

pub(super) fn late_payment(
    ctx: Ctx<'_>,
    v: Option<Value>,
    issues: &mut Issues,
) -> Option<super::LatePaymentConfig> {
    use super::{CustomerKindConfig, LatePaymentConfig, PenaltyRate};
    let Some(v) = v else {
        return Some(LatePaymentConfig::default());
    };
    let raw: RawLatePayment = ctx.de(v, "late_payment", issues)?;
    let mut ok = true;
    let customer_kind = match raw.customer_kind.as_deref() {
        None | Some("b2b") => CustomerKindConfig::B2b,
        Some("b2c") => CustomerKindConfig::B2c,
        Some(other) => {
            issues.push(
                "late_payment.customer_kind",
                format!("`{other}`: expected b2b or b2c"),
            );
            ok = false;
            CustomerKindConfig::B2b
        }
    };
    let penalty_rate = match raw.penalty_rate {
        None => PenaltyRate::Statutory,
        Some(Value::String(s)) if s == "statutory" => PenaltyRate::Statutory,
        Some(Value::Number(n)) => match n.to_string().parse::<Decimal>() {
            Ok(d) if d > Decimal::ZERO && d < Decimal::ONE_HUNDRED => PenaltyRate::Contractual(d),
            _ => {
                issues.push(
                    "late_payment.penalty_rate",
                    format!("`{n}`: expected a rate in % a year, above 0 and below 100"),
                );
                ok = false;
                PenaltyRate::Statutory
            }
        },
        Some(other) => {
            issues.push(
                "late_payment.penalty_rate",
                format!("expected `statutory` or a number (% a year), found {other:?}"),
            );
            ok = false;
            PenaltyRate::Statutory
        }
    };
    let recovery_indemnity = raw.recovery_indemnity.unwrap_or(Decimal::new(4000, 2));
    if recovery_indemnity < Decimal::ZERO {
        issues.push("late_payment.recovery_indemnity", "must not be negative");
        ok = false;
    }
    let rates_file = raw.rates_file.map(|p| ctx.resolve(&p));
    if let Some(p) = &rates_file
        && !p.is_file()
    {
        issues.push(
            "late_payment.rates_file",
            format!("{} does not exist", p.display()),
        );
        ok = false;
    }
    for name in raw
        .b2c_customers
        .iter()
        .filter(|n| raw.b2b_customers.contains(n))
    {
        issues.push(
            "late_payment.b2c_customers",
            format!("`{name}` is also in b2b_customers"),
        );
        ok = false;
    }
    ok.then_some(LatePaymentConfig {
        customer_kind,
        penalty_rate,
        recovery_indemnity,
        rates_file,
        b2c_customers: raw.b2c_customers,
        b2b_customers: raw.b2b_customers,
    })
}

fn default_timezone() -> String {
    "Europe/Paris".into()
}

fn default_locale() -> String {
    "fr".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannels {
    #[serde(default)]
    email: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    smtp: SecretString,
    from: String,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    test_recipient: Option<String>,
    #[serde(default)]
    timeout: Option<YamlDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default = "default_max_automatic")]
    max_automatic_reminders: u32,
    #[serde(default)]
    min_balance: Decimal,
    #[serde(default)]
    steps: Vec<Value>,
    #[serde(default)]
    thank_you: Option<ThankYou>,
    #[serde(default)]
    group_by_customer: bool,
    #[serde(default)]
    segments: Vec<Segment>,
    #[serde(default)]
    alerts: Vec<Alert>,
}

const POLICY_KEYS: &[&str] = &[
    "max_automatic_reminders",
    "min_balance",
    "steps",
    "thank_you",
    "group_by_customer",
    "segments",
    "alerts",
];

fn default_max_automatic() -> u32 {
    2
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDispatch {
    #[serde(default)]
    interval: Option<YamlDuration>,
    #[serde(default)]
    lease: Option<YamlDuration>,
    #[serde(default)]
    batch: Option<u32>,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    refresh_before_send: Option<bool>,
}

pub(super) fn build(
    ctx: Ctx<'_>,
    mut s: HashMap<String, Value>,
    path: &Path,
    issues: &mut Issues,
) -> Option<Config> {
    let mut warnings = Vec::new();
    let database = database(ctx, s.remove("database"), issues);
    let server = server(ctx, s.remove("server"), issues);
    let company = match s.remove("company") {
        Some(v) => company(ctx, v, issues),
        None => {
            issues.push("company", "missing section (name, email, timezone, locale)");
            None
        }
    };
    let connectors = connectors(ctx, s.remove("connectors"), &mut warnings, issues);
    let email = channels(ctx, s.remove("channels"), &mut warnings, issues);
    let templates = match s.remove("templates") {
        Some(v) => ctx
            .de::<PathBuf>(v, "templates", issues)
            .map(|p| ctx.resolve(&p)),
        None => Some(ctx.resolve(Path::new("templates"))),
    };
    let template_check = match (&templates, &company) {
        (Some(t), Some(c)) => Some((t.as_path(), c.locale.as_str())),
        _ => None,
    };
    let policy = match s.remove("policy") {
        Some(v) => policy(ctx, v, email.is_some(), template_check, issues),
        None => {
            issues.push("policy", "missing section (steps, thank_you, …)");
            None
        }
    };
    let dispatch = dispatch(ctx, s.remove("dispatch"), issues);
    let late_payment = late_payment(ctx, s.remove("late_payment"), issues);
    Some(Config {
        path: path.to_path_buf(),
        base_dir: ctx.base_dir.to_path_buf(),
        database: database?,
        server: server?,
        company: company?,
        connectors: connectors?,
        email,
        policy: policy?,
        templates: templates?,
        dispatch: dispatch?,
        late_payment: late_payment?,
        secret_key: None,
        warnings,
    })
}

fn database(ctx: Ctx<'_>, v: Option<Value>, issues: &mut Issues) -> Option<SecretString> {
    let url: String = match v {
        Some(v) => ctx.de(v, "database", issues)?,
        None => "sqlite://relance.db".into(),
    };
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (file, query) = match rest.split_once('?') {
            Some((f, q)) => (f, Some(q)),
            None => (rest, None),
        };
        if file.is_empty() {
            issues.push(
                "database",
                "sqlite URL names no file (e.g. sqlite://relance.db)",
            );
            return None;
        }
        let resolved = if file == ":memory:" {
            PathBuf::from(file)
        } else {
            ctx.resolve(Path::new(file))
        };
        let mut out = format!("sqlite://{}", resolved.display());
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        Some(SecretString::from(out))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(SecretString::from(url))
    } else {
        issues.push(
            "database",
            "expected sqlite://FILE or postgres://USER@HOST/DB",
        );
        None
    }
}

fn server(ctx: Ctx<'_>, v: Option<Value>, issues: &mut Issues) -> Option<ServerConfig> {
    let raw: RawServer = match v {
        Some(v) => ctx.de(v, "server", issues)?,
        None => RawServer {
            listen: default_listen(),
            public_url: None,
        },
    };
    let listen = raw
        .listen
        .parse()
        .map_err(|_| {
            issues.push(
                "server.listen",
                format!(
                    "`{}` is not an address:port (e.g. 127.0.0.1:8080)",
                    raw.listen
                ),
            )
        })
        .ok();
    let public_url = match raw.public_url {
        Some(u) => match url::Url::parse(&u) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Some(Some(u)),
            _ => {
                issues.push("server.public_url", format!("`{u}` is not an http(s) URL"));
                None
            }
        },
        None => Some(None),
    };
    Some(ServerConfig {
        listen: listen?,
        public_url: public_url?,
    })
}

fn company(ctx: Ctx<'_>, v: Value, issues: &mut Issues) -> Option<CompanyConfig> {
    let raw: RawCompany = ctx.de(v, "company", issues)?;
    let timezone = raw
        .timezone
        .parse()
        .map_err(|_| {
            issues.push(
                "company.timezone",
                format!("unknown time zone `{}` (e.g. Europe/Paris)", raw.timezone),
            )
        })
        .ok();
    if !raw.email.contains('@') {
        issues.push(
            "company.email",
            format!("`{}` is not an e-mail address", raw.email),
        );
    }
    if raw.name.trim().is_empty() {
        issues.push("company.name", "is empty");
    }
    if let Some(siren) = &raw.siren
        && !(siren.len() == 9 && siren.chars().all(|c| c.is_ascii_digit()))
    {
        issues.push(
            "company.siren",
            format!("`{siren}` is not a SIREN (nine digits)"),
        );
    }
    let iban = raw.iban.as_deref().and_then(|i| {
        let formatted = iban_formatted(i);
        if formatted.is_none() {
            issues.push(
                "company.iban",
                format!("`{i}` is not a valid IBAN (its check digits do not match)"),
            );
        }
        formatted
    });
    if let Some(bic) = &raw.bic {
        let b = bic.trim();
        if !((b.len() == 8 || b.len() == 11) && b.chars().all(|c| c.is_ascii_alphanumeric())) {
            issues.push(
                "company.bic",
                format!("`{bic}` is not a BIC (8 or 11 letters and digits)"),
            );
        }
        if raw.iban.is_none() {
            issues.push("company.bic", "given without `company.iban`");
        }
    }
    let bank = iban.map(|iban| match &raw.bic {
        Some(bic) => format!("IBAN {iban} – BIC {}", bic.trim().to_ascii_uppercase()),
        None => format!("IBAN {iban}"),
    });
    let country = raw.country.clone().unwrap_or_else(|| "FR".into());
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        issues.push(
            "company.country",
            format!("`{country}` is not an ISO country code such as FR"),
        );
    }
    let holidays = raw.holidays.clone().unwrap_or_else(|| "FR".into());
    if !["fr", "fr-alsace-moselle", "none"].contains(&holidays.to_ascii_lowercase().as_str()) {
        issues.push(
            "company.holidays",
            format!("`{holidays}`: expected FR, FR-alsace-moselle or none"),
        );
    }
    let mut send_days: Vec<chrono::Weekday> = WEEKDAYS[..5].iter().map(|(_, d)| *d).collect();
    let mut send_from = time_of("09:00").expect("valid");
    let mut send_to = time_of("17:30").expect("valid");
    if let Some(w) = &raw.send_window {
        if let Some(days) = &w.days {
            send_days.clear();
            for (i, d) in days.iter().enumerate() {
                match WEEKDAYS.iter().find(|(n, _)| n.eq_ignore_ascii_case(d)) {
                    Some((_, wd)) => send_days.push(*wd),
                    None => issues.push(
                        &format!("company.send_window.days[{i}]"),
                        format!("`{d}`: expected mon, tue, wed, thu, fri, sat or sun"),
                    ),
                }
            }
            if days.is_empty() {
                issues.push("company.send_window.days", "must name at least one day");
            }
        }
        for (key, value, slot) in [
            ("from", &w.from, &mut send_from),
            ("to", &w.to, &mut send_to),
        ] {
            if let Some(v) = value {
                match time_of(v) {
                    Some(t) => *slot = t,
                    None => issues.push(
                        &format!("company.send_window.{key}"),
                        format!("`{v}` is not a time such as 09:00"),
                    ),
                }
            }
        }
        if send_from >= send_to {
            issues.push("company.send_window", "`from` must be before `to`");
        }
    }
    let calendar = if raw.holidays.is_some() || raw.send_window.is_some() {
        crate::calendar::Calendar {
            holidays: crate::calendar::Holidays::parse(&holidays)
                .unwrap_or(crate::calendar::Holidays::Fr),
            window: crate::calendar::SendWindow {
                days: send_days.clone(),
                from: send_from,
                to: send_to,
            },
        }
    } else {
        crate::calendar::Calendar::every_day()
    };
    Some(CompanyConfig {
        calendar,
        legal_name: raw.legal_name.clone().unwrap_or_else(|| raw.name.clone()),
        name: raw.name,
        email: raw.email,
        timezone: timezone?,
        locale: raw.locale.to_ascii_lowercase(),
        address: raw.address,
        siren: raw.siren,
        bank,
        country,
        holidays,
        send_days,
        send_from,
        send_to,
    })
}

fn take_string(map: &mut Mapping, key: &str, path: &str, issues: &mut Issues) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            issues.push(&join(path, key), "expected a string");
            None
        }
        None => None,
    }
}

fn connectors(
    ctx: Ctx<'_>,
    v: Option<Value>,
    warnings: &mut Vec<String>,
    issues: &mut Issues,
) -> Option<Vec<ConnectorEntry>> {
    let items = match v {
        Some(Value::Sequence(items)) => items,
        Some(Value::Null) | None => {
            warnings.push("no connectors configured: nothing will be synced".into());
            return Some(Vec::new());
        }
        Some(_) => {
            issues.push("connectors", "expected a list of connectors");
            return None;
        }
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("connectors[{i}]");
        let Value::Mapping(mut map) = item else {
            issues.push(&path, "expected a mapping with id and kind");
            ok = false;
            continue;
        };
        let id = take_string(&mut map, "id", &path, issues);
        let kind = take_string(&mut map, "kind", &path, issues);
        let poll_interval = match map.remove("poll_interval") {
            Some(v) => ctx
                .de::<YamlDuration>(v, &join(&path, "poll_interval"), issues)
                .map(|d| d.0),
            None => Some(Duration::from_secs(600)),
        };
        let Some(id) = id else {
            issues.push(&join(&path, "id"), "missing (e.g. id: stripe-main)");
            ok = false;
            continue;
        };
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            issues.push(
                &join(&path, "id"),
                format!("`{id}` must be letters, digits, - or _ (it appears in webhook URLs)"),
            );
            ok = false;
        }
        if !seen.insert(id.clone()) {
            issues.push(&join(&path, "id"), format!("`{id}` is used twice"));
            ok = false;
        }
        let rest = Value::Mapping(map);
        let settings = match kind.as_deref() {
            Some("stripe") => ctx.de::<StripeConfig>(rest, &path, issues).map(|c| {
                for (field, message) in c.validate() {
                    issues.push(&join(&path, &field), message);
                }
                if !ctx.is_referenced(&join(&path, "api_key")) {
                    warnings.push(format!(
                        "{path}.api_key is written in the file; prefer ${{STRIPE_SECRET_KEY}}"
                    ));
                }
                ConnectorSettings::Stripe(c)
            }),
            Some("quickbooks") => ctx.de::<QuickBooksConfig>(rest, &path, issues).map(|c| {
                for (field, message) in c.validate() {
                    issues.push(&join(&path, &field), message);
                }
                for secret in ["client_secret", "webhook_verifier_token"] {
                    let key = join(&path, secret);
                    let present = secret == "client_secret" || c.webhook_verifier_token.is_some();
                    if present && !ctx.is_referenced(&key) {
                        warnings.push(format!(
                            "{key} is written in the file; prefer an environment variable such as ${{QBO_CLIENT_SECRET}}"
                        ));
                    }
                }
                ConnectorSettings::QuickBooks(c)
            }),
            Some("salesforce") => ctx.de::<SalesforceConfig>(rest, &path, issues).map(|mut c| {
                for (field, message) in c.validate() {
                    issues.push(&join(&path, &field), message);
                }
                if let Some(key) = &c.auth.private_key_file {
                    let key = ctx.resolve(key);
                    if !key.exists() {
                        issues.push(
                            &join(&path, "auth.private_key_file"),
                            format!("{} does not exist", key.display()),
                        );
                    }
                    c.auth.private_key_file = Some(key);
                }
                ConnectorSettings::Salesforce(c)
            }),
            Some("csv") => ctx.de::<CsvConfig>(rest, &path, issues).map(|mut c| {
                c.path = ctx.resolve(&c.path);
                if !c.path.exists() {
                    warnings.push(format!(
                        "{path}.path: {} does not exist yet",
                        c.path.display()
                    ));
                }
                ConnectorSettings::Csv(c)
            }),
            Some(other) => {
                issues.push(
                    &join(&path, "kind"),
                    format!(
                        "unknown connector kind `{other}`, expected one of {}",
                        CONNECTOR_KINDS.join(", ")
                    ),
                );
                None
            }
            None => {
                issues.push(
                    &join(&path, "kind"),
                    format!("missing, expected one of {}", CONNECTOR_KINDS.join(", ")),
                );
                None
            }
        };
        match (settings, poll_interval) {
            (Some(settings), Some(poll_interval)) => out.push(ConnectorEntry {
                id,
                poll_interval,
                settings,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn channels(
    ctx: Ctx<'_>,
    v: Option<Value>,
    warnings: &mut Vec<String>,
    issues: &mut Issues,
) -> Option<EmailConfig> {
    let raw: RawChannels = ctx.de(v?, "channels", issues)?;
    let raw: RawEmail = ctx.de(raw.email?, "channels.email", issues)?;
    let target = SmtpTarget::parse(raw.smtp.expose_secret(), ctx.base_dir)
        .map_err(|e| issues.push("channels.email.smtp", e))
        .ok();
    let mut ok = true;
    if raw.from.parse::<lettre::message::Mailbox>().is_err() {
        issues.push(
            "channels.email.from",
            format!(
                "`{}` is not a mailbox (e.g. \"Atelier <compta@atelier.fr>\")",
                raw.from
            ),
        );
        ok = false;
    }
    for (key, value) in [
        ("reply_to", &raw.reply_to),
        ("test_recipient", &raw.test_recipient),
    ] {
        if let Some(v) = value
            && v.parse::<lettre::message::Mailbox>().is_err()
        {
            issues.push(
                &format!("channels.email.{key}"),
                format!("`{v}` is not an e-mail address"),
            );
            ok = false;
        }
    }
    if let Some(t) = &raw.test_recipient {
        warnings.push(format!(
            "test mode: every message goes to {t} instead of the customers"
        ));
    }
    let target = target?;
    ok.then_some(EmailConfig {
        smtp: raw.smtp,
        target,
        from: raw.from,
        reply_to: raw.reply_to,
        test_recipient: raw.test_recipient,
        timeout: raw.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(30)),
    })
}

fn policy(
    ctx: Ctx<'_>,
    v: Value,
    has_email: bool,
    templates: Option<(&Path, &str)>,
    issues: &mut Issues,
) -> Option<Policy> {
    // Unknown keys are reported here so that they do not hide errors in the steps.
    let v = match v {
        Value::Mapping(mut map) => {
            let unknown: Vec<Value> = map
                .keys()
                .filter(|k| !k.as_str().is_some_and(|k| POLICY_KEYS.contains(&k)))
                .cloned()
                .collect();
            for k in unknown {
                map.remove(&k);
                let name = k
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{k:?}"));
                issues.push(
                    &format!("policy.{name}"),
                    format!(
                        "unknown field `{name}`, expected one of {}",
                        POLICY_KEYS.join(", ")
                    ),
                );
            }
            Value::Mapping(map)
        }
        other => other,
    };
    let raw: RawPolicy = ctx.de(v, "policy", issues)?;
    let mut ok = true;
    let mut steps = Vec::new();
    let mut ids = HashSet::new();
    let check_channel = |channel: ChannelKind, path: &str, issues: &mut Issues| match channel {
        ChannelKind::Email if !has_email => {
            issues.push(
                path,
                "email channel used but channels.email is not configured",
            );
            false
        }
        ChannelKind::Email => true,
        ChannelKind::Task | ChannelKind::Letter | ChannelKind::Handoff => true,
    };
    for (i, v) in raw.steps.into_iter().enumerate() {
        let path = format!("policy.steps[{i}]");
        let Some(step) = ctx.de::<Step>(v, &path, issues) else {
            ok = false;
            continue;
        };
        if step.id.is_empty()
            || !step
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            issues.push(&join(&path, "id"), "must be letters, digits, - or _");
            ok = false;
        }
        if step.id == THANK_YOU_STEP {
            issues.push(
                &join(&path, "id"),
                "`thank_you` is reserved for policy.thank_you",
            );
            ok = false;
        }
        if !ids.insert(step.id.clone()) {
            issues.push(&join(&path, "id"), format!("`{}` is used twice", step.id));
            ok = false;
        }
        ok &= check_channel(step.channel, &join(&path, "channel"), issues);
        if let Some(a) = &step.assignee
            && a != "owner"
            && !a.contains('@')
        {
            issues.push(
                &join(&path, "assignee"),
                format!("`{a}` is neither `owner` nor an e-mail address"),
            );
            ok = false;
        }
        if step.registered && step.channel != ChannelKind::Letter {
            issues.push(
                &join(&path, "registered"),
                "only a letter step can be registered",
            );
            ok = false;
        }
        steps.push(step);
    }
    let mut segment_ids = HashSet::new();
    for (i, seg) in raw.segments.iter().enumerate() {
        let path = format!("policy.segments[{i}]");
        if !segment_ids.insert(seg.id.clone()) {
            issues.push(&join(&path, "id"), format!("`{}` is used twice", seg.id));
            ok = false;
        }
        for (j, skip) in seg.skip_steps.iter().enumerate() {
            if !ids.contains(skip) {
                issues.push(
                    &format!("{path}.skip_steps[{j}]"),
                    format!("no step `{skip}` in policy.steps"),
                );
                ok = false;
            }
        }
        if let Some(tone) = &seg.tone
            && !tone
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            issues.push(
                &join(&path, "tone"),
                "must be letters, digits, - or _ (it names template files)",
            );
            ok = false;
        }
        let w = &seg.when;
        if let (Some(lo), Some(hi)) = (w.average_days_late_at_least, w.average_days_late_at_most)
            && lo > hi
        {
            issues.push(
                &join(&path, "when"),
                "average_days_late_at_least is above average_days_late_at_most: nobody matches",
            );
            ok = false;
        }
    }
    let mut alert_ids = HashSet::new();
    for (i, alert) in raw.alerts.iter().enumerate() {
        let path = format!("policy.alerts[{i}]");
        if !alert_ids.insert(alert.id.clone()) {
            issues.push(&join(&path, "id"), format!("`{}` is used twice", alert.id));
            ok = false;
        }
        if !alert.notify.contains('@') {
            issues.push(
                &join(&path, "notify"),
                format!("`{}` is not an e-mail address", alert.notify),
            );
            ok = false;
        }
        if alert.when.customer_overdue_total_at_least.is_none()
            && alert.when.total_overdue_at_least.is_none()
        {
            issues.push(
                &join(&path, "when"),
                "expected customer_overdue_total_at_least or total_overdue_at_least",
            );
            ok = false;
        }
    }
    if let Some(t) = &raw.thank_you {
        ok &= check_channel(t.channel, "policy.thank_you.channel", issues);
    }
    if raw.min_balance < Decimal::ZERO {
        issues.push("policy.min_balance", "must not be negative");
        ok = false;
    }
    let mut policy = Policy {
        max_automatic_reminders: raw.max_automatic_reminders,
        min_balance: raw.min_balance,
        steps,
        thank_you: raw.thank_you,
        group_by_customer: raw.group_by_customer,
        segments: raw.segments,
        alerts: raw.alerts,
    };
    if let (Some((dir, locale)), true) = (templates, ok) {
        check_templates(dir, locale, &policy, issues);
    }
    // Stable: steps on the same day keep their written order.
    policy.steps.sort_by_key(|s| s.offset_days);
    ok.then_some(policy)
}

fn dispatch(ctx: Ctx<'_>, v: Option<Value>, issues: &mut Issues) -> Option<DispatchConfig> {
    let raw: RawDispatch = match v {
        Some(v) => ctx.de(v, "dispatch", issues)?,
        None => RawDispatch::default(),
    };
    let d = DispatchConfig {
        interval: raw.interval.map_or(Duration::from_secs(60), |d| d.0),
        lease: raw.lease.map_or(Duration::from_secs(300), |d| d.0),
        batch: raw.batch.unwrap_or(50),
        max_attempts: raw.max_attempts.unwrap_or(8),
        refresh_before_send: raw.refresh_before_send.unwrap_or(true),
    };
    if d.batch == 0 {
        issues.push("dispatch.batch", "must be at least 1");
        return None;
    }
    if d.max_attempts == 0 {
        issues.push("dispatch.max_attempts", "must be at least 1");
        return None;
    }
    Some(d)
}

fn check_templates(dir: &Path, locale: &str, policy: &Policy, issues: &mut Issues) {
    if !dir.is_dir() {
        issues.push(
            "templates",
            format!("folder {} does not exist", dir.display()),
        );
        return;
    }
    let mut check = |template: &str, path: String| {
        for part in ["subject", "txt"] {
            let file = dir.join(format!("{template}.{locale}.{part}"));
            if !file.is_file() {
                issues.push(
                    &path,
                    format!(
                        "template `{template}` has no {} (company.locale is {locale})",
                        file.display()
                    ),
                );
                return;
            }
        }
    };
    for (i, step) in policy.steps.iter().enumerate() {
        check(&step.template, format!("policy.steps[{i}].template"));
    }
    if let Some(t) = &policy.thank_you {
        check(&t.template, "policy.thank_you.template".into());
    }
}
