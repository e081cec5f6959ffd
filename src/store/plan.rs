//! What the planner reads: every invoice with its customer and reminders, streamed in id
//! order (never the whole book in memory), and customers' payment histories.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use rust_decimal::Decimal;

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

#[derive(sqlx::FromRow)]
struct Joined {
    id: i64,
    connector_id: String,
    external_id: String,
    customer_id: i64,
    number: String,
    issued_on: Option<NaiveDate>,
    due_on: Option<NaiveDate>,
    currency: String,
    total_minor: i64,
    balance_minor: i64,
    status: String,
    chase: bool,
    email: Option<String>,
    payment_url: Option<String>,
    paid_at: Option<DateTime<Utc>>,
    paused_until: Option<NaiveDate>,
    source_updated_at: DateTime<Utc>,
    c_external_id: String,
    c_name: String,
    c_emails: String,
    c_phone: Option<String>,
    c_locale: Option<String>,
    c_time_zone: Option<String>,
    c_excluded: bool,
    c_paused_until: Option<NaiveDate>,
}

impl Joined {
    fn split(self) -> (InvoiceRow, CustomerRow) {
        let customer = CustomerRow {
            id: self.customer_id,
            connector_id: self.connector_id.clone(),
            external_id: self.c_external_id,
            name: self.c_name,
            emails: self.c_emails,
            phone: self.c_phone,
            locale: self.c_locale,
            time_zone: self.c_time_zone,
            excluded: self.c_excluded,
            paused_until: self.c_paused_until,
        };
        let invoice = InvoiceRow {
            id: self.id,
            connector_id: self.connector_id,
            external_id: self.external_id,
            customer_id: self.customer_id,
            number: self.number,
            issued_on: self.issued_on,
            due_on: self.due_on,
            currency: self.currency,
            total_minor: self.total_minor,
            balance_minor: self.balance_minor,
            status: self.status,
            chase: self.chase,
            email: self.email,
            payment_url: self.payment_url,
            paid_at: self.paid_at,
            paused_until: self.paused_until,
            source_updated_at: self.source_updated_at,
        };
        (invoice, customer)
    }
}

#[derive(sqlx::FromRow)]
struct ReminderJoin {
    invoice_id: i64,
    step: String,
    status: String,
    automatic: bool,
    planned_on: NaiveDate,
}

const SELECT_JOINED: &str = "SELECT i.id, i.connector_id, i.external_id, i.customer_id, i.number, \
     i.issued_on, i.due_on, i.currency, i.total_minor, i.balance_minor, i.status, i.chase, i.email, \
     i.payment_url, i.paid_at, i.paused_until, i.source_updated_at, c.external_id AS c_external_id, \
     c.name AS c_name, c.emails AS c_emails, c.phone AS c_phone, c.locale AS c_locale, \
     c.time_zone AS c_time_zone, c.excluded AS c_excluded, c.paused_until AS c_paused_until \
     FROM invoices i JOIN customers c ON c.id = i.customer_id";

/// Invoices that can need an action: open ones, and paid ones that were reminded but not
/// thanked yet.
const ACTIVE_FILTER: &str = " WHERE i.status = 'open' OR (i.status = 'paid' \
     AND EXISTS (SELECT 1 FROM reminders r WHERE r.invoice_id = i.id AND r.kind = 'reminder' \
                 AND r.status = 'sent') \
     AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.invoice_id = i.id AND r.kind = 'thank_you'))";

impl Store {
    /// Calls `f` for every invoice (only those that may need an action when `active_only`),
    /// in id order, with its customer and reminders. Returns how many rows were visited.
    pub async fn for_each_plan_row(
        &self,
        active_only: bool,
        mut f: impl FnMut(PlanRow),
    ) -> Result<u64, StoreError> {
        let sql = if active_only {
            format!("{SELECT_JOINED}{ACTIVE_FILTER} ORDER BY i.id")
        } else {
            format!("{SELECT_JOINED} ORDER BY i.id")
        };
        on_pool!(self, |pool| {
            let mut invoices = sqlx::query_as::<_, Joined>(&sql).fetch(pool);
            let mut reminders = sqlx::query_as::<_, ReminderJoin>(
                "SELECT invoice_id, step, status, automatic, planned_on FROM reminders \
                 WHERE invoice_id IS NOT NULL ORDER BY invoice_id, id",
            )
            .fetch(pool);
            let mut pending: Option<ReminderJoin> = None;
            let mut count = 0u64;
            while let Some(row) = invoices.try_next().await.ctx("reading invoices to plan")? {
                let (invoice, customer) = row.split();
                let mut facts = Vec::new();
                loop {
                    let next = match pending.take() {
                        Some(r) => Some(r),
                        None => reminders
                            .try_next()
                            .await
                            .ctx("reading reminders to plan")?,
                    };
                    let Some(r) = next else { break };
                    if r.invoice_id < invoice.id {
                        continue;
                    }
                    if r.invoice_id > invoice.id {
                        pending = Some(r);
                        break;
                    }
                    facts.push(ReminderFact {
                        step: r.step,
                        state: ReminderState::parse(&r.status).unwrap_or(ReminderState::Failed),
                        automatic: r.automatic,
                        planned_on: r.planned_on,
                    });
                }
                count += 1;
                f(PlanRow {
                    invoice,
                    customer,
                    reminders: facts,
                });
            }
            Ok(count)
        })
    }

    /// Payment history per customer (internal id): invoices paid and average days late.
    pub async fn customer_histories(&self) -> Result<HashMap<i64, CustomerHistory>, StoreError> {
        let rows: Vec<(i64, NaiveDate, DateTime<Utc>)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT customer_id, due_on, paid_at FROM invoices \
             WHERE status = 'paid' AND due_on IS NOT NULL AND paid_at IS NOT NULL"
        )
        .fetch_all(pool)
        .await
        .ctx("reading payment histories"))?;
        let mut sums: HashMap<i64, (u32, i64)> = HashMap::new();
        for (customer, due, paid_at) in rows {
            let late = (paid_at.date_naive() - due).num_days().max(0);
            let e = sums.entry(customer).or_default();
            e.0 += 1;
            e.1 += late;
        }
        Ok(sums
            .into_iter()
            .map(|(c, (n, late))| {
                let average = if n == 0 {
                    Decimal::ZERO
                } else {
                    (Decimal::from(late) / Decimal::from(n)).round_dp(1)
                };
                (
                    c,
                    CustomerHistory {
                        paid_invoices: n,
                        average_days_late: average,
                    },
                )
            })
            .collect())
    }
}
