//! Pauses decided by people: a disputed invoice, a promise to pay, a customer paused, and
//! their end; each recorded with who, when and why, and what was pending cancelled at once.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Context, Store, StoreError, on_pool};

/// An invoice or a customer a command names.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Target {
    /// Internal id.
    pub id: i64,
    /// Connector.
    pub connector_id: String,
    /// Number (invoice) or name (customer).
    pub label: String,
    /// Provider's id.
    pub external_id: String,
}

/// "Until resumed" (a dispute).
pub fn indefinitely() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date")
}

impl Store {
    /// Invoices whose number or provider id is `ident` (in `connector` if given).
    pub async fn find_invoices(
        &self,
        ident: &str,
        connector: Option<&str>,
    ) -> Result<Vec<Target>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as::<_, Target>(
            "SELECT id, connector_id, number AS label, external_id FROM invoices \
             WHERE (number = $1 OR external_id = $1) AND ($2 IS NULL OR connector_id = $2) \
             ORDER BY id"
        )
        .bind(ident)
        .bind(connector)
        .fetch_all(pool)
        .await
        .ctx("finding an invoice"))
    }

    /// Customers whose provider id or exact name is `ident` (in `connector` if given).
    pub async fn find_customers(
        &self,
        ident: &str,
        connector: Option<&str>,
    ) -> Result<Vec<Target>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as::<_, Target>(
            "SELECT id, connector_id, name AS label, external_id FROM customers \
             WHERE (external_id = $1 OR name = $1) AND ($2 IS NULL OR connector_id = $2) \
             ORDER BY id"
        )
        .bind(ident)
        .bind(connector)
        .fetch_all(pool)
        .await
        .ctx("finding a customer"))
    }

    /// Pauses (`until` = Some) or resumes (None) an invoice or a customer, records it, and
    /// cancels the reminders still waiting to go out. All in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_pause(
        &self,
        kind: &str,
        id: i64,
        until: Option<NaiveDate>,
        reason: Option<&str>,
        action: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let table = if kind == "customer" {
            "customers"
        } else {
            "invoices"
        };
        let update = format!(
            "UPDATE {table} SET paused_until = $2, pause_reason = $3, updated_at = $4 WHERE id = $1"
        );
        let cancel = if kind == "customer" {
            "UPDATE reminders SET status = 'cancelled', reason = $2, updated_at = $3 \
             WHERE customer_id = $1 AND kind = 'reminder' AND status IN ('pending', 'review', 'grouped')"
        } else {
            "UPDATE reminders SET status = 'cancelled', reason = $2, updated_at = $3 \
             WHERE invoice_id = $1 AND kind = 'reminder' AND status IN ('pending', 'review', 'grouped')"
        };
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await.ctx("starting a transaction")?;
            sqlx::query(&update)
                .bind(id)
                .bind(until)
                .bind(reason)
                .bind(now)
                .execute(&mut *tx)
                .await
                .ctx("pausing")?;
            let cancelled = if until.is_some() {
                sqlx::query(cancel)
                    .bind(id)
                    .bind(format!("{action}: {}", reason.unwrap_or("paused")))
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .ctx("cancelling pending reminders")?
                    .rows_affected()
            } else {
                0
            };
            sqlx::query(
                "INSERT INTO interventions (at, who, action, target_kind, target_id, until, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(now)
            .bind(who)
            .bind(action)
            .bind(kind)
            .bind(id)
            .bind(until)
            .bind(reason)
            .execute(&mut *tx)
            .await
            .ctx("recording an intervention")?;
            tx.commit().await.ctx("committing a pause")?;
            Ok(cancelled)
        })
    }
}
