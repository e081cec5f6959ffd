//! Store contract, on both backends: claims under concurrency, leases, idempotent upserts.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use relance::store::{NewReminder, ReminderStatus, Store};
use relance_core::{Change, Currency, Customer, InboundEvent, Invoice, InvoiceStatus, Money};

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::{at, scalar};

fn customer(i: usize) -> Customer {
    Customer {
        external_id: format!("c{i}"),
        name: format!("Client {i}"),
        emails: vec![format!("c{i}@example.com")],
        phone: None,
        locale: Some("fr".into()),
        time_zone: None,
        source_updated_at: None,
        address: None,
        consumer: None,
    }
}

fn invoice(i: usize, status: InvoiceStatus, updated: &str) -> Invoice {
    let total = Money::from_minor(10_000 + i as i64, Currency::EUR);
    Invoice {
        external_id: format!("in{i}"),
        number: format!("F-{i}"),
        customer_external_id: format!("c{}", i % 7),
        customer_hint: None,
        issued_on: None,
        due_on: NaiveDate::from_ymd_opt(2027, 1, 15),
        total,
        balance: if status == InvoiceStatus::Open {
            total
        } else {
            Money::zero(Currency::EUR)
        },
        status,
        chase: true,
        email: None,
        payment_url: None,
        paid_at: None,
        source_updated_at: at(updated),
    }
}

async fn seed(store: &Store, n: usize) {
    let mut changes: Vec<Change> = (0..7).map(|i| Change::Customer(customer(i))).collect();
    changes.extend(
        (0..n).map(|i| Change::Invoice(invoice(i, InvoiceStatus::Open, "2027-01-01T00:00:00Z"))),
    );
    let event = InboundEvent {
        kind: "seed".into(),
        changes,
        ..InboundEvent::default()
    };
    store
        .apply(
            "csv",
            "poll",
            &[event],
            Some("c1"),
            1,
            at("2027-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
}

async fn plan_all(store: &Store, n: usize) {
    let now = at("2027-01-22T08:00:00Z");
    let rows: Vec<NewReminder> = (0..n)
        .map(|i| NewReminder {
            key: format!("invoice:{}:friendly", i + 1),
            invoice_id: i as i64 + 1,
            customer_id: 1 + (i % 7) as i64,
            step: "friendly".into(),
            kind: "reminder".into(),
            channel: "email".into(),
            template: "friendly".into(),
            automatic: true,
            status: ReminderStatus::Pending,
            reason: None,
            planned_on: NaiveDate::from_ymd_opt(2027, 1, 22).unwrap(),
            not_before: now,
            message_id: format!("<m{i}@x>"),
            amount_minor: Some(10_000),
            currency: Some("EUR".into()),
            segment: None,
            variant: None,
            group_key: None,
        })
        .collect();
    assert_eq!(store.insert_reminders(&rows, now).await.unwrap(), n as u64);
    // Planning the same again adds nothing.
    assert_eq!(store.insert_reminders(&rows, now).await.unwrap(), 0);
}

both_backends!(
    two_replicas_never_claim_the_same_reminder,
    |db: TestDb| async move {
        let store = db.store().await;
        seed(&store, 60).await;
        plan_all(&store, 60).await;
        let now = at("2027-01-22T09:00:00Z");
        let claimed = Arc::new(std::sync::Mutex::new(Vec::<(String, i64)>::new()));
        let mut tasks = Vec::new();
        for replica in ["replica-a", "replica-b", "replica-c"] {
            // Each replica has its own pool, as separate processes would.
            let store = Store::connect(&db.url).await.unwrap();
            let claimed = claimed.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let batch = store
                        .claim_reminders(replica, now, now + TimeDelta::minutes(5), 4)
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    for r in batch {
                        claimed.lock().unwrap().push((replica.to_string(), r.id));
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let claimed = claimed.lock().unwrap().clone();
        let ids: BTreeSet<i64> = claimed.iter().map(|(_, id)| *id).collect();
        assert_eq!(claimed.len(), 60, "each row claimed exactly once");
        assert_eq!(ids.len(), 60);
        // While leased, nobody else gets them; after the lease they come back.
        let again = store
            .claim_reminders(
                "replica-d",
                now + TimeDelta::minutes(4),
                now + TimeDelta::minutes(9),
                100,
            )
            .await
            .unwrap();
        assert!(again.is_empty());
        let expired = store
            .claim_reminders(
                "replica-d",
                now + TimeDelta::minutes(6),
                now + TimeDelta::minutes(11),
                100,
            )
            .await
            .unwrap();
        assert_eq!(expired.len(), 60);
        assert!(
            expired
                .iter()
                .all(|r| r.attempts == 2 && r.last_error.is_some())
        );
    }
);

both_backends!(
    applying_the_same_changes_twice_changes_nothing,
    |db: TestDb| async move {
        let store = db.store().await;
        seed(&store, 30).await;
        let before = scalar(&db.url, "SELECT COUNT(*) FROM invoices").await;
        seed(&store, 30).await;
        assert_eq!(
            scalar(&db.url, "SELECT COUNT(*) FROM invoices").await,
            before
        );
        assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM customers").await, 7);
        // An older version is ignored; a newer one applies and cancels pending reminders.
        plan_all(&store, 30).await;
        let older = InboundEvent {
            id: Some("evt_old".into()),
            kind: "invoice.paid".into(),
            changes: vec![Change::Invoice(invoice(
                0,
                InvoiceStatus::Paid,
                "2026-12-01T00:00:00Z",
            ))],
            ..InboundEvent::default()
        };
        let stats = store
            .apply(
                "csv",
                "webhook",
                &[older],
                None,
                0,
                at("2027-01-22T09:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(stats.cancelled, 0);
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE status = 'paid'"
            )
            .await,
            0
        );
        let newer = InboundEvent {
            id: Some("evt_new".into()),
            kind: "invoice.paid".into(),
            changes: vec![Change::Invoice(invoice(
                0,
                InvoiceStatus::Paid,
                "2027-01-22T08:30:00Z",
            ))],
            ..InboundEvent::default()
        };
        let stats = store
            .apply(
                "csv",
                "webhook",
                &[newer.clone(), newer],
                None,
                0,
                at("2027-01-22T09:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!((stats.cancelled, stats.duplicates), (1, 1));
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE status = 'paid'"
            )
            .await,
            1
        );
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM reminders WHERE status = 'cancelled'"
            )
            .await,
            1
        );
    }
);

both_backends!(amounts_are_stored_exactly, |db: TestDb| async move {
    let store = db.store().await;
    let mut inv = invoice(1, InvoiceStatus::Open, "2027-01-01T00:00:00Z");
    inv.total = Money::new(
        rust_decimal::Decimal::new(123456789012345, 2),
        Currency::EUR,
    );
    inv.balance = inv.total;
    let mut jpy = invoice(2, InvoiceStatus::Open, "2027-01-01T00:00:00Z");
    jpy.total = Money::from_minor(185000, Currency::parse("JPY").unwrap());
    jpy.balance = jpy.total;
    let mut too_precise = invoice(3, InvoiceStatus::Open, "2027-01-01T00:00:00Z");
    too_precise.total = Money::new(rust_decimal::Decimal::new(1001, 3), Currency::EUR);
    let event = |i: Invoice| InboundEvent {
        kind: "x".into(),
        changes: vec![
            Change::Customer(customer(1)),
            Change::Customer(customer(2)),
            Change::Customer(customer(3)),
            Change::Invoice(i),
        ],
        ..InboundEvent::default()
    };
    let now = at("2027-01-01T00:00:00Z");
    store
        .apply("csv", "poll", &[event(inv)], None, 0, now)
        .await
        .unwrap();
    store
        .apply("csv", "poll", &[event(jpy)], None, 0, now)
        .await
        .unwrap();
    let err = store
        .apply("csv", "poll", &[event(too_precise)], None, 0, now)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("invoice in3") && err.to_string().contains("decimals"),
        "{err}"
    );
    assert_eq!(
        scalar(
            &db.url,
            "SELECT total_minor FROM invoices WHERE external_id = 'in1'"
        )
        .await,
        123456789012345
    );
    assert_eq!(
        scalar(
            &db.url,
            "SELECT total_minor FROM invoices WHERE external_id = 'in2'"
        )
        .await,
        185000
    );
    assert_eq!(
        scalar(&db.url, "SELECT COUNT(*) FROM invoices").await,
        2,
        "the refused page wrote nothing"
    );
});

both_backends!(
    planning_reads_every_invoice_across_pages_with_its_reminders_and_history,
    |db: TestDb| async move {
        use relance::store::PlanScope;
        let store = db.store().await;
        let n = 4500;
        seed(&store, n).await;
        // Customer c3 paid two invoices: 4 days late and 2 days early.
        let mut late = invoice(3, InvoiceStatus::Paid, "2027-01-10T00:00:00Z");
        late.paid_at = Some(at("2027-01-19T15:00:00Z"));
        let mut early = invoice(10, InvoiceStatus::Paid, "2027-01-10T00:00:00Z");
        early.paid_at = Some(at("2027-01-13T08:00:00Z"));
        let event = InboundEvent {
            kind: "x".into(),
            changes: vec![Change::Invoice(late), Change::Invoice(early)],
            ..InboundEvent::default()
        };
        store
            .apply("csv", "poll", &[event], None, 0, at("2027-01-20T00:00:00Z"))
            .await
            .unwrap();
        plan_all(&store, 30).await;
        let mut seen = Vec::new();
        let mut with_reminders = 0;
        let visited = store
            .for_each_plan_row(PlanScope::All, |row| {
                if !row.reminders.is_empty() {
                    with_reminders += 1;
                    assert_eq!(row.reminders[0].step, "friendly");
                }
                assert_eq!(row.customer.id, row.invoice.customer_id);
                seen.push(row.invoice.id);
            })
            .await
            .unwrap();
        assert_eq!(visited, n as u64);
        assert_eq!(seen, (1..=n as i64).collect::<Vec<_>>());
        assert_eq!(with_reminders, 30);
        let open = store
            .for_each_plan_row(PlanScope::Active, |_| {})
            .await
            .unwrap();
        assert_eq!(open, n as u64 - 2);
        let histories = store
            .customer_histories("2027-01-20".parse().unwrap())
            .await
            .unwrap();
        // Customer ids are 1-based in insertion order: c3 is id 4.
        let h = &histories[&4];
        assert_eq!(h.paid_invoices, 2);
        assert_eq!(h.average_days_late, rust_decimal::Decimal::from(2));
        assert_eq!(
            histories.values().filter(|h| h.paid_invoices > 0).count(),
            1
        );
        // Every other invoice is open: counted per customer.
        let open_total: u32 = histories.values().map(|h| h.open_invoices).sum();
        assert_eq!(open_total as usize, n - 2);
    }
);
