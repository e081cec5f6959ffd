//! `POST /webhooks/{connector_id}`: signature on the raw body, replay window, malformed
//! bodies, duplicates, and a payment cancelling pending reminders.

use serde_json::Value;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::smtp::SmtpSink;
use crate::common::stripe::{self, FakeStripe};
use crate::common::{Setup, TestApp, at, rows, scalar, spawn_app, write_config};

const NOW: &str = "2027-01-22T09:00:00Z";

struct World {
    fake: FakeStripe,
    smtp: SmtpSink,
    app: TestApp,
    http: reqwest::Client,
}

async fn world(db: &TestDb) -> World {
    let fake = FakeStripe::start().await;
    fake.add_customer(stripe::customer(
        "cus_A",
        "Brasserie du Port",
        "compta@brasserie.example",
        "fr-FR",
    ));
    let created = at("2026-12-15T10:00:00Z").timestamp();
    let due = at("2027-01-15T22:59:59Z").timestamp();
    fake.add_invoice(stripe::invoice(
        "in_A",
        "F-2027-001",
        "cus_A",
        124800,
        "eur",
        due,
        created,
    ));
    let smtp = SmtpSink::start().await;
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.stripe = Some(fake.uri());
    let path = write_config(db.dir.path(), &setup);
    let app = spawn_app(&path, at(NOW)).await;
    let results = app.app.sync_all(None, false, &mut |_, _, _, _| {}).await;
    assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
    World {
        fake,
        smtp,
        app,
        http: crate::common::http(),
    }
}

fn paid_event(w: &World, id: &str, created: i64) -> Vec<u8> {
    let mut inv = w.fake.update_invoice("in_A", |_| {});
    stripe::pay(&mut inv, created);
    serde_json::to_vec(&stripe::event(id, "invoice.paid", created, inv)).unwrap()
}

async fn post(w: &World, body: &[u8], signature: Option<String>) -> (u16, Value) {
    let mut req = w
        .http
        .post(w.app.url("/webhooks/stripe-main"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("Stripe-Signature", s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let json = resp.json().await.unwrap_or(Value::Null);
    (status, json)
}

async fn invoice_status(db: &TestDb) -> String {
    rows(
        &db.url,
        "SELECT status FROM invoices WHERE external_id = 'in_A'",
    )
    .await[0][0]
        .clone()
        .unwrap()
}

both_backends!(
    a_signed_event_is_applied_once_even_if_delivered_twice,
    |db: TestDb| async move {
        let w = world(&db).await;
        let t = at(NOW).timestamp();
        let body = paid_event(&w, "evt_pay_1", t - 10);
        let sig = stripe::sign(&body, stripe::WEBHOOK_SECRET, t);
        let (status, reply) = post(&w, &body, Some(sig.clone())).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(invoice_status(&db).await, "paid");
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
            1
        );
        // Stripe retries: same event, same body, a new signature a little later.
        let sig = stripe::sign(&body, stripe::WEBHOOK_SECRET, t + 30);
        let (status, _) = post(&w, &body, Some(sig)).await;
        assert_eq!(status, 200);
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
            1
        );
        assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM payments").await, 0);
    }
);

both_backends!(
    bad_webhooks_are_refused_and_change_nothing,
    |db: TestDb| async move {
        let w = world(&db).await;
        let t = at(NOW).timestamp();
        let body = paid_event(&w, "evt_pay_2", t - 10);
        let mut altered = body.clone();
        let pos = altered.iter().position(|b| *b == b'1').unwrap();
        altered[pos] = b'2';
        let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
            (
                "wrong secret",
                body.clone(),
                Some(stripe::sign(&body, "whsec_not_the_right_one", t)),
            ),
            (
                "altered body",
                altered.clone(),
                Some(stripe::sign(&body, stripe::WEBHOOK_SECRET, t)),
            ),
            (
                "stale timestamp",
                body.clone(),
                Some(stripe::sign(&body, stripe::WEBHOOK_SECRET, t - 301)),
            ),
            (
                "future timestamp",
                body.clone(),
                Some(stripe::sign(&body, stripe::WEBHOOK_SECRET, t + 301)),
            ),
            ("missing header", body.clone(), None),
            ("garbage header", body.clone(), Some("nonsense".into())),
            (
                "v0 only",
                body.clone(),
                Some(stripe::sign(&body, stripe::WEBHOOK_SECRET, t).replace("v1=", "v0=")),
            ),
            (
                "malformed JSON, well signed",
                b"{\"id\": \"evt_x\", \"type\": ".to_vec(),
                Some(stripe::sign(
                    b"{\"id\": \"evt_x\", \"type\": ",
                    stripe::WEBHOOK_SECRET,
                    t,
                )),
            ),
            (
                "JSON that is not an event, well signed",
                b"[1,2,3]".to_vec(),
                Some(stripe::sign(b"[1,2,3]", stripe::WEBHOOK_SECRET, t)),
            ),
        ];
        for (case, body, sig) in cases {
            let (status, reply) = post(&w, &body, sig).await;
            assert!((400..500).contains(&status), "{case}: {status} {reply}");
            assert!(reply["error"].is_string(), "{case}: {reply}");
            assert!(!reply.to_string().contains("whsec_"), "{case}: {reply}");
        }
        let resp = w
            .http
            .post(w.app.url("/webhooks/nope"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);
        assert_eq!(invoice_status(&db).await, "open");
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
            0
        );
    }
);

both_backends!(
    a_payment_webhook_cancels_the_pending_reminder,
    |db: TestDb| async move {
        let w = world(&db).await;
        // Today (D+7) the friendly reminder is planned but not sent yet.
        let (report, planned) = w.app.app.plan_and_commit().await.unwrap();
        assert_eq!(planned, 1, "{report:?}");
        assert_eq!(report.actions[0].step, "friendly");
        let t = at(NOW).timestamp();
        let body = paid_event(&w, "evt_pay_3", t - 5);
        let (status, _) = post(
            &w,
            &body,
            Some(stripe::sign(&body, stripe::WEBHOOK_SECRET, t)),
        )
        .await;
        assert_eq!(status, 200);
        let r = rows(
            &db.url,
            "SELECT status, reason FROM reminders WHERE step = 'friendly'",
        )
        .await;
        assert_eq!(r[0][0].as_deref(), Some("cancelled"));
        assert!(r[0][1].as_deref().unwrap().contains("paid"), "{r:?}");
        // Nothing goes out, today or later, and no thank-you (it was never reminded).
        let cancel = tokio_util::sync::CancellationToken::new();
        for day in 0..20 {
            w.app.clock.set(at(NOW) + chrono::TimeDelta::days(day));
            w.app.app.work(&cancel).await.unwrap();
        }
        assert!(w.smtp.messages().is_empty());
    }
);

both_backends!(
    the_official_stripe_vector_is_accepted_over_http,
    |db: TestDb| async move {
        // The fixture's event (signed by the official stripe library) pays invoice B.
        let fake = FakeStripe::start().await;
        let smtp = SmtpSink::start().await;
        let vector = stripe::fixture("webhook-vector.json");
        let payload = std::fs::read(format!(
            "{}/tests/fixtures/stripe/webhook-vector.payload.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut setup = Setup::new(&db.url, &smtp.url());
        setup.stripe = Some(fake.uri());
        let path = write_config(db.dir.path(), &setup);
        let yaml = std::fs::read_to_string(&path).unwrap().replace(
            "${STRIPE_WEBHOOK_SECRET}",
            vector["endpoint_secret"].as_str().unwrap(),
        );
        std::fs::write(&path, yaml).unwrap();
        let t = vector["timestamp"].as_i64().unwrap();
        let app = spawn_app(&path, chrono::DateTime::from_timestamp(t + 60, 0).unwrap()).await;
        let resp = crate::common::http()
            .post(app.url("/webhooks/stripe-main"))
            .header(
                "Stripe-Signature",
                vector["rotation_case"]["header"].as_str().unwrap(),
            )
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let r = rows(&db.url, "SELECT number, status FROM invoices").await;
        assert_eq!(
            r,
            vec![vec![
                Some("4C7B2D9E-0006".to_string()),
                Some("paid".to_string())
            ]]
        );
    }
);

both_backends!(
    concurrent_deliveries_are_each_committed_once,
    |db: TestDb| async move {
        let w = world(&db).await;
        let t = at(NOW).timestamp();
        // Forty invoices paid at once, ten of them delivered twice, all in flight together.
        let mut bodies = Vec::new();
        for i in 0..40 {
            let mut inv = stripe::invoice(
                &format!("in_c{i}"),
                &format!("F-C{i}"),
                "cus_A",
                1000 + i,
                "eur",
                at("2027-01-15T22:59:59Z").timestamp(),
                at("2026-12-15T10:00:00Z").timestamp(),
            );
            stripe::pay(&mut inv, t - 10);
            let body = serde_json::to_vec(&stripe::event(
                &format!("evt_c{i}"),
                "invoice.paid",
                t - 10,
                inv,
            ))
            .unwrap();
            if i < 10 {
                bodies.push(body.clone());
            }
            bodies.push(body);
        }
        let posts = bodies
            .iter()
            .map(|b| post(&w, b, Some(stripe::sign(b, stripe::WEBHOOK_SECRET, t))));
        let replies = futures::future::join_all(posts).await;
        assert!(
            replies.iter().all(|(status, _)| *status == 200),
            "{replies:?}"
        );
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
            40
        );
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE status = 'paid' AND external_id LIKE 'in_c%'"
            )
            .await,
            40
        );
    }
);

async fn metrics(w: &World) -> String {
    let resp = w.http.get(w.app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    resp.text().await.unwrap()
}

both_backends!(metrics_follow_the_store, |db: TestDb| async move {
    let w = world(&db).await;
    let before = metrics(&w).await;
    for line in [
        "relance_database_up 1",
        "relance_invoices{status=\"open\"} 1",
        "relance_connector_failing{connector=\"stripe-main\"} 0",
        "# TYPE relance_connector_requests_total counter",
    ] {
        assert!(before.contains(line), "`{line}` missing:\n{before}");
    }
    assert!(
        before.contains(
            "relance_connector_last_success_timestamp_seconds{connector=\"stripe-main\"} "
        ),
        "{before}"
    );
    let requests: u64 = before
        .lines()
        .find_map(|l| {
            l.strip_prefix("relance_connector_requests_total{connector=\"stripe-main\"} ")
        })
        .unwrap()
        .parse()
        .unwrap();
    assert!(requests >= 2, "customers and invoices listed: {before}");
    // A payment arrives: the invoice counts as paid.
    let t = at(NOW).timestamp();
    let body = paid_event(&w, "evt_pay_m", t - 10);
    let (status, _) = post(
        &w,
        &body,
        Some(stripe::sign(&body, stripe::WEBHOOK_SECRET, t)),
    )
    .await;
    assert_eq!(status, 200);
    let after = metrics(&w).await;
    assert!(
        after.contains("relance_invoices{status=\"paid\"} 1"),
        "{after}"
    );
    assert!(
        !after.contains("relance_invoices{status=\"open\"}"),
        "{after}"
    );
});
