//! Sync benchmark: N invoices (and N/10 customers) from a local fake Stripe answering
//! instantly, into SQLite and PostgreSQL, with `relance sync` as a child process: invoices/s,
//! requests, peak memory. Beside it, in the same run, the rate of a plain batched INSERT of the
//! same rows into the same kind of database: the ceiling ingest is measured against.
//!
//! `cargo bench --bench sync` (sizes: `BENCH_SYNC_SIZES=10000,100000`).

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Connection;

const BATCH: usize = 100;

struct Row {
    external_id: String,
    customer: String,
    number: String,
    due_on: NaiveDate,
    total: i64,
    updated: DateTime<Utc>,
}

fn rows(n: u64, customers: u64, now: i64) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let created = now - 90 * 86400 + (i as i64 % (80 * 86400));
            Row {
                external_id: format!("in_bench{i:09}"),
                customer: format!("cus_bench{:08}", i % customers),
                number: format!("B-{i:09}"),
                due_on: DateTime::from_timestamp(created + 30 * 86400, 0)
                    .unwrap()
                    .date_naive(),
                total: 124800,
                updated: DateTime::from_timestamp(created, 0).unwrap(),
            }
        })
        .collect()
}

macro_rules! raw_insert {
    ($conn:expr, $db:ty, $customers:expr, $rows:expr, $now:expr) => {{
        let started = Instant::now();
        for chunk in $customers.chunks(BATCH) {
            let mut tx = $conn.begin().await.unwrap();
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO customers (connector_id, external_id, name, emails, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, c: &String| {
                b.push_bind("stripe-main")
                    .push_bind(c.clone())
                    .push_bind(c.clone())
                    .push_bind("x@example.com")
                    .push_bind($now)
                    .push_bind($now);
            });
            q.build().execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        for chunk in $rows.chunks(BATCH) {
            let mut tx = $conn.begin().await.unwrap();
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO invoices (connector_id, external_id, customer_id, number, issued_on, \
                 due_on, currency, total_minor, balance_minor, status, chase, email, payment_url, \
                 paid_at, source_updated_at, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, r: &Row| {
                b.push_bind("stripe-main")
                    .push_bind(r.external_id.clone())
                    .push("(SELECT id FROM customers WHERE connector_id = 'stripe-main' AND external_id = ")
                    .push_bind_unseparated(r.customer.clone())
                    .push_unseparated(")")
                    .push_bind(r.number.clone())
                    .push_bind(Some(r.due_on))
                    .push_bind(Some(r.due_on))
                    .push_bind("EUR")
                    .push_bind(r.total)
                    .push_bind(r.total)
                    .push_bind("open")
                    .push_bind(true)
                    .push_bind(Some("compta@example.com".to_string()))
                    .push_bind(Some("https://invoice.stripe.com/i/x".to_string()))
                    .push_bind(None::<DateTime<Utc>>)
                    .push_bind(r.updated)
                    .push_bind($now)
                    .push_bind($now);
            });
            q.build().execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        started.elapsed()
    }};
}

async fn ceiling(backend: &str, url: &str, n: u64, customers: u64, now: i64) -> Duration {
    let store = relance::store::Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let customers: Vec<String> = (0..customers).map(|i| format!("cus_bench{i:08}")).collect();
    let rows = rows(n, customers.len() as u64, now);
    let at = DateTime::from_timestamp(now, 0).unwrap();
    if backend == "sqlite" {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let mut conn = sqlx::SqliteConnection::connect_with(
            &options
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal),
        )
        .await
        .unwrap();
        raw_insert!(conn, sqlx::Sqlite, customers, rows, at)
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        raw_insert!(conn, sqlx::Postgres, customers, rows, at)
    }
}

/// How fast the fake Stripe alone serves every invoice page to one client: the floor under
/// any sync time.
async fn mock_alone(fake: &support::FastStripe, n: u64) -> Duration {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut bytes = 0;
    for page in 0..n.div_ceil(100) {
        let mut url = format!("{}/v1/invoices?limit=100", fake.uri());
        if page > 0 {
            url.push_str(&format!("&starting_after=in_bench{:09}", page * 100 - 1));
        }
        bytes += http
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
    }
    assert!(bytes > 0);
    started.elapsed()
}

/// The store's ingest alone (the same invoices, already mapped, applied page by page).
async fn store_alone(url: &str, n: u64, customers: u64, now: i64) -> Duration {
    use relance_core::{Change, Currency, Customer, InboundEvent, Invoice, InvoiceStatus, Money};
    let store = relance::store::Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let at = DateTime::from_timestamp(now, 0).unwrap();
    let customer_pages: Vec<InboundEvent> = (0..customers)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|c| InboundEvent {
            kind: "bench".into(),
            changes: c
                .iter()
                .map(|i| {
                    Change::Customer(Customer {
                        external_id: format!("cus_bench{i:08}"),
                        name: format!("Client {i}"),
                        emails: vec![format!("client{i}@example.com")],
                        phone: None,
                        locale: Some("fr-FR".into()),
                        time_zone: None,
                        source_updated_at: None,
                        address: None,
                        consumer: None,
                    })
                })
                .collect(),
            ..InboundEvent::default()
        })
        .collect();
    let rows = rows(n, customers, now);
    let started = Instant::now();
    for page in &customer_pages {
        store
            .apply(
                "stripe-main",
                "poll",
                std::slice::from_ref(page),
                Some("c"),
                1,
                at,
            )
            .await
            .unwrap();
    }
    for chunk in rows.chunks(BATCH) {
        let changes = chunk
            .iter()
            .map(|r| {
                let total = Money::from_minor(r.total, Currency::EUR);
                Change::Invoice(Invoice {
                    external_id: r.external_id.clone(),
                    number: r.number.clone(),
                    customer_external_id: r.customer.clone(),
                    customer_hint: None,
                    issued_on: Some(r.due_on),
                    due_on: Some(r.due_on),
                    total,
                    balance: total,
                    status: InvoiceStatus::Open,
                    chase: true,
                    email: Some("compta@example.com".into()),
                    payment_url: Some("https://invoice.stripe.com/i/x".into()),
                    paid_at: None,
                    source_updated_at: r.updated,
                })
            })
            .collect();
        let event = InboundEvent {
            kind: "bench".into(),
            changes,
            ..InboundEvent::default()
        };
        store
            .apply("stripe-main", "poll", &[event], Some("c"), 1, at)
            .await
            .unwrap();
    }
    let elapsed = started.elapsed();
    store.close().await;
    elapsed
}

#[tokio::main]
async fn main() {
    let sizes = support::sizes("BENCH_SYNC_SIZES", &[10_000, 100_000]);
    let now = chrono::Utc::now().timestamp();
    println!(
        "sync: fake Stripe answering instantly (fixture-shaped invoices, ~4.6 kB each), `relance sync` as a child process"
    );
    println!(
        "{:<9} {:>8} {:>10} {:>12} {:>9} {:>10} {:>14} {:>8} {:>12}",
        "backend",
        "N",
        "seconds",
        "invoices/s",
        "requests",
        "peak MiB",
        "raw INSERT/s",
        "ratio",
        "mock alone/s"
    );
    for backend in support::backends() {
        for &n in &sizes {
            let customers = (n / 10).max(1);
            let dir = tempfile::tempdir().unwrap();
            let fake = support::fast_stripe(n, customers, now).await;
            let Some(url) = support::fresh_db(backend, dir.path(), &format!("sync{n}")).await
            else {
                continue;
            };
            let floor = mock_alone(&fake, n).await;
            let before = fake.requests();
            let config = support::write_config(
                dir.path(),
                &url,
                &fake.uri(),
                "127.0.0.1:0",
                &dir.path().join("out"),
            );
            let cmd = support::relance(&config, &["sync"]);
            let (out, elapsed, peak_kib) =
                tokio::task::spawn_blocking(move || support::measure(cmd))
                    .await
                    .unwrap();
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if std::env::var("BENCH_WRAP").is_ok() {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            }
            let raw_url = support::fresh_db(backend, dir.path(), &format!("raw{n}"))
                .await
                .unwrap();
            let raw = ceiling(backend, &raw_url, n, customers, now).await;
            let store_url = support::fresh_db(backend, dir.path(), &format!("store{n}"))
                .await
                .unwrap();
            let store_only = store_alone(&store_url, n, customers, now).await;
            let rate = n as f64 / elapsed.as_secs_f64();
            let raw_rate = n as f64 / raw.as_secs_f64();
            println!(
                "{:<9} {:>8} {:>10.2} {:>12.0} {:>9} {:>10.1} {:>14.0} {:>8.2} {:>12.0}",
                backend,
                n,
                elapsed.as_secs_f64(),
                rate,
                fake.requests() - before,
                peak_kib as f64 / 1024.0,
                raw_rate,
                rate / raw_rate,
                n as f64 / floor.as_secs_f64()
            );
            println!(
                "{:<9} {:>8} store ingest alone (mapped invoices, no HTTP): {:.0} invoices/s",
                "",
                "",
                n as f64 / store_only.as_secs_f64()
            );
        }
    }
}
