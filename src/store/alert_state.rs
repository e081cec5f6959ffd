//! The state of alerts (crossed or not), so each crossing is told once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Context, Store, StoreError, on_pool};

impl Store {
    /// Records `value ≥ threshold` for an alert's subject; true when it just crossed (was not
    /// active before).
    pub async fn alert_transition(
        &self,
        alert: &str,
        subject: &str,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let before: Option<(bool,)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT active FROM alert_state WHERE alert_id = $1 AND subject = $2"
        )
        .bind(alert)
        .bind(subject)
        .fetch_optional(pool)
        .await
        .ctx("reading an alert"))?;
        let was = before.is_some_and(|b| b.0);
        if was == active && before.is_some() {
            return Ok(false);
        }
        if before.is_none() && !active {
            return Ok(false);
        }
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO alert_state (alert_id, subject, active, crossings, changed_at) \
             VALUES ($1, $2, $3, CASE WHEN $3 THEN 1 ELSE 0 END, $4) \
             ON CONFLICT (alert_id, subject) DO UPDATE SET active = excluded.active, \
             crossings = alert_state.crossings + CASE WHEN excluded.active THEN 1 ELSE 0 END, \
             changed_at = excluded.changed_at"
        )
        .bind(alert)
        .bind(subject)
        .bind(active)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("recording an alert"))?;
        Ok(active && !was)
    }

    /// Subjects whose alert is crossed now: `(alert, subject)`.
    pub async fn active_alerts(&self) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT alert_id, subject FROM alert_state WHERE active"
        )
        .fetch_all(pool)
        .await
        .ctx("reading alerts"))
    }

    /// Customer names by id.
    pub async fn customer_names(&self) -> Result<HashMap<i64, String>, StoreError> {
        let rows: Vec<(i64, String)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, name FROM customers"
        )
        .fetch_all(pool)
        .await
        .ctx("reading customer names"))?;
        Ok(rows.into_iter().collect())
    }
}
