//! The write-back outbox: activities to record on the source platform, retried until done,
//! in order per invoice.

use chrono::{DateTime, Utc};

use super::{Context, Dialect, Store, StoreError, dialect_sql, on_pool};

/// A write-back claimed by this worker.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedWriteBack {
    /// Row id.
    pub id: i64,
    /// Idempotency key.
    pub key: String,
    /// `activity` (a reminder) or `payment` (a payment taken elsewhere).
    pub kind: String,
    /// Reminder it records, for activities.
    pub reminder_id: Option<i64>,
    /// Connector to write to.
    pub connector_id: String,
    /// Invoice (internal id).
    pub invoice_id: i64,
    /// JSON of the `WriteBack`.
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

impl Store {
    /// Claims write-backs due at `now`, the oldest of each invoice only (so an invoice's
    /// metadata never goes backwards).
    pub async fn claim_writebacks(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedWriteBack>, StoreError> {
        on_pool!(self, |pool| {
            let sql = dialect_sql!(
                pool,
                "UPDATE writebacks SET status = 'running', lease_owner = $1, lease_until = $2, \
                 attempts = attempts + 1, updated_at = $3 \
                 WHERE id IN (SELECT w.id FROM writebacks w \
                   WHERE ((w.status = 'pending' AND w.not_before <= $3) \
                       OR (w.status = 'running' AND w.lease_until < $3)) \
                   AND NOT EXISTS (SELECT 1 FROM writebacks e WHERE e.invoice_id = w.invoice_id \
                       AND e.id < w.id AND e.status IN ('pending', 'running')) \
                   ORDER BY w.id LIMIT $4 {skip_locked}) \
                 RETURNING id, key, kind, reminder_id, connector_id, invoice_id, payload, attempts"
            );
            let mut tx = pool.begin_write().await.ctx("starting a transaction")?;
            let mut rows: Vec<ClaimedWriteBack> = sqlx::query_as(&sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .ctx("claiming write-backs")?;
            tx.commit().await.ctx("committing a claim")?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
    }

    /// Ends a write-back claim: `done`, `failed` or `skipped`, or back to `pending` at
    /// `retry_at`.
    pub async fn finish_writeback(
        &self,
        id: i64,
        status: &str,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let status = if retry_at.is_some() {
            "pending"
        } else {
            status
        };
        let done_at = (status == "done").then_some(now);
        on_pool!(self, |pool| {
            sqlx::query(
            "UPDATE writebacks SET status = $2, last_error = $3, not_before = COALESCE($4, not_before), \
             done_at = $5, lease_owner = NULL, lease_until = NULL, updated_at = $6 WHERE id = $1"
        )
        .bind(id)
        .bind(status)
        .bind(error)
        .bind(retry_at)
        .bind(done_at)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("finishing a write-back")
        })
    }

    /// Lifts the pause an external payment put on an invoice, once its platform recorded it.
    pub async fn clear_payment_pause(
        &self,
        invoice_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE invoices SET paused_until = NULL, pause_reason = NULL, updated_at = $2 \
             WHERE id = $1 AND pause_reason LIKE 'payment of %'"
        )
        .bind(invoice_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("lifting a payment pause"))
    }

    /// Counts write-backs by status.
    pub async fn writeback_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT status, COUNT(*) FROM writebacks GROUP BY status ORDER BY status"
        )
        .fetch_all(pool)
        .await
        .ctx("counting write-backs"))
    }
}
