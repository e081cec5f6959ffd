//! Sync: pulls a connector page after page, committing each page with its cursor (a crash
//! repeats at most one page, harmlessly), then fetches the objects that events only named.

use std::sync::Arc;

use relance_core::{Clock, Connector, ConnectorError, InboundEvent, PullRequest};

use crate::store::{ApplyStats, Store, StoreError};

/// What one sync did.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    /// Pages pulled.
    pub pages: u32,
    /// Requests made to the provider.
    pub requests: u64,
    /// Totals of what was written.
    pub stats: ApplyStats,
    /// Problems that did not stop the sync (bad rows, unreadable objects).
    pub warnings: Vec<String>,
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The provider failed (the cursor stays where it was).
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Progress callback: (phase, pages so far, objects so far).
pub type Progress<'a> = &'a mut (dyn FnMut(&str, u32, usize) + Send);

fn add(total: &mut ApplyStats, s: ApplyStats) {
    total.events += s.events;
    total.duplicates += s.duplicates;
    total.customers += s.customers;
    total.invoices += s.invoices;
    total.payments += s.payments;
    total.cancelled += s.cancelled;
}

/// Syncs `connector` until it has nothing more; `full` starts over with a full listing.
pub async fn sync_connector(
    store: &Store,
    connector: &dyn Connector,
    clock: &Arc<dyn Clock>,
    full: bool,
    progress: Progress<'_>,
) -> Result<SyncReport, SyncError> {
    let id = connector.id();
    let mut report = SyncReport::default();
    let cursor = if full {
        None
    } else {
        store.sync_state(id).await?.and_then(|s| s.cursor)
    };
    let request = |cursor: Option<String>, full: bool| PullRequest {
        cursor,
        full,
        now: clock.now(),
    };
    let failed = |e: ConnectorError| async move {
        store
            .record_sync_error(id, &e.to_string(), 0, clock.now())
            .await?;
        Err::<SyncReport, SyncError>(e.into())
    };
    let mut pull = match connector.pull(request(cursor, full)).await {
        Ok(p) => p,
        Err(e) => return failed(e).await,
    };
    loop {
        for w in &pull.warnings {
            tracing::warn!(connector = id, "{w}");
        }
        report.warnings.extend(pull.warnings.iter().cloned());
        report.pages += 1;
        report.requests += u64::from(pull.requests);
        let write = store.apply(
            id,
            "poll",
            &pull.events,
            pull.cursor.as_deref(),
            // Requests are counted by the daemon from the connector's own counter, which
            // also sees fetches and write-backs.
            0,
            clock.now(),
        );
        // While this page is written, the next one is fetched and parsed: the cursor it
        // starts from is already known, and it is stored only with that next page.
        let (stats, next) = if pull.more {
            let (stats, next) =
                tokio::join!(write, connector.pull(request(pull.cursor.clone(), false)));
            (stats?, Some(next))
        } else {
            (write.await?, None)
        };
        add(&mut report.stats, stats);
        progress(
            pull.phase,
            report.pages,
            report.stats.invoices + report.stats.customers,
        );
        match next {
            None => break,
            Some(Ok(p)) => pull = p,
            Some(Err(e)) => return failed(e).await,
        }
    }
    let fetched = refetch(store, connector, clock).await?;
    add(&mut report.stats, fetched);
    if report.stats.invoices + report.stats.customers >= ANALYZE_AFTER {
        store.analyze().await?;
    }
    Ok(report)
}

/// Objects written by one sync after which the planner's statistics are refreshed.
const ANALYZE_AFTER: usize = 10_000;

/// Fetches the objects events named without carrying (oldest first) and stores them; an
/// inbox row stays until its objects were fetched.
pub async fn refetch(
    store: &Store,
    connector: &dyn Connector,
    clock: &Arc<dyn Clock>,
) -> Result<ApplyStats, StoreError> {
    let mut total = ApplyStats::default();
    if !connector.capabilities().fetch {
        return Ok(total);
    }
    let id = connector.id();
    loop {
        // Up to 100 inbox rows fetched together: the connector batches the ids it is given.
        let rows = store.pending_refetches(id, 100).await?;
        if rows.is_empty() {
            break;
        }
        let n = rows.len();
        match fetch_rows(store, connector, clock, &rows).await? {
            Ok(stats) => add(&mut total, stats),
            Err(e) if !(e.is_retryable() || matches!(e, ConnectorError::Auth(_))) && n > 1 => {
                // One object the provider cannot give back should not cost the others: one
                // row at a time, each failure recorded on its own row.
                for row in &rows {
                    if let Ok(stats) =
                        fetch_rows(store, connector, clock, std::slice::from_ref(row)).await?
                    {
                        add(&mut total, stats);
                    }
                }
            }
            Err(_) => break,
        }
        if n < 100 {
            break;
        }
    }
    Ok(total)
}

/// Fetches the objects of some inbox rows together and applies them; records the outcome on
/// the rows (a transient failure, or credentials to fix, leaves them for the next round).
async fn fetch_rows(
    store: &Store,
    connector: &dyn Connector,
    clock: &Arc<dyn Clock>,
    rows: &[(i64, Vec<relance_core::ObjectRef>)],
) -> Result<Result<ApplyStats, ConnectorError>, StoreError> {
    let id = connector.id();
    let mut refs = Vec::new();
    for (_, r) in rows {
        for r in r {
            if !refs.contains(r) {
                refs.push(r.clone());
            }
        }
    }
    match connector.fetch(&refs).await {
        Ok(changes) => {
            let event = InboundEvent {
                kind: "refetch".into(),
                changes,
                ..InboundEvent::default()
            };
            let stats = store
                .apply(id, "refetch", &[event], None, 0, clock.now())
                .await?;
            for (row, _) in rows {
                store.finish_refetch(*row, None, true, clock.now()).await?;
            }
            Ok(Ok(stats))
        }
        Err(e) => {
            tracing::warn!(connector = id, error = %e, "could not fetch objects named by events");
            let done = !(e.is_retryable() || matches!(e, ConnectorError::Auth(_)));
            for (row, _) in rows {
                store
                    .finish_refetch(*row, Some(&e.to_string()), done, clock.now())
                    .await?;
            }
            Ok(Err(e))
        }
    }
}
