//! Applying provider changes: idempotent upserts, events de-duplicated by id, newer versions
//! only, and pending reminders cancelled in the same transaction that closes an invoice.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use relance_core::{
    Change, Customer, ExternalPayment, InboundEvent, Invoice, InvoiceStatus, ObjectRef, Payment,
};

use super::{
    Arg, Context, Dialect, Stmt, Store, StoreError, bind_all, minor, on_pool, run_stmts,
    values_rows,
};

/// What one `apply` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ApplyStats {
    /// Events received.
    pub events: usize,
    /// Events already applied before (ignored).
    pub duplicates: usize,
    /// Customers written.
    pub customers: usize,
    /// Invoice versions offered (older versions are ignored by the store).
    pub invoices: usize,
    /// Payments recorded.
    pub payments: usize,
    /// Pending reminders cancelled because their invoice closed.
    pub cancelled: u64,
}

/// A connector's sync bookkeeping.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncState {
    /// Connector.
    pub connector_id: String,
    /// Opaque cursor from the connector.
    pub cursor: Option<String>,
    /// Last attempt.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Last success.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Last error, cleared by a success.
    pub last_error: Option<String>,
    /// Objects written in total.
    pub items_synced: i64,
    /// Provider requests made in total.
    pub requests: i64,
}

const CUSTOMER_CHUNK: usize = 400;
const INVOICE_CHUNK: usize = 200;
const PAYMENT_CHUNK: usize = 400;
const EVENT_CHUNK: usize = 400;

fn rank_sql(column: &str) -> String {
    format!(
        "(CASE {column} WHEN 'draft' THEN 0 WHEN 'open' THEN 1 WHEN 'uncollectible' THEN 2 ELSE 3 END)"
    )
}

/// How multi-row writes are spelled for a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowStyle {
    /// `VALUES (…), (…)`: SQLite.
    Values,
    /// `SELECT … FROM UNNEST($n::type[], …)`: PostgreSQL, one array parameter per column, so
    /// the statement is planned once whatever the number of rows.
    Unnest,
}

/// A multi-row insert described by columns, rendered in either style.
struct Rows {
    /// `INSERT INTO t (…)`.
    insert: &'static str,
    /// Fixed arguments `$1`, `$2`…
    fixed: Vec<Arg>,
    /// Per column: alias in `t`, PostgreSQL type, values (one per row).
    columns: Vec<(&'static str, &'static str, Vec<Arg>)>,
    /// One row of `VALUES`, with `{k}` for column k and `$n` for fixed arguments.
    values: &'static str,
    /// The `SELECT` list over `t` (columns by alias) and fixed arguments.
    select: &'static str,
    /// Joins after `UNNEST(…) AS t(…)`.
    join: &'static str,
    /// `ON CONFLICT …`.
    tail: String,
}

impl Rows {
    fn render(self, style: RowStyle) -> Stmt {
        let rows = self.columns.first().map_or(0, |c| c.2.len());
        let width = self.columns.len();
        let offset = self.fixed.len();
        let mut args = self.fixed;
        match style {
            RowStyle::Values => {
                let mut columns: Vec<std::vec::IntoIter<Arg>> =
                    self.columns.into_iter().map(|c| c.2.into_iter()).collect();
                for _ in 0..rows {
                    for c in columns.iter_mut() {
                        args.push(c.next().expect("every column has a value per row"));
                    }
                }
                let values = values_rows(self.values, width, rows, offset);
                Stmt {
                    sql: format!("{} VALUES {values} {}", self.insert, self.tail),
                    args,
                }
            }
            RowStyle::Unnest => {
                let mut arrays = Vec::with_capacity(width);
                let mut aliases = Vec::with_capacity(width);
                for (k, (alias, ty, values)) in self.columns.into_iter().enumerate() {
                    arrays.push(format!("${}::{ty}[]", offset + k + 1));
                    aliases.push(alias);
                    args.push(Arg::array(values));
                }
                Stmt {
                    sql: format!(
                        "{} SELECT {} FROM UNNEST({}) AS t({}) {} {}",
                        self.insert,
                        self.select,
                        arrays.join(", "),
                        aliases.join(", "),
                        self.join,
                        self.tail
                    ),
                    args,
                }
            }
        }
    }
}

fn customers_stmt(
    connector: &str,
    now: DateTime<Utc>,
    rows: &[&Customer],
    style: RowStyle,
) -> Stmt {
    Rows {
        insert: "INSERT INTO customers (connector_id, external_id, name, emails, phone, locale, \
                 time_zone, source_updated_at, address, kind, created_at, updated_at)",
        fixed: vec![connector.into(), now.into()],
        columns: vec![
            (
                "external_id",
                "text",
                rows.iter().map(|c| c.external_id.as_str().into()).collect(),
            ),
            (
                "name",
                "text",
                rows.iter().map(|c| c.name.as_str().into()).collect(),
            ),
            (
                "emails",
                "text",
                rows.iter().map(|c| c.emails.join(", ").into()).collect(),
            ),
            (
                "phone",
                "text",
                rows.iter().map(|c| c.phone.clone().into()).collect(),
            ),
            (
                "locale",
                "text",
                rows.iter().map(|c| c.locale.clone().into()).collect(),
            ),
            (
                "time_zone",
                "text",
                rows.iter().map(|c| c.time_zone.clone().into()).collect(),
            ),
            (
                "source_updated_at",
                "timestamptz",
                rows.iter().map(|c| c.source_updated_at.into()).collect(),
            ),
            (
                "address",
                "text",
                rows.iter().map(|c| c.address.clone().into()).collect(),
            ),
            (
                "kind",
                "text",
                rows.iter()
                    .map(|c| {
                        c.consumer
                            .map(|b| if b { "b2c" } else { "b2b" }.to_string())
                            .into()
                    })
                    .collect(),
            ),
        ],
        values: "($1, {0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, $2, $2)",
        select: "$1, t.external_id, t.name, t.emails, t.phone, t.locale, t.time_zone, \
                 t.source_updated_at, t.address, t.kind, $2, $2",
        join: "",
        tail: "ON CONFLICT (connector_id, external_id) DO UPDATE SET name = excluded.name, \
               emails = excluded.emails, phone = excluded.phone, locale = excluded.locale, \
               time_zone = COALESCE(excluded.time_zone, customers.time_zone), \
               address = COALESCE(excluded.address, customers.address), \
               kind = COALESCE(excluded.kind, customers.kind), \
               source_updated_at = excluded.source_updated_at, updated_at = excluded.updated_at \
               WHERE customers.source_updated_at IS NULL OR excluded.source_updated_at IS NULL \
               OR excluded.source_updated_at >= customers.source_updated_at"
            .into(),
    }
    .render(style)
}

/// Customers named by invoices but not known yet, created from what the invoice prints.
fn hints_stmt(connector: &str, now: DateTime<Utc>, rows: &[&Invoice], style: RowStyle) -> Stmt {
    let hint = |i: &Invoice| {
        i.customer_hint
            .clone()
            .unwrap_or(relance_core::CustomerHint {
                name: None,
                email: None,
                phone: None,
            })
    };
    Rows {
        insert: "INSERT INTO customers (connector_id, external_id, name, emails, phone, \
                 created_at, updated_at)",
        fixed: vec![connector.into(), now.into()],
        columns: vec![
            (
                "external_id",
                "text",
                rows.iter()
                    .map(|i| i.customer_external_id.as_str().into())
                    .collect(),
            ),
            (
                "name",
                "text",
                rows.iter()
                    .map(|i| {
                        let h = hint(i);
                        h.name
                            .or(h.email)
                            .unwrap_or_else(|| i.customer_external_id.clone())
                            .into()
                    })
                    .collect(),
            ),
            (
                "emails",
                "text",
                rows.iter()
                    .map(|i| hint(i).email.unwrap_or_default().into())
                    .collect(),
            ),
            (
                "phone",
                "text",
                rows.iter().map(|i| hint(i).phone.into()).collect(),
            ),
        ],
        values: "($1, {0}, {1}, {2}, {3}, $2, $2)",
        select: "$1, t.external_id, t.name, t.emails, t.phone, $2, $2",
        join: "",
        tail: "ON CONFLICT (connector_id, external_id) DO NOTHING".into(),
    }
    .render(style)
}

fn invoices_stmt(
    connector: &str,
    now: DateTime<Utc>,
    rows: &[&Invoice],
    style: RowStyle,
) -> Result<Stmt, StoreError> {
    let what = |i: &Invoice| format!("invoice {}", i.external_id);
    let totals = rows
        .iter()
        .map(|i| minor(&i.total, &what(i)).map(Arg::from))
        .collect::<Result<Vec<_>, _>>()?;
    let balances = rows
        .iter()
        .map(|i| minor(&i.balance, &what(i)).map(Arg::from))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rows {
        insert: "INSERT INTO invoices (connector_id, external_id, customer_id, number, issued_on, \
                 due_on, currency, total_minor, balance_minor, status, chase, email, payment_url, \
                 paid_at, source_updated_at, created_at, updated_at)",
        fixed: vec![connector.into(), now.into()],
        columns: vec![
            ("external_id", "text", rows.iter().map(|i| i.external_id.as_str().into()).collect()),
            ("customer_external_id", "text", rows.iter().map(|i| i.customer_external_id.as_str().into()).collect()),
            ("number", "text", rows.iter().map(|i| i.number.as_str().into()).collect()),
            ("issued_on", "date", rows.iter().map(|i| i.issued_on.into()).collect()),
            ("due_on", "date", rows.iter().map(|i| i.due_on.into()).collect()),
            ("currency", "text", rows.iter().map(|i| i.total.currency.code().into()).collect()),
            ("total_minor", "bigint", totals),
            ("balance_minor", "bigint", balances),
            ("status", "text", rows.iter().map(|i| i.status.as_str().into()).collect()),
            ("chase", "bool", rows.iter().map(|i| i.chase.into()).collect()),
            ("email", "text", rows.iter().map(|i| i.email.clone().into()).collect()),
            ("payment_url", "text", rows.iter().map(|i| i.payment_url.clone().into()).collect()),
            ("paid_at", "timestamptz", rows.iter().map(|i| i.paid_at.into()).collect()),
            ("source_updated_at", "timestamptz", rows.iter().map(|i| i.source_updated_at.into()).collect()),
        ],
        values: "($1, {0}, (SELECT id FROM customers WHERE connector_id = $1 AND external_id = {1}), \
                 {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, $2, $2)",
        select: "$1, t.external_id, c.id, t.number, t.issued_on, t.due_on, t.currency, \
                 t.total_minor, t.balance_minor, t.status, t.chase, t.email, t.payment_url, \
                 t.paid_at, t.source_updated_at, $2, $2",
        join: "JOIN customers c ON c.connector_id = $1 AND c.external_id = t.customer_external_id",
        tail: format!(
            "ON CONFLICT (connector_id, external_id) DO UPDATE SET \
             customer_id = excluded.customer_id, number = excluded.number, \
             issued_on = excluded.issued_on, due_on = excluded.due_on, currency = excluded.currency, \
             total_minor = excluded.total_minor, balance_minor = excluded.balance_minor, \
             status = excluded.status, chase = excluded.chase, email = excluded.email, \
             payment_url = COALESCE(excluded.payment_url, invoices.payment_url), \
             paid_at = COALESCE(excluded.paid_at, invoices.paid_at), deleted = FALSE, \
             source_updated_at = excluded.source_updated_at, updated_at = excluded.updated_at \
             WHERE excluded.source_updated_at > invoices.source_updated_at \
             OR (excluded.source_updated_at = invoices.source_updated_at AND {} >= {})",
            rank_sql("excluded.status"),
            rank_sql("invoices.status")
        ),
    }
    .render(style))
}

fn payments_stmt(
    connector: &str,
    now: DateTime<Utc>,
    rows: &[&Payment],
    style: RowStyle,
) -> Result<Stmt, StoreError> {
    let amounts = rows
        .iter()
        .map(|p| minor(&p.amount, &format!("payment {}", p.external_id)).map(Arg::from))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rows {
        insert: "INSERT INTO payments (connector_id, external_id, invoice_external_id, invoice_id, \
                 amount_minor, currency, paid_at, method, created_at)",
        fixed: vec![connector.into(), now.into()],
        columns: vec![
            ("external_id", "text", rows.iter().map(|p| p.external_id.as_str().into()).collect()),
            ("invoice_external_id", "text", rows.iter().map(|p| p.invoice_external_id.as_str().into()).collect()),
            ("amount_minor", "bigint", amounts),
            ("currency", "text", rows.iter().map(|p| p.amount.currency.code().into()).collect()),
            ("paid_at", "timestamptz", rows.iter().map(|p| Some(p.paid_at).into()).collect()),
            ("method", "text", rows.iter().map(|p| p.method.clone().into()).collect()),
        ],
        values: "($1, {0}, {1}, (SELECT id FROM invoices WHERE connector_id = $1 AND external_id = {1}), \
                 {2}, {3}, {4}, {5}, $2)",
        select: "$1, t.external_id, t.invoice_external_id, i.id, t.amount_minor, t.currency, \
                 t.paid_at, t.method, $2",
        join: "LEFT JOIN invoices i ON i.connector_id = $1 AND i.external_id = t.invoice_external_id",
        tail: "ON CONFLICT (connector_id, external_id) DO NOTHING".into(),
    }
    .render(style))
}

/// Records provider events by id; returns (`RETURNING`) the ids that were new.
fn events_stmt(
    connector: &str,
    source: &str,
    now: DateTime<Utc>,
    rows: &[&InboundEvent],
    style: RowStyle,
) -> Stmt {
    let refetch = |e: &InboundEvent| -> Arg {
        (!e.refetch.is_empty())
            .then(|| serde_json::to_string(&e.refetch).expect("object refs serialise"))
            .into()
    };
    Rows {
        insert: "INSERT INTO webhook_events (connector_id, source, received_at, event_id, \
                 event_type, refetch, processed_at)",
        fixed: vec![connector.into(), source.into(), now.into()],
        columns: vec![
            (
                "event_id",
                "text",
                rows.iter().map(|e| e.id.clone().into()).collect(),
            ),
            (
                "event_type",
                "text",
                rows.iter().map(|e| e.kind.as_str().into()).collect(),
            ),
            ("refetch", "text", rows.iter().map(|e| refetch(e)).collect()),
            (
                "processed_at",
                "timestamptz",
                rows.iter()
                    .map(|e| e.refetch.is_empty().then_some(now).into())
                    .collect(),
            ),
        ],
        values: "($1, $2, $3, {0}, {1}, {2}, {3})",
        select: "$1, $2, $3, t.event_id, t.event_type, t.refetch, t.processed_at",
        join: "",
        tail: "ON CONFLICT (connector_id, event_id) DO NOTHING RETURNING event_id".into(),
    }
    .render(style)
}

fn delete_stmt(connector: &str, now: DateTime<Utc>, external_id: &str, at: DateTime<Utc>) -> Stmt {
    Stmt {
        sql: "UPDATE invoices SET status = 'void', balance_minor = 0, deleted = TRUE, \
              source_updated_at = $3, updated_at = $2 \
              WHERE connector_id = $1 AND external_id = $4 AND source_updated_at <= $3"
            .into(),
        args: vec![connector.into(), now.into(), at.into(), external_id.into()],
    }
}

/// Cancels pending reminders (not thank-yous) of the named invoices that are no longer open.
fn cancel_stmt(connector: &str, now: DateTime<Utc>, external_ids: &[&str]) -> Stmt {
    let mut args: Vec<Arg> = vec![connector.into(), now.into()];
    args.extend(external_ids.iter().map(|id| Arg::from(*id)));
    let list = values_rows("{0}", 1, external_ids.len(), 2);
    Stmt {
        sql: format!(
            "UPDATE reminders SET status = 'cancelled', updated_at = $2, \
             reason = (SELECT 'invoice ' || i.status || ' before sending' FROM invoices i \
                       WHERE i.id = reminders.invoice_id) \
             WHERE status IN ('pending', 'review', 'grouped') AND kind = 'reminder' AND invoice_id IN \
             (SELECT id FROM invoices WHERE connector_id = $1 AND status <> 'open' \
              AND external_id IN ({list}))"
        ),
        args,
    }
}

/// Turns a batch of changes into statements, newest version of each object only.
fn change_stmts(
    connector: &str,
    now: DateTime<Utc>,
    changes: &[&Change],
    stats: &mut ApplyStats,
    style: RowStyle,
) -> Result<Vec<Stmt>, StoreError> {
    let mut customers: HashMap<&str, &Customer> = HashMap::new();
    let mut invoices: HashMap<&str, &Invoice> = HashMap::new();
    let mut payments: HashMap<&str, &Payment> = HashMap::new();
    let mut deleted: Vec<(&str, DateTime<Utc>)> = Vec::new();
    let mut external: Vec<&ExternalPayment> = Vec::new();
    for change in changes {
        match change {
            Change::Customer(c) => {
                customers.insert(&c.external_id, c);
            }
            Change::Invoice(i) => {
                let newer = invoices.get(i.external_id.as_str()).is_none_or(|old| {
                    (i.source_updated_at, i.status.rank())
                        >= (old.source_updated_at, old.status.rank())
                });
                if newer {
                    invoices.insert(&i.external_id, i);
                }
            }
            Change::Payment(p) => {
                payments.insert(&p.external_id, p);
            }
            Change::InvoiceDeleted { external_id, at } => deleted.push((external_id, *at)),
            Change::ExternalPayment(p) => external.push(p),
        }
    }
    let mut customers: Vec<&Customer> = customers.into_values().collect();
    customers.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    let mut invoices: Vec<&Invoice> = invoices.into_values().collect();
    invoices.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    let mut payments: Vec<&Payment> = payments.into_values().collect();
    payments.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    stats.customers += customers.len();
    stats.invoices += invoices.len();
    stats.payments += payments.len();

    let mut stmts = Vec::new();
    for chunk in customers.chunks(CUSTOMER_CHUNK) {
        stmts.push(customers_stmt(connector, now, chunk, style));
    }
    let mut hinted: HashMap<&str, &Invoice> = HashMap::new();
    for i in &invoices {
        hinted.entry(i.customer_external_id.as_str()).or_insert(i);
    }
    let mut hinted: Vec<&Invoice> = hinted.into_values().collect();
    hinted.sort_by(|a, b| a.customer_external_id.cmp(&b.customer_external_id));
    for chunk in hinted.chunks(CUSTOMER_CHUNK) {
        stmts.push(hints_stmt(connector, now, chunk, style));
    }
    for chunk in invoices.chunks(INVOICE_CHUNK) {
        stmts.push(invoices_stmt(connector, now, chunk, style)?);
    }
    for (id, at) in &deleted {
        stmts.push(delete_stmt(connector, now, id, *at));
    }
    for chunk in payments.chunks(PAYMENT_CHUNK) {
        stmts.push(payments_stmt(connector, now, chunk, style)?);
    }
    // Cancellations come last (the caller counts them apart).
    let mut external_cancels = Vec::new();
    for p in external {
        stats.payments += 1;
        let mut s = external_payment_stmts(connector, now, p)?;
        if let Some(cancel) = s.pop() {
            external_cancels.push(cancel);
        }
        stmts.extend(s);
    }
    let mut closing: Vec<&str> = invoices
        .iter()
        .filter(|i| i.status != InvoiceStatus::Open)
        .map(|i| i.external_id.as_str())
        .collect();
    closing.extend(deleted.iter().map(|(id, _)| *id));
    for chunk in closing.chunks(INVOICE_CHUNK) {
        stmts.push(cancel_stmt(connector, now, chunk));
    }
    stmts.extend(external_cancels);
    Ok(stmts)
}

/// Key of the write-back that records an external payment on its invoice's platform.
pub fn payment_record_key(source: &str, reference: &str) -> String {
    format!("pay:{source}:{reference}")
}

/// A payment taken through `source` for an invoice of another connector: recorded against it
/// (once per reference), the invoice paused so nothing more is sent while its own platform
/// does not know yet, its pending reminders cancelled, and the payment queued for recording
/// there. An unknown invoice, or another currency, changes nothing. The reminder
/// cancellation is the last statement.
fn external_payment_stmts(
    source: &str,
    now: DateTime<Utc>,
    p: &ExternalPayment,
) -> Result<Vec<Stmt>, StoreError> {
    let Some((target, _account, external_id)) = p.target_parts() else {
        tracing::warn!(source, target = %p.target, "payment for an unreadable invoice key ignored");
        return Ok(Vec::new());
    };
    let amount = minor(&p.amount, &format!("payment {}", p.reference))?;
    let currency = p.amount.currency.code().to_string();
    let key = payment_record_key(source, &p.reference);
    let reason = format!(
        "payment of {} received through {source} ({}): waiting for {target} to record it",
        p.amount, p.reference
    );
    let record = relance_core::RecordPayment {
        invoice_external_id: external_id.to_string(),
        customer_external_id: None,
        amount: p.amount,
        paid_at: p.paid_at,
        reference: format!("{source} {}", p.reference),
        idempotency_key: key.clone(),
    };
    let payload = serde_json::to_string(&record).expect("a payment record serialises");
    let far = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    Ok(vec![
        Stmt {
            sql: "INSERT INTO payments (connector_id, external_id, invoice_external_id, invoice_id,                   amount_minor, currency, paid_at, method, created_at)                   SELECT $1, $2, $3, i.id, $4, $5, $6, $7, $8 FROM invoices i                   WHERE i.connector_id = $9 AND i.external_id = $3 AND i.currency = $5                   ON CONFLICT (connector_id, external_id) DO NOTHING"
                .into(),
            args: vec![
                source.into(),
                p.reference.as_str().into(),
                external_id.into(),
                amount.into(),
                currency.as_str().into(),
                p.paid_at.into(),
                Arg::Text(p.method.clone()),
                now.into(),
                target.into(),
            ],
        },
        Stmt {
            sql: "UPDATE invoices SET paused_until = $1, pause_reason = $2, updated_at = $3                   WHERE connector_id = $4 AND external_id = $5 AND status = 'open' AND currency = $6                   AND NOT EXISTS (SELECT 1 FROM writebacks w WHERE w.key = $7 AND w.status = 'done')"
                .into(),
            args: vec![
                Arg::Date(Some(far)),
                reason.as_str().into(),
                now.into(),
                target.into(),
                external_id.into(),
                currency.as_str().into(),
                key.as_str().into(),
            ],
        },
        Stmt {
            sql: "INSERT INTO writebacks (key, kind, reminder_id, connector_id, invoice_id, payload,                   status, not_before, created_at, updated_at)                   SELECT $1, 'payment', NULL, $2, i.id, $3, 'pending', $4, $4, $4 FROM invoices i                   WHERE i.connector_id = $2 AND i.external_id = $5 AND i.currency = $6                   ON CONFLICT (key) DO NOTHING"
                .into(),
            args: vec![
                key.as_str().into(),
                target.into(),
                payload.into(),
                now.into(),
                external_id.into(),
                currency.as_str().into(),
            ],
        },
        Stmt {
            sql: "UPDATE reminders SET status = 'cancelled', updated_at = $1,                   reason = 'paid through a payment link before sending'                   WHERE status IN ('pending', 'review', 'grouped') AND kind = 'reminder' AND invoice_id IN                   (SELECT id FROM invoices WHERE connector_id = $2 AND external_id = $3)"
                .into(),
            args: vec![now.into(), target.into(), external_id.into()],
        },
    ])
}

fn relaxed_commit<P: Dialect>(_: &P) -> Option<&'static str> {
    P::RELAXED_COMMIT
}

fn row_style<P: Dialect>(_: &P) -> RowStyle {
    P::ROW_STYLE
}

fn prepare_stmt<P: Dialect>(_: &P, stmt: Stmt) -> Stmt {
    P::prepare(stmt)
}

impl Store {
    /// Applies provider events in one transaction: events already seen (by id) are skipped,
    /// the others' changes upserted, pending reminders of closed invoices cancelled, objects
    /// to refetch queued, and `cursor` (if any) saved with them. All or nothing.
    pub async fn apply(
        &self,
        connector: &str,
        source: &str,
        events: &[InboundEvent],
        cursor: Option<&str>,
        requests: u32,
        now: DateTime<Utc>,
    ) -> Result<ApplyStats, StoreError> {
        let mut stats = ApplyStats {
            events: events.len(),
            ..ApplyStats::default()
        };
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.ctx("starting a transaction")?;
            if source == "poll" {
                // A polled page can be fetched again: its cursor commits with it, so a commit
                // lost in a crash only means the page is pulled once more. Webhooks, whose
                // acknowledgement promises durability, keep the full commit.
                if let Some(sql) = relaxed_commit(pool) {
                    sqlx::query(sql)
                        .execute(&mut *tx)
                        .await
                        .ctx("relaxing commit durability")?;
                }
            }
            // Events seen before (by id, here or in an earlier transaction) are skipped.
            let mut seen = std::collections::HashSet::new();
            let mut candidates: Vec<&InboundEvent> = Vec::new();
            for event in events {
                match &event.id {
                    Some(id) if !seen.insert(id.as_str()) => stats.duplicates += 1,
                    Some(_) => candidates.push(event),
                    None => {}
                }
            }
            let mut new_ids = std::collections::HashSet::new();
            for chunk in candidates.chunks(EVENT_CHUNK) {
                let stmt = prepare_stmt(
                    pool,
                    events_stmt(connector, source, now, chunk, row_style(pool)),
                );
                let inserted = bind_all(sqlx::query(&stmt.sql), stmt.args)
                    .fetch_all(&mut *tx)
                    .await
                    .ctx("recording events")?;
                for row in inserted {
                    new_ids
                        .insert(sqlx::Row::try_get::<String, _>(&row, 0).ctx("recording events")?);
                }
            }
            stats.duplicates += candidates.len() - new_ids.len();
            let fresh: Vec<&Change> = events
                .iter()
                .filter(|e| match &e.id {
                    Some(id) => new_ids.remove(id),
                    None => true,
                })
                .flat_map(|e| e.changes.iter())
                .collect();
            let mut writes = change_stmts(connector, now, &fresh, &mut stats, row_style(pool))?;
            let cancel_from = writes
                .iter()
                .position(|s| s.sql.starts_with("UPDATE reminders"))
                .unwrap_or(writes.len());
            let cancels = writes.split_off(cancel_from);
            run_stmts!(pool, tx, writes, "writing synced objects");
            stats.cancelled =
                run_stmts!(pool, tx, cancels, "cancelling reminders of closed invoices");
            if let Some(cursor) = cursor {
                sqlx::query(
                    "INSERT INTO sync_state (connector_id, cursor, last_attempt_at, last_success_at, \
                     items_synced, requests) VALUES ($1, $2, $3, $3, $4, $5) \
                     ON CONFLICT (connector_id) DO UPDATE SET cursor = excluded.cursor, \
                     last_attempt_at = excluded.last_attempt_at, \
                     last_success_at = excluded.last_success_at, last_error = NULL, \
                     items_synced = sync_state.items_synced + excluded.items_synced, \
                     requests = sync_state.requests + excluded.requests",
                )
                .bind(connector)
                .bind(cursor)
                .bind(now)
                .bind((stats.customers + stats.invoices + stats.payments) as i64)
                .bind(i64::from(requests))
                .execute(&mut *tx)
                .await
                .ctx("saving the sync cursor")?;
            }
            tx.commit().await.ctx("committing synced objects")?;
            Ok::<_, StoreError>(())
        })?;
        Ok(stats)
    }

    /// The stored sync state of `connector`.
    pub async fn sync_state(&self, connector: &str) -> Result<Option<SyncState>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT connector_id, cursor, last_attempt_at, last_success_at, last_error, \
             items_synced, requests FROM sync_state WHERE connector_id = $1"
        )
        .bind(connector)
        .fetch_optional(pool)
        .await
        .ctx("reading sync state"))
    }

    /// Adds `n` provider requests to `connector`'s count (shown by `relance check`).
    pub async fn add_requests(&self, connector: &str, n: u64) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO sync_state (connector_id, requests) VALUES ($1, $2)              ON CONFLICT (connector_id) DO UPDATE SET requests = sync_state.requests + excluded.requests"
        )
        .bind(connector)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("counting provider requests")
        })
    }

    /// Records a failed sync attempt (the cursor stays where it was).
    pub async fn record_sync_error(
        &self,
        connector: &str,
        error: &str,
        requests: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO sync_state (connector_id, last_attempt_at, last_error, requests) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (connector_id) DO UPDATE SET \
             last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error, \
             requests = sync_state.requests + excluded.requests"
        )
        .bind(connector)
        .bind(now)
        .bind(error)
        .bind(i64::from(requests))
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("recording a sync error"))
    }

    /// Forgets the cursor of `connector` so the next sync starts over.
    pub async fn reset_cursor(&self, connector: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE sync_state SET cursor = NULL WHERE connector_id = $1"
        )
        .bind(connector)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("resetting a cursor"))
    }

    /// Events of `connector` that name objects still to fetch: `(row id, refs)`.
    /// External ids of a connector's open invoices.
    pub async fn open_invoice_ids(&self, connector: &str) -> Result<Vec<String>, StoreError> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT external_id FROM invoices WHERE connector_id = $1 AND status = 'open'"
        )
        .bind(connector)
        .fetch_all(pool)
        .await
        .ctx("reading open invoices"))
    }

    pub async fn pending_refetches(
        &self,
        connector: &str,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<ObjectRef>)>, StoreError> {
        let rows: Vec<(i64, Option<String>)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, refetch FROM webhook_events WHERE connector_id = $1 \
             AND processed_at IS NULL ORDER BY id LIMIT $2"
        )
        .bind(connector)
        .bind(limit)
        .fetch_all(pool)
        .await
        .ctx("reading the refetch inbox"))?;
        Ok(rows
            .into_iter()
            .map(|(id, refs)| {
                let refs = refs
                    .and_then(|r| serde_json::from_str(&r).ok())
                    .unwrap_or_default();
                (id, refs)
            })
            .collect())
    }

    /// Records the outcome of fetching an inbox row's objects: `done` takes it out of the
    /// inbox (with `error` kept for the record), otherwise it is tried again later.
    pub async fn finish_refetch(
        &self,
        id: i64,
        error: Option<&str>,
        done: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let processed = done.then_some(now);
        on_pool!(self, |pool| sqlx::query(
            "UPDATE webhook_events SET processed_at = $2, last_error = $3, \
             attempts = attempts + 1 WHERE id = $1"
        )
        .bind(id)
        .bind(processed)
        .bind(error)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("updating the refetch inbox"))
    }
}
