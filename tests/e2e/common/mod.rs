//! Test harness: fresh databases, a real SMTP server, a fake Stripe, configuration files, the
//! real binary, and `spawn_app` (the real application on a random port with a manual clock).
#![allow(dead_code)]

pub mod db;
pub mod qbo;
pub mod sf;
pub mod smtp;
pub mod stripe;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use relance::config::{self, Config};
use relance::daemon::App;
use relance::server::{self, AppState};
use relance_core::{Clock, ManualClock};
use tokio_util::sync::CancellationToken;

pub const SMTP_PASSWORD: &str = "smtp-Pa55/word@test";

/// Environment a configuration written by [`config_yaml`] expects.
pub fn secrets() -> Vec<(&'static str, &'static str)> {
    vec![
        ("STRIPE_SECRET_KEY", stripe::KEY),
        ("STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET),
        ("SMTP_PASSWORD", SMTP_PASSWORD),
        ("QBO_CLIENT_ID", qbo::CLIENT_ID),
        ("QBO_CLIENT_SECRET", qbo::CLIENT_SECRET),
        ("QBO_WEBHOOK_TOKEN", qbo::VERIFIER),
        ("RELANCE_SECRET_KEY", qbo::SECRET_KEY),
    ]
}

pub fn env_lookup(name: &str) -> Option<String> {
    secrets()
        .into_iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// What goes into a test configuration.
#[derive(Debug, Clone)]
pub struct Setup {
    pub database: String,
    pub stripe: Option<String>,
    pub csv: Option<PathBuf>,
    /// Connector YAML of a fake QuickBooks.
    pub qbo: Option<String>,
    /// Connector YAML of fake Salesforce orgs.
    pub sf: Option<String>,
    pub smtp: String,
    pub listen: String,
    pub test_recipient: Option<String>,
    /// Extra YAML appended at the end (e.g. a `dispatch:` section).
    pub extra: String,
}

impl Setup {
    pub fn new(database: &str, smtp: &str) -> Setup {
        Setup {
            database: database.into(),
            stripe: None,
            csv: None,
            qbo: None,
            sf: None,
            smtp: smtp.into(),
            listen: "127.0.0.1:0".into(),
            test_recipient: None,
            extra: String::new(),
        }
    }
}

/// The issue's configuration, pointed at local mocks.
pub fn config_yaml(s: &Setup) -> String {
    let mut connectors = String::new();
    if let Some(uri) = &s.stripe {
        connectors.push_str(&format!(
            "  - id: stripe-main\n    kind: stripe\n    api_key: ${{STRIPE_SECRET_KEY}}\n    \
             webhook_secret: ${{STRIPE_WEBHOOK_SECRET}}\n    api_base: {uri}\n    poll_interval: 10m\n"
        ));
    }
    if let Some(qbo) = &s.qbo {
        connectors.push_str(qbo);
    }
    if let Some(sf) = &s.sf {
        connectors.push_str(sf);
    }
    if let Some(csv) = &s.csv {
        connectors.push_str(&format!(
            "  - id: legacy\n    kind: csv\n    path: {}\n",
            csv.display()
        ));
    }
    let smtp = if s.smtp.starts_with("smtp://") && !s.smtp.contains('@') {
        // Authenticate like the issue's example does.
        s.smtp.replacen(
            "smtp://",
            "smtp://compta%40atelier-dupont.fr:${SMTP_PASSWORD}@",
            1,
        )
    } else {
        s.smtp.clone()
    };
    format!(
        r#"database: {database}
server:
  listen: {listen}
  public_url: https://relance.example.com
company:
  name: Atelier Dupont SARL
  email: compta@atelier-dupont.fr
  timezone: Europe/Paris
  locale: fr
connectors:
{connectors}channels:
  email:
    smtp: {smtp}
    from: "Atelier Dupont <compta@atelier-dupont.fr>"
    reply_to: compta@atelier-dupont.fr
    test_recipient: {test}
policy:
  max_automatic_reminders: 2
  min_balance: 5.00
  steps:
    - {{ id: courtesy, offset_days: -3, channel: email, template: courtesy }}
    - {{ id: friendly, offset_days: 7,  channel: email, template: friendly }}
    - {{ id: firm,     offset_days: 14, channel: email, template: firm }}
  thank_you: {{ channel: email, template: thanks }}
templates: {templates}
{extra}"#,
        database = s.database,
        listen = s.listen,
        test = s.test_recipient.as_deref().unwrap_or("null"),
        templates = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/templates")
            .display(),
        extra = s.extra,
    )
}

/// Writes `relance.yaml` into `dir`.
pub fn write_config(dir: &Path, s: &Setup) -> PathBuf {
    let path = dir.join("relance.yaml");
    std::fs::write(&path, config_yaml(s)).expect("write config");
    path
}

/// Parses a configuration with the test secrets.
pub fn load_config(path: &Path) -> Config {
    config::load(path, &env_lookup).unwrap_or_else(|e| panic!("config: {e}"))
}

/// The real binary, with the test secrets in its environment.
pub fn relance(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_relance"));
    cmd.args(args)
        .env("RUST_LOG", "info,sqlx=warn")
        .env_remove("RELANCE_NOW")
        .env_remove("RELANCE_CONFIG")
        .env_remove("RELANCE_FAILPOINT");
    for (k, v) in secrets() {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the binary to completion (off the async runtime's threads).
pub async fn run(mut cmd: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run relance"))
        .await
        .expect("join")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// The real application with a manual clock and its HTTP server on a random port.
pub struct TestApp {
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub addr: SocketAddr,
    pub cancel: CancellationToken,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub async fn spawn_app(config_path: &Path, now: DateTime<Utc>) -> TestApp {
    let clock = Arc::new(ManualClock::new(now));
    let config = load_config(config_path);
    let app = Arc::new(
        App::start(config, clock.clone() as Arc<dyn Clock>)
            .await
            .expect("app starts"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(
        app.store.clone(),
        app.connectors.clone(),
        app.clock.clone(),
        Arc::default(),
    );
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        axum::serve(listener, server::router(state))
            .with_graceful_shutdown(c.cancelled_owned())
            .await
    });
    TestApp {
        app,
        clock,
        addr,
        cancel,
    }
}

/// One integer from a query, on either backend.
pub async fn scalar(db_url: &str, sql: &'static str) -> i64 {
    if db_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(db_url).await.unwrap();
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::PgPool::connect(db_url).await.unwrap();
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    }
}

/// Rows of text columns (cast them in the query), on either backend.
pub async fn rows(db_url: &str, sql: &'static str) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    if db_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(db_url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<Option<String>, _>(i))
                    .collect()
            })
            .collect()
    } else {
        let pool = sqlx::PgPool::connect(db_url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<Option<String>, _>(i))
                    .collect()
            })
            .collect()
    }
}

/// An HTTP client for talking to the app (installs the TLS provider reqwest needs).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
