//! `relance check`: every configuration error at once, then what the setup is, without a
//! secret in the output.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDate;
use relance_core::{Clock, Currency, Money};
use secrecy::ExposeSecret;

use crate::config::{self, Config, ConnectorSettings};
use crate::planner::day_in;
use crate::store::Store;
use crate::templates::{InvoiceView, MessageContext, Party, Templates};

/// A database URL with its password hidden.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unreadable URL)".into(),
    }
}

fn sample_context(config: &Config, locale: &str, today: NaiveDate) -> MessageContext {
    let amount = Money::from_minor(123456, Currency::EUR);
    let view = InvoiceView::new(
        "F-0001",
        &amount,
        &amount,
        Some(today),
        Some(today),
        Some("https://example.invalid/pay"),
        locale,
        today,
    );
    MessageContext {
        company: Party {
            name: config.company.name.clone(),
            email: config.company.email.clone(),
        },
        customer: Party {
            name: "Client".into(),
            email: "client@example.invalid".into(),
        },
        invoices: vec![view.clone()],
        invoice: view,
        step: "check".into(),
        today: today.to_string(),
        locale: locale.into(),
        late_fees: Some(crate::templates::LateFeesView {
            principal: "1 234,56 €".into(),
            days_late: 30,
            rate: "12,15 %".into(),
            interest: "12,33 €".into(),
            indemnity: "40,00 €".into(),
            total: "1 286,89 €".into(),
            articles: "C. com. L441-10, C. com. D441-5".into(),
        }),
        instalment: Some(crate::templates::InstalmentView {
            number: 1,
            of: 3,
            amount: "411,52 €".into(),
            due_on: "1 mars 2027".into(),
        }),
        b2c: false,
    }
}

/// Renders every template of the policy with sample data; returns (path, error) pairs.
fn check_templates(config: &Config, today: NaiveDate) -> Vec<(String, String)> {
    let templates = Templates::new(&config.templates);
    let mut problems = Vec::new();
    let mut named: Vec<(String, &str)> = config
        .policy
        .steps
        .iter()
        .map(|s| (format!("policy.steps ({})", s.id), s.template.as_str()))
        .collect();
    if let Some(t) = &config.policy.thank_you {
        named.push(("policy.thank_you".into(), t.template.as_str()));
    }
    for (path, template) in named {
        for locale in [config.company.locale.as_str(), "en", "fr"] {
            let file = config
                .templates
                .join(format!("{template}.{locale}.subject"));
            if !file.is_file() {
                continue;
            }
            if let Err(e) =
                templates.render(template, locale, &sample_context(config, locale, today))
            {
                problems.push((path.clone(), e.to_string()));
            }
        }
    }
    problems
}

pub(super) async fn run(path: &Path, clock: &Arc<dyn Clock>) -> Result<ExitCode> {
    let config = match config::load(path, &|name| std::env::var(name).ok()) {
        Ok(c) => c,
        Err(issues) => {
            println!("{}: {} problem(s):", path.display(), issues.0.len());
            for i in &issues.0 {
                println!("  {}: {}", i.path, i.message);
            }
            return Ok(ExitCode::from(2));
        }
    };
    let today = day_in(clock.now(), config.company.timezone);
    let template_problems = check_templates(&config, today);
    if !template_problems.is_empty() {
        println!(
            "{}: {} problem(s):",
            path.display(),
            template_problems.len()
        );
        for (p, e) in &template_problems {
            println!("  {p}: {e}");
        }
        return Ok(ExitCode::from(2));
    }

    println!("{}: configuration is valid.", path.display());
    let db_url = config.database.expose_secret();
    println!("  database    {}", redact_url(db_url));
    println!(
        "  company     {} <{}>, {}, messages in {}",
        config.company.name, config.company.email, config.company.timezone, config.company.locale
    );
    let public = config
        .server
        .public_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{}", config.server.listen));
    println!("  server      listens on {}", config.server.listen);
    for c in &config.connectors {
        let detail = match &c.settings {
            ConnectorSettings::Stripe(s) => format!(
                "{} mode, API {}, webhooks {}",
                if s.is_test_key() { "test" } else { "live" },
                s.api_base,
                if s.webhook_secret.is_some() {
                    format!("at {public}/webhooks/{}", c.id)
                } else {
                    "off (no webhook_secret)".into()
                }
            ),
            ConnectorSettings::Csv(s) => format!("file {}", s.path.display()),
            ConnectorSettings::QuickBooks(q) => format!(
                "{:?} company {}, API {}, OAuth callback {}, webhooks {}",
                q.environment,
                q.realm_id
                    .as_deref()
                    .unwrap_or("(set by `relance connect`)"),
                q.api_base(),
                q.redirect_url,
                if q.webhook_verifier_token.is_some() {
                    format!("at {public}/webhooks/{}", c.id)
                } else {
                    "off (no webhook_verifier_token)".into()
                }
            )
            .to_lowercase_first(),
            ConnectorSettings::Salesforce(sf) => format!(
                "org at {}, API v{}, {} login, invoices from {}, at most {}% of the daily API allocation, outbound messages {}",
                sf.login(),
                sf.api_version,
                match sf.auth.flow {
                    relance_salesforce::config::Flow::JwtBearer => "jwt_bearer",
                    relance_salesforce::config::Flow::RefreshToken => "refresh_token",
                },
                sf.invoices.object,
                sf.api_share * rust_decimal::Decimal::ONE_HUNDRED,
                match &sf.outbound_message_org_id {
                    Some(org) => format!("from org {org} at {public}/webhooks/{}", c.id),
                    None => "off (no outbound_message_org_id)".into(),
                }
            ),
        };
        println!(
            "  connector   {} ({}, every {}s): {detail}",
            c.id,
            c.settings.kind(),
            c.poll_interval.as_secs()
        );
    }
    match &config.email {
        Some(e) => println!(
            "  email       {} from {}{}",
            e.target.describe(),
            e.from,
            e.test_recipient
                .as_ref()
                .map(|t| format!(", TEST MODE: everything goes to {t}"))
                .unwrap_or_default()
        ),
        None => println!("  email       not configured"),
    }
    let steps: Vec<String> = config
        .policy
        .steps
        .iter()
        .map(|s| format!("{} D{:+} {}", s.id, s.offset_days, s.channel.as_str()))
        .collect();
    println!(
        "  policy      {}; at most {} automatic reminders after the due date; minimum balance {}; thank-you: {}",
        steps.join(", "),
        config.policy.max_automatic_reminders,
        config.policy.min_balance,
        config
            .policy
            .thank_you
            .as_ref()
            .map(|t| t.template.as_str())
            .unwrap_or("none")
    );
    println!("  templates   {}", config.templates.display());
    for w in &config.warnings {
        println!("  warning: {w}");
    }
    if let Some(siren) = &config.company.siren
        && !crate::config::siren_is_valid(siren)
    {
        println!("  warning: company.siren `{siren}` fails the SIREN check digit (Luhn): check it");
    }
    let p = &config.policy;
    let cal = &config.company.calendar;
    println!(
        "  calendar    holidays {}, sending {} {}–{}",
        cal.holidays.as_str(),
        cal.window
            .days
            .iter()
            .map(|d| d.to_string().to_lowercase())
            .collect::<Vec<_>>()
            .join(","),
        cal.window.from.format("%H:%M"),
        cal.window.to.format("%H:%M")
    );
    if p.group_by_customer || !p.segments.is_empty() || !p.alerts.is_empty() {
        println!(
            "  ladder      {}; segments: {}; alerts: {}",
            if p.group_by_customer {
                "one message per customer"
            } else {
                "one message per invoice"
            },
            if p.segments.is_empty() {
                "none".to_string()
            } else {
                p.segments
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if p.alerts.is_empty() {
                "none".to_string()
            } else {
                p.alerts
                    .iter()
                    .map(|a| a.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }

    if p.steps
        .iter()
        .any(|s| s.channel == crate::policy::config::ChannelKind::Letter)
    {
        let c = &config.company;
        println!(
            "  letters     from {}{}{}; written to {}",
            c.legal_name,
            c.address
                .as_deref()
                .map(|a| format!(", {a}"))
                .unwrap_or_default(),
            c.bank
                .as_deref()
                .map(|b| format!("; {b}"))
                .unwrap_or_default(),
            config.base_dir.join("letters").display()
        );
        if c.address.is_none() {
            println!(
                "  warning: company.address is not set: formal notices will show no address for {}",
                c.legal_name
            );
        }
    }

    let key = crate::store::SecretKey::from_config(config.secret_key.as_ref());
    let oauth = config.connectors.iter().any(|c| {
        matches!(
            c.settings,
            ConnectorSettings::QuickBooks(_) | ConnectorSettings::Salesforce(_)
        )
    });
    match &key {
        Err(e) => {
            println!("  problem: {e}");
            return Ok(ExitCode::from(2));
        }
        Ok(None) if oauth => println!(
            "  warning: {} is not set: connector tokens cannot be stored or read (generate one with `openssl rand -base64 32`)",
            crate::store::SECRET_KEY_VAR
        ),
        Ok(_) => {}
    }

    let sqlite_missing = db_url
        .strip_prefix("sqlite://")
        .map(|p| p.split('?').next().unwrap_or(p))
        .is_some_and(|p| p != ":memory:" && !Path::new(p).exists());
    if sqlite_missing {
        println!("  state       no database yet (`relance migrate` or `relance run` creates it)");
        return Ok(ExitCode::SUCCESS);
    }
    let store = match Store::connect(db_url).await {
        Ok(s) => s,
        Err(e) => {
            println!("  state       database unreachable: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let counts = store.reminder_counts().await.unwrap_or_default();
    let wb = store.writeback_counts().await.unwrap_or_default();
    let show = |v: &[(String, i64)]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    println!("  reminders   {}", show(&counts));
    println!("  write-backs {}", show(&wb));
    let credentials = crate::store::DbCredentials::new(store.clone(), key.clone());
    for c in &config.connectors {
        if matches!(
            c.settings,
            ConnectorSettings::QuickBooks(_) | ConnectorSettings::Salesforce(_)
        ) {
            println!(
                "  connection  {}: {}",
                c.id,
                connection(&credentials, &c.id).await
            );
        }
        match store.sync_state(&c.id).await {
            Ok(Some(s)) => println!(
                "  sync        {}: last success {}, {} requests so far{}",
                c.id,
                s.last_success_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "never".into()),
                s.requests,
                s.last_error
                    .map(|e| format!(", LAST ERROR: {e}"))
                    .unwrap_or_default()
            ),
            Ok(None) => println!("  sync        {}: never synced", c.id),
            Err(e) => println!("  sync        {}: {e}", c.id),
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

trait LowerFirst {
    fn to_lowercase_first(self) -> String;
}

impl LowerFirst for String {
    fn to_lowercase_first(self) -> String {
        let mut c = self.chars();
        match c.next() {
            Some(f) => f.to_lowercase().chain(c).collect(),
            None => self,
        }
    }
}

/// How an OAuth connector's connection stands, for people (no secret in it).
async fn connection(credentials: &crate::store::DbCredentials, id: &str) -> String {
    use relance_core::auth::{CredentialStore, TokenSet};
    match credentials.load(id).await {
        Ok(None) => format!("NOT CONNECTED: run `relance connect {id}`"),
        Ok(Some(c)) => match (&c.needs_reconnect, TokenSet::from_secret(&c.secret)) {
            (Some(reason), _) => format!("NEEDS RECONNECT ({reason}): run `relance connect {id}`"),
            (None, Ok(t)) => format!(
                "connected to {}{}{}",
                t.account
                    .as_deref()
                    .map(|a| format!("company {a}"))
                    .or_else(|| t.instance_url.clone())
                    .unwrap_or_else(|| "?".into()),
                t.refresh_expires_at
                    .map(|d| format!(", refresh token valid until {}", d.format("%Y-%m-%d")))
                    .unwrap_or_default(),
                t.refresh_hard_expires_at
                    .map(|d| format!(" (absolute end {})", d.format("%Y-%m-%d")))
                    .unwrap_or_default()
            ),
            (None, Err(e)) => format!("unreadable: {e}"),
        },
        Err(e) => format!("unknown: {e}"),
    }
}
