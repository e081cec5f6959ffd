//! QuickBooks Online against a fake QuickBooks that answers as Intuit documents: connecting
//! through the daemon's callback and by a pasted redirect, full and incremental sync, tokens
//! refreshed mid-sync and rotated, `invalid_grant`, throttling, stale `SyncToken`s on
//! write-back, webhooks in both formats, and one invoice from sync to reminder to payment.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use relance::connect;
use relance::store::{DbCredentials, SecretKey};
use relance_core::auth::{CredentialStore, TokenSet};
use relance_core::{Activity, Clock, Connector, ConnectorError, ManualClock, WriteBack};
use relance_quickbooks::{QuickBooksConfig, QuickBooksConnector};
use serde_json::json;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::qbo::{self, CODE, FakeQbo, REALM};
use crate::common::smtp::SmtpSink;
use crate::common::{
    Setup, TestApp, at, http, relance, rows, run, scalar, spawn_app, stdout, write_config,
};

const NOW: &str = "2026-11-24T17:00:00Z";

/// `n` open invoices of three customers (one with a quote in its name), changed one second
/// apart, due 2026-11-17; invoice 9001 is in EUR.
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
                "compta@okeefe.example",
                "2026-10-01T08:00:01-07:00",
            ),
            qbo::customer(
                "58",
                "Brasserie du Port",
                "compta@brasserieduport.example",
                "2026-10-01T08:00:02-07:00",
            ),
        ];
        let base = at("2026-11-01T10:00:00Z");
        for i in 0..n {
            let customer = ["23", "24", "58"][i % 3];
            let t = (base + TimeDelta::seconds(i as i64)).to_rfc3339();
            s.invoices.push(qbo::invoice(
                &(1000 + i).to_string(),
                &format!("F-{i:05}"),
                customer,
                "1850.0",
                "2026-11-17",
                &t,
            ));
        }
        let mut eur = qbo::invoice(
            "9001",
            "F-EUR",
            "58",
            "2400.0",
            "2026-11-17",
            "2026-11-02T11:03:47-08:00",
        );
        eur["CurrencyRef"] = json!({"value": "EUR", "name": "Euro"});
        eur["ExchangeRate"] = json!(1.0845);
        eur["Balance"] = json!(1800.0);
        s.invoices.push(eur);
    });
}

async fn world(db: &TestDb, fake: &FakeQbo, smtp: &SmtpSink, csv: bool) -> TestApp {
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.qbo = Some(fake.connector_yaml());
    if csv {
        let path = db.dir.path().join("invoices.csv");
        std::fs::write(
            &path,
            "number,customer,email,total,balance,currency,issued_on,due_on,status\n\
             L-1,Atelier Legacy,legacy@example.com,100.00,100.00,EUR,2026-10-01,2026-11-17,open\n",
        )
        .unwrap();
        setup.csv = Some(path);
    }
    let path = write_config(db.dir.path(), &setup);
    spawn_app(&path, at(NOW)).await
}

/// Connects through the daemon's callback, as a browser coming back from Intuit would.
async fn connect_by_callback(app: &TestApp) {
    let c = app.app.connectors.get("qbo").unwrap().clone();
    let url = connect::start(&app.app.store, c.as_ref(), app.clock.now())
        .await
        .unwrap();
    let params = connect::params_of(&url);
    assert_eq!(params["scope"], "com.intuit.quickbooks.accounting");
    assert_eq!(params["client_id"], qbo::CLIENT_ID);
    assert_eq!(
        params["redirect_uri"],
        "https://relance.example.com/oauth/qbo/callback"
    );
    assert_eq!(params["response_type"], "code");
    let callback = app.url(&format!(
        "/oauth/qbo/callback?code={CODE}&state={}&realmId={REALM}",
        params["state"]
    ));
    let r = http().get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(REALM));
    // The same redirect again (a browser reload) exchanges nothing twice.
    let r = http().get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("already"));
    // A forged state is refused.
    let r = http()
        .get(app.url(&format!(
            "/oauth/qbo/callback?code={CODE}&state=forged&realmId={REALM}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

async fn sync(app: &TestApp) -> Result<relance::sync::SyncReport, relance::sync::SyncError> {
    let mut results = app
        .app
        .sync_all(Some("qbo"), false, &mut |_, _, _, _| {})
        .await;
    results.remove(0).1
}

both_backends!(full_then_incremental_sync, |db: TestDb| async move {
    let fake = FakeQbo::start().await;
    book(&fake, 1203);
    let smtp = SmtpSink::start().await;
    let app = world(&db, &fake, &smtp, false).await;
    connect_by_callback(&app).await;
    assert_eq!(fake.with(|s| s.refreshes), 1, "one code exchange");

    let report = sync(&app).await.unwrap();
    assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM invoices").await, 1204);
    assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM customers").await, 3);
    let queries = fake.with(|s| s.queries.clone());
    // Customers, invoices in two pages of at most 1000, payments: nothing more.
    assert_eq!(queries.len(), 4, "{queries:#?}");
    assert!(queries[0].starts_with("SELECT * FROM Customer WHERE Active IN (true, false) ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000"));
    assert!(queries[1].ends_with("STARTPOSITION 1 MAXRESULTS 1000"));
    assert!(queries[2].ends_with("STARTPOSITION 1001 MAXRESULTS 1000"));
    assert!(
        report.requests >= 5,
        "4 queries and the preferences: {report:?}"
    );
    assert_eq!(
        fake.with(|s| s.bad_minor_version),
        0,
        "minorversion=75 on every call"
    );
    let eur = rows(
        &db.url,
        "SELECT currency, CAST(total_minor AS TEXT), CAST(balance_minor AS TEXT), status FROM invoices WHERE external_id = '9001'",
    )
    .await;
    assert_eq!(
        eur[0],
        vec![
            Some("EUR".into()),
            Some("240000".into()),
            Some("180000".into()),
            Some("open".into())
        ]
    );
    let name = rows(
        &db.url,
        "SELECT name FROM customers WHERE external_id = '24'",
    )
    .await;
    assert_eq!(name[0][0].as_deref(), Some("O'Keefe & Fils"));

    // Later: one invoice paid, one deleted, one new; the next sync asks only for changes.
    app.clock.advance(TimeDelta::hours(2));
    fake.with(|s| {
        s.queries.clear();
        let paid = s.invoices.iter_mut().find(|v| v["Id"] == "1005").unwrap();
        paid["Balance"] = json!(0);
        paid["MetaData"]["LastUpdatedTime"] = json!("2026-11-24T10:00:00-08:00");
        s.invoices.retain(|v| v["Id"] != "1006");
        s.deleted
            .push(("1006".into(), "2026-11-24T10:01:00-08:00".into()));
        s.invoices.push(qbo::invoice(
            "5000",
            "F-NEW",
            "23",
            "99.5",
            "2026-12-20",
            "2026-11-24T10:02:00-08:00",
        ));
    });
    let report = sync(&app).await.unwrap();
    let queries = fake.with(|s| s.queries.clone());
    assert!(
        queries
            .iter()
            .all(|q| q.contains("MetaData.LastUpdatedTime >= '2026-11-")),
        "{queries:#?}"
    );
    assert_eq!(
        report.stats.invoices, 3,
        "the paid, the new and the deleted only: {report:?}"
    );
    let status = rows(
        &db.url,
        "SELECT external_id, status FROM invoices WHERE external_id IN ('1005', '1006', '5000') ORDER BY external_id",
    )
    .await;
    assert_eq!(status[0][1].as_deref(), Some("paid"));
    assert_eq!(
        status[1][1].as_deref(),
        Some("void"),
        "deleted in QuickBooks"
    );
    assert_eq!(status[2][1].as_deref(), Some("open"));
});

both_backends!(
    token_expiring_mid_sync_is_refreshed_and_rotation_kept,
    |db: TestDb| async move {
        let fake = FakeQbo::start().await;
        book(&fake, 2500);
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, false).await;
        connect_by_callback(&app).await;
        // The token dies between the first and the second page of invoices.
        fake.with(|s| s.revoke_access_at = Some(4));
        let report = sync(&app).await.unwrap();
        assert_eq!(report.stats.invoices, 2501);
        assert_eq!(fake.with(|s| s.refreshes), 2, "one refresh, after the 401");
        let key = SecretKey::parse(qbo::SECRET_KEY).unwrap();
        let creds = DbCredentials::new(app.app.store.clone(), Ok(Some(key)));
        let stored =
            TokenSet::from_secret(&creds.load("qbo").await.unwrap().unwrap().secret).unwrap();
        assert_eq!(
            stored.refresh_token.as_deref(),
            Some("refresh-2"),
            "the rotated token is kept"
        );
        assert_eq!(stored.account.as_deref(), Some(REALM));
        // Stored encrypted: no token in clear in the database.
        let raw = rows(&db.url, "SELECT secret FROM credentials").await;
        let raw = raw[0][0].clone().unwrap();
        assert!(
            !raw.contains("refresh-") && !raw.contains("access-"),
            "{raw}"
        );
        // Two hours later the access token has expired: refreshed ahead, with the rotated token
        // (the fake refuses any other).
        app.clock.advance(TimeDelta::hours(2));
        sync(&app).await.unwrap();
        assert_eq!(fake.with(|s| s.refreshes), 3);
    }
);

both_backends!(
    two_replicas_refresh_once_and_keep_the_newest_token,
    |db: TestDb| async move {
        let fake = FakeQbo::start().await;
        book(&fake, 3);
        let store = db.store().await;
        store.migrate().await.unwrap();
        let key = SecretKey::parse(qbo::SECRET_KEY).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(at(NOW)));
        // Two processes sharing the database: each its own connector and token manager.
        let replica = || {
            let creds: Arc<dyn CredentialStore> =
                Arc::new(DbCredentials::new(store.clone(), Ok(Some(key.clone()))));
            direct(&fake, creds, clock.clone())
        };
        let (a, b) = (replica(), replica());
        let mut params = std::collections::HashMap::new();
        params.insert("code".to_string(), CODE.to_string());
        params.insert("realmId".to_string(), REALM.to_string());
        a.oauth().unwrap().complete(&params, None).await.unwrap();
        fake.with(|s| s.access.clear());
        let refs = [relance_core::ObjectRef::invoice("1000")];
        let (ra, rb) = tokio::join!(a.fetch(&refs), b.fetch(&refs));
        assert!(ra.is_ok() && rb.is_ok(), "{ra:?} {rb:?}");
        assert_eq!(
            fake.with(|s| s.refreshes),
            2,
            "the code exchange, then one refresh for both"
        );
        let stored = DbCredentials::new(store.clone(), Ok(Some(key)))
            .load("qbo")
            .await
            .unwrap()
            .unwrap();
        let stored = TokenSet::from_secret(&stored.secret).unwrap();
        assert_eq!(stored.refresh_token.as_deref(), Some("refresh-2"));
    }
);

both_backends!(
    invalid_grant_needs_reconnect_and_others_go_on,
    |db: TestDb| async move {
        let fake = FakeQbo::start().await;
        book(&fake, 3);
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, true).await;
        connect_by_callback(&app).await;
        fake.with(|s| {
            s.revoked = true;
            s.access.clear();
        });
        let results = app.app.sync_all(None, false, &mut |_, _, _, _| {}).await;
        let qbo = results.iter().find(|(id, _)| id == "qbo").unwrap();
        let legacy = results.iter().find(|(id, _)| id == "legacy").unwrap();
        assert!(
            matches!(&qbo.1, Err(relance::sync::SyncError::Connector(ConnectorError::Auth(m))) if m.contains("relance connect qbo")),
            "{:?}",
            qbo.1
        );
        assert!(legacy.1.is_ok(), "{:?}", legacy.1);
        assert_eq!(
            fake.with(|s| s.refreshes),
            1,
            "no retry with a refused token"
        );
        // `relance check` says so, and prints no secret.
        let out = run({
            let mut c = relance(&[
                "--config",
                db.dir.path().join("relance.yaml").to_str().unwrap(),
                "check",
            ]);
            c.env("RELANCE_SECRET_KEY", qbo::SECRET_KEY);
            c
        })
        .await;
        let text = stdout(&out);
        assert!(text.contains("NEEDS RECONNECT (invalid_grant"), "{text}");
        assert!(
            !text.contains(qbo::CLIENT_SECRET) && !text.contains("refresh-1"),
            "{text}"
        );
        // A fresh connection brings it back.
        fake.with(|s| s.revoked = false);
        connect_by_callback(&app).await;
        assert!(sync(&app).await.is_ok());
    }
);

both_backends!(
    pasted_redirect_connects_without_a_daemon,
    |db: TestDb| async move {
        let fake = FakeQbo::start().await;
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, false).await;
        let c = app.app.connectors.get("qbo").unwrap().clone();
        let url = connect::start(&app.app.store, c.as_ref(), app.clock.now())
            .await
            .unwrap();
        let state = connect::params_of(&url)["state"].clone();
        let pasted = format!(
            "https://relance.example.com/oauth/qbo/callback?code={CODE}&state={state}&realmId={REALM}"
        );
        let config = db.dir.path().join("relance.yaml");
        // A day later the link has expired.
        let out = run({
            let mut c = relance(&[
                "--config",
                config.to_str().unwrap(),
                "--now",
                "2026-11-25T17:00:00Z",
                "connect",
                "qbo",
                "--redirected-to",
                &pasted,
            ]);
            c.env("RELANCE_SECRET_KEY", qbo::SECRET_KEY);
            c
        })
        .await;
        assert!(!out.status.success());
        assert!(
            crate::common::stderr(&out).contains("expired"),
            "{}",
            crate::common::stderr(&out)
        );
        let url = connect::start(&app.app.store, c.as_ref(), app.clock.now())
            .await
            .unwrap();
        let state = connect::params_of(&url)["state"].clone();
        let pasted = format!(
            "https://relance.example.com/oauth/qbo/callback?code={CODE}&state={state}&realmId={REALM}"
        );
        let out = run({
            let mut c = relance(&[
                "--config",
                config.to_str().unwrap(),
                "--now",
                "2026-11-24T17:05:00Z",
                "connect",
                "qbo",
                "--redirected-to",
                &pasted,
            ]);
            c.env("RELANCE_SECRET_KEY", qbo::SECRET_KEY);
            c
        })
        .await;
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
        assert!(stdout(&out).contains(&format!("Connected `qbo` to company {REALM}")));
        let out = run({
            let mut c = relance(&["--config", config.to_str().unwrap(), "check"]);
            c.env("RELANCE_SECRET_KEY", qbo::SECRET_KEY);
            c
        })
        .await;
        assert!(
            stdout(&out).contains(&format!("connected to company {REALM}")),
            "{}",
            stdout(&out)
        );
    }
);

fn direct(
    fake: &FakeQbo,
    store: Arc<dyn CredentialStore>,
    clock: Arc<dyn Clock>,
) -> QuickBooksConnector {
    let config: QuickBooksConfig = serde_yaml_ng::from_str(&format!(
        "client_id: {}\nclient_secret: {}\nredirect_url: https://relance.example.com/oauth/qbo/callback\n\
         webhook_verifier_token: {}\napi_base: {uri}\noauth_base: {uri}\nrealm_id: \"{REALM}\"\n",
        qbo::CLIENT_ID,
        qbo::CLIENT_SECRET,
        qbo::VERIFIER,
        uri = fake.uri()
    ))
    .unwrap();
    QuickBooksConnector::new("qbo", config, store, chrono_tz::Europe::Paris, clock, |h| {
        h.min_delay = Duration::from_millis(5);
        h.max_delay = Duration::from_millis(20);
        h.rules.throttle_wait = Some(Duration::from_millis(30));
        h.requests_per_second = std::num::NonZeroU32::new(1000).unwrap();
        h.extra_quotas.clear();
    })
    .unwrap()
}

async fn connected_direct(fake: &FakeQbo) -> QuickBooksConnector {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(at(NOW)));
    let store: Arc<dyn CredentialStore> =
        Arc::new(relance_core::auth::MemoryCredentials::default());
    let c = direct(fake, store, clock);
    let oauth = c.oauth().unwrap();
    let mut params = std::collections::HashMap::new();
    params.insert("code".to_string(), CODE.to_string());
    params.insert("realmId".to_string(), REALM.to_string());
    assert_eq!(oauth.complete(&params, None).await.unwrap(), REALM);
    c
}

#[tokio::test]
async fn a_burst_of_429s_is_waited_out() {
    let fake = FakeQbo::start().await;
    book(&fake, 5);
    let c = connected_direct(&fake).await;
    fake.with(|s| s.throttle = 3);
    let pull = c
        .pull(relance_core::PullRequest {
            cursor: None,
            full: false,
            now: at(NOW),
        })
        .await
        .unwrap();
    assert_eq!(fake.with(|s| s.throttled), 3);
    assert_eq!(
        pull.events[0].changes.len(),
        3,
        "the three customers, after the throttling"
    );
}

#[tokio::test]
async fn stale_sync_token_on_write_back_is_read_again() {
    let fake = FakeQbo::start().await;
    book(&fake, 3);
    fake.with(|s| {
        let v = s.invoices.iter_mut().find(|v| v["Id"] == "1001").unwrap();
        v["PrivateNote"] = json!("PO 7781");
        s.stale = 1;
    });
    let c = connected_direct(&fake).await;
    let wb = WriteBack {
        invoice_external_id: "1001".into(),
        idempotency_key: "wb:42".into(),
        activity: Activity {
            step: "friendly".into(),
            channel: "email".into(),
            sent_at: at(NOW),
            reminders_sent: 1,
            amount: None,
            summary: "reminder 1".into(),
        },
    };
    c.write_back(&wb).await.unwrap();
    // Done again (an outbox retry): the line is there already, nothing is written.
    c.write_back(&wb).await.unwrap();
    let (updates, ids, note) = fake.with(|s| {
        let v = s.invoices.iter().find(|v| v["Id"] == "1001").unwrap();
        (
            s.updates.clone(),
            s.request_ids.clone(),
            v["PrivateNote"].clone(),
        )
    });
    assert_eq!(
        updates.len(),
        2,
        "the stale attempt, then the one with the fresh token"
    );
    assert_ne!(ids[0], ids[1], "a new requestid for the new body");
    assert!(ids.iter().all(|i| i.len() <= 50));
    assert_eq!(updates[1]["sparse"], json!(true));
    assert_eq!(
        note,
        json!("PO 7781\n[Relance] 2026-11-24 friendly: reminder 1 sent by email")
    );
    // A deleted invoice: nothing to write, no error.
    let gone = WriteBack {
        invoice_external_id: "424242".into(),
        ..wb
    };
    c.write_back(&gone).await.unwrap();
}

both_backends!(
    webhooks_signed_deduplicated_and_fetched,
    |db: TestDb| async move {
        let fake = FakeQbo::start().await;
        book(&fake, 3);
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, false).await;
        connect_by_callback(&app).await;
        sync(&app).await.unwrap();
        // Invoice 1001 is deleted in QuickBooks before its notification is processed; 1002 is paid.
        fake.with(|s| {
            s.invoices.retain(|v| v["Id"] != "1001");
            let v = s.invoices.iter_mut().find(|v| v["Id"] == "1002").unwrap();
            v["Balance"] = json!(0);
            v["MetaData"]["LastUpdatedTime"] = json!("2026-11-24T09:00:00-08:00");
        });
        let body = format!(
            r#"[{{"specversion":"1.0","id":"ev-1","source":"intuit.x","type":"qbo.invoice.updated.v1","datacontenttype":"application/json","time":"2026-11-24T17:00:00Z","intuitentityid":"1001","intuitaccountid":"{REALM}","data":{{}}}},{{"specversion":"1.0","id":"ev-2","source":"intuit.x","type":"qbo.invoice.updated.v1","datacontenttype":"application/json","time":"2026-11-24T17:00:01Z","intuitentityid":"1002","intuitaccountid":"{REALM}","data":{{}}}}]"#
        );
        let post = |body: String, sig: Option<String>| {
            let mut r = http()
                .post(app.url("/webhooks/qbo"))
                .header("content-type", "application/cloudevents+json")
                .body(body);
            if let Some(sig) = sig {
                r = r.header("intuit-signature", sig);
            }
            r.send()
        };
        // Refused before anything is parsed or stored.
        assert_eq!(post(body.clone(), None).await.unwrap().status(), 403);
        assert_eq!(
            post(body.clone(), Some(qbo::sign(b"other")))
                .await
                .unwrap()
                .status(),
            403
        );
        assert_eq!(
            post(format!("{body} "), Some(qbo::sign(body.as_bytes())))
                .await
                .unwrap()
                .status(),
            403
        );
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
            0
        );
        // Accepted twice, stored once.
        for _ in 0..2 {
            let r = post(body.clone(), Some(qbo::sign(body.as_bytes())))
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
            2
        );
        // The classic format too.
        let legacy = format!(
            r#"{{"eventNotifications":[{{"realmId":"{REALM}","dataChangeEvent":{{"entities":[{{"name":"Invoice","id":"1000","operation":"Update","lastUpdated":"2026-11-24T16:59:00.000Z"}}]}}}}]}}"#
        );
        let r = post(legacy.clone(), Some(qbo::sign(legacy.as_bytes())))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
            3
        );
        // A signed body we cannot read is acknowledged (Intuit would hold back the rest) and logged.
        let junk = b"{\"nothing\":true}".to_vec();
        let r = post(
            String::from_utf8(junk.clone()).unwrap(),
            Some(qbo::sign(&junk)),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);

        // The worker fetches what the notifications name, in one query.
        fake.with(|s| s.queries.clear());
        let cancel = tokio_util::sync::CancellationToken::new();
        app.app.work(&cancel).await.unwrap();
        let queries = fake.with(|s| s.queries.clone());
        assert_eq!(queries.len(), 1, "{queries:#?}");
        assert!(
            queries[0].contains("Id IN ('1001', '1002', '1000')"),
            "{queries:?}"
        );
        let status = rows(
        &db.url,
        "SELECT external_id, status FROM invoices WHERE external_id IN ('1001', '1002') ORDER BY external_id",
    )
    .await;
        assert_eq!(status[0][1].as_deref(), Some("void"), "deleted meanwhile");
        assert_eq!(status[1][1].as_deref(), Some("paid"));
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM webhook_events WHERE processed_at IS NULL"
            )
            .await,
            0
        );
    }
);

both_backends!(
    reminder_note_then_payment_stops_the_chase,
    |db: TestDb| async move {
        let fake = FakeQbo::start().await;
        fake.with(|s| {
            s.customers = vec![qbo::customer(
                "23",
                "Cool Cars",
                "ap@client23.example",
                "2026-10-01T08:00:00-07:00",
            )];
            let mut v = qbo::invoice(
                "130",
                "1037",
                "23",
                "1850.0",
                "2026-11-17",
                "2026-10-22T09:14:05-07:00",
            );
            v["PrivateNote"] = json!("PO 7781");
            v["Balance"] = json!(850.0);
            s.invoices.push(v);
        });
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, false).await;
        connect_by_callback(&app).await;
        let cancel = tokio_util::sync::CancellationToken::new();
        let report = app.app.cycle(&cancel).await.unwrap();
        assert_eq!(report.dispatch.sent, 1, "{report:?}");
        let messages = smtp.messages();
        assert_eq!(messages[0].to, vec!["ap@client23.example"]);
        let text = messages[0].text();
        assert!(text.contains("1037"), "{text}");
        assert!(text.contains("850,00"), "{text}");
        assert!(
            text.contains("https://connect.intuit.com/portal/app/CommerceNetwork/view/scs-v1-130"),
            "{text}"
        );
        let note = fake.with(|s| s.invoices[0]["PrivateNote"].clone());
        assert_eq!(
            note,
            json!("PO 7781\n[Relance] 2026-11-24 friendly: reminder 1 sent by email")
        );

        // Paid in QuickBooks: the payment notification arrives.
        fake.with(|s| {
            s.invoices[0]["Balance"] = json!(0);
            s.invoices[0]["MetaData"]["LastUpdatedTime"] = json!("2026-11-25T09:00:00-08:00");
            let mut p: serde_json::Value =
                serde_json::from_slice(&qbo::fixture("payment-linked.json")).unwrap();
            p["Payment"]["Id"] = json!("152");
            p["Payment"]["CustomerRef"] = json!({"value": "23"});
            p["Payment"]["Line"][0]["Amount"] = json!(850.0);
            p["Payment"]["Line"][0]["LinkedTxn"] = json!([{"TxnId": "130", "TxnType": "Invoice"}]);
            p["Payment"]["TxnDate"] = json!("2026-11-25");
            p["Payment"]["MetaData"]["LastUpdatedTime"] = json!("2026-11-25T09:00:00-08:00");
            s.payments.push(p["Payment"].clone());
        });
        app.clock.advance(TimeDelta::days(1));
        let body = format!(
            r#"[{{"specversion":"1.0","id":"pay-1","source":"intuit.x","type":"qbo.payment.created.v1","datacontenttype":"application/json","time":"2026-11-25T17:00:00Z","intuitentityid":"152","intuitaccountid":"{REALM}","data":{{}}}}]"#
        );
        let r = http()
            .post(app.url("/webhooks/qbo"))
            .header("intuit-signature", qbo::sign(body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        app.app.work(&cancel).await.unwrap();
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM payments").await,
            1,
            "the QuickBooks payment is recorded"
        );
        // A week later the firm step would be due: nothing but the thank-you goes out.
        for _ in 0..8 {
            app.clock.advance(TimeDelta::days(1));
            app.app.cycle(&cancel).await.unwrap();
        }
        let subjects: Vec<String> = smtp.messages().iter().map(|m| m.subject()).collect();
        assert_eq!(subjects.len(), 2, "{subjects:?}");
        assert!(subjects[1].to_lowercase().contains("merci"), "{subjects:?}");
    }
);

both_backends!(
    payment_link_paid_in_stripe_is_recorded_in_quickbooks_once,
    |db: TestDb| async move {
        let fake = FakeQbo::start().await;
        fake.with(|s| {
            s.customers = vec![qbo::customer(
                "23",
                "Cool Cars",
                "ap@client23.example",
                "2026-10-01T08:00:00-07:00",
            )];
            let mut v = qbo::invoice(
                "130",
                "1037",
                "23",
                "1850.0",
                "2026-11-17",
                "2026-10-22T09:14:05-07:00",
            );
            v["Balance"] = json!(850.0);
            s.invoices.push(v);
        });
        let stripe_fake = crate::common::stripe::FakeStripe::start().await;
        let smtp = SmtpSink::start().await;
        let mut setup = Setup::new(&db.url, &smtp.url());
        setup.qbo = Some(fake.connector_yaml_with("    payment_deposit_account: \"4\"\n"));
        setup.stripe = Some(stripe_fake.uri());
        let path = write_config(db.dir.path(), &setup);
        let app = spawn_app(&path, at(NOW)).await;
        connect_by_callback(&app).await;
        sync(&app).await.unwrap();

        // The customer pays 850 USD through a Relance payment link (a Stripe Checkout Session); the
        // completion arrives twice (completed, then a redelivery under another event id).
        let session = json!({
            "id": "cs_test_a1", "object": "checkout.session", "payment_status": "paid", "status": "complete",
            "amount_total": 85000, "currency": "usd", "client_reference_id": format!("qbo:{REALM}:130"),
            "metadata": {"relance_invoice": format!("qbo:{REALM}:130"), "relance_link": "lk_7f3a9c"},
            "payment_intent": "pi_3Qpaid", "payment_method_types": ["card"], "mode": "payment"
        });
        let t = at(NOW).timestamp();
        for (id, kind) in [
            ("evt_cs_1", "checkout.session.completed"),
            ("evt_cs_2", "checkout.session.async_payment_succeeded"),
        ] {
            let body = crate::common::stripe::event(id, kind, t, session.clone()).to_string();
            let r = http()
                .post(app.url("/webhooks/stripe-main"))
                .header(
                    "stripe-signature",
                    crate::common::stripe::sign(
                        body.as_bytes(),
                        crate::common::stripe::WEBHOOK_SECRET,
                        t,
                    ),
                )
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        // Paused at once: the reminder due today is not planned.
        let held = rows(
            &db.url,
            "SELECT pause_reason FROM invoices WHERE external_id = '130'",
        )
        .await;
        assert!(
            held[0][0].as_deref().unwrap_or("").contains("pi_3Qpaid"),
            "{held:?}"
        );
        let cancel = tokio_util::sync::CancellationToken::new();
        for _ in 0..3 {
            app.app.cycle(&cancel).await.unwrap();
        }
        assert_eq!(
            smtp.messages().len(),
            0,
            "no reminder for an invoice paid through the link"
        );
        let (payments, ids) = fake.with(|s| (s.payments.clone(), s.payment_requests.len()));
        assert_eq!(payments.len(), 1, "recorded once: {payments:#?}");
        assert_eq!(ids, 1);
        let p = &payments[0];
        assert_eq!(p["TotalAmt"], json!(850));
        assert_eq!(p["DepositToAccountRef"]["value"], "4");
        assert_eq!(p["CustomerRef"]["value"], "23");
        assert_eq!(
            p["Line"][0]["LinkedTxn"][0],
            json!({"TxnId": "130", "TxnType": "Invoice"})
        );
        let state = rows(
            &db.url,
            "SELECT status, pause_reason FROM invoices WHERE external_id = '130'",
        )
        .await;
        assert_eq!(state[0][0].as_deref(), Some("paid"));
        assert_eq!(state[0][1], None, "pause lifted once QuickBooks knows");
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM payments WHERE connector_id = 'stripe-main'"
            )
            .await,
            1
        );
    }
);

both_backends!(
    a_full_listing_finds_invoices_deleted_out_of_sight,
    |db: TestDb| async move {
        let fake = FakeQbo::start().await;
        book(&fake, 5);
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, false).await;
        connect_by_callback(&app).await;
        sync(&app).await.unwrap();
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE status = 'open'"
            )
            .await,
            6
        );
        // Relance was down for 40 days: change data capture no longer reaches back, and
        // invoice 1002 was deleted meanwhile (no webhook, no CDC record left).
        app.clock.advance(TimeDelta::days(40));
        fake.with(|s| {
            s.queries.clear();
            s.invoices.retain(|v| v["Id"] != "1002");
        });
        let report = sync(&app).await.unwrap();
        assert_eq!(report.unlisted, 1, "{report:?}");
        let queries = fake.with(|s| s.queries.clone());
        assert!(
            queries[0].starts_with("SELECT * FROM Customer WHERE Active IN (true, false) ORDERBY"),
            "a full listing: {queries:#?}"
        );
        let status = rows(
            &db.url,
            "SELECT external_id, status FROM invoices WHERE status <> 'open' ORDER BY external_id",
        )
        .await;
        assert_eq!(
            status,
            vec![vec![Some("1002".to_string()), Some("void".to_string())]],
            "asked for by id, QuickBooks answers 610: gone; the others stay open"
        );
    }
);
