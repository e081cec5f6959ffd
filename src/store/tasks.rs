//! The review queue: reminders waiting for a person (`status = 'review'`): a step past the
//! automatic limit to approve, a call to make, a letter or a hand-off to approve.

use chrono::{DateTime, NaiveDate, Utc};
use relance_core::{Activity, Currency, Money, WriteBack};
use serde::Serialize;

use super::{Context, Store, StoreError, on_pool};

/// An invoice's payments and formal notice, for its late-payment figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LateFeeFacts {
    /// Payments received: when, and the amount in the invoice currency's minor units.
    pub payments: Vec<(DateTime<Utc>, i64)>,
    /// When the first formal notice (a letter) was sent.
    pub notice: Option<DateTime<Utc>>,
}

/// One task in the queue.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TaskRow {
    /// Reminder id (what `relance tasks approve|done|skip` take).
    pub id: i64,
    /// Step.
    pub step: String,
    /// Channel (`email`, `task`, `letter`, `handoff`).
    pub channel: String,
    /// Template.
    pub template: String,
    /// Why a person must act.
    pub reason: Option<String>,
    /// Day it entered the queue.
    pub planned_on: NaiveDate,
    /// Invoice (internal id).
    #[serde(skip)]
    pub invoice_id: i64,
    /// Invoice number.
    pub invoice: String,
    /// Provider's invoice id.
    pub external_id: String,
    /// Connector.
    pub connector: String,
    /// Customer name.
    pub customer: String,
    /// Customer e-mails (JSON array as stored).
    #[serde(skip)]
    pub emails: Option<String>,
    /// Bill-to e-mail of the invoice.
    #[serde(skip)]
    pub invoice_email: Option<String>,
    /// Customer phone.
    pub phone: Option<String>,
    /// Amount owed, minor units.
    #[serde(skip)]
    pub balance_minor: i64,
    /// Currency.
    pub currency: String,
    /// Due date.
    pub due_on: Option<NaiveDate>,
}

/// A line of an invoice's history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HistoryLine {
    /// Step.
    pub step: String,
    /// Where it stands.
    pub status: String,
    /// Channel.
    pub channel: String,
    /// Day planned.
    pub planned_on: NaiveDate,
    /// When it went out.
    pub sent_at: Option<DateTime<Utc>>,
    /// Why (skipped, cancelled, notes).
    pub reason: Option<String>,
    /// What a person recorded (notes, the letter generated).
    pub outcome: Option<String>,
}

/// What a person did with a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAction {
    /// Send it (e-mail steps).
    Approve,
    /// Done by the person (the call made, the letter posted).
    Done,
    /// Not done, on purpose.
    Skip,
}

/// Why an action on a task was refused.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No such task waiting.
    #[error("no task {0} is waiting (see `relance tasks`)")]
    NotWaiting(i64),
    /// Approving makes no sense for this channel.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `(reminder id, invoice id, connector, invoice external id, step, amount, currency, channel)`.
type TaskWriteBackRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
);

impl Store {
    /// Tasks waiting for a person, oldest first.
    pub async fn review_tasks(&self) -> Result<Vec<TaskRow>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as::<_, TaskRow>(
            "SELECT r.id, r.step, r.channel, r.template, r.reason, r.planned_on, \
             i.id AS invoice_id, i.number AS invoice, i.external_id, i.connector_id AS connector, \
             c.name AS customer, c.emails, i.email AS invoice_email, c.phone, \
             i.balance_minor, i.currency, i.due_on \
             FROM reminders r JOIN invoices i ON i.id = r.invoice_id \
             JOIN customers c ON c.id = r.customer_id \
             WHERE r.status = 'review' ORDER BY r.planned_on, r.id"
        )
        .fetch_all(pool)
        .await
        .ctx("reading the review queue"))
    }

    /// What late-payment interest depends on besides the invoice itself: its payments in its
    /// currency (when, how much in minor units), and when its first formal notice went out
    /// (a letter step done by a person).
    pub async fn late_fee_facts(
        &self,
        invoice_id: i64,
        currency: &str,
    ) -> Result<LateFeeFacts, StoreError> {
        let payments: Vec<(DateTime<Utc>, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT paid_at, amount_minor FROM payments WHERE invoice_id = $1 AND currency = $2 \
             ORDER BY paid_at, id"
        )
        .bind(invoice_id)
        .bind(currency)
        .fetch_all(pool)
        .await
        .ctx("reading an invoice's payments")
        })?;
        let notice: Option<(DateTime<Utc>,)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT sent_at FROM reminders WHERE invoice_id = $1 AND channel = 'letter' \
             AND status = 'sent' AND sent_at IS NOT NULL ORDER BY sent_at LIMIT 1"
        )
        .bind(invoice_id)
        .fetch_optional(pool)
        .await
        .ctx("reading an invoice's formal notice"))?;
        Ok(LateFeeFacts {
            payments,
            notice: notice.map(|(at,)| at),
        })
    }

    pub async fn invoice_history(&self, invoice_id: i64) -> Result<Vec<HistoryLine>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as::<_, HistoryLine>(
            "SELECT step, status, channel, planned_on, sent_at, reason, outcome FROM reminders \
             WHERE invoice_id = $1 ORDER BY planned_on, id"
        )
        .bind(invoice_id)
        .fetch_all(pool)
        .await
        .ctx("reading an invoice's history"))
    }

    /// Acts on a waiting task: approve (an e-mail step goes to the outbox and is sent by the
    /// next round), done (recorded as done by a person), skip. The note is kept on the row.
    pub async fn act_on_task(
        &self,
        id: i64,
        action: TaskAction,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, TaskError> {
        let row: Option<(String, String)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT channel, step FROM reminders WHERE id = $1 AND status = 'review'"
        )
        .bind(id)
        .fetch_optional(pool)
        .await
        .ctx("reading a task"))?;
        let Some((channel, step)) = row else {
            return Err(TaskError::NotWaiting(id));
        };
        let (status, verb) = match (action, channel.as_str()) {
            (TaskAction::Approve, "email") => {
                ("pending", "approved: it goes out with the next round")
            }
            (TaskAction::Approve, "letter" | "handoff") => {
                return Err(TaskError::Refused(format!(
                    "task {id} ({step}): letters and hand-offs are produced by `relance tasks approve {id}` with the configuration loaded"
                )));
            }
            (TaskAction::Approve, _) | (TaskAction::Done, _) => ("sent", "recorded as done"),
            (TaskAction::Skip, _) => ("skipped", "skipped"),
        };
        let who = note
            .map(|n| format!("{verb}: {n}"))
            .unwrap_or_else(|| verb.to_string());
        let sent_at = (status == "sent").then_some(now);
        let n = on_pool!(self, |pool| {
            sqlx::query(
            "UPDATE reminders SET status = $2, not_before = $3, sent_at = COALESCE($4, sent_at), \
             outcome = $5, updated_at = $3 WHERE id = $1 AND status = 'review'"
        )
        .bind(id)
        .bind(status)
        .bind(now)
        .bind(sent_at)
        .bind(&who)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .ctx("acting on a task")
        })?;
        if n == 0 {
            return Err(TaskError::NotWaiting(id));
        }
        Ok(format!("task {id} ({step}) {who}"))
    }

    /// Queues the write-back of a task entering the queue (a call to make becomes an open
    /// Task at Salesforce, a note line at QuickBooks), once per reminder.
    pub async fn queue_task_writeback(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row: Option<TaskWriteBackRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT r.id, r.invoice_id, i.connector_id, i.external_id, r.step, r.amount_minor, \
                 r.currency, r.channel FROM reminders r JOIN invoices i ON i.id = r.invoice_id \
                 WHERE r.key = $1 AND r.status = 'review'"
        )
        .bind(key)
        .fetch_optional(pool)
        .await
        .ctx("reading a task"))?;
        let Some((id, invoice_id, connector, external_id, step, amount, currency, channel)) = row
        else {
            return Ok(());
        };
        let amount = match (amount, currency.as_deref().map(Currency::parse)) {
            (Some(a), Some(Ok(c))) => Some(Money::from_minor(a, c)),
            _ => None,
        };
        let request = WriteBack {
            invoice_external_id: external_id,
            idempotency_key: format!("wb:{id}"),
            activity: Activity {
                step: step.clone(),
                channel: channel.clone(),
                sent_at: now,
                reminders_sent: 0,
                amount,
                summary: format!("{step}: to do by a person ({channel})"),
            },
        };
        let payload = serde_json::to_string(&request).expect("a write-back serialises");
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO writebacks (key, kind, reminder_id, connector_id, invoice_id, payload, \
             status, not_before, created_at, updated_at) \
             VALUES ($1, 'activity', $2, $3, $4, $5, 'pending', $6, $6, $6) ON CONFLICT (key) DO NOTHING"
        )
        .bind(format!("wb:{id}"))
        .bind(id)
        .bind(connector)
        .bind(invoice_id)
        .bind(payload)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("queueing a task write-back")
        })
    }
}
