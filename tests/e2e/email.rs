//! Reminders received by a real SMTP server: recipients, subject, amounts, payment link,
//! Message-ID, AUTH; the write-back Stripe receives; bounces and transient failures.

use serde_json::json;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::smtp::SmtpSink;
use crate::common::stripe::{self, FakeStripe};
use crate::common::{SMTP_PASSWORD, Setup, TestApp, at, rows, scalar, spawn_app, write_config};

const NOW: &str = "2027-01-22T09:00:00Z";

async fn world(db: &TestDb, extra: &str) -> (FakeStripe, SmtpSink, TestApp) {
    let fake = FakeStripe::start().await;
    fake.add_customer(stripe::customer(
        "cus_fr",
        "Brasserie du Port",
        "compta@brasserie.example",
        "fr-FR",
    ));
    fake.add_customer(stripe::customer(
        "cus_en",
        "Kobayashi Shoten",
        "accounts@kobayashi.example",
        "en-GB",
    ));
    let created = at("2026-12-15T10:00:00Z").timestamp();
    let due = at("2027-01-15T22:59:59Z").timestamp();
    let mut fr = stripe::invoice("in_fr", "F-2027-001", "cus_fr", 123456, "eur", due, created);
    fr["customer_email"] = json!("compta@brasserie.example");
    let mut en = stripe::invoice("in_en", "F-2027-002", "cus_en", 185000, "jpy", due, created);
    en["customer_email"] = json!("accounts@kobayashi.example");
    fake.add_invoice(fr);
    fake.add_invoice(en);
    let smtp = SmtpSink::start().await;
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.stripe = Some(fake.uri());
    setup.extra = extra.to_string();
    let path = write_config(db.dir.path(), &setup);
    let app = spawn_app(&path, at(NOW)).await;
    (fake, smtp, app)
}

both_backends!(
    reminders_arrive_over_smtp_in_each_customers_language,
    |db: TestDb| async move {
        let (fake, smtp, app) = world(&db, "").await;
        let cancel = tokio_util::sync::CancellationToken::new();
        let report = app.app.cycle(&cancel).await.unwrap();
        assert_eq!(report.dispatch.sent, 2, "{report:?}");
        let messages = smtp.messages();
        assert_eq!(messages.len(), 2);
        let to = |who: &str| {
            messages
                .iter()
                .find(|m| m.to.iter().any(|t| t.contains(who)))
                .unwrap_or_else(|| panic!("no message to {who}"))
        };

        let fr = to("brasserie");
        assert_eq!(fr.to, vec!["compta@brasserie.example"]);
        assert_eq!(fr.from, "compta@atelier-dupont.fr");
        assert_eq!(fr.subject(), "Facture F-2027-001 en attente de règlement");
        let text = fr.text();
        assert!(text.contains("1 234,56 €"), "{text}");
        assert!(text.contains("15 janvier 2027"), "{text}");
        assert!(
            text.contains("https://invoice.stripe.com/i/acct_1PzRln8DemoAtelr/test_in_fr?s=ap"),
            "{text}"
        );
        assert!(
            fr.html()
                .contains("https://invoice.stripe.com/i/acct_1PzRln8DemoAtelr/test_in_fr?s=ap")
        );
        assert!(
            fr.message_id().ends_with("@atelier-dupont.fr"),
            "{}",
            fr.message_id()
        );
        // AUTH with the user and password of the smtp:// URL.
        assert_eq!(
            fr.auth,
            Some((
                "compta@atelier-dupont.fr".to_string(),
                SMTP_PASSWORD.to_string()
            ))
        );

        let en = to("kobayashi");
        assert_eq!(en.to, vec!["accounts@kobayashi.example"]);
        assert_eq!(en.subject(), "Invoice F-2027-002 is awaiting payment");
        assert!(en.text().contains("¥185,000"), "{}", en.text());
        assert!(en.text().contains("January 15, 2027"));

        // One connection served both messages.
        assert_eq!(smtp.connections(), 1);

        // Each delivery was written back to Stripe's metadata, with an idempotency key.
        let wb = fake.writebacks();
        assert_eq!(wb.len(), 2);
        for w in &wb {
            assert_eq!(w.form["metadata[relance_last_step]"], "friendly");
            assert_eq!(w.form["metadata[relance_reminders]"], "1");
            assert_eq!(
                w.form["metadata[relance_last_sent_at]"],
                "2027-01-22T09:00:00Z"
            );
            assert!(
                w.idempotency_key
                    .as_deref()
                    .unwrap()
                    .starts_with("relance-wb-")
            );
        }
        // The audit trail: today's step sent, the courtesy (whose day passed before the first
        // sync) recorded as skipped with its reason.
        let audit = rows(
            &db.url,
            "SELECT step, status, reason FROM reminders ORDER BY id",
        )
        .await;
        assert_eq!(audit.len(), 4, "{audit:?}");
        for r in &audit {
            match r[0].as_deref() {
                Some("friendly") => assert_eq!(r[1].as_deref(), Some("sent")),
                Some("courtesy") => {
                    assert_eq!(r[1].as_deref(), Some("skipped"));
                    assert!(r[2].as_deref().unwrap().starts_with("missed"), "{r:?}");
                }
                other => panic!("unexpected step {other:?}"),
            }
        }
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM writebacks WHERE status = 'done'"
            )
            .await,
            2
        );

        // The same day again: nothing new.
        let report = app.app.cycle(&cancel).await.unwrap();
        assert_eq!(report.dispatch.sent, 0);
        assert_eq!(smtp.messages().len(), 2);
    }
);

both_backends!(
    a_bounce_is_recorded_and_never_retried,
    |db: TestDb| async move {
        let (_fake, smtp, app) = world(&db, "").await;
        smtp.bounce("kobayashi");
        let cancel = tokio_util::sync::CancellationToken::new();
        let report = app.app.cycle(&cancel).await.unwrap();
        assert_eq!((report.dispatch.sent, report.dispatch.failed), (1, 1));
        let failed = rows(
            &db.url,
            "SELECT status, last_error FROM reminders WHERE status = 'failed'",
        )
        .await;
        assert_eq!(failed.len(), 1);
        assert!(
            failed[0][1].as_deref().unwrap().contains("550"),
            "{failed:?}"
        );
        app.clock.advance(chrono::TimeDelta::hours(6));
        let report = app.app.cycle(&cancel).await.unwrap();
        assert_eq!(report.dispatch.sent + report.dispatch.failed, 0);
        assert_eq!(smtp.messages().len(), 1);
    }
);

both_backends!(
    a_transient_failure_is_retried_later_with_the_same_message_id,
    |db: TestDb| async move {
        let (_fake, smtp, app) = world(&db, "").await;
        smtp.tempfail("kobayashi", 1);
        let cancel = tokio_util::sync::CancellationToken::new();
        let report = app.app.cycle(&cancel).await.unwrap();
        assert_eq!((report.dispatch.sent, report.dispatch.retried), (1, 1));
        // Not before its backoff.
        app.clock.advance(chrono::TimeDelta::seconds(30));
        assert_eq!(app.app.cycle(&cancel).await.unwrap().dispatch.sent, 0);
        app.clock.advance(chrono::TimeDelta::minutes(2));
        assert_eq!(app.app.cycle(&cancel).await.unwrap().dispatch.sent, 1);
        let r = rows(&db.url, "SELECT status, CAST(attempts AS TEXT) FROM reminders WHERE recipients LIKE '%kobayashi%'").await;
        assert_eq!(r[0], vec![Some("sent".to_string()), Some("2".to_string())]);
        assert_eq!(smtp.messages().len(), 2);
    }
);

both_backends!(
    test_mode_sends_everything_to_the_test_address,
    |db: TestDb| async move {
        let fake = FakeStripe::start().await;
        fake.add_customer(stripe::customer(
            "cus_fr",
            "Brasserie du Port",
            "compta@brasserie.example",
            "fr-FR",
        ));
        let created = at("2026-12-15T10:00:00Z").timestamp();
        let mut inv = stripe::invoice(
            "in_fr",
            "F-1",
            "cus_fr",
            5000,
            "eur",
            at("2027-01-15T22:59:59Z").timestamp(),
            created,
        );
        inv["customer_email"] = json!("compta@brasserie.example");
        fake.add_invoice(inv);
        let smtp = SmtpSink::start().await;
        let mut setup = Setup::new(&db.url, &smtp.url());
        setup.stripe = Some(fake.uri());
        setup.test_recipient = Some("test@atelier-dupont.fr".into());
        let path = write_config(db.dir.path(), &setup);
        let app = spawn_app(&path, at(NOW)).await;
        let cancel = tokio_util::sync::CancellationToken::new();
        app.app.cycle(&cancel).await.unwrap();
        let m = smtp.messages();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].to, vec!["test@atelier-dupont.fr"]);
        assert!(
            m[0].subject()
                .starts_with("[TEST → compta@brasserie.example]"),
            "{}",
            m[0].subject()
        );
    }
);

both_backends!(
    a_reminder_is_not_sent_when_stripe_says_paid_before_sending,
    |db: TestDb| async move {
        let (fake, smtp, app) = world(&db, "").await;
        app.app.sync_all(None, false, &mut |_, _, _, _| {}).await;
        // Paid on Stripe, but no webhook or event reached us yet: the fresh read before
        // sending sees it.
        fake.update_invoice("in_fr", |v| stripe::pay(v, at(NOW).timestamp() - 60));
        let cancel = tokio_util::sync::CancellationToken::new();
        let report = app.app.work(&cancel).await.unwrap();
        assert_eq!((report.2.sent, report.2.cancelled), (1, 1), "{report:?}");
        let m = smtp.messages();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].to, vec!["accounts@kobayashi.example"]);
    }
);
