//! Payment plans: an invoice's balance agreed in instalments.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use relance_core::{Currency, Money};

use super::{Context, Store, StoreError, on_pool};
use crate::policy::PlanFacts;

impl Store {
    /// Replaces the invoice's plan (a previous one ends as `replaced`), cancels the ladder's
    /// reminders waiting to go out, and records the instalments `(due, amount in minor units)`.
    pub async fn create_payment_plan(
        &self,
        invoice_id: i64,
        instalments: &[(NaiveDate, i64)],
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await.ctx("starting a transaction")?;
            sqlx::query(
                "UPDATE payment_plans SET status = 'replaced', ended_at = $2 \
                 WHERE invoice_id = $1 AND status = 'active'",
            )
            .bind(invoice_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx("ending a payment plan")?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO payment_plans (invoice_id, status, who, created_at) \
                 VALUES ($1, 'active', $2, $3) RETURNING id",
            )
            .bind(invoice_id)
            .bind(who)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .ctx("recording a payment plan")?;
            for (n, (due, amount)) in instalments.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO instalments (plan_id, number, due_on, amount_minor) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(i32::try_from(n + 1).unwrap_or(i32::MAX))
                .bind(*due)
                .bind(*amount)
                .execute(&mut *tx)
                .await
                .ctx("recording an instalment")?;
            }
            sqlx::query(
                "UPDATE reminders SET status = 'cancelled', reason = 'payment plan agreed', \
                 updated_at = $2 WHERE invoice_id = $1 AND kind = 'reminder' \
                 AND status IN ('pending', 'review', 'grouped')",
            )
            .bind(invoice_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx("cancelling pending reminders")?;
            sqlx::query(
                "INSERT INTO interventions (at, who, action, target_kind, target_id, until, reason) \
                 VALUES ($1, $2, 'payment-plan', 'invoice', $3, $4, $5)",
            )
            .bind(now)
            .bind(who)
            .bind(invoice_id)
            .bind(instalments.last().map(|i| i.0))
            .bind(format!("{} instalments", instalments.len()))
            .execute(&mut *tx)
            .await
            .ctx("recording an intervention")?;
            tx.commit().await.ctx("committing a payment plan")?;
            Ok(id)
        })
    }

    /// Every active plan, by invoice.
    pub async fn active_plans(&self) -> Result<HashMap<i64, PlanFacts>, StoreError> {
        let rows: Vec<(i64, NaiveDate, i64, String)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT p.invoice_id, i.due_on, i.amount_minor, v.currency FROM payment_plans p \
             JOIN instalments i ON i.plan_id = p.id JOIN invoices v ON v.id = p.invoice_id \
             WHERE p.status = 'active' ORDER BY p.invoice_id, i.number"
        )
        .fetch_all(pool)
        .await
        .ctx("reading payment plans"))?;
        let mut out: HashMap<i64, PlanFacts> = HashMap::new();
        for (invoice, due, amount, currency) in rows {
            let Ok(c) = Currency::parse(&currency) else {
                continue;
            };
            out.entry(invoice)
                .or_insert_with(|| PlanFacts {
                    instalments: Vec::new(),
                })
                .instalments
                .push((due, Money::from_minor(amount, c).amount));
        }
        Ok(out)
    }

    /// Instalment `number` of the invoice's active plan: `(due, amount)`.
    pub async fn instalment(
        &self,
        invoice_id: i64,
        number: i32,
    ) -> Result<Option<(NaiveDate, i64, usize)>, StoreError> {
        let row: Option<(NaiveDate, i64, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT i.due_on, i.amount_minor, (SELECT COUNT(*) FROM instalments j WHERE j.plan_id = p.id) \
             FROM payment_plans p JOIN instalments i ON i.plan_id = p.id \
             WHERE p.invoice_id = $1 AND p.status = 'active' AND i.number = $2"
        )
        .bind(invoice_id)
        .bind(number)
        .fetch_optional(pool)
        .await
        .ctx("reading an instalment")
        })?;
        Ok(row.map(|(d, a, n)| (d, a, usize::try_from(n).unwrap_or(0))))
    }
}
