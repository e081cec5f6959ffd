//! Salesforce against a fake org answering as Salesforce documents: the JWT bearer login (the
//! assertion's signature and claims checked), describe, SOQL pages through `nextRecordsUrl`,
//! deletions, a bad field in the configuration, `INVALID_SESSION_ID` mid-sync, the API
//! allocation near its cap and exhausted, Tasks with one record failing, Outbound Messages,
//! and two orgs' invoices (Billing and a custom object) from sync to reminder to Task to payment.

use chrono::TimeDelta;
use relance_core::{Activity, Clock, ConnectorError, WriteBack};
use serde_json::json;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::sf::{self, FakeSalesforce, ORG};
use crate::common::smtp::SmtpSink;
use crate::common::{Setup, TestApp, at, http, rows, scalar, spawn_app, write_config};

const NOW: &str = "2026-11-24T17:00:00Z";

const BLNG: &str = "      object: blng__Invoice__c\n";

fn book(fake: &FakeSalesforce, n: usize) {
    fake.with(|s| {
        s.page_size = 2;
        let invoices: Vec<_> = (0..n)
            .map(|i| {
                let account = if i % 2 == 0 { "0015e00000AcMe1AAF" } else { "0015e00000GlBx2AAF" };
                sf::blng_invoice(
                    &format!("a1X5e00000Inv{i:02}EAB"),
                    &format!("INV-00000010{i:02}"),
                    account,
                    Some(("0035e00000BiLl1AAF", "compta@acme-outillage.example")),
                    "850.0",
                    "2026-11-17",
                    &format!("2026-11-18T16:02:{i:02}.000+0000"),
                )
            })
            .collect();
        s.objects.insert("blng__Invoice__c".into(), invoices);
        s.objects.insert(
            "Account".into(),
            vec![
                json!({"attributes": {"type": "Account"}, "Id": "0015e00000AcMe1AAF", "Name": "Acme Outillage SAS",
                       "Phone": "+33 3 88 00 00 00", "BillingStreet": "4 quai des Bateliers",
                       "BillingPostalCode": "67000", "BillingCity": "Strasbourg", "BillingState": null,
                       "BillingCountry": "France", "SystemModstamp": "2026-11-01T10:00:00.000+0000"}),
                json!({"attributes": {"type": "Account"}, "Id": "0015e00000GlBx2AAF", "Name": "Globex L'Atelier",
                       "Phone": null, "BillingStreet": null, "BillingPostalCode": null, "BillingCity": null,
                       "BillingState": null, "BillingCountry": null,
                       "SystemModstamp": "2026-11-01T10:00:00.000+0000"}),
            ],
        );
        s.fields.insert(
            "Account".into(),
            [
                "Id",
                "Name",
                "Phone",
                "BillingStreet",
                "BillingPostalCode",
                "BillingCity",
                "BillingState",
                "BillingCountry",
                "SystemModstamp",
            ]
                .iter()
                .map(|f| (f.to_string(), None))
                .collect(),
        );
    });
}

async fn world(db: &TestDb, fake: &FakeSalesforce, smtp: &SmtpSink, connectors: &str) -> TestApp {
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.sf = Some(connectors.to_string());
    let path = write_config(db.dir.path(), &setup);
    let _ = fake;
    spawn_app(&path, at(NOW)).await
}

async fn sync(
    app: &TestApp,
    id: &str,
) -> Result<relance::sync::SyncReport, relance::sync::SyncError> {
    let mut results = app
        .app
        .sync_all(Some(id), false, &mut |_, _, _, _| {})
        .await;
    results.remove(0).1
}

both_backends!(
    jwt_login_pages_accounts_and_deletions,
    |db: TestDb| async move {
        let fake = FakeSalesforce::start().await;
        book(&fake, 5);
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, &fake.connector_yaml("sf", BLNG)).await;
        let report = sync(&app, "sf").await.unwrap();
        assert_eq!(
            fake.with(|s| s.jwt_logins),
            1,
            "logged in with a verified assertion"
        );
        assert_eq!(report.stats.invoices, 5);
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE connector_id = 'sf'"
            )
            .await,
            5
        );
        let names = rows(
            &db.url,
            "SELECT name, phone, address FROM customers ORDER BY external_id",
        )
        .await;
        assert_eq!(names[0][0].as_deref(), Some("Acme Outillage SAS"));
        assert_eq!(
            names[0][2].as_deref(),
            Some("4 quai des Bateliers, 67000 Strasbourg, France"),
            "the billing address, for letters"
        );
        assert_eq!(names[1][0].as_deref(), Some("Globex L'Atelier"));
        assert_eq!(names[1][2], None);
        let queries = fake.with(|s| s.queries.clone());
        assert!(
            !queries.iter().any(|q| q.contains("IsPersonAccount")),
            "no Person Accounts in this org: not asked for"
        );
        assert!(
            queries[1].contains("FROM blng__Invoice__c ORDER BY SystemModstamp, Id"),
            "{queries:#?}"
        );
        assert!(queries[1].contains("blng__BillToContact__r.Email"));
        // Later: one paid, one deleted; the next round asks for changes only.
        app.clock.advance(TimeDelta::hours(3));
        fake.with(|s| {
            s.queries.clear();
            let list = s.objects.get_mut("blng__Invoice__c").unwrap();
            list[1]["blng__Balance__c"] = json!(0.0);
            list[1]["blng__PaymentStatus__c"] = json!("Paid");
            list[1]["SystemModstamp"] = json!("2026-11-24T18:00:00.000+0000");
            let gone = list.remove(2);
            s.deleted.push((
                "blng__Invoice__c".into(),
                gone["Id"].as_str().unwrap().to_string(),
                "2026-11-24T18:01:00.000+0000".into(),
            ));
        });
        sync(&app, "sf").await.unwrap();
        let queries = fake.with(|s| s.queries.clone());
        assert!(
            queries[0].contains("WHERE SystemModstamp >= 2026-11-18T16:0"),
            "{queries:#?}"
        );
        let status = rows(
        &db.url,
        "SELECT external_id, status FROM invoices WHERE external_id IN ('a1X5e00000Inv01EAB', 'a1X5e00000Inv02EAB') ORDER BY external_id",
    )
    .await;
        assert_eq!(status[0][1].as_deref(), Some("paid"));
        assert_eq!(
            status[1][1].as_deref(),
            Some("void"),
            "deleted in Salesforce"
        );
    }
);

both_backends!(a_bad_field_name_is_named, |db: TestDb| async move {
    let fake = FakeSalesforce::start().await;
    book(&fake, 1);
    let smtp = SmtpSink::start().await;
    let invoices =
        "      object: blng__Invoice__c\n      fields:\n        due_date: blng__DueDat__c\n";
    let app = world(&db, &fake, &smtp, &fake.connector_yaml("sf", invoices)).await;
    let e = sync(&app, "sf").await.unwrap_err().to_string();
    assert!(
        e.contains("invoices.fields.due_date") && e.contains("blng__DueDat__c"),
        "{e}"
    );
    assert_eq!(
        fake.with(|s| s.queries.len()),
        0,
        "nothing queried with a bad mapping"
    );
    assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM invoices").await, 0);
});

both_backends!(
    invalid_session_mid_sync_logs_in_again,
    |db: TestDb| async move {
        let fake = FakeSalesforce::start().await;
        book(&fake, 6);
        fake.with(|s| s.expire_sessions_at = Some(3));
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, &fake.connector_yaml("sf", BLNG)).await;
        let report = sync(&app, "sf").await.unwrap();
        assert_eq!(report.stats.invoices, 6);
        assert_eq!(
            fake.with(|s| s.jwt_logins),
            2,
            "a new assertion after INVALID_SESSION_ID"
        );
    }
);

both_backends!(
    api_allocation_near_cap_and_exhausted,
    |db: TestDb| async move {
        let fake = FakeSalesforce::start().await;
        book(&fake, 2);
        let smtp = SmtpSink::start().await;
        let mut setup = Setup::new(&db.url, &smtp.url());
        setup.sf = Some(fake.connector_yaml("sf", BLNG));
        let csv = db.dir.path().join("invoices.csv");
        std::fs::write(
            &csv,
            "number,customer,email,total,balance,currency,issued_on,due_on,status\n\
         L-1,Atelier Legacy,legacy@example.com,100.00,100.00,EUR,2026-10-01,2026-11-17,open\n",
        )
        .unwrap();
        setup.csv = Some(csv);
        let path = write_config(db.dir.path(), &setup);
        let app = spawn_app(&path, at(NOW)).await;
        // The org has used 99% of its allocation (other integrations): Relance holds back.
        fake.with(|s| s.api_used = 114_000);
        let first = sync(&app, "sf").await;
        let calls_then = fake.with(|s| s.calls);
        let e = sync(&app, "sf").await.unwrap_err();
        assert!(
            first.is_ok()
                || matches!(
                    first,
                    Err(relance::sync::SyncError::Connector(
                        ConnectorError::RateLimited { .. }
                    ))
                )
        );
        assert!(
            matches!(
                e,
                relance::sync::SyncError::Connector(ConnectorError::RateLimited { .. })
            ),
            "{e}"
        );
        assert_eq!(fake.with(|s| s.calls), calls_then, "no call near the cap");
        // The daily limit exceeded: backed off, the CSV connector keeps going.
        let fake2 = FakeSalesforce::start().await;
        book(&fake2, 2);
        fake2.with(|s| s.limit_exceeded = true);
        let db2 = TestDb::sqlite().await;
        let mut setup = Setup::new(&db2.url, &smtp.url());
        setup.sf = Some(fake2.connector_yaml("sf", BLNG));
        setup.csv = Some(db.dir.path().join("invoices.csv"));
        let path = write_config(db2.dir.path(), &setup);
        let app2 = spawn_app(&path, at(NOW)).await;
        let results = app2.app.sync_all(None, false, &mut |_, _, _, _| {}).await;
        let sf = results.iter().find(|(id, _)| id == "sf").unwrap();
        let legacy = results.iter().find(|(id, _)| id == "legacy").unwrap();
        assert!(
            matches!(
                &sf.1,
                Err(relance::sync::SyncError::Connector(
                    ConnectorError::RateLimited { .. }
                ))
            ),
            "{:?}",
            sf.1
        );
        assert!(legacy.1.is_ok());
        let calls = fake2.with(|s| s.calls);
        assert!(sync(&app2, "sf").await.is_err());
        assert_eq!(
            fake2.with(|s| s.calls),
            calls,
            "no call before the allocation recovers"
        );
    }
);

both_backends!(
    tasks_in_one_call_with_one_record_failing,
    |db: TestDb| async move {
        let fake = FakeSalesforce::start().await;
        book(&fake, 2);
        fake.with(|s| {
            // The second invoice's "contact" is an account id: Salesforce refuses that WhoId.
            let list = s.objects.get_mut("blng__Invoice__c").unwrap();
            list[1]["blng__BillToContact__c"] = json!("0015e00000GlBx2AAF");
        });
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, &fake.connector_yaml("sf", BLNG)).await;
        let c = app.app.connectors.get("sf").unwrap().clone();
        let wb = |i: usize| WriteBack {
            invoice_external_id: format!("a1X5e00000Inv{i:02}EAB"),
            idempotency_key: format!("wb:{i}"),
            activity: Activity {
                step: "friendly".into(),
                channel: "email".into(),
                sent_at: at(NOW),
                reminders_sent: 1,
                amount: None,
                summary: "reminder 1 sent by email".into(),
            },
        };
        let results = c.write_back_many(&[wb(0), wb(1)]).await;
        assert!(results[0].is_ok(), "{:?}", results[0]);
        let e = results[1].as_ref().unwrap_err();
        assert!(
            matches!(e, ConnectorError::Invalid(_)) && e.to_string().contains("MALFORMED_ID"),
            "{e}"
        );
        let tasks = fake.with(|s| s.tasks.clone());
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0]["WhatId"], "a1X5e00000Inv00EAB");
        assert_eq!(tasks[0]["WhoId"], "0035e00000BiLl1AAF");
        assert_eq!(tasks[0]["TaskSubtype"], "Email");
        assert_eq!(tasks[0]["Status"], "Completed");
        // Sent again (an outbox retry): the Task is there already, none is added.
        let again = c.write_back_many(&[wb(0)]).await;
        assert!(again[0].is_ok());
        assert_eq!(fake.with(|s| s.tasks.len()), 1);
    }
);

both_backends!(outbound_messages, |db: TestDb| async move {
    let fake = FakeSalesforce::start().await;
    book(&fake, 3);
    let smtp = SmtpSink::start().await;
    let app = world(&db, &fake, &smtp, &fake.connector_yaml("sf", BLNG)).await;
    sync(&app, "sf").await.unwrap();
    let body = std::fs::read_to_string(sf::fixture_path("outbound-message-notification.xml"))
        .unwrap()
        .replace("a1X5e00000Inv03EAB", "a1X5e00000Inv02EAB");
    let post = |b: String| {
        http()
            .post(app.url("/webhooks/sf"))
            .header("content-type", "text/xml; charset=utf-8")
            .body(b)
            .send()
    };
    // Paid in Salesforce meanwhile: the notification only says "look".
    fake.with(|s| {
        let list = s.objects.get_mut("blng__Invoice__c").unwrap();
        list[2]["blng__Balance__c"] = json!(0.0);
        list[2]["blng__PaymentStatus__c"] = json!("Paid");
        list[2]["SystemModstamp"] = json!("2026-11-24T18:00:00.000+0000");
    });
    let r = post(body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let ack = r.text().await.unwrap();
    assert!(ack.contains("<Ack>true</Ack>"), "{ack}");
    // A replay is acknowledged and stored once.
    assert_eq!(post(body.clone()).await.unwrap().status(), 200);
    assert_eq!(
        scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
        2
    );
    // Another org, or broken XML: a SOAP fault, nothing written.
    let other = body.replace(ORG, "00D000000000062AAA");
    let r = post(other).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("soapenv:Fault"));
    let r = post("<soapenv:Envelope><broken".into()).await.unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.text().await.unwrap().contains("faultstring"));
    let r = post("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>".into())
        .await
        .unwrap();
    assert!(r.status().is_client_error() || r.status().is_server_error());
    assert_eq!(
        scalar(&db.url, "SELECT COUNT(*) FROM webhook_events").await,
        2
    );
    // The worker re-reads the records named.
    let cancel = tokio_util::sync::CancellationToken::new();
    app.app.work(&cancel).await.unwrap();
    let status = rows(
        &db.url,
        "SELECT status FROM invoices WHERE external_id = 'a1X5e00000Inv02EAB'",
    )
    .await;
    assert_eq!(status[0][0].as_deref(), Some("paid"));
});

both_backends!(
    billing_and_custom_invoices_get_reminders_tasks_and_stop_when_paid,
    |db: TestDb| async move {
        let fake = FakeSalesforce::start().await;
        book(&fake, 1);
        fake.with(|s| {
        s.fields.insert(
            "Facture__c".into(),
            [
                ("Id", None),
                ("Numero__c", None),
                ("Client__c", Some("Client__r")),
                ("Contact__c", Some("Contact__r")),
                ("Echeance__c", None),
                ("Montant__c", None),
                ("Reste_du__c", None),
                ("SystemModstamp", None),
            ]
            .iter()
            .map(|(n, r)| (n.to_string(), r.map(str::to_string)))
            .collect(),
        );
        s.objects.insert(
            "Facture__c".into(),
            vec![json!({
                "attributes": {"type": "Facture__c"}, "Id": "a2F5e00000Fac01EAB", "Numero__c": "FA-2026-118",
                "Client__c": "0015e00000AcMe1AAF", "Client__r": {"Name": "Acme Outillage SAS", "OwnerId": "0055e00000OwnrAAA"},
                "Contact__c": "0035e00000BiLl2AAF", "Contact__r": {"Email": "factures@acme-outillage.example"},
                "Echeance__c": "2026-11-17", "Montant__c": 1200.0, "Reste_du__c": 1200.0,
                "SystemModstamp": "2026-11-18T16:02:11.000+0000"
            })],
        );
    });
        // The custom object takes no activities: its Task goes on the account.
        fake.with(|s| s.no_activities.push("a2F".into()));
        let custom = "      object: Facture__c\n      fields:\n        number: Numero__c\n        account: Client__c\n        \
                  contact: Contact__c\n        due_date: Echeance__c\n        total: Montant__c\n        balance: Reste_du__c\n      \
                  contact_email: Contact__r.Email\n";
        let yaml = format!(
            "{}{}",
            fake.connector_yaml("sf", BLNG),
            fake.connector_yaml("sf-custom", custom)
        );
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, &yaml).await;
        let cancel = tokio_util::sync::CancellationToken::new();
        let report = app.app.cycle(&cancel).await.unwrap();
        assert_eq!(report.dispatch.sent, 2, "{report:?}");
        let mut to: Vec<String> = smtp.messages().iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(
            to,
            vec![
                "compta@acme-outillage.example",
                "factures@acme-outillage.example"
            ]
        );
        let tasks = fake.with(|s| s.tasks.clone());
        assert_eq!(tasks.len(), 2, "{tasks:#?}");
        let what: Vec<&str> = tasks
            .iter()
            .map(|t| t["WhatId"].as_str().unwrap())
            .collect();
        assert!(
            what.contains(&"a1X5e00000Inv00EAB") && what.contains(&"0015e00000AcMe1AAF"),
            "{what:?}"
        );
        // Both paid in Salesforce: nothing more but the thank-yous.
        fake.with(|s| {
            for (object, field) in [
                ("blng__Invoice__c", "blng__Balance__c"),
                ("Facture__c", "Reste_du__c"),
            ] {
                let r = &mut s.objects.get_mut(object).unwrap()[0];
                r[field] = json!(0.0);
                r["SystemModstamp"] = json!("2026-11-25T09:00:00.000+0000");
            }
        });
        for _ in 0..10 {
            app.clock.advance(TimeDelta::days(1));
            app.app.cycle(&cancel).await.unwrap();
        }
        let subjects: Vec<String> = smtp.messages().iter().map(|m| m.subject()).collect();
        assert_eq!(
            subjects.len(),
            4,
            "two reminders, then two thank-yous: {subjects:?}"
        );
        assert!(
            subjects[2..]
                .iter()
                .all(|s| s.to_lowercase().contains("merci")),
            "{subjects:?}"
        );
    }
);

both_backends!(
    web_server_flow_with_rotating_refresh_tokens,
    |db: TestDb| async move {
        let fake = FakeSalesforce::start().await;
        book(&fake, 3);
        let smtp = SmtpSink::start().await;
        let yaml = format!(
            "  - id: sf-web\n    kind: salesforce\n    login_url: {uri}\n    auth:\n      flow: refresh_token\n      \
         client_id: {id}\n      client_secret: {secret}\n      redirect_url: https://relance.example.com/oauth/sf-web/callback\n    \
         invoices:\n{BLNG}    poll_interval: 15m\n",
            uri = fake.uri(),
            id = sf::CLIENT_ID,
            secret = sf::CLIENT_SECRET
        );
        let app = world(&db, &fake, &smtp, &yaml).await;
        // Not connected yet: a clear error naming the command.
        let e = sync(&app, "sf-web").await.unwrap_err().to_string();
        assert!(e.contains("relance connect sf-web"), "{e}");
        let c = app.app.connectors.get("sf-web").unwrap().clone();
        let url = relance::connect::start(&app.app.store, c.as_ref(), app.clock.now())
            .await
            .unwrap();
        assert!(
            url.starts_with(&format!("{}/services/oauth2/authorize?", fake.uri())),
            "{url}"
        );
        let params = relance::connect::params_of(&url);
        assert_eq!(params["response_type"], "code");
        // PKCE: an S256 challenge, which the code exchange (by the daemon, another process
        // than the one that printed the URL) answers with its verifier from the store.
        assert_eq!(params["code_challenge_method"], "S256");
        fake.with(|s| s.pkce_challenge = Some(params["code_challenge"].clone()));
        // A callback whose code exchange fails (a wrong verifier: another URL's challenge)
        // connects nothing and says why.
        let other = relance::connect::params_of(
            &relance::connect::start(&app.app.store, c.as_ref(), app.clock.now())
                .await
                .unwrap(),
        );
        let r = http()
            .get(app.url(&format!(
                "/oauth/sf-web/callback?code=aPrx-code&state={}",
                other["state"]
            )))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 200);
        assert!(
            r.text().await.unwrap().contains("invalid code verifier"),
            "the provider's reason is shown"
        );
        let r = http()
            .get(app.url(&format!(
                "/oauth/sf-web/callback?code=aPrx-code&state={}",
                params["state"]
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        sync(&app, "sf-web").await.unwrap();
        // The session ends; the refresh rotates the refresh token, saved before use.
        fake.with(|s| s.access.clear());
        app.clock.advance(TimeDelta::hours(2));
        sync(&app, "sf-web").await.unwrap();
        let refresh = fake.with(|s| s.refresh.clone()).unwrap();
        let key = relance::store::SecretKey::parse(crate::common::qbo::SECRET_KEY).unwrap();
        let creds = relance::store::DbCredentials::new(app.app.store.clone(), Ok(Some(key)));
        let stored = relance_core::auth::TokenSet::from_secret(
            &relance_core::auth::CredentialStore::load(&creds, "sf-web")
                .await
                .unwrap()
                .unwrap()
                .secret,
        )
        .unwrap();
        assert_eq!(
            stored.refresh_token.as_deref(),
            Some(refresh.as_str()),
            "the newest token is kept"
        );
        assert_ne!(refresh, "refresh-1");
        assert_eq!(stored.account.as_deref(), Some(ORG));
    }
);

both_backends!(person_accounts_are_consumers, |db: TestDb| async move {
    let fake = FakeSalesforce::start().await;
    book(&fake, 2);
    fake.with(|s| {
        s.fields.get_mut("Account").unwrap().extend([
            ("IsPersonAccount".to_string(), None),
            ("PersonEmail".to_string(), None),
        ]);
        for a in s.objects.get_mut("Account").unwrap() {
            let person = a["Id"] == "0015e00000GlBx2AAF";
            a["IsPersonAccount"] = json!(person);
            a["PersonEmail"] = if person {
                json!("jeanne@example.com")
            } else {
                serde_json::Value::Null
            };
        }
    });
    let smtp = SmtpSink::start().await;
    let app = world(&db, &fake, &smtp, &fake.connector_yaml("sf", BLNG)).await;
    sync(&app, "sf").await.unwrap();
    assert!(
        fake.with(|s| s.queries.iter().any(|q| q.contains("IsPersonAccount"))),
        "the org has Person Accounts: asked"
    );
    let kinds = rows(
        &db.url,
        "SELECT external_id, kind, emails FROM customers ORDER BY external_id",
    )
    .await;
    assert_eq!(kinds[0][1].as_deref(), Some("b2b"), "{kinds:?}");
    assert_eq!(kinds[1][1].as_deref(), Some("b2c"), "{kinds:?}");
    assert!(
        kinds[1][2]
            .as_deref()
            .unwrap_or("")
            .contains("jeanne@example.com"),
        "{kinds:?}"
    );
});

both_backends!(
    a_full_listing_finds_records_deleted_out_of_sight,
    |db: TestDb| async move {
        let fake = FakeSalesforce::start().await;
        book(&fake, 4);
        let smtp = SmtpSink::start().await;
        let app = world(&db, &fake, &smtp, &fake.connector_yaml("sf", BLNG)).await;
        sync(&app, "sf").await.unwrap();
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE status = 'open'"
            )
            .await,
            4
        );
        // Down for 20 days: getDeleted reaches back 15 only, so a full listing; one record
        // was deleted (and emptied from the recycle bin) meanwhile.
        app.clock.advance(TimeDelta::days(20));
        fake.with(|s| {
            s.queries.clear();
            s.objects
                .get_mut("blng__Invoice__c")
                .unwrap()
                .retain(|v| v["Id"] != "a1X5e00000Inv02EAB");
        });
        let report = sync(&app, "sf").await.unwrap();
        assert_eq!(report.unlisted, 1, "{report:?}");
        let queries = fake.with(|s| s.queries.clone());
        assert!(
            queries
                .iter()
                .any(|q| q.contains("WHERE Id IN ('a1X5e00000Inv02EAB')")),
            "asked for by id: {queries:#?}"
        );
        let closed = rows(
            &db.url,
            "SELECT external_id, status FROM invoices WHERE status <> 'open'",
        )
        .await;
        assert_eq!(
            closed,
            vec![vec![
                Some("a1X5e00000Inv02EAB".to_string()),
                Some("void".to_string())
            ]]
        );
    }
);
