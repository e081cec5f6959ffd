//! Plan benchmark: the pure policy over 100k and 1M invoices (invoices/s), and `relance plan`
//! end to end from SQLite and PostgreSQL over the same book stored (time, peak memory).
//!
//! `cargo bench --bench plan` (sizes: `BENCH_PLAN_SIZES=100000,1000000`).

mod support;

use std::process::Stdio;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, TimeDelta};
use relance::policy::config::{ChannelKind, Policy, Step, ThankYou};
use relance::policy::{self, CustomerFacts, InvoiceFacts, PlanInput, ReminderFact, ReminderState};
use relance::store::{NewReminder, ReminderStatus, Store};
use relance_core::{
    Change, Currency, Customer, InboundEvent, Invoice, InvoiceStatus, InvoiceStatus::*, Money,
};
use rust_decimal::Decimal;

/// A deterministic pseudo-random sequence (no dependency, same book every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn policy() -> Policy {
    let step = |id: &str, offset| Step {
        id: id.into(),
        offset_days: offset,
        channel: ChannelKind::Email,
        template: id.into(),
        show_late_fees: false,
        assignee: None,
        registered: false,
    };
    Policy {
        max_automatic_reminders: 2,
        min_balance: Decimal::new(500, 2),
        steps: vec![step("courtesy", -3), step("friendly", 7), step("firm", 14)],
        thank_you: Some(ThankYou {
            channel: ChannelKind::Email,
            template: "thanks".into(),
        }),
        group_by_customer: false,
        segments: Vec::new(),
        alerts: Vec::new(),
    }
}

const TODAY: &str = "2027-01-15";

/// Invoice `i`: a third open, the rest paid; due dates over the last 120 days and next 30.
fn shape(i: u64, rng: &mut Lcg) -> (InvoiceStatus, NaiveDate, i64) {
    let today: NaiveDate = TODAY.parse().unwrap();
    let due = today - TimeDelta::days((rng.next() % 150) as i64 - 30);
    let status = if i.is_multiple_of(3) { Open } else { Paid };
    let amount = 1000 + (rng.next() % 500_000) as i64;
    (status, due, amount)
}

fn pure(n: u64) -> f64 {
    let mut rng = Lcg(42);
    let policy = policy();
    let today: NaiveDate = TODAY.parse().unwrap();
    let customer = CustomerFacts::default();
    let book: Vec<(InvoiceFacts, Vec<ReminderFact>)> = (0..n)
        .map(|i| {
            let (status, due, amount) = shape(i, &mut rng);
            let reminders = if due + TimeDelta::days(7) < today {
                vec![ReminderFact {
                    step: "friendly".into(),
                    state: ReminderState::Sent,
                    automatic: true,
                    planned_on: due + TimeDelta::days(7),
                }]
            } else {
                Vec::new()
            };
            (
                InvoiceFacts {
                    status,
                    chase: true,
                    due_on: Some(due),
                    balance: if status == Open {
                        Decimal::new(amount, 2)
                    } else {
                        Decimal::ZERO
                    },
                    paused_until: None,
                    pause_reason: None,
                    plan: None,
                },
                reminders,
            )
        })
        .collect();
    let started = Instant::now();
    let mut due = 0u64;
    for (invoice, reminders) in &book {
        let d = policy::decide(
            PlanInput {
                invoice,
                customer: &customer,
                reminders,
            },
            &policy,
            today,
        );
        due += u64::from(d.action.is_ok());
    }
    let elapsed = started.elapsed();
    assert!(due > 0);
    n as f64 / elapsed.as_secs_f64()
}

/// Policy v2: the French ladder with two segments.
fn policy_v2() -> Policy {
    let mut p = policy();
    let step = |id: &str, offset, channel| Step {
        id: id.into(),
        offset_days: offset,
        channel,
        template: id.into(),
        show_late_fees: false,
        assignee: None,
        registered: false,
    };
    p.steps.push(step("call", 30, ChannelKind::Task));
    p.steps.push(step("notice", 30, ChannelKind::Letter));
    p.steps.push(step("registered", 45, ChannelKind::Letter));
    p.steps.push(step("legal", 90, ChannelKind::Handoff));
    p.group_by_customer = true;
    p.segments = vec![
        relance::policy::config::Segment {
            id: "reliable".into(),
            when: relance::policy::config::SegmentWhen {
                paid_invoices_at_least: Some(3),
                average_days_late_at_most: Some(Decimal::from(5)),
                ..Default::default()
            },
            tone: Some("gentle".into()),
            skip_steps: vec!["courtesy".into()],
            offset_shift_days: 0,
        },
        relance::policy::config::Segment {
            id: "at_risk".into(),
            when: relance::policy::config::SegmentWhen {
                average_days_late_at_least: Some(Decimal::from(20)),
                ..Default::default()
            },
            tone: Some("firm".into()),
            skip_steps: vec![],
            offset_shift_days: -3,
        },
    ];
    p
}

/// Policy v2 over `n` invoices of `n / 5` customers with payment histories, French business
/// days; `grouped` adds the one-message-per-customer pass (the lead of each customer).
fn pure_v2(n: u64, grouped: bool) -> f64 {
    let mut rng = Lcg(7);
    let policy = policy_v2();
    let today: NaiveDate = TODAY.parse().unwrap();
    let calendar = relance::calendar::Calendar {
        holidays: relance::calendar::Holidays::Fr,
        window: relance::calendar::SendWindow::office_hours(),
    };
    let customers = (n / 5).max(1);
    let histories: Vec<CustomerFacts> = (0..customers)
        .map(|_| CustomerFacts {
            history: relance::policy::CustomerHistory {
                paid_invoices: (rng.next() % 8) as u32,
                average_days_late: Decimal::from(rng.next() % 40),
                open_invoices: 1 + (rng.next() % 4) as u32,
                overdue_total: Decimal::new((rng.next() % 2_000_000) as i64, 2),
            },
            ..CustomerFacts::default()
        })
        .collect();
    let book: Vec<(u64, InvoiceFacts)> = (0..n)
        .map(|i| {
            let (status, due, amount) = shape(i, &mut rng);
            (
                i % customers,
                InvoiceFacts {
                    status,
                    chase: true,
                    due_on: Some(due),
                    balance: if status == Open {
                        Decimal::new(amount, 2)
                    } else {
                        Decimal::ZERO
                    },
                    paused_until: None,
                    pause_reason: None,
                    plan: None,
                },
            )
        })
        .collect();
    let started = Instant::now();
    let mut due = 0u64;
    let mut leads: std::collections::HashMap<u64, (NaiveDate, usize)> = Default::default();
    for (i, (customer, invoice)) in book.iter().enumerate() {
        let d = policy::decide_on(
            PlanInput {
                invoice,
                customer: &histories[*customer as usize],
                reminders: &[],
            },
            &policy,
            today,
            &calendar,
        );
        if d.action.is_ok() {
            due += 1;
            if grouped {
                let day = invoice.due_on.unwrap_or(today);
                leads
                    .entry(*customer)
                    .and_modify(|l| {
                        if day < l.0 {
                            *l = (day, i);
                        }
                    })
                    .or_insert((day, i));
            }
        }
    }
    let elapsed = started.elapsed();
    assert!(due > 0);
    n as f64 / elapsed.as_secs_f64()
}

async fn populate(url: &str, n: u64) {
    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let at = DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let customers = (n / 5).max(1);
    for chunk in (0..customers).collect::<Vec<_>>().chunks(1000) {
        let changes = chunk
            .iter()
            .map(|c| {
                Change::Customer(Customer {
                    external_id: format!("c{c}"),
                    name: format!("Client {c}"),
                    emails: vec![format!("c{c}@example.com")],
                    phone: None,
                    locale: Some("fr".into()),
                    time_zone: None,
                    source_updated_at: None,
                    address: None,
                    consumer: None,
                })
            })
            .collect();
        let e = InboundEvent {
            kind: "seed".into(),
            changes,
            ..InboundEvent::default()
        };
        store
            .apply("bench", "poll", &[e], Some("x"), 0, at)
            .await
            .unwrap();
    }
    let mut rng = Lcg(42);
    let mut id = 0i64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut changes = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let (status, due, amount) = shape(i, &mut rng);
            let total = Money::from_minor(amount, Currency::EUR);
            changes.push(Change::Invoice(Invoice {
                external_id: format!("in{i}"),
                number: format!("F-{i}"),
                customer_external_id: format!("c{}", i % customers),
                customer_hint: None,
                issued_on: Some(due - TimeDelta::days(30)),
                due_on: Some(due),
                total,
                balance: if status == Open {
                    total
                } else {
                    Money::zero(Currency::EUR)
                },
                status,
                chase: true,
                email: None,
                payment_url: Some(format!("https://pay.example/{i}")),
                paid_at: (status == Paid).then(|| {
                    (due + TimeDelta::days((i % 20) as i64))
                        .and_hms_opt(10, 0, 0)
                        .unwrap()
                        .and_utc()
                }),
                source_updated_at: at,
            }));
        }
        let e = InboundEvent {
            kind: "seed".into(),
            changes,
            ..InboundEvent::default()
        };
        store
            .apply("bench", "poll", &[e], Some("x"), 0, at)
            .await
            .unwrap();
        // A friendly reminder already sent for a third of the open, overdue invoices.
        let mut rows = Vec::new();
        for &i in chunk {
            id += 1;
            if i.is_multiple_of(9) {
                rows.push(NewReminder {
                    key: format!("invoice:{id}:friendly"),
                    invoice_id: id,
                    customer_id: 1 + (i % customers) as i64,
                    step: "friendly".into(),
                    kind: "reminder".into(),
                    channel: "email".into(),
                    template: "friendly".into(),
                    automatic: true,
                    status: ReminderStatus::Sent,
                    reason: None,
                    planned_on: TODAY.parse().unwrap(),
                    not_before: at,
                    message_id: format!("<m{id}@x>"),
                    amount_minor: None,
                    currency: None,
                    segment: None,
                    variant: None,
                    group_key: None,
                });
            }
        }
        store.insert_reminders(&rows, at).await.unwrap();
    }
    // As a large sync leaves it.
    store.analyze().await.unwrap();
    store.close().await;
}

#[tokio::main]
async fn main() {
    let sizes = support::sizes("BENCH_PLAN_SIZES", &[100_000, 1_000_000]);
    let v2 = std::env::var("BENCH_PLAN_V2").is_ok();
    println!("plan: a third of the book open, two thirds paid, n/5 customers");
    for &n in &sizes {
        println!(
            "  pure policy v1, {n:>8} invoices: {:>12.0} invoices/s",
            pure(n)
        );
        println!(
            "  pure policy v2 (French ladder, segments, business days), {n:>8} invoices, ungrouped: {:>12.0} invoices/s",
            pure_v2(n, false)
        );
        println!(
            "  pure policy v2, {n:>8} invoices, grouped by customer: {:>12.0} invoices/s",
            pure_v2(n, true)
        );
    }
    if v2 {
        println!(
            "relance plan with the policy v2 configuration (segments, holidays, send window, one message per customer)"
        );
    }
    println!(
        "{:<9} {:>8} {:>10} {:>12} {:>10} {:>12}",
        "backend", "N", "seconds", "invoices/s", "peak MiB", "populate s"
    );
    for backend in support::backends() {
        for &n in &sizes {
            let dir = tempfile::tempdir().unwrap();
            let Some(url) = support::fresh_db(backend, dir.path(), &format!("plan{n}")).await
            else {
                continue;
            };
            let started = Instant::now();
            populate(&url, n).await;
            let populated = started.elapsed();
            let config = support::write_config(
                dir.path(),
                &url,
                "http://127.0.0.1:9",
                "127.0.0.1:0",
                &dir.path().join("out"),
            );
            if v2 {
                let text = std::fs::read_to_string(&config).unwrap();
                let text = text
                    .replace(
                        "  locale: fr\n",
                        "  locale: fr\n  holidays: FR\n  send_window: { days: [mon, tue, wed, thu, fri], from: \"09:00\", to: \"17:30\" }\n",
                    )
                    .replace(
                        "  thank_you:",
                        "    - { id: call, offset_days: 30, channel: task, template: call, assignee: owner }\n    - { id: notice, offset_days: 30, channel: letter, template: mise_en_demeure, show_late_fees: true }\n    - { id: legal, offset_days: 90, channel: handoff, template: dossier }\n  group_by_customer: true\n  segments:\n    - { id: reliable, when: { paid_invoices_at_least: 3, average_days_late_at_most: 5 }, tone: gentle, skip_steps: [courtesy] }\n    - { id: at_risk, when: { average_days_late_at_least: 20 }, tone: firm, offset_shift_days: -3 }\n  thank_you:",
                    );
                std::fs::write(&config, text).unwrap();
            }
            let mut cmd = support::relance(&config, &["plan", "--at", TODAY, "--format", "json"]);
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            let (out, _, elapsed, peak) =
                tokio::task::spawn_blocking(move || support::measure_hwm(cmd))
                    .await
                    .unwrap();
            assert!(out.success(), "relance plan failed");
            println!(
                "{:<9} {:>8} {:>10.2} {:>12.0} {:>10.1} {:>12.1}",
                backend,
                n,
                elapsed.as_secs_f64(),
                n as f64 / elapsed.as_secs_f64(),
                peak as f64 / 1024.0,
                populated.as_secs_f64()
            );
        }
    }
}
