//! Webhook benchmark: signed `invoice.paid` events accepted per second by `relance run` on
//! loopback (each verified, de-duplicated and committed before its 200), with p50/p99
//! latency, on SQLite and PostgreSQL.
//!
//! `cargo bench --bench webhooks` (`BENCH_WEBHOOKS=20000`, `BENCH_WEBHOOK_CONCURRENCY=32`).

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use hmac::{KeyInit, Mac};

fn sign(payload: &[u8], t: i64) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(support::WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `invoice.paid` event of the fixtures, for invoice `i`, as sent over the wire.
fn event(template: &serde_json::Value, invoice: &support::Template, i: u64, now: i64) -> Vec<u8> {
    let mut object = String::new();
    support::invoice_json(invoice, i, 1000, now, &mut object);
    let mut inv: serde_json::Value = serde_json::from_str(&object).unwrap();
    inv["status"] = "paid".into();
    inv["amount_paid"] = inv["total"].clone();
    inv["amount_remaining"] = 0.into();
    inv["status_transitions"]["paid_at"] = now.into();
    let mut e = template.clone();
    e["id"] = format!("evt_bench{i:09}").into();
    e["created"] = now.into();
    e["data"]["object"] = inv;
    serde_json::to_vec(&e).unwrap()
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let count: u64 = std::env::var("BENCH_WEBHOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let concurrency: usize = std::env::var("BENCH_WEBHOOK_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let now = chrono::Utc::now().timestamp();
    let template = support::fixture("events-list-page.json")["data"][1].clone();
    let invoice = support::Template::new(&support::invoice_template());
    let bodies: Vec<Vec<u8>> = (0..count)
        .map(|i| event(&template, &invoice, i, now))
        .collect();
    println!(
        "webhooks: {count} signed invoice.paid events ({} bytes each), {concurrency} in flight, `relance run` on loopback",
        bodies[0].len()
    );
    println!(
        "{:<9} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "backend", "events/s", "p50", "p99", "max", "errors"
    );
    for backend in support::backends() {
        let dir = tempfile::tempdir().unwrap();
        let fake = support::fast_stripe(0, 0, now).await;
        let Some(url) = support::fresh_db(backend, dir.path(), "webhooks").await else {
            continue;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = support::write_config(
            dir.path(),
            &url,
            &fake.uri(),
            &format!("127.0.0.1:{port}"),
            &dir.path().join("out"),
        );
        let mut child = support::relance(&config, &["run"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()
            .unwrap();
        let health = format!("http://127.0.0.1:{port}/healthz");
        for _ in 0..200 {
            if http
                .get(&health)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let target = format!("http://127.0.0.1:{port}/webhooks/stripe-main");
        // Signed before the clock starts (well inside the 300 s window), so the load
        // generator spends its CPU on sending.
        let t = chrono::Utc::now().timestamp();
        let signed: Vec<(String, bytes::Bytes)> = bodies
            .iter()
            .map(|b| (sign(b, t), bytes::Bytes::from(b.clone())))
            .collect();
        let started = Instant::now();
        let results: Vec<(bool, Duration)> = futures::stream::iter(signed.iter())
            .map(|(signature, body)| {
                let (http, target) = (http.clone(), target.clone());
                async move {
                    let t = Instant::now();
                    let ok = http
                        .post(&target)
                        .header("Stripe-Signature", signature.as_str())
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    (ok, t.elapsed())
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let elapsed = started.elapsed();
        let errors = results.iter().filter(|(ok, _)| !ok).count();
        let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
        latencies.sort();
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let _ = child.wait();
        println!(
            "{:<9} {:>10.0} {:>10.2?} {:>10.2?} {:>10.2?} {:>10}",
            backend,
            count as f64 / elapsed.as_secs_f64(),
            support::percentile(&latencies, 0.5),
            support::percentile(&latencies, 0.99),
            latencies.last().unwrap(),
            errors
        );
    }
}
