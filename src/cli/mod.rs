//! The `relance` command line: `check`, `migrate`, `sync`, `plan`, `run`, `late-fees`.

mod check;
mod late_fees;
mod output;
mod rates;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use relance_core::{Clock, OffsetClock, SystemClock};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::daemon::{self, App};
use crate::planner::{self, Detail, PlanSettings};

/// Relance chases unpaid invoices: it syncs them from your billing platforms, sends the
/// reminders your policy describes, and stops the moment a payment arrives.
#[derive(Debug, Parser)]
#[command(name = "relance", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "RELANCE_CONFIG",
        default_value = "relance.yaml"
    )]
    pub config: PathBuf,
    /// Run as if it were this instant (RFC 3339, e.g. 2027-01-15T09:00:00Z): simulation and tests.
    #[arg(long, global = true, env = "RELANCE_NOW", value_parser = parse_instant)]
    pub now: Option<DateTime<Utc>>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format of commands other tools may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// Stable keys, for programs.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration (every error at once, with its YAML path) and show the setup.
    Check,
    /// Create or upgrade the database schema.
    Migrate,
    /// Connect an OAuth connector (QuickBooks) to its company: prints the authorization URL,
    /// then completes when the daemon receives the redirect, or when you paste it here.
    Connect {
        /// The connector id from the configuration.
        connector: String,
        /// The full address your browser was sent back to (when no daemon receives it).
        #[arg(long, value_name = "URL")]
        redirected_to: Option<String>,
    },
    /// The review queue: steps waiting for a person (an e-mail past the automatic limit to
    /// approve, a call to make, a letter or the hand-off to approve).
    Tasks {
        /// What to do with a task; without one, list them.
        #[command(subcommand)]
        action: Option<TaskCommand>,
        /// Output format of the listing.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Stop chasing a disputed invoice until `relance resume`.
    Dispute {
        /// Invoice number or provider id.
        invoice: String,
        /// What the customer disputes.
        #[arg(long)]
        reason: String,
        /// Connector, when the number exists in several.
        #[arg(long)]
        connector: Option<String>,
        /// Who decided (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Record a promise to pay: the ladder pauses until that day, then resumes where it was
    /// (and the broken promise is shown) if the invoice is still open.
    Promise {
        /// Invoice number or provider id.
        invoice: String,
        /// The day the customer promised to pay by (YYYY-MM-DD).
        #[arg(long)]
        until: NaiveDate,
        /// Kept with the promise.
        #[arg(long)]
        note: Option<String>,
        /// Connector, when the number exists in several.
        #[arg(long)]
        connector: Option<String>,
        /// Who recorded it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Pause every reminder to a customer until a day.
    Pause {
        /// Customer name or provider id.
        customer: String,
        /// Until this day, included (YYYY-MM-DD).
        #[arg(long)]
        until: NaiveDate,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Connector, when the customer exists in several.
        #[arg(long)]
        connector: Option<String>,
        /// Who decided (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Agree a payment plan: the invoice's ladder is replaced by a reminder per instalment; a
    /// missed instalment brings the ladder back.
    PaymentPlan {
        /// Invoice number or provider id.
        invoice: String,
        /// Number of equal instalments (the last one takes the rounding).
        #[arg(long, conflicts_with = "schedule")]
        instalments: Option<u32>,
        /// Time between instalments (`30d`, `4w`…).
        #[arg(long, default_value = "30d")]
        every: String,
        /// Date of the first instalment (default: today + `every`).
        #[arg(long)]
        first: Option<NaiveDate>,
        /// Explicit instalments `DATE=AMOUNT`, comma-separated; they must add up to the balance.
        #[arg(long, value_delimiter = ',')]
        schedule: Vec<String>,
        /// Connector, when the number exists in several.
        #[arg(long)]
        connector: Option<String>,
        /// Who agreed it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// End a dispute, a promise or a customer's pause.
    Resume {
        /// Invoice number, or customer name or provider id.
        target: String,
        /// Connector, when the name exists in several.
        #[arg(long)]
        connector: Option<String>,
        /// Who decided (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Pull invoices, customers and payments from the connectors.
    Sync {
        /// Only this connector.
        #[arg(long)]
        connector: Option<String>,
        /// Start over with a full listing instead of the incremental cursor.
        #[arg(long)]
        full: bool,
    },
    /// Show which reminders would go out on a day, and why the others would not. Sends nothing.
    Plan {
        /// The day (YYYY-MM-DD, in the company's time zone) or an instant (RFC 3339).
        #[arg(long, value_parser = parse_at)]
        at: Option<At>,
        /// Also list closed invoices that were never reminded.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the daemon: webhooks, periodic sync, planning, sending, write-back.
    Run {
        /// Run one full cycle (sync, plan, send, write back) and exit.
        #[arg(long)]
        once: bool,
    },
    /// French late-payment interest and recovery indemnity on one invoice (no configuration
    /// or database needed).
    LateFees(late_fees::LateFeesArgs),
    /// The late-payment rates table: list it (and whether today's half-year is covered), or
    /// `update` it from the ECB Data Portal.
    Rates(rates::RatesArgs),
}

/// An action on a task of the review queue.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Send it (an e-mail step): it goes out with the next round.
    Approve {
        /// Task id (from `relance tasks`).
        id: i64,
        /// Kept with the task.
        #[arg(long)]
        note: Option<String>,
    },
    /// Record it as done by a person (the call made, the letter posted).
    Done {
        /// Task id.
        id: i64,
        /// Kept with the task (what the customer said).
        #[arg(long)]
        note: Option<String>,
    },
    /// Do not do it.
    Skip {
        /// Task id.
        id: i64,
        /// Why.
        #[arg(long)]
        note: Option<String>,
    },
}

/// `--at`: a day or an instant.
#[derive(Debug, Clone, Copy)]
pub enum At {
    /// A day in the company's time zone.
    Day(NaiveDate),
    /// An instant.
    Instant(DateTime<Utc>),
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 instant such as 2027-01-15T09:00:00Z ({e})"))
}

fn parse_at(s: &str) -> Result<At, String> {
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(At::Day(d));
    }
    parse_instant(s)
        .map(At::Instant)
        .map_err(|_| format!("`{s}` is neither a date (2027-01-15) nor an RFC 3339 instant"))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=error"));
    // Colours for a terminal only: a log file or journald gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    match config::load(path, &|name| std::env::var(name).ok()) {
        Ok(c) => {
            for w in &c.warnings {
                tracing::warn!("{w}");
            }
            Ok(c)
        }
        Err(issues) => {
            eprintln!("{}: {} problem(s):", path.display(), issues.0.len());
            for i in &issues.0 {
                eprintln!("  {}: {}", i.path, i.message);
            }
            Err(ExitCode::from(2))
        }
    }
}

/// Entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A standalone calculator: no configuration file, no database, no runtime.
    if let Command::LateFees(args) = &cli.command {
        return late_fees::run(args);
    }
    if let Command::Rates(args) = &cli.command {
        let clock: Arc<dyn Clock> = match cli.now {
            Some(at) => Arc::new(OffsetClock::starting_at(at)),
            None => Arc::new(SystemClock),
        };
        return rates::run(args, clock);
    }
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relance: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("relance: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let clock: Arc<dyn Clock> = match cli.now {
        Some(at) => Arc::new(OffsetClock::starting_at(at)),
        None => Arc::new(SystemClock),
    };
    if let Command::Check = cli.command {
        return check::run(&cli.config, &clock).await;
    }
    let config = match load(&cli.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match cli.command {
        Command::Check => unreachable!("handled above"),
        Command::LateFees(_) | Command::Rates(_) => unreachable!("handled in main"),
        Command::Migrate => {
            let store = crate::store::Store::connect(secrecy::ExposeSecret::expose_secret(
                &config.database,
            ))
            .await?;
            store.migrate().await.context("applying migrations")?;
            println!("Database schema is up to date ({}).", store.backend_name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Connect {
            connector,
            redirected_to,
        } => connect(config, clock, &connector, redirected_to.as_deref()).await,
        Command::Tasks { action, format } => tasks(config, clock, action, format).await,
        Command::Dispute {
            invoice,
            reason,
            connector,
            by,
        } => {
            let reason = format!("dispute: {reason}");
            pause(
                &config,
                &clock,
                Pause::Invoice(&invoice),
                Some(crate::store::indefinitely()),
                Some(&reason),
                "dispute",
                connector.as_deref(),
                by,
            )
            .await
        }
        Command::Promise {
            invoice,
            until,
            note,
            connector,
            by,
        } => {
            let reason = format!(
                "promise to pay by {until}{}",
                note.map(|n| format!(" ({n})")).unwrap_or_default()
            );
            pause(
                &config,
                &clock,
                Pause::Invoice(&invoice),
                Some(until),
                Some(&reason),
                "promise",
                connector.as_deref(),
                by,
            )
            .await
        }
        Command::Pause {
            customer,
            until,
            reason,
            connector,
            by,
        } => {
            let reason = format!(
                "customer paused until {until}{}",
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            );
            pause(
                &config,
                &clock,
                Pause::Customer(&customer),
                Some(until),
                Some(&reason),
                "pause",
                connector.as_deref(),
                by,
            )
            .await
        }
        Command::PaymentPlan {
            invoice,
            instalments,
            every,
            first,
            schedule,
            connector,
            by,
        } => {
            payment_plan(
                &config,
                &clock,
                &invoice,
                instalments,
                &every,
                first,
                &schedule,
                connector.as_deref(),
                by,
            )
            .await
        }
        Command::Resume {
            target,
            connector,
            by,
        } => {
            pause(
                &config,
                &clock,
                Pause::Either(&target),
                None,
                None,
                "resume",
                connector.as_deref(),
                by,
            )
            .await
        }
        Command::Sync { connector, full } => {
            let app = App::start(config, clock).await?;
            if let Some(id) = &connector
                && app.connectors.get(id).is_none()
            {
                eprintln!("relance: no connector `{id}` in the configuration");
                return Ok(ExitCode::from(2));
            }
            let results = output::sync_with_progress(&app, connector.as_deref(), full).await;
            Ok(output::print_syncs(&results))
        }
        Command::Plan { at, all, format } => {
            let tz = config.company.timezone;
            let now = match at {
                None => clock.now(),
                Some(At::Instant(i)) => i,
                // Midday in the company's time zone: well inside the day whatever the offset.
                Some(At::Day(d)) => tz
                    .from_local_datetime(
                        &d.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("valid time")),
                    )
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|| d.and_time(NaiveTime::MIN).and_utc()),
            };
            let app = App::start(config, clock).await?;
            let domain = app.message_domain();
            let settings = PlanSettings {
                policy: &app.config.policy,
                timezone: tz,
                message_domain: &domain,
                calendar: &app.config.company.calendar,
            };
            let detail = if all {
                Detail::Everything
            } else {
                Detail::Reasons
            };
            match format {
                Format::Text => {
                    let report = planner::plan(&app.store, settings, now, detail).await?;
                    output::print_plan(&report, &app.config.company.locale);
                }
                Format::Json => output::print_plan_json(&app.store, settings, now, detail).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { once } => {
            let app = App::start(config, clock).await?;
            let cancel = CancellationToken::new();
            {
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    daemon::shutdown_signal().await;
                    tracing::info!("shutting down: finishing in-flight work");
                    cancel.cancel();
                });
            }
            if once {
                let report = app.cycle(&cancel).await?;
                Ok(output::print_cycle(&app, &report))
            } else {
                app.serve(cancel).await?;
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

async fn connect(
    config: Config,
    clock: Arc<dyn Clock>,
    id: &str,
    redirected_to: Option<&str>,
) -> Result<ExitCode> {
    use crate::connect::{self, Completed};
    use tokio::io::AsyncBufReadExt;

    let app = App::start(config, clock.clone()).await?;
    let Some(connector) = app.connectors.get(id).cloned() else {
        eprintln!("relance: no connector `{id}` in the configuration");
        return Ok(ExitCode::from(2));
    };
    if connector.oauth().is_none() {
        eprintln!(
            "relance: connector `{id}` ({}) needs no connection",
            connector.kind()
        );
        return Ok(ExitCode::from(2));
    }
    let report = |r: Result<Completed, connect::ConnectError>| match r {
        Ok(Completed::Connected(account)) => {
            println!("Connected `{id}` to company {account}.");
            ExitCode::SUCCESS
        }
        Ok(Completed::AlreadyDone(account)) => {
            println!(
                "This redirect was already used{}; `{id}` is connected.",
                account
                    .map(|a| format!(" (company {a})"))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("relance: {e}");
            ExitCode::FAILURE
        }
    };
    let oauth = connector.oauth().expect("checked above");
    if !oauth.needs_browser() {
        return Ok(match oauth.connect_now().await {
            Ok(account) => {
                println!("Connected `{id}` ({account}).");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("relance: {e}");
                ExitCode::FAILURE
            }
        });
    }
    if let Some(pasted) = redirected_to {
        let params = connect::params_of(pasted);
        return Ok(report(
            connect::complete(&app.store, connector.as_ref(), &params, clock.now()).await,
        ));
    }
    let before = app.store.credentials_version(id).await?;
    let url = connect::start(&app.store, connector.as_ref(), clock.now()).await?;
    println!("Open this address in a browser and approve access for `{id}`:\n\n  {url}\n");
    println!(
        "If `relance run` is running at the redirect URL, the connection completes by itself.\n\
         Otherwise paste here the full address your browser was sent to, then press Enter:"
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let deadline = tokio::time::Instant::now()
        + crate::store::STATE_TTL
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(1800));
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(l)) if !l.trim().is_empty() => {
                    let params = connect::params_of(&l);
                    return Ok(report(
                        connect::complete(&app.store, connector.as_ref(), &params, clock.now()).await,
                    ));
                }
                Ok(Some(_)) => {}
                _ => stdin_open = false,
            },
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                if app.store.credentials_version(id).await? != before {
                    let status = connector.oauth().expect("checked above").status().await?;
                    println!("Connected `{id}` by the daemon: {status:?}.");
                    return Ok(ExitCode::SUCCESS);
                }
                if tokio::time::Instant::now() > deadline {
                    eprintln!("relance: no redirect received in time; run `relance connect {id}` again");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
}

async fn tasks(
    config: Config,
    clock: Arc<dyn Clock>,
    action: Option<TaskCommand>,
    format: Format,
) -> Result<ExitCode> {
    use crate::store::TaskAction;
    let store =
        crate::store::Store::connect(secrecy::ExposeSecret::expose_secret(&config.database))
            .await?;
    store.migrate().await.context("applying migrations")?;
    let now = clock.now();
    let (id, act, note) = match action {
        None => {
            let code = output::print_tasks(&store, &config, now, format).await?;
            store.close().await;
            return Ok(code);
        }
        Some(TaskCommand::Approve { id, note }) => (id, TaskAction::Approve, note),
        Some(TaskCommand::Done { id, note }) => (id, TaskAction::Done, note),
        Some(TaskCommand::Skip { id, note }) => (id, TaskAction::Skip, note),
    };
    // An approved letter or hand-off is produced now.
    let waiting = store.review_tasks().await?;
    let document = waiting
        .iter()
        .find(|t| t.id == id && matches!(t.channel.as_str(), "letter" | "handoff"));
    let (act, note) = match (act, document) {
        (TaskAction::Approve, Some(task)) => {
            let task = task.clone();
            store.close().await;
            let app = App::start(config, clock.clone()).await?;
            let done = if task.channel == "letter" {
                crate::escalation::approve_letter(&app, &task, now).await
            } else {
                crate::escalation::approve_handoff(&app, &task, now).await
            };
            match done {
                Ok(what) => {
                    let note = match note {
                        Some(n) => format!("{what} ({n})"),
                        None => what,
                    };
                    let r = app
                        .store
                        .act_on_task(id, TaskAction::Done, Some(&note), now)
                        .await;
                    app.store.close().await;
                    return Ok(match r {
                        Ok(m) => {
                            println!("{m}");
                            ExitCode::SUCCESS
                        }
                        Err(e) => {
                            eprintln!("relance: {e}");
                            ExitCode::FAILURE
                        }
                    });
                }
                Err(e) => {
                    eprintln!("relance: task {id} ({}): {e}", task.step);
                    app.store.close().await;
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        other => other_note(other, note),
    };
    let result = store.act_on_task(id, act, note.as_deref(), now).await;
    store.close().await;
    match result {
        Ok(message) => {
            println!("{message}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("relance: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

enum Pause<'a> {
    Invoice(&'a str),
    Customer(&'a str),
    Either(&'a str),
}

#[allow(clippy::too_many_arguments)]
async fn pause(
    config: &Config,
    clock: &Arc<dyn Clock>,
    target: Pause<'_>,
    until: Option<NaiveDate>,
    reason: Option<&str>,
    action: &str,
    connector: Option<&str>,
    by: Option<String>,
) -> Result<ExitCode> {
    let store =
        crate::store::Store::connect(secrecy::ExposeSecret::expose_secret(&config.database))
            .await?;
    store.migrate().await.context("applying migrations")?;
    let (ident, invoices, customers) = match target {
        Pause::Invoice(i) => (i, store.find_invoices(i, connector).await?, Vec::new()),
        Pause::Customer(c) => (c, Vec::new(), store.find_customers(c, connector).await?),
        Pause::Either(x) => (
            x,
            store.find_invoices(x, connector).await?,
            store.find_customers(x, connector).await?,
        ),
    };
    let found: Vec<(&str, &crate::store::Target)> = invoices
        .iter()
        .map(|t| ("invoice", t))
        .chain(customers.iter().map(|t| ("customer", t)))
        .collect();
    let (kind, t) = match found.as_slice() {
        [one] => *one,
        [] => {
            eprintln!(
                "relance: nothing named `{ident}` (an invoice number or provider id, or a customer name or provider id)"
            );
            store.close().await;
            return Ok(ExitCode::from(2));
        }
        many => {
            eprintln!("relance: `{ident}` names several records; add --connector:");
            for (k, t) in many {
                eprintln!("  {k} {} ({}, {})", t.label, t.connector_id, t.external_id);
            }
            store.close().await;
            return Ok(ExitCode::from(2));
        }
    };
    let who = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let cancelled = store
        .set_pause(kind, t.id, until, reason, action, &who, clock.now())
        .await?;
    store.close().await;
    match until {
        Some(_) => println!(
            "{kind} {} ({}): {}{}",
            t.label,
            t.connector_id,
            reason.unwrap_or("paused"),
            if cancelled > 0 {
                format!("; {cancelled} pending reminder(s) cancelled")
            } else {
                String::new()
            }
        ),
        None => println!(
            "{kind} {} ({}): resumed; the ladder goes on from where it was",
            t.label, t.connector_id
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn other_note(
    (act, _): (crate::store::TaskAction, Option<&crate::store::TaskRow>),
    note: Option<String>,
) -> (crate::store::TaskAction, Option<String>) {
    (act, note)
}

#[allow(clippy::too_many_arguments)]
async fn payment_plan(
    config: &Config,
    clock: &Arc<dyn Clock>,
    ident: &str,
    instalments: Option<u32>,
    every: &str,
    first: Option<NaiveDate>,
    schedule: &[String],
    connector: Option<&str>,
    by: Option<String>,
) -> Result<ExitCode> {
    use rust_decimal::Decimal;
    let fail = |m: String| {
        eprintln!("relance: {m}");
        Ok(ExitCode::from(2))
    };
    let store =
        crate::store::Store::connect(secrecy::ExposeSecret::expose_secret(&config.database))
            .await?;
    store.migrate().await.context("applying migrations")?;
    let found = store.find_invoices(ident, connector).await?;
    let target = match found.as_slice() {
        [one] => one.clone(),
        [] => return fail(format!("no invoice `{ident}`")),
        _ => return fail(format!("`{ident}` names several invoices; add --connector")),
    };
    let Some((invoice, _)) = store.invoice_with_customer(target.id).await? else {
        return fail(format!("no invoice `{ident}`"));
    };
    if invoice.status != "open" || invoice.balance_minor <= 0 {
        return fail(format!(
            "invoice {} is not open: nothing to plan",
            invoice.number
        ));
    }
    let currency = invoice.balance().currency;
    let exponent = currency.exponent();
    let today = crate::planner::day_in(clock.now(), config.company.timezone);
    let plan: Vec<(NaiveDate, i64)> = if !schedule.is_empty() {
        let mut out = Vec::new();
        for item in schedule {
            let Some((d, a)) = item.split_once('=') else {
                return fail(format!("`{item}`: expected DATE=AMOUNT"));
            };
            let (Ok(d), Ok(a)) = (d.trim().parse::<NaiveDate>(), a.trim().parse::<Decimal>())
            else {
                return fail(format!(
                    "`{item}`: expected DATE=AMOUNT such as 2027-03-01=400.00"
                ));
            };
            if a <= Decimal::ZERO || a.scale() > exponent {
                return fail(format!(
                    "`{item}`: the amount must be positive with at most {exponent} decimals"
                ));
            }
            let minor = (a * Decimal::from(10i64.pow(exponent))).trunc();
            out.push((d, i64::try_from(minor).unwrap_or(i64::MAX)));
        }
        out.sort_by_key(|(d, _)| *d);
        let sum: i64 = out.iter().map(|(_, a)| a).sum();
        if sum != invoice.balance_minor {
            return fail(format!(
                "the instalments add up to {}, the balance is {}",
                relance_core::Money::from_minor(sum, currency),
                invoice.balance()
            ));
        }
        out
    } else {
        let n = instalments.unwrap_or(0);
        if n == 0 {
            return fail("give --instalments N (with --every) or --schedule DATE=AMOUNT,…".into());
        }
        let step = match crate::config::parse_days(every) {
            Some(d) if d > 0 => d,
            _ => {
                return fail(format!(
                    "--every `{every}`: expected a number of days such as 30d or 4w"
                ));
            }
        };
        let first = first.unwrap_or(today + chrono::TimeDelta::days(step));
        let share = invoice.balance_minor / i64::from(n);
        (0..n)
            .map(|k| {
                let amount = if k + 1 == n {
                    invoice.balance_minor - share * i64::from(n - 1)
                } else {
                    share
                };
                (first + chrono::TimeDelta::days(step * i64::from(k)), amount)
            })
            .collect()
    };
    if plan.first().is_some_and(|(d, _)| *d < today) {
        return fail("the first instalment is in the past".into());
    }
    let who = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    store
        .create_payment_plan(invoice.id, &plan, &who, clock.now())
        .await?;
    store.close().await;
    println!(
        "invoice {} ({}): payment plan of {} instalments:",
        invoice.number,
        invoice.connector_id,
        plan.len()
    );
    for (k, (d, a)) in plan.iter().enumerate() {
        println!(
            "  {}. {d}  {}",
            k + 1,
            relance_core::Money::from_minor(*a, currency)
        );
    }
    Ok(ExitCode::SUCCESS)
}
