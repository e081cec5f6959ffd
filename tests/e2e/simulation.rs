//! Sixty days of one book, the real binary run once a day with `--now`: every invoice gets
//! exactly its steps on their days, in its customer's language; a payment by webhook (to the
//! running daemon) stops the chase and brings a thank-you; so does one seen in the events feed.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use serde_json::json;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::smtp::SmtpSink;
use crate::common::stripe::{self, FakeStripe};
use crate::common::{Setup, at, relance, rows, run, stderr, stdout, write_config};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// End of the due day in Paris, as Stripe stores `due_date`.
fn due(day: &str) -> i64 {
    at(&format!("{day}T22:59:59Z")).timestamp()
}

fn book(fake: &FakeStripe) {
    let created = at("2026-12-01T10:00:00Z").timestamp();
    let customers = [
        ("cus_a", "Brasserie du Port", "a@brasserie.example", "fr-FR"),
        ("cus_b", "Kobayashi Shoten", "b@kobayashi.example", "en-GB"),
        ("cus_c", "Garage des Vosges", "c@garage.example", "fr"),
        ("cus_d", "Cabinet Lefèvre", "d@cabinet.example", "fr-FR"),
        ("cus_e", "Hôtel Beau Rivage", "e@hotel.example", "fr-FR"),
        ("cus_f", "Librairie Papier", "f@librairie.example", "fr-FR"),
        ("cus_g", "Northwind Ltd", "g@northwind.example", "en-US"),
    ];
    for (id, name, email, locale) in customers {
        fake.add_customer(stripe::customer(id, name, email, locale));
    }
    let invoices: [(&str, &str, i64, Option<&str>); 7] = [
        ("a", "cus_a", 124800, Some("2027-01-15")),
        ("b", "cus_b", 99000, Some("2027-01-20")),
        ("c", "cus_c", 45050, Some("2027-02-10")),
        ("d", "cus_d", 300000, None),
        ("e", "cus_e", 8000, Some("2027-01-05")),
        ("f", "cus_f", 300, Some("2027-01-18")),
        ("g", "cus_g", 150000, Some("2027-01-10")),
    ];
    for (i, (key, customer, amount, due_day)) in invoices.into_iter().enumerate() {
        let id = format!("in_{key}");
        let mut inv = stripe::invoice(
            &id,
            &format!("F-2027-00{}", i + 1),
            customer,
            amount,
            "eur",
            due_day.map(due).unwrap_or(0),
            created + i as i64,
        );
        let email = format!(
            "{key}@{}",
            match key {
                "a" => "brasserie.example",
                "b" => "kobayashi.example",
                "c" => "garage.example",
                "d" => "cabinet.example",
                "e" => "hotel.example",
                "f" => "librairie.example",
                _ => "northwind.example",
            }
        );
        inv["customer_email"] = json!(email);
        if due_day.is_none() {
            inv["collection_method"] = json!("charge_automatically");
            inv["due_date"] = json!(null);
        }
        fake.add_invoice(inv);
    }
}

/// (day, invoice key, step): what must be sent, and nothing else.
fn expected() -> BTreeSet<(NaiveDate, String, String)> {
    let rows = [
        ("2027-01-02", "e", "courtesy"),
        ("2027-01-07", "g", "courtesy"),
        ("2027-01-12", "a", "courtesy"),
        ("2027-01-12", "e", "friendly"),
        ("2027-01-17", "b", "courtesy"),
        ("2027-01-17", "g", "friendly"),
        ("2027-01-19", "e", "firm"),
        ("2027-01-22", "a", "friendly"),
        ("2027-01-24", "g", "firm"),
        ("2027-01-25", "g", "thank_you"),
        ("2027-01-27", "b", "friendly"),
        ("2027-01-29", "a", "firm"),
        ("2027-01-30", "b", "thank_you"),
        ("2027-02-07", "c", "courtesy"),
        ("2027-02-17", "c", "friendly"),
        ("2027-02-24", "c", "firm"),
    ];
    rows.iter()
        .map(|(day, k, s)| (d(day), k.to_string(), s.to_string()))
        .collect()
}

fn french(subject: &str) -> bool {
    ["Facture", "facture", "Merci", "Relance"]
        .iter()
        .any(|w| subject.contains(w))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `relance run` at `now`, delivers a signed payment webhook for invoice B, stops it
/// with SIGTERM and checks it exits cleanly.
async fn pay_b_by_webhook(config: &std::path::Path, port: u16, fake: &FakeStripe, now: &str) {
    let child = relance(&["--config", config.to_str().unwrap(), "--now", now, "run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the daemon");
    let http = crate::common::http();
    let health = format!("http://127.0.0.1:{port}/healthz");
    let mut up = false;
    for _ in 0..100 {
        if http
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "daemon did not answer /healthz");
    let paid_at = at(now).timestamp();
    let paid = fake.update_invoice("in_b", |v| stripe::pay(v, paid_at));
    let event = stripe::event("evt_b_paid", "invoice.paid", paid_at, paid);
    fake.add_event(event.clone());
    let body = serde_json::to_vec(&event).unwrap();
    let resp = http
        .post(format!("http://127.0.0.1:{port}/webhooks/stripe-main"))
        .header(
            "Stripe-Signature",
            stripe::sign(&body, stripe::WEBHOOK_SECRET, paid_at + 1),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // Stop it like systemd would; the thank-you goes out with the day's run if the daemon
    // did not send it first.
    tokio::time::sleep(Duration::from_millis(100)).await;
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "daemon exit: {:?}\n{}",
        out.status,
        stderr(&out)
    );
    assert!(stderr(&out).contains("stopped"), "{}", stderr(&out));
}

both_backends!(sixty_days_day_by_day, |db: TestDb| async move {
    let fake = FakeStripe::start().await;
    book(&fake);
    let smtp = SmtpSink::start().await;
    let port = free_port();
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.stripe = Some(fake.uri());
    setup.listen = format!("127.0.0.1:{port}");
    let config = write_config(db.dir.path(), &setup);
    let config_arg = config.to_str().unwrap().to_string();

    let mut seen: BTreeSet<(NaiveDate, String, String)> = BTreeSet::new();
    let mut delivered = 0;
    let mut day = d("2027-01-01");
    while day <= d("2027-03-01") {
        if day == d("2027-01-25") {
            // G pays on the hosted page; only the events feed tells us.
            let t = at("2027-01-25T07:00:00Z").timestamp();
            let paid = fake.update_invoice("in_g", |v| stripe::pay(v, t));
            fake.add_event(stripe::event("evt_g_paid", "invoice.paid", t, paid));
        }
        if day == d("2027-01-30") {
            pay_b_by_webhook(&config, port, &fake, "2027-01-30T08:00:00+01:00").await;
        }
        let now = format!("{day}T09:00:00+01:00");
        let out = run(relance(&[
            "--config",
            &config_arg,
            "--now",
            &now,
            "run",
            "--once",
        ]))
        .await;
        assert!(
            out.status.success(),
            "{day}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        let messages = smtp.messages();
        for m in &messages[delivered..] {
            let reference = m.header("X-Relance-Reference").expect("reference header");
            let step = reference.rsplit(':').next().unwrap().to_string();
            let key = m.to[0].split('@').next().unwrap().to_string();
            let subject = m.subject();
            let wants_french = !matches!(key.as_str(), "b" | "g");
            assert_eq!(
                french(&subject),
                wants_french,
                "{day}: {key} got `{subject}`"
            );
            assert!(
                seen.insert((day, key, step)),
                "{day}: duplicate {reference}"
            );
        }
        delivered = messages.len();
        day += TimeDelta::days(1);
    }
    let expected = expected();
    let missing: Vec<_> = expected.difference(&seen).collect();
    let extra: Vec<_> = seen.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );

    // Every delivery was written back to Stripe, and no reminder is left pending.
    assert_eq!(fake.writebacks().len(), expected.len());
    let pending = rows(
        &db.url,
        "SELECT key, status FROM reminders WHERE status NOT IN ('sent', 'skipped')",
    )
    .await;
    assert!(pending.is_empty(), "{pending:?}");
    // Message-IDs are unique.
    let ids: BTreeSet<String> = smtp.messages().iter().map(|m| m.message_id()).collect();
    assert_eq!(ids.len(), expected.len());
});
