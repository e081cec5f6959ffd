//! Stripe sync against a fake Stripe: pagination, the events feed, retries on 429/500,
//! error bodies, ordering, and the full resync after Stripe's 30-day event window.

use std::sync::Arc;
use std::time::Duration;

use relance::sync::{SyncError, sync_connector};
use relance_core::{Clock, ConnectorError, ManualClock};
use relance_stripe::{StripeConfig, StripeConnector};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::stripe::{self, FakeStripe};
use crate::common::{at, rows, scalar};

const NOW: &str = "2026-11-24T09:00:00Z";

fn connector(fake: &FakeStripe, key: &str, clock: Arc<dyn Clock>) -> StripeConnector {
    let config = StripeConfig {
        api_key: SecretString::from(key.to_string()),
        webhook_secret: Some(SecretString::from(stripe::WEBHOOK_SECRET.to_string())),
        api_base: fake.uri(),
        timezone: None,
        requests_per_second: Some(1000),
        chase_automatic_collection: false,
        webhook_tolerance_seconds: 300,
    };
    StripeConnector::new(
        "stripe-main",
        config,
        chrono_tz::Europe::Paris,
        clock,
        |h| {
            h.min_delay = Duration::from_millis(5);
            h.max_delay = Duration::from_millis(20);
        },
    )
    .unwrap()
}

/// `n` customers and `m` invoices, newest first, due over the last weeks.
fn book(fake: &FakeStripe, customers: usize, invoices: usize) {
    let base = at("2026-10-01T10:00:00Z").timestamp();
    for c in 0..customers {
        fake.add_customer(stripe::customer(
            &format!("cus_{c:05}"),
            &format!("Client {c}"),
            &format!("client{c}@example.com"),
            if c % 2 == 0 { "fr-FR" } else { "en-GB" },
        ));
    }
    for i in 0..invoices {
        let created = base + i as i64 * 3600;
        fake.add_invoice(stripe::invoice(
            &format!("in_{i:06}"),
            &format!("F-{i:06}"),
            &format!("cus_{:05}", i % customers.max(1)),
            10_000 + i as i64,
            "eur",
            created + 30 * 86400,
            created,
        ));
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at(NOW)))
}

both_backends!(
    full_sync_pages_then_follows_events,
    |db: TestDb| async move {
        let store = db.store().await;
        let fake = FakeStripe::start().await;
        book(&fake, 150, 250);
        let clock = clock();
        let c = connector(&fake, stripe::KEY, clock.clone());
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let report = sync_connector(&store, &c, &dyn_clock, false, &mut |_, _, _| {})
            .await
            .unwrap();
        // customers: 2 pages, invoices: 3 pages, events: 1 page.
        assert_eq!(report.pages, 6);
        assert_eq!(c.requests(), 6);
        assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM invoices").await, 250);
        assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM customers").await, 150);
        let r = rows(&db.url, "SELECT number, currency, CAST(total_minor AS TEXT), status, CAST(due_on AS TEXT), email FROM invoices WHERE external_id = 'in_000007'").await;
        assert_eq!(
            r[0],
            vec![
                Some("F-000007".into()),
                Some("EUR".into()),
                Some("10007".into()),
                Some("open".into()),
                Some("2026-10-31".into()),
                Some("compta@brasserie-du-port.example".into()),
            ]
        );
        let locale = rows(
            &db.url,
            "SELECT locale FROM customers WHERE external_id = 'cus_00001'",
        )
        .await;
        assert_eq!(locale[0][0].as_deref(), Some("en-GB"));
        // Every request pinned the API version.
        let versions = fake.state.lock().unwrap().versions.clone();
        assert!(
            versions
                .iter()
                .all(|v| v.as_deref() == Some("2026-10-28.endive"))
        );

        // A payment happens: the events feed carries it; the next sync applies it.
        clock.advance(chrono::TimeDelta::minutes(10));
        let paid = fake.update_invoice("in_000007", |v| stripe::pay(v, at(NOW).timestamp() + 300));
        fake.add_event(stripe::event(
            "evt_paid_7",
            "invoice.paid",
            at(NOW).timestamp() + 300,
            paid,
        ));
        let before = c.requests();
        let report = sync_connector(&store, &c, &dyn_clock, false, &mut |_, _, _| {})
            .await
            .unwrap();
        assert_eq!(c.requests() - before, 1, "one events page");
        assert_eq!(report.stats.invoices, 1);
        let status = rows(
            &db.url,
            "SELECT status FROM invoices WHERE external_id = 'in_000007'",
        )
        .await;
        assert_eq!(status[0][0].as_deref(), Some("paid"));
        // The same event seen again (overlapping window) is recognised.
        let report = sync_connector(&store, &c, &dyn_clock, false, &mut |_, _, _| {})
            .await
            .unwrap();
        assert_eq!(report.stats.duplicates, 1);
        assert_eq!(report.stats.invoices, 0);
    }
);

both_backends!(retries_429_and_500_then_succeeds, |db: TestDb| async move {
    let store = db.store().await;
    let fake = FakeStripe::start().await;
    book(&fake, 3, 5);
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(stripe::fixture("error-429-rate-limit.json")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "error": {"type": "api_error", "message": "An unknown error occurred"}
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let clock: Arc<dyn Clock> = clock();
    let c = connector(&fake, stripe::KEY, clock.clone());
    let started = std::time::Instant::now();
    let report = sync_connector(&store, &c, &clock, false, &mut |_, _, _| {})
        .await
        .unwrap();
    // The Retry-After of one second was honoured.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(c.requests(), 5, "3 pages + the 429 + the 500");
    assert_eq!(report.stats.invoices, 5);
    assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM invoices").await, 5);
});

both_backends!(
    a_bad_key_fails_clearly_and_writes_nothing,
    |db: TestDb| async move {
        let store = db.store().await;
        let fake = FakeStripe::start().await;
        book(&fake, 2, 2);
        let clock: Arc<dyn Clock> = clock();
        let c = connector(&fake, "sk_test_WrongKey12345", clock.clone());
        let err = sync_connector(&store, &c, &clock, false, &mut |_, _, _| {})
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, SyncError::Connector(ConnectorError::Auth(_))),
            "{err:?}"
        );
        assert!(
            message.contains("stripe-main") && message.contains("STRIPE_SECRET_KEY"),
            "{message}"
        );
        assert!(
            !message.contains("WrongKey") && !message.contains("sk_test"),
            "{message}"
        );
        assert_eq!(c.requests(), 1, "401 is not retried");
        assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM invoices").await, 0);
        let state = rows(&db.url, "SELECT last_error, cursor FROM sync_state").await;
        assert!(state[0][0].as_deref().unwrap().contains("401"));
        assert_eq!(state[0][1], None);
    }
);

both_backends!(
    an_older_version_never_replaces_a_newer_one,
    |db: TestDb| async move {
        let store = db.store().await;
        let fake = FakeStripe::start().await;
        book(&fake, 1, 1);
        let clock = clock();
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let c = connector(&fake, stripe::KEY, dyn_clock.clone());
        sync_connector(&store, &c, &dyn_clock, false, &mut |_, _, _| {})
            .await
            .unwrap();
        let t = at(NOW).timestamp();
        let open = fake.update_invoice("in_000000", |_| {});
        let mut paid = open.clone();
        stripe::pay(&mut paid, t + 100);
        // Delivered out of order: the payment first, then an update from before it.
        fake.add_event(stripe::event("evt_b", "invoice.paid", t + 100, paid));
        fake.add_event(stripe::event("evt_a", "invoice.updated", t + 50, open));
        clock.advance(chrono::TimeDelta::minutes(5));
        sync_connector(&store, &c, &dyn_clock, false, &mut |_, _, _| {})
            .await
            .unwrap();
        let status = rows(&db.url, "SELECT status FROM invoices").await;
        assert_eq!(status[0][0].as_deref(), Some("paid"));
    }
);

both_backends!(
    a_cursor_older_than_thirty_days_triggers_a_full_resync,
    |db: TestDb| async move {
        let store = db.store().await;
        let fake = FakeStripe::start().await;
        book(&fake, 1, 3);
        let clock = clock();
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let c = connector(&fake, stripe::KEY, dyn_clock.clone());
        sync_connector(&store, &c, &dyn_clock, false, &mut |_, _, _| {})
            .await
            .unwrap();
        fake.add_invoice(stripe::invoice(
            "in_late",
            "F-LATE",
            "cus_00000",
            5000,
            "eur",
            at(NOW).timestamp(),
            at(NOW).timestamp(),
        ));
        clock.advance(chrono::TimeDelta::days(31));
        let report = sync_connector(&store, &c, &dyn_clock, false, &mut |_, _, _| {})
            .await
            .unwrap();
        assert!(
            report.warnings.iter().any(|w| w.contains("full resync")),
            "{:?}",
            report.warnings
        );
        assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM invoices").await, 4);
    }
);

both_backends!(
    a_full_resync_finds_invoices_gone_from_stripe,
    |db: TestDb| async move {
        let store = db.store().await;
        let fake = FakeStripe::start().await;
        book(&fake, 2, 5);
        let clock = clock();
        let c = connector(&fake, stripe::KEY, clock.clone());
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        sync_connector(&store, &c, &dyn_clock, false, &mut |_, _, _| {})
            .await
            .unwrap();
        let open = || {
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE status = 'open'",
            )
        };
        assert_eq!(open().await, 5);
        // Gone from Stripe without an event Relance saw: a full resync lists the others, asks
        // for it by id, and Stripe's `resource_missing` closes it.
        fake.state
            .lock()
            .unwrap()
            .invoices
            .retain(|i| i["id"] != json!("in_000002"));
        let report = sync_connector(&store, &c, &dyn_clock, true, &mut |_, _, _| {})
            .await
            .unwrap();
        assert_eq!(report.unlisted, 1, "{report:?}");
        assert_eq!(open().await, 4);
        let gone = rows(
            &db.url,
            "SELECT status FROM invoices WHERE external_id = 'in_000002'",
        )
        .await;
        assert_eq!(gone[0][0].as_deref(), Some("void"));
    }
);
