//! The store: SQLite (embedded default) or PostgreSQL, chosen by the URL scheme, through the
//! same queries (`$n` placeholders work on both). Where dialects differ (write transactions,
//! `SKIP LOCKED`), a small trait on the pool says how.

mod alert_state;
mod credentials;
mod interventions;
mod outbox;
mod plan;
mod plans;
mod sync;
mod tasks;
mod writebacks;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use relance_core::{Currency, InvoiceStatus, Money};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Database, Transaction};

pub use credentials::{DbCredentials, SECRET_KEY_VAR, STATE_TTL, SecretKey, StateCheck};
pub use interventions::{Target, indefinitely};
pub use outbox::{
    ClaimedReminder, INTERRUPTED, NewReminder, ReminderStatus, SentMessage, SentReminder,
    WriteBackRequest,
};
pub use plan::{CustomerHistory, PlanRow, PlanScope, ReminderFact};
pub use sync::{ApplyStats, SyncState};
pub use tasks::{HistoryLine, LateFeeFacts, TaskAction, TaskError, TaskRow};
pub use writebacks::ClaimedWriteBack;

/// A storage failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {context}: {source}")]
    Database {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Migrations could not be applied.
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A value cannot be stored as it is (e.g. more decimals than the currency has).
    #[error("{0}")]
    Invalid(String),
}

/// Adds context to driver errors.
pub(crate) trait Context<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database { context, source })
    }
}

/// How each backend opens a transaction that will write, and locks rows to claim them.
pub(crate) trait Dialect {
    type Db: Database;
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL; nothing on SQLite, where the claiming
    /// `UPDATE … RETURNING` already runs alone (one writer at a time).
    const SKIP_LOCKED: &'static str;
    /// The statement as this backend runs it best.
    fn prepare(stmt: Stmt) -> Stmt;
    /// A statement that relaxes commit durability for the current transaction, where the
    /// backend has one: for writes that can be fetched again from the provider.
    const RELAXED_COMMIT: Option<&'static str>;
    /// How multi-row writes are spelled.
    const ROW_STYLE: sync::RowStyle;
    /// Starts a transaction that holds the write lock from its first statement.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl Dialect for SqlitePool {
    type Db = sqlx::Sqlite;
    const SKIP_LOCKED: &'static str = "";
    fn prepare(stmt: Stmt) -> Stmt {
        stmt.positional()
    }
    const RELAXED_COMMIT: Option<&'static str> = None;
    const ROW_STYLE: sync::RowStyle = sync::RowStyle::Values;
    async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        // BEGIN IMMEDIATE: a deferred transaction that reads then writes can fail with
        // "database is locked" when another writer went first.
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl Dialect for PgPool {
    type Db = sqlx::Postgres;
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";
    fn prepare(stmt: Stmt) -> Stmt {
        stmt
    }
    const RELAXED_COMMIT: Option<&'static str> = Some("SET LOCAL synchronous_commit TO OFF");
    const ROW_STYLE: sync::RowStyle = sync::RowStyle::Unnest;
    async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool this store has; the body is compiled once
/// per backend, so the same query text serves both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Per-backend SQL text chosen at run time (what differs between dialects).
macro_rules! dialect_sql {
    ($pool:expr, $template:expr) => {{
        fn skip_locked<P: $crate::store::Dialect>(_: &P) -> &'static str {
            P::SKIP_LOCKED
        }
        $template.replace("{skip_locked}", skip_locked($pool))
    }};
}
pub(crate) use dialect_sql;

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `url` (`sqlite://file` is created if absent; `postgres://…`).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = if let Some(rest) = url.strip_prefix("sqlite:") {
            let file = rest.trim_start_matches("//");
            let file = file.split('?').next().unwrap_or(file);
            if let Some(dir) = std::path::Path::new(file).parent()
                && !file.is_empty()
                && file != ":memory:"
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Invalid(format!("cannot create the folder {}: {e}", dir.display()))
                })?;
            }
            let options = SqliteConnectOptions::from_str(url)
                .ctx("reading the sqlite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .ctx("opening the SQLite file")?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // JIT compilation costs hundreds of milliseconds per query and never pays off on
            // these short OLTP statements.
            let options = PgConnectOptions::from_str(url)
                .ctx("reading the postgres URL")?
                .options([("jit", "off")]);
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .ctx("connecting to PostgreSQL")?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::Invalid(
                "database URL must start with sqlite:// or postgres://".into(),
            ));
        };
        Ok(Store { backend })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Backend::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    /// Refreshes the query planner's statistics (after a large sync, so that planning
    /// queries pick index lookups over full scans).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query("ANALYZE")
            .execute(pool)
            .await
            .map(|_| ())
            .ctx("refreshing statistics"))
    }

    /// Checks the database answers.
    /// Row counts by status, for `/metrics`: `(table, status, count)` for reminders, invoices
    /// and write-backs.
    pub async fn status_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT 'reminders', status, COUNT(*) FROM reminders GROUP BY status \
             UNION ALL SELECT 'invoices', status, COUNT(*) FROM invoices GROUP BY status \
             UNION ALL SELECT 'writebacks', status, COUNT(*) FROM writebacks GROUP BY status"
        )
        .fetch_all(pool)
        .await
        .ctx("counting rows for the metrics"))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ())
            .ctx("ping"))
    }
}

/// A stored invoice.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvoiceRow {
    /// Internal id.
    pub id: i64,
    /// Connector that owns it.
    pub connector_id: String,
    /// Provider id.
    pub external_id: String,
    /// Customer (internal id).
    pub customer_id: i64,
    /// Number the customer sees.
    pub number: String,
    /// Issued.
    pub issued_on: Option<NaiveDate>,
    /// Due.
    pub due_on: Option<NaiveDate>,
    /// ISO code.
    pub currency: String,
    /// Total, minor units.
    pub total_minor: i64,
    /// Owed, minor units.
    pub balance_minor: i64,
    /// Lifecycle.
    pub status: String,
    /// Chased by reminders.
    pub chase: bool,
    /// Bill-to e-mail.
    pub email: Option<String>,
    /// Payment page.
    pub payment_url: Option<String>,
    /// Paid in full at.
    pub paid_at: Option<DateTime<Utc>>,
    /// Not chased before this date.
    pub paused_until: Option<NaiveDate>,
    /// Why it is paused.
    pub pause_reason: Option<String>,
    /// Provider's version time.
    pub source_updated_at: DateTime<Utc>,
}

impl InvoiceRow {
    /// Lifecycle as the enum (unknown text reads as void: never chased).
    pub fn status(&self) -> InvoiceStatus {
        InvoiceStatus::parse(&self.status).unwrap_or(InvoiceStatus::Void)
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency).unwrap_or(Currency::EUR)
    }

    /// Total as money.
    pub fn total(&self) -> Money {
        Money::from_minor(self.total_minor, self.currency())
    }

    /// Balance as money.
    pub fn balance(&self) -> Money {
        Money::from_minor(self.balance_minor, self.currency())
    }
}

/// A stored customer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerRow {
    /// Internal id.
    pub id: i64,
    /// Connector that owns it.
    pub connector_id: String,
    /// Provider id.
    pub external_id: String,
    /// Name.
    pub name: String,
    /// Addresses, `, `-separated.
    pub emails: String,
    /// Phone.
    pub phone: Option<String>,
    /// Language.
    pub locale: Option<String>,
    /// Time zone.
    pub time_zone: Option<String>,
    /// Never chased.
    pub excluded: bool,
    /// Not chased before this date.
    pub paused_until: Option<NaiveDate>,
    /// Why it is paused.
    pub pause_reason: Option<String>,
    /// Postal address, when the provider has one.
    #[sqlx(default)]
    pub address: Option<String>,
    /// `b2c` or `b2b` when the provider says.
    #[sqlx(default)]
    pub kind: Option<String>,
}

impl CustomerRow {
    /// The addresses as a list.
    pub fn email_list(&self) -> Vec<String> {
        split_emails(&self.emails)
    }
}

/// Splits the stored `, `-separated address list.
pub fn split_emails(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

/// Converts money to stored minor units, naming the object on failure.
pub(crate) fn minor(m: &Money, what: &str) -> Result<i64, StoreError> {
    m.to_minor()
        .map_err(|e| StoreError::Invalid(format!("{what}: {e}")))
}

/// A value bound to a statement built at run time (multi-row upserts). Arrays are built
/// for PostgreSQL only (`UNNEST`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Date(Option<NaiveDate>),
    Time(Option<DateTime<Utc>>),
    Texts(Vec<Option<String>>),
    Ints(Vec<Option<i64>>),
    Bools(Vec<bool>),
    Dates(Vec<Option<NaiveDate>>),
    Times(Vec<Option<DateTime<Utc>>>),
}

impl Arg {
    /// One array argument from a column of scalar arguments of the same kind.
    pub(crate) fn array(values: Vec<Arg>) -> Arg {
        fn collect<T>(values: Vec<Arg>, f: impl Fn(Arg) -> Option<T>) -> Vec<T> {
            values
                .into_iter()
                .map(|v| f(v).expect("a column holds one kind of value"))
                .collect()
        }
        match values.first() {
            Some(Arg::Int(_)) => Arg::Ints(collect(values, |v| match v {
                Arg::Int(x) => Some(x),
                _ => None,
            })),
            Some(Arg::Bool(_)) => Arg::Bools(collect(values, |v| match v {
                Arg::Bool(x) => Some(x),
                _ => None,
            })),
            Some(Arg::Date(_)) => Arg::Dates(collect(values, |v| match v {
                Arg::Date(x) => Some(x),
                _ => None,
            })),
            Some(Arg::Time(_)) => Arg::Times(collect(values, |v| match v {
                Arg::Time(x) => Some(x),
                _ => None,
            })),
            _ => Arg::Texts(collect(values, |v| match v {
                Arg::Text(x) => Some(x),
                _ => None,
            })),
        }
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(Some(s.to_string()))
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(Some(s))
    }
}
impl From<Option<String>> for Arg {
    fn from(s: Option<String>) -> Self {
        Arg::Text(s)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<Option<NaiveDate>> for Arg {
    fn from(v: Option<NaiveDate>) -> Self {
        Arg::Date(v)
    }
}
impl From<DateTime<Utc>> for Arg {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for Arg {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::Time(v)
    }
}

/// A statement and its arguments, built without touching the database.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stmt {
    pub sql: String,
    pub args: Vec<Arg>,
}

/// Binds run-time arguments, per backend.
pub(crate) trait BindArgs: Database {
    /// Binds `args` in order.
    fn bind_args<'q>(
        q: sqlx::query::Query<'q, Self, <Self as Database>::Arguments<'q>>,
        args: Vec<Arg>,
    ) -> sqlx::query::Query<'q, Self, <Self as Database>::Arguments<'q>>;
}

impl BindArgs for sqlx::Sqlite {
    fn bind_args<'q>(
        mut q: sqlx::query::Query<'q, Self, <Self as Database>::Arguments<'q>>,
        args: Vec<Arg>,
    ) -> sqlx::query::Query<'q, Self, <Self as Database>::Arguments<'q>> {
        for a in args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Date(v) => q.bind(v),
                Arg::Time(v) => q.bind(v),
                Arg::Texts(_) | Arg::Ints(_) | Arg::Bools(_) | Arg::Dates(_) | Arg::Times(_) => {
                    unreachable!("array arguments are only built for PostgreSQL (RowStyle::Unnest)")
                }
            };
        }
        q
    }
}

impl BindArgs for sqlx::Postgres {
    fn bind_args<'q>(
        mut q: sqlx::query::Query<'q, Self, <Self as Database>::Arguments<'q>>,
        args: Vec<Arg>,
    ) -> sqlx::query::Query<'q, Self, <Self as Database>::Arguments<'q>> {
        for a in args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Date(v) => q.bind(v),
                Arg::Time(v) => q.bind(v),
                Arg::Texts(v) => q.bind(v),
                Arg::Ints(v) => q.bind(v),
                Arg::Bools(v) => q.bind(v),
                Arg::Dates(v) => q.bind(v),
                Arg::Times(v) => q.bind(v),
            };
        }
        q
    }
}

/// Binds `args` in order on whichever backend `q` is for.
pub(crate) fn bind_all<'q, DB: BindArgs>(
    q: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>> {
    DB::bind_args(q, args)
}

/// Runs the statements in order inside `$tx`, as `$pool`'s backend prefers them.
macro_rules! run_stmts {
    ($pool:expr, $tx:expr, $stmts:expr, $context:expr) => {{
        fn prepare<P: $crate::store::Dialect>(
            _: &P,
            s: $crate::store::Stmt,
        ) -> $crate::store::Stmt {
            P::prepare(s)
        }
        let mut affected: u64 = 0;
        for s in $stmts {
            let s = prepare($pool, s);
            let q = $crate::store::bind_all(sqlx::query(&s.sql), s.args);
            affected += q
                .execute(&mut *$tx)
                .await
                .map_err(|source| $crate::store::StoreError::Database {
                    context: $context,
                    source,
                })?
                .rows_affected();
        }
        affected
    }};
}
pub(crate) use run_stmts;

/// `($1, $2, …)` groups for `rows` rows of `width` values, numbered after `offset` fixed ones.
/// `template` uses `{0}`, `{1}`… for the row's own values and may name fixed ones (`$1`).
pub(crate) fn values_rows(template: &str, width: usize, rows: usize, offset: usize) -> String {
    // Split the template once into text and column references.
    let mut parts: Vec<Result<&str, usize>> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c);
        match close.and_then(|c| rest[open + 1..c].parse::<usize>().ok().map(|n| (c, n))) {
            Some((close, n)) if n < width => {
                parts.push(Ok(&rest[..open]));
                parts.push(Err(n));
                rest = &rest[close + 1..];
            }
            _ => {
                parts.push(Ok(&rest[..=open]));
                rest = &rest[open + 1..];
            }
        }
    }
    parts.push(Ok(rest));
    let mut out = String::with_capacity(rows * (template.len() + width * 3));
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        for p in &parts {
            match p {
                Ok(text) => out.push_str(text),
                Err(c) => {
                    out.push('$');
                    out.push_str(&(offset + r * width + c + 1).to_string());
                }
            }
        }
    }
    out
}

impl Stmt {
    /// The same statement with anonymous `?` placeholders, arguments repeated in order of
    /// appearance. SQLite resolves a named parameter (`$n`) by scanning every name, so a
    /// statement with a thousand `$n` costs a million comparisons to bind; `?` costs none.
    pub(crate) fn positional(&self) -> Stmt {
        let mut sql = String::with_capacity(self.sql.len());
        let mut args = Vec::with_capacity(self.args.len());
        let bytes = self.sql.as_bytes();
        let mut i = 0;
        let mut in_literal = false;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'\'' {
                in_literal = !in_literal;
            }
            if b == b'$' && !in_literal {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits > 0 {
                    let n: usize = self.sql[i + 1..i + 1 + digits]
                        .parse()
                        .expect("digits parse");
                    sql.push('?');
                    args.push(self.args[n - 1].clone());
                    i += 1 + digits;
                    continue;
                }
            }
            sql.push(b as char);
            i += 1;
        }
        Stmt { sql, args }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_rows_numbers_placeholders_after_fixed_ones() {
        assert_eq!(
            values_rows("($1, {0}, {1})", 2, 2, 1),
            "($1, $2, $3), ($1, $4, $5)"
        );
        let wide = values_rows("({0}, {10}, {11})", 12, 1, 0);
        assert_eq!(wide, "($1, $11, $12)");
        assert_eq!(values_rows("({0}) {x}", 1, 1, 0), "($1) {x}");
    }

    #[test]
    fn positional_placeholders_repeat_arguments_in_order() {
        let s = Stmt {
            sql: "INSERT INTO t VALUES ($2, $1, '$1', $2)".into(),
            args: vec![Arg::Int(Some(1)), Arg::Int(Some(2))],
        };
        let p = s.positional();
        assert_eq!(p.sql, "INSERT INTO t VALUES (?, ?, '$1', ?)");
        assert_eq!(
            p.args,
            vec![Arg::Int(Some(2)), Arg::Int(Some(1)), Arg::Int(Some(2))]
        );
    }
}
