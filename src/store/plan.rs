//! What the planner reads: every invoice with its customer and reminders, streamed in id
//! order (never the whole book in memory), and customers' payment histories.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Context, CustomerRow, InvoiceRow, Store, StoreError, on_pool};
use crate::policy::ReminderState;
pub use crate::policy::{CustomerHistory, ReminderFact};

/// One invoice as the planner sees it.
#[derive(Debug, Clone)]
pub struct PlanRow {
    /// The invoice.
    pub invoice: InvoiceRow,
    /// Its customer.
    pub customer: CustomerRow,
    /// Its reminders, oldest first.
    pub reminders: Vec<ReminderFact>,
}

/// Invoices read per query: each page comes back as one JSON document, so a large book
/// costs a few thousand rows, not millions (SQLite hands rows over one by one between
/// threads, which dominated planning time).
const PAGE: i64 = 2000;

/// One invoice of a page, as the JSON array the query builds.
#[derive(Deserialize)]
struct JsonRow(
    i64,
    String,
    String,
    i64,
    String,
    Option<NaiveDate>,
    Option<NaiveDate>,
    String,
    i64,
    i64,
    String,
    Flag,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Flag,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
    Vec<JsonReminder>,
);

#[derive(Deserialize)]
struct JsonReminder(String, String, Flag, NaiveDate);

/// A boolean as SQLite (0/1) or PostgreSQL (true/false) writes it in JSON.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Int(i64),
}

impl Flag {
    fn get(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Int(i) => *i != 0,
        }
    }
}

fn instant(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Invalid(format!("stored time `{text}` unreadable: {e}")))
}

impl JsonRow {
    fn into_plan_row(self) -> Result<PlanRow, StoreError> {
        let JsonRow(
            id,
            connector_id,
            external_id,
            customer_id,
            number,
            issued_on,
            due_on,
            currency,
            total_minor,
            balance_minor,
            status,
            chase,
            email,
            payment_url,
            paid_at,
            paused_until,
            source_updated_at,
            c_external_id,
            c_name,
            c_emails,
            c_phone,
            c_locale,
            c_time_zone,
            c_excluded,
            c_paused_until,
            pause_reason,
            c_pause_reason,
            reminders,
        ) = self;
        let customer = CustomerRow {
            id: customer_id,
            connector_id: connector_id.clone(),
            external_id: c_external_id,
            name: c_name,
            emails: c_emails,
            phone: c_phone,
            locale: c_locale,
            time_zone: c_time_zone,
            excluded: c_excluded.get(),
            paused_until: c_paused_until,
            pause_reason: c_pause_reason,
            address: None,
            kind: None,
        };
        let invoice = InvoiceRow {
            id,
            connector_id,
            external_id,
            customer_id,
            number,
            issued_on,
            due_on,
            currency,
            total_minor,
            balance_minor,
            status,
            chase: chase.get(),
            email,
            payment_url,
            paid_at: paid_at.as_deref().map(instant).transpose()?,
            paused_until,
            pause_reason,
            source_updated_at: instant(&source_updated_at)?,
        };
        let reminders = reminders
            .into_iter()
            .map(
                |JsonReminder(step, status, automatic, planned_on)| ReminderFact {
                    step,
                    state: ReminderState::parse(&status).unwrap_or(ReminderState::Failed),
                    automatic: automatic.get(),
                    planned_on,
                },
            )
            .collect();
        Ok(PlanRow {
            invoice,
            customer,
            reminders,
        })
    }
}

/// The columns of a page row, in [`JsonRow`] order.
const COLUMNS: &str = "p.id, p.connector_id, p.external_id, p.customer_id, p.number, p.issued_on, \
     p.due_on, p.currency, p.total_minor, p.balance_minor, p.status, p.chase, p.email, \
     p.payment_url, p.paid_at, p.paused_until, p.source_updated_at, c.external_id, c.name, \
     c.emails, c.phone, c.locale, c.time_zone, c.excluded, c.paused_until, p.pause_reason, \
     c.pause_reason";

/// A page of invoices after `$1`, `$2` at most, as one JSON array of arrays.
fn page_sql(sqlite: bool, filter: &str) -> String {
    let inner =
        format!("SELECT i.* FROM invoices i WHERE i.id > $1 AND ({filter}) ORDER BY i.id LIMIT $2");
    if sqlite {
        format!(
            "SELECT json_group_array(json_array({COLUMNS}, json((SELECT json_group_array(\
             json_array(r.step, r.status, r.automatic, r.planned_on)) FROM reminders r \
             WHERE r.invoice_id = p.id)))) FROM ({inner}) p JOIN customers c ON c.id = p.customer_id"
        )
    } else {
        format!(
            "SELECT COALESCE(json_agg(json_build_array({COLUMNS}, COALESCE((SELECT json_agg(\
             json_build_array(r.step, r.status, r.automatic, r.planned_on) ORDER BY r.id) \
             FROM reminders r WHERE r.invoice_id = p.id), '[]'::json)) ORDER BY p.id), '[]'::json)::text \
             FROM ({inner}) p JOIN customers c ON c.id = p.customer_id"
        )
    }
}

/// Invoices that can need an action: open ones, and paid ones that were reminded but not
/// thanked yet.
///
/// The reminder checks are written as `LIMIT 1` scalar subqueries so that they are looked up
/// per invoice through the index: as `EXISTS`, PostgreSQL may hash the whole reminders table
/// for every page.
const ACTIVE_FILTER: &str = "i.status = 'open' OR (i.status = 'paid' \
     AND (SELECT 1 FROM reminders r WHERE r.invoice_id = i.id AND r.kind = 'reminder' \
          AND r.status = 'sent' LIMIT 1) IS NOT NULL \
     AND (SELECT 1 FROM reminders r WHERE r.invoice_id = i.id AND r.kind = 'thank_you' \
          LIMIT 1) IS NULL)";

/// Open invoices, and closed ones that were reminded: everything that has something to say.
const INTERESTING_FILTER: &str = "i.status = 'open' \
     OR (SELECT 1 FROM reminders r WHERE r.invoice_id = i.id LIMIT 1) IS NOT NULL";

/// Which invoices the planner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanScope {
    /// Only those that may need an action today (the daemon).
    Active,
    /// Open ones and reminded ones; the quiet closed ones are only counted.
    Interesting,
    /// Every invoice.
    All,
}

impl Store {
    /// Calls `f` for every invoice in `scope`, in id order, with its customer and reminders.
    /// Returns how many rows were visited.
    pub async fn for_each_plan_row(
        &self,
        scope: PlanScope,
        mut f: impl FnMut(PlanRow),
    ) -> Result<u64, StoreError> {
        let filter = match scope {
            PlanScope::Active => ACTIVE_FILTER,
            PlanScope::Interesting => INTERESTING_FILTER,
            PlanScope::All => "TRUE",
        };
        let sql = page_sql(self.backend_name() == "sqlite", filter);
        let mut after = 0i64;
        let mut count = 0u64;
        loop {
            // Not a prepared statement: PostgreSQL then plans each page with its actual bounds
            // (a generic plan for `id > $1` sorts the whole table every time).
            let page: Option<String> = on_pool!(self, |pool| sqlx::query_scalar(&sql)
                .persistent(false)
                .bind(after)
                .bind(PAGE)
                .fetch_one(pool)
                .await
                .ctx("reading invoices to plan"))?;
            let mut rows: Vec<JsonRow> = match page.as_deref() {
                None | Some("") => Vec::new(),
                Some(text) => serde_json::from_str(text)
                    .map_err(|e| StoreError::Invalid(format!("reading invoices to plan: {e}")))?,
            };
            if rows.is_empty() {
                return Ok(count);
            }
            rows.sort_by_key(|r| r.0);
            let full = rows.len() as i64 == PAGE;
            for row in rows {
                after = row.0;
                count += 1;
                f(row.into_plan_row()?);
            }
            if !full {
                return Ok(count);
            }
        }
    }

    /// Closed invoices that were never reminded, counted by status (what
    /// [`PlanScope::Interesting`] leaves out).
    pub async fn quiet_closed_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT i.status, COUNT(*) FROM invoices i WHERE i.status <> 'open' \
             AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.invoice_id = i.id) \
             GROUP BY i.status"
        )
        .fetch_all(pool)
        .await
        .ctx("counting closed invoices"))
    }

    /// Payment history per customer (internal id): invoices paid and average days late,
    /// aggregated by the database and read as one document.
    pub async fn customer_histories(
        &self,
        today: chrono::NaiveDate,
    ) -> Result<HashMap<i64, CustomerHistory>, StoreError> {
        let sql = if self.backend_name() == "sqlite" {
            "SELECT json_group_array(json_array(customer_id, n, late)) FROM (\
             SELECT customer_id, COUNT(*) AS n, \
             SUM(MAX(0, CAST(julianday(date(paid_at)) - julianday(due_on) AS INTEGER))) AS late \
             FROM invoices WHERE status = 'paid' AND due_on IS NOT NULL AND paid_at IS NOT NULL \
             GROUP BY customer_id)"
        } else {
            "SELECT COALESCE(json_agg(json_build_array(customer_id, n, late)), '[]'::json)::text FROM (\
             SELECT customer_id, COUNT(*) AS n, \
             SUM(GREATEST(0, (paid_at AT TIME ZONE 'UTC')::date - due_on)) AS late \
             FROM invoices WHERE status = 'paid' AND due_on IS NOT NULL AND paid_at IS NOT NULL \
             GROUP BY customer_id) h"
        };
        let text: Option<String> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .fetch_one(pool)
            .await
            .ctx("reading payment histories"))?;
        let rows: Vec<(i64, u32, i64)> = serde_json::from_str(text.as_deref().unwrap_or("[]"))
            .map_err(|e| StoreError::Invalid(format!("reading payment histories: {e}")))?;
        let mut out: HashMap<i64, CustomerHistory> = rows
            .into_iter()
            .map(|(customer, n, late)| {
                let average = if n == 0 {
                    Decimal::ZERO
                } else {
                    (Decimal::from(late) / Decimal::from(n)).round_dp(1)
                };
                (
                    customer,
                    CustomerHistory {
                        paid_invoices: n,
                        average_days_late: average,
                        ..CustomerHistory::default()
                    },
                )
            })
            .collect();
        // Open invoices and overdue balances, per currency.
        let open_sql = if self.backend_name() == "sqlite" {
            "SELECT json_group_array(json_array(customer_id, currency, n, overdue)) FROM (\
             SELECT customer_id, currency, COUNT(*) AS n, \
             SUM(CASE WHEN due_on < $1 THEN balance_minor ELSE 0 END) AS overdue \
             FROM invoices WHERE status = 'open' GROUP BY customer_id, currency)"
        } else {
            "SELECT COALESCE(json_agg(json_build_array(customer_id, currency, n, overdue)), '[]'::json)::text FROM (\
             SELECT customer_id, currency, COUNT(*) AS n, \
             SUM(CASE WHEN due_on < $1 THEN balance_minor ELSE 0 END) AS overdue \
             FROM invoices WHERE status = 'open' GROUP BY customer_id, currency) o"
        };
        let text: Option<String> = on_pool!(self, |pool| sqlx::query_scalar(open_sql)
            .bind(today)
            .fetch_one(pool)
            .await
            .ctx("reading open balances"))?;
        let rows: Vec<(i64, String, u32, i64)> =
            serde_json::from_str(text.as_deref().unwrap_or("[]"))
                .map_err(|e| StoreError::Invalid(format!("reading open balances: {e}")))?;
        for (customer, currency, n, overdue) in rows {
            let h = out.entry(customer).or_default();
            h.open_invoices += n;
            if let Ok(c) = relance_core::Currency::parse(&currency) {
                let total = relance_core::Money::from_minor(overdue, c).amount;
                if total > h.overdue_total {
                    h.overdue_total = total;
                }
            }
        }
        Ok(out)
    }
}
