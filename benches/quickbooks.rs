//! QuickBooks benchmark, against the fake QuickBooks of the end-to-end tests (answers shaped as
//! Intuit documents them).
//!
//! 1. Without rate limit: a full sync of N invoices (default 20k) by Relance (a child process
//!    running the connector and the store into SQLite) beside the Singer `tap-quickbooks`
//!    (Python, 2.5.0, installed in a venv under `target/` on first run) reading the same
//!    fake: wall time, invoice requests, peak memory, and the ratios.
//! 2. At Intuit's real limits (the fake answers 429 beyond 10 requests in any second or 500
//!    in any minute): a full sync of M invoices (default 100k) with the connector's own
//!    quotas, then 600 single reads in a row: requests, the sustained rate per minute, the
//!    most requests in any rolling minute, and the 429s we caused.
//!
//! `cargo bench --bench quickbooks` (`BENCH_QBO_TAP=20000`, `BENCH_QBO_LIMITED=100000`,
//! `BENCH_QBO_READS=600`; `BENCH_TAP_PYTHON=/path/to/python` to use a ready interpreter).

#[path = "../tests/e2e/common/qbo.rs"]
#[allow(dead_code)]
mod qbo;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use relance::store::{DbCredentials, SecretKey, Store};
use relance_core::auth::CredentialStore;
use relance_core::{Clock, Connector, ObjectRef, SystemClock};
use relance_quickbooks::{QuickBooksConfig, QuickBooksConnector};
use serde_json::json;

use qbo::{CODE, FakeQbo, REALM};

fn book(fake: &FakeQbo, n: usize) {
    fake.with(|s| {
        s.customers = vec![
            qbo::customer(
                "23",
                "Cool Cars",
                "ap@client23.example",
                "2026-10-01T08:00:00-07:00",
            ),
            qbo::customer(
                "24",
                "O'Keefe & Fils",
                "c@okeefe.example",
                "2026-10-01T08:00:01-07:00",
            ),
            qbo::customer(
                "58",
                "Brasserie du Port",
                "b@port.example",
                "2026-10-01T08:00:02-07:00",
            ),
        ];
        let base: DateTime<Utc> = "2026-01-01T10:00:00Z".parse().unwrap();
        s.invoices = (0..n)
            .map(|i| {
                let t = (base + TimeDelta::seconds(i as i64)).to_rfc3339();
                qbo::invoice(
                    &(1000 + i).to_string(),
                    &format!("F-{i:06}"),
                    ["23", "24", "58"][i % 3],
                    "1850.0",
                    "2026-11-17",
                    &t,
                )
            })
            .collect();
    });
}

fn config(uri: &str) -> QuickBooksConfig {
    serde_yaml_ng::from_str(&format!(
        "client_id: {}\nclient_secret: {}\nredirect_url: https://relance.example.com/oauth/qbo/callback\n\
         api_base: {uri}\noauth_base: {uri}\n",
        qbo::CLIENT_ID,
        qbo::CLIENT_SECRET,
    ))
    .unwrap()
}

fn connector(
    uri: &str,
    store: Arc<dyn CredentialStore>,
    clock: Arc<dyn Clock>,
    unlimited: bool,
) -> QuickBooksConnector {
    QuickBooksConnector::new(
        "qbo",
        config(uri),
        store,
        chrono_tz::Europe::Paris,
        clock,
        |h| {
            if unlimited {
                h.requests_per_second = std::num::NonZeroU32::new(100_000).unwrap();
                h.extra_quotas.clear();
            }
        },
    )
    .unwrap()
}

async fn store_at(url: &str) -> (Store, Arc<dyn CredentialStore>) {
    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let key = SecretKey::parse(qbo::SECRET_KEY).unwrap();
    let creds: Arc<dyn CredentialStore> =
        Arc::new(DbCredentials::new(store.clone(), Ok(Some(key))));
    (store, creds)
}

/// Connects the connector (the code exchange) so tokens are in the store.
async fn connect(c: &QuickBooksConnector) {
    let mut params = std::collections::HashMap::new();
    params.insert("code".to_string(), CODE.to_string());
    params.insert("realmId".to_string(), REALM.to_string());
    c.oauth().unwrap().complete(&params, None).await.unwrap();
}

/// The child: one full sync into the database, printed as one JSON line.
async fn child_sync() {
    let uri = std::env::var("BENCH_QBO_URI").unwrap();
    let db = std::env::var("BENCH_QBO_DB").unwrap();
    let unlimited = std::env::var("BENCH_QBO_UNLIMITED").is_ok();
    let (store, creds) = store_at(&db).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let c = connector(&uri, creds, clock.clone(), unlimited);
    let started = Instant::now();
    let report = relance::sync::sync_connector(&store, &c, &clock, true, &mut |_, _, _| {})
        .await
        .unwrap();
    println!(
        "{}",
        json!({"invoices": report.stats.invoices, "requests": c.requests(),
               "seconds": started.elapsed().as_secs_f64()})
    );
    store.close().await;
}

fn tap_python() -> PathBuf {
    if let Ok(p) = std::env::var("BENCH_TAP_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-venv-tap-quickbooks");
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!("installing tap-quickbooks 2.5.0 into {}", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success()
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "tap-quickbooks==2.5.0"])
                .status()
                .unwrap()
                .success();
        assert!(ok, "could not install tap-quickbooks");
    }
    python
}

const TAP_RUNNER: &str = r#"
import sys
import tap_quickbooks.client as client
base = sys.argv.pop(1)
client.PROD_ENDPOINT_BASE = base
client.TOKEN_REFRESH_URL = base + "/oauth2/v1/tokens/bearer"
from tap_quickbooks import main
main()
"#;

/// Runs the Singer tap over the fake: (wall time, peak KiB).
fn run_tap(fake: &FakeQbo, dir: &Path) -> (Duration, u64) {
    let python = tap_python();
    let runner = dir.join("run_tap.py");
    std::fs::write(&runner, TAP_RUNNER).unwrap();
    let config = dir.join("tap-config.json");
    let write_config = |refresh: &str| {
        std::fs::write(
            &config,
            json!({
                "start_date": "2000-01-01T00:00:00Z", "user_agent": "relance-bench",
                "realm_id": REALM, "client_id": qbo::CLIENT_ID, "client_secret": qbo::CLIENT_SECRET,
                "refresh_token": refresh, "sandbox": "false"
            })
            .to_string(),
        )
        .unwrap();
    };
    fake.with(|s| s.refresh = Some("tap-refresh-0".into()));
    write_config("tap-refresh-0");
    let tap = |args: &[&str]| {
        let mut c = Command::new(&python);
        c.arg(&runner)
            .arg(fake.uri())
            .arg("-c")
            .arg(&config)
            .args(args)
            .env("OAUTHLIB_INSECURE_TRANSPORT", "1");
        c
    };
    let out = tap(&["--discover"]).output().unwrap();
    assert!(
        out.status.success(),
        "tap discovery: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut catalog: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for stream in catalog["streams"].as_array_mut().unwrap() {
        let wanted = ["invoices", "customers", "payments"]
            .contains(&stream["tap_stream_id"].as_str().unwrap_or(""));
        for m in stream["metadata"].as_array_mut().unwrap() {
            if m["breadcrumb"].as_array().is_some_and(|b| b.is_empty()) {
                m["metadata"]["selected"] = json!(wanted);
            }
        }
    }
    let catalog_path = dir.join("tap-catalog.json");
    std::fs::write(&catalog_path, catalog.to_string()).unwrap();
    // The discovery refreshed the token and wrote the new one into the config file.
    fake.with(|s| s.queries.clear());
    let mut cmd = tap(&["--catalog", catalog_path.to_str().unwrap()]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let (status, _, elapsed, rss) = support::measure_hwm(cmd);
    assert!(status.success(), "tap-quickbooks failed");
    (elapsed, rss)
}

fn invoice_queries(fake: &FakeQbo) -> usize {
    fake.with(|s| {
        s.queries
            .iter()
            .filter(|q| q.starts_with("SELECT * FROM Invoice"))
            .count()
    })
}

async fn unlimited(n: usize) {
    let fake = FakeQbo::start().await;
    book(&fake, n);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("relance.db").display());
    let (store, creds) = store_at(&db).await;
    let c = connector(&fake.uri(), creds, Arc::new(SystemClock), true);
    connect(&c).await;
    store.close().await;
    // How much of it is the fake and the parsing: the same pages pulled, nothing stored.
    {
        let (_, creds) = store_at(&db).await;
        let c = connector(&fake.uri(), creds, Arc::new(SystemClock), true);
        let started = Instant::now();
        let mut cursor = None;
        let mut objects = 0;
        loop {
            let pull = c
                .pull(relance_core::PullRequest {
                    cursor,
                    full: false,
                    now: Utc::now(),
                })
                .await
                .unwrap();
            objects += pull.events.iter().map(|e| e.changes.len()).sum::<usize>();
            cursor = pull.cursor;
            if !pull.more {
                break;
            }
        }
        println!(
            "  (pulling and mapping alone, in the bench process: {objects} objects in {:.2} s, the fake busy {:?})",
            started.elapsed().as_secs_f64(),
            fake.with(|s| s.busy)
        );
    }
    fake.with(|s| s.queries.clear());
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("BENCH_ROLE", "relance-sync")
        .env("BENCH_QBO_URI", fake.uri())
        .env("BENCH_QBO_DB", &db)
        .env("BENCH_QBO_UNLIMITED", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped());
    let (status, stdout, ours, our_rss) = support::measure_hwm(cmd);
    assert!(status.success());
    let ours_report: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    let our_invoice_requests = invoice_queries(&fake);
    let stored: i64 = {
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM invoices")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(stored as usize, n);

    let (theirs, their_rss) = run_tap(&fake, dir.path());
    let their_invoice_requests = invoice_queries(&fake);
    println!("full sync of {n} invoices, no rate limit (fake QuickBooks on loopback)");
    println!(
        "  relance         {:>8.2} s  {:>7.0} inv/s  {:>4} invoice requests ({} in all)  peak {:>6.1} MiB  (into SQLite; the sync itself {:.2} s)",
        ours.as_secs_f64(),
        n as f64 / ours.as_secs_f64(),
        our_invoice_requests,
        ours_report["requests"],
        our_rss as f64 / 1024.0,
        ours_report["seconds"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  tap-quickbooks  {:>8.2} s  {:>7.0} inv/s  {:>4} invoice requests (batch calls)  peak {:>6.1} MiB  (to /dev/null)",
        theirs.as_secs_f64(),
        n as f64 / theirs.as_secs_f64(),
        their_invoice_requests,
        their_rss as f64 / 1024.0
    );
    println!(
        "  ratio           {:.1}x faster, {:.2}x the memory, {} vs {} invoice requests",
        theirs.as_secs_f64() / ours.as_secs_f64(),
        our_rss as f64 / their_rss as f64,
        our_invoice_requests,
        their_invoice_requests
    );
}

async fn limited(n: usize, reads: usize) {
    let fake = FakeQbo::start().await;
    book(&fake, n);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("relance.db").display());
    let (store, creds) = store_at(&db).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let c = connector(&fake.uri(), creds.clone(), clock.clone(), false);
    connect(&c).await;
    fake.with(|s| {
        s.enforce_limits = true;
        s.queries.clear();
    });
    let started = Instant::now();
    let report = relance::sync::sync_connector(&store, &c, &clock, true, &mut |_, _, _| {})
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let (throttled, requests) = fake.with(|s| (s.throttled, s.all_stamps.len()));
    println!(
        "full sync of {n} invoices at Intuit's limits (the fake answers 429 beyond 10/s or 500/min)"
    );
    println!(
        "  {} invoices in {:.1} s, {} requests ({} invoice pages of 1000), {:.0} requests/min, 429s caused: {}",
        report.stats.invoices,
        elapsed.as_secs_f64(),
        requests,
        invoice_queries(&fake),
        requests as f64 / elapsed.as_secs_f64() * 60.0,
        throttled
    );
    // Sustained: single reads one after another (what refreshing invoices before sending does).
    let before = fake.with(|s| s.all_stamps.len());
    let started = Instant::now();
    for i in 0..reads {
        let id = (1000 + i % n).to_string();
        c.fetch(&[ObjectRef::invoice(id)]).await.unwrap();
    }
    let elapsed = started.elapsed();
    let (throttled, stamps) = fake.with(|s| (s.throttled, s.all_stamps[before..].to_vec()));
    let mut most_in_a_minute = 0;
    let mut most_in_a_second = 0;
    let mut j = 0;
    let mut k = 0;
    for (i, t) in stamps.iter().enumerate() {
        while t.duration_since(stamps[j]) >= Duration::from_secs(60) {
            j += 1;
        }
        while t.duration_since(stamps[k]) >= Duration::from_secs(1) {
            k += 1;
        }
        most_in_a_minute = most_in_a_minute.max(i - j + 1);
        most_in_a_second = most_in_a_second.max(i - k + 1);
    }
    println!(
        "  then {reads} single reads in {:.1} s: {:.0} requests/min sustained, at most {} in any rolling minute (limit 500) and {} in any second (limit 10), 429s caused: {}",
        elapsed.as_secs_f64(),
        stamps.len() as f64 / elapsed.as_secs_f64() * 60.0,
        most_in_a_minute,
        most_in_a_second,
        throttled
    );
    store.close().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var("BENCH_ROLE").as_deref() == Ok("relance-sync") {
        rt.block_on(child_sync());
        return;
    }
    let tap_n = support::sizes("BENCH_QBO_TAP", &[20_000])[0] as usize;
    let limited_n = support::sizes("BENCH_QBO_LIMITED", &[100_000])[0] as usize;
    let reads = support::sizes("BENCH_QBO_READS", &[600])[0] as usize;
    rt.block_on(unlimited(tap_n));
    rt.block_on(limited(limited_n, reads));
}
