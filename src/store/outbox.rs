//! The reminder outbox: one row per (invoice, step) under a unique key; claimed with a lease,
//! re-read under the claim, marked with its outcome. The rows are also the audit trail.

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    Arg, Context, CustomerRow, Dialect, InvoiceRow, Stmt, Store, StoreError, dialect_sql, on_pool,
    run_stmts, values_rows,
};

/// Outbox states, as stored.
pub use crate::policy::ReminderState as ReminderStatus;

/// A row to add to the outbox.
#[derive(Debug, Clone)]
pub struct NewReminder {
    /// Idempotency key (`invoice:{id}:{step}`).
    pub key: String,
    /// Invoice.
    pub invoice_id: i64,
    /// Customer.
    pub customer_id: i64,
    /// Step id.
    pub step: String,
    /// `reminder` or `thank_you`.
    pub kind: String,
    /// Channel.
    pub channel: String,
    /// Template.
    pub template: String,
    /// Sent without a person.
    pub automatic: bool,
    /// `pending` or `skipped`.
    pub status: ReminderStatus,
    /// Why, for skipped rows.
    pub reason: Option<String>,
    /// The day it is for.
    pub planned_on: NaiveDate,
    /// Not sent before.
    pub not_before: DateTime<Utc>,
    /// Deterministic `Message-ID`.
    pub message_id: String,
    /// Amount chased, minor units.
    pub amount_minor: Option<i64>,
    /// Its currency.
    pub currency: Option<String>,
    /// Customer segment that matched.
    pub segment: Option<String>,
    /// Template variant (the segment's tone).
    pub variant: Option<String>,
    /// Key of the reminder this one goes out with (one message per customer).
    pub group_key: Option<String>,
}

/// A reminder claimed by this worker.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedReminder {
    /// Row id.
    pub id: i64,
    /// Idempotency key.
    pub key: String,
    /// Invoice.
    pub invoice_id: Option<i64>,
    /// Customer.
    pub customer_id: i64,
    /// Step.
    pub step: String,
    /// `reminder` or `thank_you`.
    pub kind: String,
    /// Channel.
    pub channel: String,
    /// Template.
    pub template: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// Deterministic `Message-ID`.
    pub message_id: String,
    /// The day it is for.
    pub planned_on: NaiveDate,
    /// Set when a previous attempt was interrupted after claiming (maybe sent).
    pub last_error: Option<String>,
    /// Template variant to try first (`firm.gentle`), falling back to the template.
    pub variant: Option<String>,
}

/// A sent reminder, for write-back and reports.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SentReminder {
    /// Row id.
    pub id: i64,
    /// Step.
    pub step: String,
    /// Status.
    pub status: String,
    /// Sent at.
    pub sent_at: Option<DateTime<Utc>>,
}

/// A message as it went out.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SentMessage {
    /// Step.
    pub step: String,
    /// Channel.
    pub channel: String,
    /// When it went out.
    pub sent_at: DateTime<Utc>,
    /// To whom.
    pub recipients: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Text.
    pub body: String,
}

/// The write-back to queue with a delivery: `payload` builds the JSON from the number of
/// reminders the invoice has had, counted in the same transaction.
pub struct WriteBackRequest<'a> {
    /// Connector to write to.
    pub connector_id: &'a str,
    /// Invoice (internal id).
    pub invoice_id: i64,
    /// Builds the payload.
    pub payload: &'a (dyn Fn(u32) -> String + Sync),
}

const INSERT_CHUNK: usize = 200;

/// Text left by a claim that finds a row another worker had claimed and never marked.
pub const INTERRUPTED: &str =
    "previous attempt interrupted after claiming: it may have been sent (same Message-ID)";

fn insert_stmt(rows: &[NewReminder], now: DateTime<Utc>) -> Stmt {
    let mut args: Vec<Arg> = vec![now.into()];
    for r in rows {
        args.extend([
            Arg::from(r.key.as_str()),
            r.invoice_id.into(),
            r.customer_id.into(),
            r.step.as_str().into(),
            r.kind.as_str().into(),
            r.channel.as_str().into(),
            r.template.as_str().into(),
            r.automatic.into(),
            r.status.as_str().into(),
            r.reason.clone().into(),
            Some(r.planned_on).into(),
            r.not_before.into(),
            r.message_id.as_str().into(),
            Arg::Int(r.amount_minor),
            r.currency.clone().into(),
            r.segment.clone().into(),
            r.variant.clone().into(),
            r.group_key.clone().into(),
        ]);
    }
    let values = values_rows(
        "({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}, {16}, {17}, $1, $1)",
        18,
        rows.len(),
        1,
    );
    Stmt {
        sql: format!(
            "INSERT INTO reminders (key, invoice_id, customer_id, step, kind, channel, template, \
             automatic, status, reason, planned_on, not_before, message_id, amount_minor, \
             currency, segment, variant, group_key, created_at, updated_at) VALUES {values} \
             ON CONFLICT (key) DO NOTHING"
        ),
        args,
    }
}

impl Store {
    /// Adds rows to the outbox; a key already there is left as it is (idempotent). Returns
    /// how many rows were new.
    pub async fn insert_reminders(
        &self,
        rows: &[NewReminder],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let stmts: Vec<Stmt> = rows
            .chunks(INSERT_CHUNK)
            .map(|c| insert_stmt(c, now))
            .collect();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.ctx("starting a transaction")?;
            let n = run_stmts!(pool, tx, stmts, "adding reminders to the outbox");
            tx.commit().await.ctx("committing planned reminders")?;
            Ok(n)
        })
    }

    /// Claims up to `limit` reminders due at `now` (and any whose lease expired), for `owner`
    /// until `lease_until`. A row is never held by two workers at once.
    pub async fn claim_reminders(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedReminder>, StoreError> {
        on_pool!(self, |pool| {
            let sql = dialect_sql!(
                pool,
                "UPDATE reminders SET status = 'sending', lease_owner = $1, lease_until = $2, \
                 attempts = attempts + 1, updated_at = $3, \
                 last_error = CASE WHEN status = 'sending' THEN $5 ELSE last_error END \
                 WHERE id IN (SELECT id FROM reminders \
                   WHERE (status = 'pending' AND not_before <= $3) \
                      OR (status = 'sending' AND lease_until < $3) \
                   ORDER BY id LIMIT $4 {skip_locked}) \
                 RETURNING id, key, invoice_id, customer_id, step, kind, channel, template, \
                 attempts, message_id, planned_on, last_error, variant"
            );
            let mut tx = pool.begin_write().await.ctx("starting a transaction")?;
            let mut rows: Vec<ClaimedReminder> = sqlx::query_as(&sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .bind(INTERRUPTED)
                .fetch_all(&mut *tx)
                .await
                .ctx("claiming reminders")?;
            tx.commit().await.ctx("committing a claim")?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
    }

    /// The invoice and customer of a reminder, as stored now.
    pub async fn invoice_with_customer(
        &self,
        invoice_id: i64,
    ) -> Result<Option<(InvoiceRow, CustomerRow)>, StoreError> {
        let invoice: Option<InvoiceRow> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT id, connector_id, external_id, customer_id, number, issued_on, due_on, currency, \
             total_minor, balance_minor, status, chase, email, payment_url, paid_at, paused_until, \
             pause_reason, source_updated_at FROM invoices WHERE id = $1"
        )
        .bind(invoice_id)
        .fetch_optional(pool)
        .await
        .ctx("reading an invoice")
        })?;
        let Some(invoice) = invoice else {
            return Ok(None);
        };
        let customer: CustomerRow = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, connector_id, external_id, name, emails, phone, locale, time_zone, \
             excluded, paused_until, pause_reason, address, kind FROM customers WHERE id = $1"
        )
        .bind(invoice.customer_id)
        .fetch_one(pool)
        .await
        .ctx("reading a customer"))?;
        Ok(Some((invoice, customer)))
    }

    /// Reminders riding with `lead_key`: `(id, invoice id, step)`.
    pub async fn group_members(
        &self,
        lead_key: &str,
    ) -> Result<Vec<(i64, i64, String)>, StoreError> {
        on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT id, invoice_id, step FROM reminders WHERE group_key = $1 AND status = 'grouped' \
             ORDER BY id"
        )
        .bind(lead_key)
        .fetch_all(pool)
        .await
        .ctx("reading a group")
        })
    }

    /// Lets the reminders riding with a lead that will not go out go on their own.
    pub async fn release_group(
        &self,
        lead_key: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE reminders SET status = 'pending', group_key = NULL, updated_at = $2 \
             WHERE group_key = $1 AND status = 'grouped'"
        )
        .bind(lead_key)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .ctx("releasing a group"))
    }

    /// The customer's open invoices with a balance, oldest due first (what one message per
    /// customer lists).
    pub async fn open_invoices_of(&self, customer_id: i64) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT id FROM invoices WHERE customer_id = $1 AND status = 'open' AND balance_minor > 0 \
             ORDER BY due_on, id"
        )
        .bind(customer_id)
        .fetch_all(pool)
        .await
        .ctx("reading open invoices")
        })?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The messages sent about an invoice (its own, and those it rode in with another
    /// invoice of the customer), oldest first.
    pub async fn sent_messages(&self, invoice_id: i64) -> Result<Vec<SentMessage>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT step, channel, sent_at, recipients, subject, body FROM reminders \
             WHERE invoice_id = $1 AND status = 'sent' AND sent_at IS NOT NULL \
             AND body IS NOT NULL ORDER BY sent_at, id"
        )
        .bind(invoice_id)
        .fetch_all(pool)
        .await
        .ctx("reading the messages sent"))
    }

    /// The reminders of an invoice, oldest first.
    pub async fn reminders_of(&self, invoice_id: i64) -> Result<Vec<SentReminder>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, step, status, sent_at FROM reminders WHERE invoice_id = $1 ORDER BY id"
        )
        .bind(invoice_id)
        .fetch_all(pool)
        .await
        .ctx("reading reminders"))
    }

    /// Records a delivery and, in the same transaction, queues the write-back built by
    /// `writeback` from the number of reminders this invoice has had (this one included).
    /// `message` is what went out (subject, text), kept for the audit trail and the dossier.
    pub async fn mark_sent(
        &self,
        id: i64,
        recipients: &str,
        now: DateTime<Utc>,
        message: (&str, &str),
        writeback: Option<WriteBackRequest<'_>>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.ctx("starting a transaction")?;
            sqlx::query(
                "UPDATE reminders SET status = 'sent', sent_at = $2, recipients = $3, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $2, outcome = 'delivered', \
                 subject = $4, body = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(recipients)
            .bind(message.0)
            .bind(message.1)
            .execute(&mut *tx)
            .await
            .ctx("marking a reminder sent")?;
            if let Some(WriteBackRequest {
                connector_id,
                invoice_id,
                payload,
            }) = writeback
            {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM reminders WHERE invoice_id = $1 AND kind = 'reminder' \
                     AND status = 'sent'",
                )
                .bind(invoice_id)
                .fetch_one(&mut *tx)
                .await
                .ctx("counting reminders")?;
                sqlx::query(
                    "INSERT INTO writebacks (key, reminder_id, connector_id, invoice_id, payload, \
                     status, not_before, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6) ON CONFLICT (key) DO NOTHING",
                )
                .bind(format!("wb:{id}"))
                .bind(id)
                .bind(connector_id)
                .bind(invoice_id)
                .bind(payload(u32::try_from(count).unwrap_or(u32::MAX)))
                .bind(now)
                .execute(&mut *tx)
                .await
                .ctx("queueing a write-back")?;
            }
            tx.commit().await.ctx("committing a delivery")?;
            Ok(())
        })
    }

    /// Ends a claim: `status` with `reason`; `retry_at` puts it back in the queue instead.
    pub async fn release_reminder(
        &self,
        id: i64,
        owner: &str,
        status: ReminderStatus,
        reason: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (status, not_before) = match retry_at {
            Some(at) => (ReminderStatus::Pending, Some(at)),
            None => (status, None),
        };
        let column = if status == ReminderStatus::Pending || status == ReminderStatus::Failed {
            "last_error"
        } else {
            "reason"
        };
        let sql = format!(
            "UPDATE reminders SET status = $3, {column} = $4, \
             not_before = COALESCE($5, not_before), lease_owner = NULL, lease_until = NULL, \
             updated_at = $6 WHERE id = $1 AND lease_owner = $2"
        );
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(id)
            .bind(owner)
            .bind(status.as_str())
            .bind(reason)
            .bind(not_before)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
            .ctx("releasing a reminder"))
    }

    /// Gives a claimed row back untouched (shutdown before sending): the attempt is not
    /// counted.
    pub async fn unclaim_reminder(
        &self,
        id: i64,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE reminders SET status = 'pending', attempts = attempts - 1, lease_owner = NULL, \
             lease_until = NULL, updated_at = $3 WHERE id = $1 AND lease_owner = $2 \
             AND status = 'sending'"
        )
        .bind(id)
        .bind(owner)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("giving a reminder back"))
    }

    /// Counts outbox rows by status (for `check` and health).
    pub async fn reminder_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT status, COUNT(*) FROM reminders GROUP BY status ORDER BY status"
        )
        .fetch_all(pool)
        .await
        .ctx("counting reminders"))
    }
}
