//! Sync: pulls a connector page after page, committing each page with its cursor (a crash
//! repeats at most one page, harmlessly), then fetches the objects that events only named.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use relance_core::{
    Change, Clock, Connector, ConnectorError, InboundEvent, Listing, ObjectKind, ObjectRef,
    PullRequest,
};

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
    /// Open invoices a full listing did not show: checked with the provider, or closed.
    pub unlisted: usize,
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
    // The invoices of a full listing seen from its first page (reconciled at its end).
    let mut listed: Option<Listed> = None;
    loop {
        if pull.listing == Listing::Starts {
            listed = Some(Listed::default());
        }
        if let Some(seen) = listed.as_mut()
            && pull.listing != Listing::No
        {
            for event in &pull.events {
                for change in &event.changes {
                    if let Change::Invoice(i) = change {
                        seen.ids.insert(i.external_id.clone());
                        seen.version = seen.version.max(Some(i.source_updated_at));
                    }
                }
            }
        }
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
    if let Some(seen) = listed {
        let absent = reconcile(store, connector, clock, &seen).await?;
        report.unlisted = absent;
    }
    let fetched = refetch(store, connector, clock).await?;
    add(&mut report.stats, fetched);
    if report.stats.invoices + report.stats.customers >= ANALYZE_AFTER {
        store.analyze().await?;
    }
    Ok(report)
}

/// What a full listing showed: the invoices, and the newest version among them.
#[derive(Default)]
struct Listed {
    ids: HashSet<String>,
    version: Option<DateTime<Utc>>,
}

/// After a full listing: the open invoices it did not list are asked for again (the provider
/// says whether they were deleted, or just moved while the listing ran); a source that cannot
/// be asked (a CSV file) has removed them, and they are closed. Returns how many.
async fn reconcile(
    store: &Store,
    connector: &dyn Connector,
    clock: &Arc<dyn Clock>,
    seen: &Listed,
) -> Result<usize, StoreError> {
    let id = connector.id();
    let absent: Vec<String> = store
        .open_invoice_ids(id)
        .await?
        .into_iter()
        .filter(|e| !seen.ids.contains(e))
        .collect();
    if absent.is_empty() {
        return Ok(0);
    }
    let now = clock.now();
    let fetch = connector.capabilities().fetch;
    let version = match seen.version {
        Some(v) => v,
        // The provider will be asked about each: nothing is decided on the listing alone.
        None if fetch => now,
        None => {
            // An empty file is more likely a broken export than a paid-up book.
            tracing::warn!(
                connector = id,
                open = absent.len(),
                "the full listing holds no invoice: nothing closed"
            );
            return Ok(0);
        }
    };
    tracing::info!(
        connector = id,
        invoices = absent.len(),
        "open invoices missing from the full listing: checking them"
    );
    let events: Vec<InboundEvent> = if fetch {
        // Inbox rows of 100 objects: one the provider cannot give back holds up few others.
        absent
            .chunks(100)
            .enumerate()
            .map(|(n, chunk)| InboundEvent {
                id: Some(format!("reconcile:{}:{n}", now.timestamp_micros())),
                kind: "reconcile".into(),
                changes: Vec::new(),
                refetch: chunk
                    .iter()
                    .map(|e| ObjectRef {
                        kind: ObjectKind::Invoice,
                        external_id: e.clone(),
                    })
                    .collect(),
            })
            .collect()
    } else {
        vec![InboundEvent {
            id: None,
            kind: "reconcile".into(),
            changes: absent
                .iter()
                // Removed in the version of the source that was listed: the same row put back
                // later (a newer version) opens the invoice again.
                .map(|e| Change::InvoiceDeleted {
                    external_id: e.clone(),
                    at: version,
                })
                .collect(),
            refetch: Vec::new(),
        }]
    };
    store.apply(id, "reconcile", &events, None, 0, now).await?;
    Ok(absent.len())
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
