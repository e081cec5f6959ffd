//! Shared by the benchmarks: a fast fake Stripe that generates pages on the fly (from the
//! fixture shapes), fresh databases, child processes measured for time and peak memory.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use sqlx::Connection;

pub const KEY: &str = "sk_test_51RelanceBenchKey000000000";
pub const WEBHOOK_SECRET: &str = "whsec_RelanceBenchWebhookSecret0";

pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/fixtures/stripe/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// The fixture invoice as a template: `@ID@`, `@NUM@`, `@CUS@`, `@CREATED@`, `@DUE@`.
pub fn invoice_template() -> String {
    let mut v = fixture("invoice-open-overdue.json");
    v["id"] = "@ID@".into();
    v["number"] = "@NUM@".into();
    v["customer"] = "@CUS@".into();
    v["created"] = "@CREATED@".into();
    v["due_date"] = "@DUE@".into();
    v["metadata"] = serde_json::json!({});
    serde_json::to_string(&v)
        .unwrap()
        .replace("\"@CREATED@\"", "@CREATED@")
        .replace("\"@DUE@\"", "@DUE@")
}

pub fn customer_template() -> String {
    let mut v = fixture("customer.json");
    v["id"] = "@ID@".into();
    v["name"] = "@NAME@".into();
    v["email"] = "@EMAIL@".into();
    serde_json::to_string(&v).unwrap()
}

/// A template split once at its `@NAME@` markers, filled without re-scanning.
pub struct Template(Vec<(String, Option<String>)>);

impl Template {
    pub fn new(text: &str) -> Template {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('@') {
            let Some(len) = rest[start + 1..].find('@') else {
                break;
            };
            let name = &rest[start + 1..start + 1 + len];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_uppercase()) {
                parts.push((rest[..=start].to_string(), None));
                rest = &rest[start + 1..];
                continue;
            }
            parts.push((rest[..start].to_string(), Some(name.to_string())));
            rest = &rest[start + len + 2..];
        }
        parts.push((rest.to_string(), None));
        Template(parts)
    }

    pub fn fill(&self, out: &mut String, value: impl Fn(&str) -> String) {
        for (text, name) in &self.0 {
            out.push_str(text);
            if let Some(n) = name {
                out.push_str(&value(n));
            }
        }
    }
}

/// Invoice `i` of a generated book (ids sort like Stripe lists them: newest first).
pub fn invoice_json(template: &Template, i: u64, customers: u64, now: i64, out: &mut String) {
    let created = now - 90 * 86400 + (i as i64 % (80 * 86400));
    template.fill(out, |name| match name {
        "ID" => format!("in_bench{i:09}"),
        "NUM" => format!("B-{i:09}"),
        "CUS" => format!("cus_bench{:08}", i % customers.max(1)),
        "CREATED" => created.to_string(),
        _ => (created + 30 * 86400).to_string(),
    });
}

struct Book {
    invoices: u64,
    customers: u64,
    now: i64,
    invoice: Template,
    customer: Template,
    requests: AtomicU64,
}

fn index_after(after: Option<&String>, prefix: &str) -> u64 {
    after
        .and_then(|a| a.strip_prefix(prefix))
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| n + 1)
        .unwrap_or(0)
}

fn list(
    count: u64,
    item: impl Fn(u64, &mut String),
    has_more: bool,
    url: &str,
) -> axum::response::Response {
    let mut body = String::with_capacity(count as usize * 5000 + 100);
    body.push_str("{\"object\":\"list\",\"data\":[");
    for k in 0..count {
        if k > 0 {
            body.push(',');
        }
        item(k, &mut body);
    }
    body.push_str(&format!("],\"has_more\":{has_more},\"url\":\"{url}\"}}"));
    ([("content-type", "application/json")], body).into_response()
}

async fn list_invoices(
    State(book): State<Arc<Book>>,
    Query(q): Query<Vec<(String, String)>>,
) -> axum::response::Response {
    book.requests.fetch_add(1, Ordering::Relaxed);
    let after = q
        .iter()
        .find(|(k, _)| k == "starting_after")
        .map(|(_, v)| v);
    let start = index_after(after, "in_bench");
    let end = (start + 100).min(book.invoices);
    let fill = |k: u64, out: &mut String| {
        invoice_json(&book.invoice, start + k, book.customers, book.now, out)
    };
    list(end - start, fill, end < book.invoices, "/v1/invoices")
}

async fn list_customers(
    State(book): State<Arc<Book>>,
    Query(q): Query<Vec<(String, String)>>,
) -> axum::response::Response {
    book.requests.fetch_add(1, Ordering::Relaxed);
    let after = q
        .iter()
        .find(|(k, _)| k == "starting_after")
        .map(|(_, v)| v);
    let start = index_after(after, "cus_bench");
    let end = (start + 100).min(book.customers);
    let fill = |k: u64, out: &mut String| {
        let i = start + k;
        book.customer.fill(out, |name| match name {
            "ID" => format!("cus_bench{i:08}"),
            "NAME" => format!("Client {i}"),
            _ => format!("client{i}@example.com"),
        })
    };
    list(end - start, fill, end < book.customers, "/v1/customers")
}

async fn list_events(State(book): State<Arc<Book>>) -> axum::response::Response {
    book.requests.fetch_add(1, Ordering::Relaxed);
    list(0, |_, _| {}, false, "/v1/events")
}

/// A fake Stripe answering instantly, without a rate limit, from generated pages.
pub struct FastStripe {
    pub addr: SocketAddr,
    book: Arc<Book>,
}

impl FastStripe {
    pub fn requests(&self) -> u64 {
        self.book.requests.load(Ordering::Relaxed)
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }
}

pub async fn fast_stripe(invoices: u64, customers: u64, now: i64) -> FastStripe {
    let book = Arc::new(Book {
        invoices,
        customers,
        now,
        invoice: Template::new(&invoice_template()),
        customer: Template::new(&customer_template()),
        requests: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/v1/invoices", get(list_invoices))
        .route("/v1/customers", get(list_customers))
        .route("/v1/events", get(list_events))
        .with_state(book.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    FastStripe { addr, book }
}

/// A database for a run: a SQLite file under `dir`, or a new PostgreSQL database.
pub async fn fresh_db(backend: &str, dir: &Path, name: &str) -> Option<String> {
    match backend {
        "sqlite" => Some(format!(
            "sqlite://{}",
            dir.join(format!("{name}.db")).display()
        )),
        _ => {
            let admin = std::env::var("DATABASE_URL_POSTGRES").ok()?;
            let db = format!("relance_bench_{name}_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\""))
                .execute(&mut conn)
                .await;
            sqlx::query(&format!("CREATE DATABASE \"{db}\""))
                .execute(&mut conn)
                .await
                .ok()?;
            let mut url = url::Url::parse(&admin).ok()?;
            url.set_path(&format!("/{db}"));
            Some(url.to_string())
        }
    }
}

pub fn backends() -> Vec<&'static str> {
    let mut b = vec!["sqlite"];
    if std::env::var("DATABASE_URL_POSTGRES").is_ok() {
        b.push("postgres");
    } else {
        eprintln!("(DATABASE_URL_POSTGRES unset: PostgreSQL runs skipped)");
    }
    b
}

/// A configuration for benches.
pub fn write_config(
    dir: &Path,
    database: &str,
    stripe: &str,
    listen: &str,
    outbox: &Path,
) -> PathBuf {
    let yaml = format!(
        r#"database: {database}
server:
  listen: {listen}
company:
  name: Bench SARL
  email: compta@bench.example
  timezone: Europe/Paris
  locale: fr
connectors:
  - id: stripe-main
    kind: stripe
    api_key: {KEY}
    webhook_secret: {WEBHOOK_SECRET}
    api_base: {stripe}
    requests_per_second: 100000
    poll_interval: 1d
channels:
  email:
    smtp: file://{outbox}
    from: "Bench <compta@bench.example>"
policy:
  max_automatic_reminders: 2
  min_balance: 5.00
  steps:
    - {{ id: courtesy, offset_days: -3, channel: email, template: courtesy }}
    - {{ id: friendly, offset_days: 7,  channel: email, template: friendly }}
    - {{ id: firm,     offset_days: 14, channel: email, template: firm }}
  thank_you: {{ channel: email, template: thanks }}
templates: {templates}
dispatch:
  interval: 1d
"#,
        outbox = outbox.display(),
        templates = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/templates")
            .display(),
    );
    let path = dir.join("relance.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Runs `cmd` to completion; returns its output, wall time and peak resident memory (KiB).
pub fn measure(mut cmd: Command) -> (Output, Duration, u64) {
    use std::os::unix::process::ExitStatusExt;
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so a large output cannot block the child.
    let mut child = child;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).ok();
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).ok();
        v
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let elapsed = started.elapsed();
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    };
    (output, elapsed, usage.ru_maxrss as u64)
}

/// The `relance` binary; `BENCH_WRAP` (e.g. `perf record -g -o /tmp/perf.data`) runs it
/// under a profiler.
pub fn relance(config: &Path, args: &[&str]) -> Command {
    let bin = env!("CARGO_BIN_EXE_relance");
    let mut cmd = match std::env::var("BENCH_WRAP") {
        Ok(wrap) if !wrap.trim().is_empty() => {
            let mut parts = wrap.split_whitespace();
            let mut c = Command::new(parts.next().expect("non-empty"));
            c.args(parts).arg(bin);
            c
        }
        _ => Command::new(bin),
    };
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn");
    cmd
}

/// Percentile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn sizes(var: &str, default: &[u64]) -> Vec<u64> {
    match std::env::var(var) {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => default.to_vec(),
    }
}

/// Like [`measure`], with the child's stdout and stderr as the command sets them (for large
/// outputs sent to /dev/null).
// `wait4` below reaps the child (it is how its peak memory is read).
#[allow(clippy::zombie_processes)]
pub fn measure_quiet(mut cmd: Command) -> (std::process::ExitStatus, Duration, u64) {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    (
        std::process::ExitStatus::from_raw(status),
        started.elapsed(),
        usage.ru_maxrss as u64,
    )
}

/// Runs `cmd` to completion with its output captured or discarded as it sets, sampling the
/// child's own high-water mark (`VmHWM` in `/proc/<pid>/status`) every 10 ms: unlike
/// `wait4`'s `ru_maxrss`, it does not include the memory of the parent it was forked from.
/// Returns the status, stdout, wall time and peak resident memory (KiB).
pub fn measure_hwm(mut cmd: Command) -> (std::process::ExitStatus, Vec<u8>, Duration, u64) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kib) = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        std::io::Read::read_to_end(&mut out, &mut stdout).ok();
    }
    let status = child.wait().expect("wait");
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    (status, stdout, elapsed, peak.load(Ordering::Relaxed))
}
