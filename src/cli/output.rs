//! What the CLI prints: for people on stdout (logs go to stderr), JSON where asked.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use relance_core::{Currency, Money};
use rust_decimal::Decimal;

use std::io::{BufWriter, Write};

use chrono::{DateTime, Utc};

use crate::channels::email::SmtpTarget;
use crate::daemon::{App, CycleReport};
use crate::planner::{self, Detail, Held, PlanReport, PlanSettings};
use crate::store::Store;
use crate::sync::{SyncError, SyncReport};
use crate::templates::format;

fn amount(text: &str, currency: &str, locale: &str) -> String {
    match (text.parse::<Decimal>(), Currency::parse(currency)) {
        (Ok(a), Ok(c)) => format::money(&Money::new(a, c), locale),
        _ => format!("{text} {currency}"),
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Syncs with a spinner on a terminal (pages and objects so far).
pub async fn sync_with_progress(
    app: &App,
    only: Option<&str>,
    full: bool,
) -> Vec<(String, Result<SyncReport, SyncError>)> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let results = app
        .sync_all(only, full, &mut |id, phase, pages, items| {
            bar.set_message(format!("{id}: {phase}, {pages} pages, {items} objects"));
        })
        .await;
    bar.finish_and_clear();
    results
}

/// One line per connector; failure if any failed.
pub fn print_syncs(results: &[(String, Result<SyncReport, SyncError>)]) -> ExitCode {
    let mut failed = false;
    for (id, r) in results {
        match r {
            Ok(s) => {
                println!(
                    "{id}: {} invoices, {} customers, {} payments written ({} pages, {} requests{}){}",
                    s.stats.invoices,
                    s.stats.customers,
                    s.stats.payments,
                    s.pages,
                    s.requests,
                    if s.stats.duplicates > 0 {
                        format!(", {} events already applied", s.stats.duplicates)
                    } else {
                        String::new()
                    },
                    if s.stats.cancelled > 0 {
                        format!("; {} pending reminders cancelled", s.stats.cancelled)
                    } else {
                        String::new()
                    }
                );
                if s.unlisted > 0 {
                    println!(
                        "  {} open invoice(s) missing from the full listing: checked with the source",
                        s.unlisted
                    );
                }
                for w in &s.warnings {
                    println!("  warning: {w}");
                }
            }
            Err(e) => {
                failed = true;
                println!("{id}: FAILED: {e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The plan as one JSON object, held invoices streamed as they are found (a large book is
/// never held in memory).
pub async fn print_plan_json(
    store: &Store,
    settings: PlanSettings<'_>,
    now: DateTime<Utc>,
    detail: Detail,
) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout());
    out.write_all(b"{\"held\":[")?;
    let mut first = true;
    let mut failed: Option<std::io::Error> = None;
    let report = {
        let mut sink = |h: Held| {
            if failed.is_some() {
                return;
            }
            let sep: &[u8] = if first { b"" } else { b",\n" };
            first = false;
            let written = out
                .write_all(sep)
                .and_then(|_| serde_json::to_writer(&mut out, &h).map_err(std::io::Error::from));
            if let Err(e) = written {
                failed = Some(e);
            }
        };
        planner::plan_streaming(store, settings, now, detail, Some(&mut sink)).await?
    };
    if let Some(e) = failed {
        return Err(e.into());
    }
    write!(
        out,
        "],\n\"date\":{},\"invoices\":{},\"counts\":{},\"actions\":",
        serde_json::to_string(&report.date)?,
        report.invoices,
        serde_json::to_string(&report.counts)?
    )?;
    serde_json::to_writer(&mut out, &report.actions)?;
    out.write_all(b"}\n")?;
    out.flush()?;
    Ok(())
}

/// The plan, for people.
pub fn print_plan(report: &PlanReport, locale: &str) {
    println!(
        "Plan for {}: {} invoices considered.",
        report.date, report.invoices
    );
    println!();
    if report.actions.is_empty() {
        println!("Nothing would be sent.");
    } else {
        println!("Would send ({}):", report.actions.len());
        for a in &report.actions {
            let days = a
                .days_from_due
                .map(|d| format!("{d:+}"))
                .unwrap_or_default();
            println!(
                "  {:<16} {:<24} {:>14}  due {} ({:>4})  {:<10} {} → {}",
                cut(&a.invoice, 16),
                cut(&a.customer, 24),
                amount(&a.amount, &a.currency, locale),
                a.due_on
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                days,
                a.step,
                a.channel,
                if a.recipients.is_empty() {
                    "NO ADDRESS".to_string()
                } else {
                    a.recipients.join(", ")
                }
            );
            for note in &a.notes {
                println!("  {:<16} note: {note}", "");
            }
            if let Some(review) = &a.review {
                println!(
                    "  {:<16} not sent by itself: {review} (`relance tasks`)",
                    ""
                );
            }
            if !a.missed.is_empty() {
                println!(
                    "  {:<16} missed steps recorded as skipped: {}",
                    "",
                    a.missed.join(", ")
                );
            }
        }
    }
    if !report.held.is_empty() {
        println!();
        println!("Would not send ({}):", report.held.len());
        for h in &report.held {
            println!(
                "  {:<16} {:<24} {:>14}  {}",
                cut(&h.invoice, 16),
                cut(&h.customer, 24),
                amount(&h.amount, &h.currency, locale),
                h.detail
            );
        }
    }
    if !report.counts.is_empty() {
        println!();
        let counts: Vec<String> = report
            .counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!("Not sent, by reason: {}", counts.join(", "));
    }
}

/// Summary of `run --once`.
pub fn print_cycle(app: &App, report: &CycleReport) -> ExitCode {
    for (id, r) in &report.syncs {
        match r {
            Ok(s) => println!(
                "Synced {id}: {} invoices, {} customers, {} payments{}",
                s.stats.invoices,
                s.stats.customers,
                s.stats.payments,
                if s.warnings.is_empty() {
                    String::new()
                } else {
                    format!(" ({} warnings)", s.warnings.len())
                }
            ),
            Err(e) => println!("Sync of {id} FAILED: {e}"),
        }
        if let Ok(s) = r {
            for w in &s.warnings {
                println!("  warning: {w}");
            }
        }
    }
    let locale = &app.config.company.locale;
    println!(
        "Planned for {}: {} new reminder(s).",
        report.plan.date, report.planned
    );
    for a in &report.plan.actions {
        println!(
            "  {:<16} {:<24} {:>14}  {:<10} → {}",
            cut(&a.invoice, 16),
            cut(&a.customer, 24),
            amount(&a.amount, &a.currency, locale),
            a.step,
            a.recipients.join(", ")
        );
    }
    let d = report.dispatch;
    println!(
        "Sent {}, failed {}, to retry {}, cancelled {}; written back {}.",
        d.sent, d.failed, d.retried, d.cancelled, report.writeback.done
    );
    if let Some(email) = &app.config.email
        && let SmtpTarget::Files(dir) = &email.target
    {
        println!("E-mails are written to {}", dir.display());
    }
    ExitCode::SUCCESS
}

/// `relance tasks`: the review queue, for people or as JSON.
pub async fn print_tasks(
    store: &crate::store::Store,
    config: &crate::config::Config,
    now: chrono::DateTime<chrono::Utc>,
    format: super::Format,
) -> anyhow::Result<std::process::ExitCode> {
    let today = now.with_timezone(&config.company.timezone).date_naive();
    let tasks = store.review_tasks().await?;
    let mut out = Vec::new();
    for t in &tasks {
        let history = store.invoice_history(t.invoice_id).await?;
        let assignee = config
            .policy
            .steps
            .iter()
            .find(|s| s.id == t.step)
            .and_then(|s| s.assignee.clone());
        let amount = relance_core::Currency::parse(&t.currency)
            .map(|c| {
                relance_core::Money::from_minor(t.balance_minor, c)
                    .amount
                    .to_string()
            })
            .unwrap_or_default();
        let mut recipients: Vec<String> = t.invoice_email.iter().cloned().collect();
        if let Some(e) = &t.emails
            && let Ok(list) = serde_json::from_str::<Vec<String>>(e)
        {
            for x in list {
                if !recipients.contains(&x) {
                    recipients.push(x);
                }
            }
        }
        out.push((t, history, assignee, amount, recipients));
    }
    if format == super::Format::Json {
        let list: Vec<serde_json::Value> = out
            .iter()
            .map(|(t, history, assignee, amount, recipients)| {
                serde_json::json!({
                    "id": t.id, "step": t.step, "channel": t.channel, "template": t.template,
                    "reason": t.reason, "assignee": assignee, "planned_on": t.planned_on,
                    "invoice": t.invoice, "external_id": t.external_id, "connector": t.connector,
                    "customer": t.customer, "recipients": recipients, "phone": t.phone,
                    "amount": amount, "currency": t.currency, "due_on": t.due_on,
                    "days_late": t.due_on.map(|d| (today - d).num_days()),
                    "history": history,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "date": today, "tasks": list }))?
        );
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if out.is_empty() {
        println!("No task is waiting for a person.");
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!("Waiting for a person ({}):", out.len());
    for (t, history, assignee, amount, recipients) in &out {
        let days = t
            .due_on
            .map(|d| format!("{:+} d", (today - d).num_days()))
            .unwrap_or_default();
        println!(
            "  #{:<5} {} ({}) {}  {}  {} {}  due {} ({days})",
            t.id,
            t.step,
            t.channel,
            t.invoice,
            t.customer,
            amount,
            t.currency,
            t.due_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into())
        );
        if let Some(r) = &t.reason {
            println!("         why: {r}");
        }
        if let Some(a) = assignee {
            println!("         who: {a}");
        }
        let contact: Vec<String> = recipients.iter().cloned().chain(t.phone.clone()).collect();
        if !contact.is_empty() {
            println!("         contact: {}", contact.join(", "));
        }
        let past: Vec<String> = history
            .iter()
            .filter(|h| h.status != "review")
            .map(|h| format!("{} {} {}", h.step, h.status, h.planned_on))
            .collect();
        if !past.is_empty() {
            println!("         history: {}", past.join("; "));
        }
    }
    println!();
    println!("Act with `relance tasks approve|done|skip ID [--note ...]`.");
    Ok(std::process::ExitCode::SUCCESS)
}
