//! Crash safety: the process killed (abort, as `kill -9`) between claim and send, and between
//! send and mark, then restarted: nothing lost, nothing sent twice except the one ambiguous
//! in-flight message, which carries the same Message-ID.

use serde_json::json;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::smtp::SmtpSink;
use crate::common::stripe::{self, FakeStripe};
use crate::common::{Setup, at, relance, rows, run, stderr, stdout, write_config};

const DAY: &str = "2027-01-22T09:00:00+01:00";
const SOON: &str = "2027-01-22T09:01:00+01:00";
const LEASE_EXPIRED: &str = "2027-01-22T09:06:00+01:00";

async fn world(db: &TestDb) -> (FakeStripe, SmtpSink, String) {
    let fake = FakeStripe::start().await;
    fake.add_customer(stripe::customer(
        "cus_a",
        "Brasserie du Port",
        "a@brasserie.example",
        "fr-FR",
    ));
    let mut inv = stripe::invoice(
        "in_a",
        "F-1",
        "cus_a",
        124800,
        "eur",
        at("2027-01-15T22:59:59Z").timestamp(),
        at("2026-12-15T10:00:00Z").timestamp(),
    );
    inv["customer_email"] = json!("a@brasserie.example");
    fake.add_invoice(inv);
    let smtp = SmtpSink::start().await;
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.stripe = Some(fake.uri());
    let config = write_config(db.dir.path(), &setup);
    (fake, smtp, config.to_str().unwrap().to_string())
}

async fn once(config: &str, now: &str, failpoint: Option<&str>) -> std::process::Output {
    let mut cmd = relance(&["--config", config, "--now", now, "run", "--once"]);
    if let Some(f) = failpoint {
        cmd.env("RELANCE_FAILPOINT", f);
    }
    run(cmd).await
}

async fn friendly(db: &TestDb) -> Vec<Option<String>> {
    rows(
        &db.url,
        "SELECT status, CAST(attempts AS TEXT), last_error FROM reminders WHERE step = 'friendly'",
    )
    .await
    .remove(0)
}

both_backends!(killed_between_claim_and_send, |db: TestDb| async move {
    let (_fake, smtp, config) = world(&db).await;
    let out = once(&config, DAY, Some("dispatch.after_claim")).await;
    assert!(
        !out.status.success(),
        "the failpoint aborts: {}",
        stderr(&out)
    );
    assert!(smtp.messages().is_empty());
    assert_eq!(friendly(&db).await[0].as_deref(), Some("sending"));
    // Restarted while the dead worker's lease still runs: the row is not taken over.
    let out = once(&config, SOON, None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(smtp.messages().is_empty());
    // Once the lease has expired it is sent, exactly once.
    let out = once(&config, LEASE_EXPIRED, None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(smtp.messages().len(), 1);
    let r = friendly(&db).await;
    assert_eq!(r[0].as_deref(), Some("sent"));
    assert_eq!(r[1].as_deref(), Some("2"));
    assert!(r[2].as_deref().unwrap().contains("interrupted"), "{r:?}");
    let out = once(&config, "2027-01-23T09:00:00+01:00", None).await;
    assert!(out.status.success());
    assert_eq!(smtp.messages().len(), 1, "{}", stdout(&out));
});

both_backends!(killed_between_send_and_mark, |db: TestDb| async move {
    let (_fake, smtp, config) = world(&db).await;
    let out = once(&config, DAY, Some("dispatch.after_send")).await;
    assert!(!out.status.success());
    // The message left before the crash; the database does not know yet.
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(friendly(&db).await[0].as_deref(), Some("sending"));
    let out = once(&config, LEASE_EXPIRED, None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // The one ambiguous message went twice, recognisably the same message.
    let m = smtp.messages();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].message_id(), m[1].message_id());
    assert_eq!(friendly(&db).await[0].as_deref(), Some("sent"));
    for day in ["2027-01-23", "2027-01-24"] {
        let out = once(&config, &format!("{day}T09:00:00+01:00"), None).await;
        assert!(out.status.success());
    }
    assert_eq!(smtp.messages().len(), 2);
});

both_backends!(
    a_payment_during_the_outage_stops_the_resend,
    |db: TestDb| async move {
        let (fake, smtp, config) = world(&db).await;
        let out = once(&config, DAY, Some("dispatch.after_claim")).await;
        assert!(!out.status.success());
        fake.update_invoice("in_a", |v| {
            stripe::pay(v, at("2027-01-22T08:03:00Z").timestamp())
        });
        let out = once(&config, LEASE_EXPIRED, None).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(smtp.messages().is_empty());
        assert_eq!(friendly(&db).await[0].as_deref(), Some("cancelled"));
    }
);
