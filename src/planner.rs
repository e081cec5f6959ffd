//! Planning: runs the pure policy over the stored book for one day and, in the daemon, writes
//! what is due to the outbox (steps missed on the way are recorded as skipped). `relance plan`
//! runs the same thing without writing.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::policy::config::Policy;
use crate::policy::{self, CustomerFacts, Hold, InvoiceFacts, PlanInput, Planned};
use relance_core::InvoiceStatus;

use crate::store::{NewReminder, PlanRow, PlanScope, ReminderStatus, Store, StoreError};

/// What the planner needs besides the store.
#[derive(Debug, Clone, Copy)]
pub struct PlanSettings<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// Days are counted in this time zone.
    pub timezone: Tz,
    /// Domain of the `Message-ID`s (the sender's).
    pub message_domain: &'a str,
    /// Business days and the send window.
    pub calendar: &'a crate::calendar::Calendar,
}

/// How much of the book the report describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Actions only, over invoices that may need one (the daemon).
    Actions,
    /// Actions, and the reason for every open or reminded invoice that gets nothing.
    Reasons,
    /// Actions, and the reason for every invoice.
    Everything,
}

/// A reminder due today.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// Invoice (internal id).
    pub invoice_id: i64,
    /// Connector.
    pub connector: String,
    /// Invoice number.
    pub invoice: String,
    /// Provider's invoice id.
    pub external_id: String,
    /// Customer (internal id).
    #[serde(skip)]
    pub customer_id: i64,
    /// Customer name.
    pub customer: String,
    /// Where it would go.
    pub recipients: Vec<String>,
    /// Step id.
    pub step: String,
    /// `reminder` or `thank_you`.
    pub kind: &'static str,
    /// Channel.
    pub channel: &'static str,
    /// Template.
    pub template: String,
    /// Without a person.
    pub automatic: bool,
    /// Why a person must act first (`relance tasks`), when one must.
    pub review: Option<String>,
    /// Customer segment that matched.
    pub segment: Option<String>,
    /// Template variant (the segment's tone).
    pub variant: Option<String>,
    /// Customer's time zone, when known (the send window is counted there).
    #[serde(skip)]
    pub time_zone: Option<chrono_tz::Tz>,
    /// Amount owed (thank-you: amount invoiced), decimal text.
    pub amount: String,
    /// Currency.
    pub currency: String,
    /// Due date.
    pub due_on: Option<NaiveDate>,
    /// Days from the due date (negative before).
    pub days_from_due: Option<i64>,
    /// Earlier steps recorded as skipped with this action.
    pub missed: Vec<String>,
    /// Things a person should know (a promise to pay broken).
    pub notes: Vec<String>,
    #[serde(skip)]
    amount_minor: i64,
}

/// An invoice that gets nothing today, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    /// Invoice (internal id).
    pub invoice_id: i64,
    /// Connector.
    pub connector: String,
    /// Invoice number.
    pub invoice: String,
    /// Customer name.
    pub customer: String,
    /// Amount owed, decimal text.
    pub amount: String,
    /// Currency.
    pub currency: String,
    /// Invoice status.
    pub status: String,
    /// Due date.
    pub due_on: Option<NaiveDate>,
    /// Why (machine-readable `code` and its fields).
    pub reason: Hold,
    /// Why, in words.
    pub detail: String,
}

/// The plan for one day.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// The day planned (company time zone).
    pub date: NaiveDate,
    /// Invoices considered.
    pub invoices: u64,
    /// What goes out.
    pub actions: Vec<Action>,
    /// What does not, and why (per [`Detail`]).
    pub held: Vec<Held>,
    /// Invoices held, by reason code.
    pub counts: BTreeMap<&'static str, u64>,
}

/// The deterministic `Message-ID` of a step: the same on every attempt and every replica, so a
/// message sent twice after a crash can be recognised as one.
pub fn message_id(connector: &str, external_id: &str, step: &str, domain: &str) -> String {
    let digest = Sha256::digest(format!("{connector}/{external_id}/{step}").as_bytes());
    format!("<relance.{}@{domain}>", &hex::encode(digest)[..32])
}

/// The outbox key of an invoice's step.
pub fn reminder_key(invoice_id: i64, step: &str) -> String {
    format!("invoice:{invoice_id}:{step}")
}

/// The day `now` falls on in `tz`.
pub fn day_in(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

fn facts(row: &PlanRow, plans: &std::collections::HashMap<i64, policy::PlanFacts>) -> InvoiceFacts {
    InvoiceFacts {
        plan: plans.get(&row.invoice.id).cloned(),
        status: row.invoice.status(),
        chase: row.invoice.chase,
        due_on: row.invoice.due_on,
        balance: row.invoice.balance().amount,
        paused_until: row.invoice.paused_until,
        pause_reason: row.invoice.pause_reason.clone(),
    }
}

fn recipients(row: &PlanRow) -> Vec<String> {
    match &row.invoice.email {
        Some(e) if !e.trim().is_empty() => vec![e.trim().to_string()],
        _ => row.customer.email_list(),
    }
}

/// Runs the policy over the book for the day `now` falls on.
pub async fn plan(
    store: &Store,
    settings: PlanSettings<'_>,
    now: DateTime<Utc>,
    detail: Detail,
) -> Result<PlanReport, StoreError> {
    plan_streaming(store, settings, now, detail, None).await
}

/// Like [`plan`], but held invoices go to `on_held` as they are found instead of into the
/// report, so a large book is never held in memory.
pub async fn plan_streaming(
    store: &Store,
    settings: PlanSettings<'_>,
    now: DateTime<Utc>,
    detail: Detail,
    mut on_held: Option<&mut (dyn FnMut(Held) + Send)>,
) -> Result<PlanReport, StoreError> {
    let today = day_in(now, settings.timezone);
    let histories = store.customer_histories(today).await?;
    let plans = store.active_plans().await?;
    let mut report = PlanReport {
        date: today,
        invoices: 0,
        actions: Vec::new(),
        held: Vec::new(),
        counts: BTreeMap::new(),
    };
    let scope = match detail {
        Detail::Actions => PlanScope::Active,
        Detail::Reasons => PlanScope::Interesting,
        Detail::Everything => PlanScope::All,
    };
    if scope == PlanScope::Interesting {
        // Closed invoices never reminded get nothing and are not listed: counted in SQL
        // rather than read one by one.
        for (status, n) in store.quiet_closed_counts().await? {
            let code = InvoiceStatus::parse(&status).map_or("void", |s| match s {
                InvoiceStatus::Paid => Hold::Paid.code(),
                InvoiceStatus::Uncollectible => Hold::Uncollectible.code(),
                InvoiceStatus::Draft => Hold::Draft.code(),
                InvoiceStatus::Void | InvoiceStatus::Open => Hold::Void.code(),
            });
            *report.counts.entry(code).or_default() += n as u64;
            report.invoices += n as u64;
        }
    }
    report.invoices += store
        .for_each_plan_row(scope, |row| {
            let invoice = facts(&row, &plans);
            let customer = CustomerFacts {
                excluded: row.customer.excluded,
                paused_until: row.customer.paused_until,
                pause_reason: row.customer.pause_reason.clone(),
                history: histories.get(&row.customer.id).cloned().unwrap_or_default(),
            };
            let decision = policy::decide_on(
                PlanInput {
                    invoice: &invoice,
                    customer: &customer,
                    reminders: &row.reminders,
                },
                settings.policy,
                today,
                settings.calendar,
            );
            match decision.action {
                Ok(planned) => {
                    let mut a = action(&row, planned, decision.missed, today);
                    a.notes = decision.notes;
                    report.actions.push(a);
                }
                Err(hold) => {
                    *report.counts.entry(hold.code()).or_default() += 1;
                    let interesting = row.invoice.status == "open" || !row.reminders.is_empty();
                    let wanted = match detail {
                        Detail::Actions => false,
                        Detail::Reasons => interesting,
                        Detail::Everything => true,
                    };
                    if wanted {
                        let held = Held {
                            invoice_id: row.invoice.id,
                            connector: row.invoice.connector_id.clone(),
                            invoice: row.invoice.number.clone(),
                            customer: row.customer.name.clone(),
                            amount: row.invoice.balance().amount.to_string(),
                            currency: row.invoice.currency.clone(),
                            status: row.invoice.status.clone(),
                            due_on: row.invoice.due_on,
                            detail: hold.to_string(),
                            reason: hold,
                        };
                        match on_held.as_mut() {
                            Some(f) => f(held),
                            None => report.held.push(held),
                        }
                    }
                }
            }
        })
        .await?;
    Ok(report)
}

fn action(row: &PlanRow, planned: Planned, missed: Vec<String>, today: NaiveDate) -> Action {
    let amount = if planned.kind == "thank_you" {
        row.invoice.total()
    } else {
        row.invoice.balance()
    };
    Action {
        invoice_id: row.invoice.id,
        connector: row.invoice.connector_id.clone(),
        invoice: row.invoice.number.clone(),
        external_id: row.invoice.external_id.clone(),
        customer_id: row.customer.id,
        customer: row.customer.name.clone(),
        recipients: recipients(row),
        step: planned.step,
        kind: planned.kind,
        channel: planned.channel.as_str(),
        template: planned.template,
        automatic: planned.automatic,
        review: planned.review.clone(),
        segment: planned.segment.clone(),
        variant: planned.variant.clone(),
        time_zone: row
            .customer
            .time_zone
            .as_deref()
            .and_then(|t| t.parse().ok()),
        amount: amount.amount.to_string(),
        amount_minor: amount.to_minor().unwrap_or_default(),
        currency: row.invoice.currency.clone(),
        due_on: row.invoice.due_on,
        days_from_due: row.invoice.due_on.map(|d| (today - d).num_days()),
        missed,
        notes: Vec::new(),
    }
}

/// Writes the report's actions to the outbox (and their missed steps as skipped). Returns how
/// many reminders are newly pending; a key already present is left alone.
pub async fn commit(
    store: &Store,
    settings: PlanSettings<'_>,
    report: &PlanReport,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut pending = Vec::new();
    let mut skipped = Vec::new();
    for a in &report.actions {
        pending.push(NewReminder {
            key: reminder_key(a.invoice_id, &a.step),
            invoice_id: a.invoice_id,
            customer_id: a.customer_id,
            step: a.step.clone(),
            kind: a.kind.to_string(),
            channel: a.channel.to_string(),
            template: a.template.clone(),
            automatic: a.automatic,
            status: if a.review.is_some() {
                ReminderStatus::Review
            } else {
                ReminderStatus::Pending
            },
            reason: a.review.clone(),
            planned_on: report.date,
            // Inside the send window, in the customer's time zone (the company's otherwise).
            not_before: settings
                .calendar
                .next_send_instant(now, a.time_zone.unwrap_or(settings.timezone)),
            message_id: message_id(
                &a.connector,
                &a.external_id,
                &a.step,
                settings.message_domain,
            ),
            amount_minor: Some(a.amount_minor),
            currency: Some(a.currency.clone()),
            segment: a.segment.clone(),
            variant: a.variant.clone(),
            group_key: None,
        });
        for missed in &a.missed {
            let Some(step) = settings.policy.steps.iter().find(|s| &s.id == missed) else {
                continue;
            };
            let planned_on = a
                .due_on
                .map(|d| policy::day_of(d, step.offset_days))
                .unwrap_or(report.date);
            skipped.push(NewReminder {
                key: reminder_key(a.invoice_id, missed),
                invoice_id: a.invoice_id,
                customer_id: a.customer_id,
                step: missed.clone(),
                kind: "reminder".into(),
                channel: step.channel.as_str().into(),
                template: step.template.clone(),
                automatic: true,
                status: ReminderStatus::Skipped,
                reason: Some(format!(
                    "missed: its day ({planned_on}) had passed when it could be planned; {} sent instead",
                    a.step
                )),
                planned_on,
                not_before: now,
                message_id: message_id(&a.connector, &a.external_id, missed, settings.message_domain),
                amount_minor: None,
                currency: None,
                segment: None,
                variant: None,
                group_key: None,
            });
        }
    }
    if settings.policy.group_by_customer {
        group_by_customer(&mut pending, report);
    }
    store.insert_reminders(&skipped, now).await?;
    let inserted = store.insert_reminders(&pending, now).await?;
    // A call to make shows where the team works (an open Task, a note line).
    for a in report.actions.iter().filter(|a| a.channel == "task") {
        store
            .queue_task_writeback(&reminder_key(a.invoice_id, &a.step), now)
            .await?;
    }
    Ok(inserted)
}

/// One message per customer: of a customer's e-mail reminders due today, the one of the
/// oldest invoice leads and the others ride with it (status `grouped`, naming the lead). Each
/// invoice's own row is kept, so every ladder advances and is written back per invoice.
fn group_by_customer(pending: &mut [NewReminder], report: &PlanReport) {
    use std::collections::HashMap;
    let due: HashMap<i64, Option<NaiveDate>> = report
        .actions
        .iter()
        .map(|a| (a.invoice_id, a.due_on))
        .collect();
    let mut leads: HashMap<i64, usize> = HashMap::new();
    for (i, r) in pending.iter().enumerate() {
        if r.kind != "reminder" || r.channel != "email" || r.status != ReminderStatus::Pending {
            continue;
        }
        let key = |j: usize| {
            (
                due.get(&pending[j].invoice_id).copied().flatten(),
                pending[j].invoice_id,
            )
        };
        match leads.get(&r.customer_id) {
            Some(&j) if key(j) <= key(i) => {}
            _ => {
                leads.insert(r.customer_id, i);
            }
        }
    }
    let lead_keys: HashMap<i64, (usize, String)> = leads
        .iter()
        .map(|(c, &i)| (*c, (i, pending[i].key.clone())))
        .collect();
    for (i, r) in pending.iter_mut().enumerate() {
        if r.kind != "reminder" || r.channel != "email" || r.status != ReminderStatus::Pending {
            continue;
        }
        if let Some((lead, key)) = lead_keys.get(&r.customer_id)
            && *lead != i
        {
            r.status = ReminderStatus::Grouped;
            r.reason = Some(format!("sent with {key}"));
            r.group_key = Some(key.clone());
        }
    }
}
