//! Write-back: records each delivered reminder on the source platform (Stripe metadata...).
//! Retried with backoff until done; never blocks sending.

use std::sync::Arc;

use chrono::TimeDelta;
use relance_core::{Clock, ConnectorError, RecordPayment, WriteBack};

use crate::connectors::Connectors;
use crate::dispatch::backoff;
use crate::store::{Store, StoreError};

/// Attempts before a write-back that keeps failing transiently is given up.
const MAX_ATTEMPTS: i32 = 10;

/// Counts of one round.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteBackStats {
    /// Recorded on the platform.
    pub done: u32,
    /// Put back for later.
    pub retried: u32,
    /// Given up.
    pub failed: u32,
    /// Nothing to do (connector gone or without write-back).
    pub skipped: u32,
}

/// Runs every due write-back once.
pub async fn run_once(
    store: &Store,
    connectors: &Connectors,
    clock: &Arc<dyn Clock>,
    owner: &str,
) -> Result<WriteBackStats, StoreError> {
    let mut stats = WriteBackStats::default();
    loop {
        let now = clock.now();
        let batch = store
            .claim_writebacks(owner, now, now + TimeDelta::minutes(5), 50)
            .await?;
        if batch.is_empty() {
            return Ok(stats);
        }
        // Activities go to each connector together (Salesforce writes 200 Tasks in one call).
        let mut groups: std::collections::BTreeMap<&str, Vec<(i64, WriteBack)>> =
            Default::default();
        for row in batch.iter().filter(|r| r.kind != "payment") {
            if let Ok(request) = serde_json::from_str::<WriteBack>(&row.payload) {
                groups
                    .entry(row.connector_id.as_str())
                    .or_default()
                    .push((row.id, request));
            }
        }
        let mut done_together: std::collections::HashMap<i64, Result<(), ConnectorError>> =
            Default::default();
        for (connector_id, items) in groups {
            if let Some(connector) = connectors.get(connector_id) {
                let requests: Vec<WriteBack> = items.iter().map(|(_, r)| r.clone()).collect();
                let results = connector.write_back_many(&requests).await;
                for ((id, _), result) in items.iter().zip(results) {
                    done_together.insert(*id, result);
                }
            }
        }
        for row in batch {
            let finish = |status: &'static str, error: Option<String>, retry: bool| {
                let retry_at = retry.then(|| clock.now() + backoff(row.attempts));
                let store = store.clone();
                let now = clock.now();
                async move {
                    store
                        .finish_writeback(row.id, status, error.as_deref(), retry_at, now)
                        .await
                }
            };
            let Some(connector) = connectors.get(&row.connector_id) else {
                finish(
                    "skipped",
                    Some(format!("connector {} is not configured", row.connector_id)),
                    false,
                )
                .await?;
                stats.skipped += 1;
                continue;
            };
            let result = if row.kind == "payment" {
                let record: RecordPayment = match serde_json::from_str(&row.payload) {
                    Ok(r) => r,
                    Err(e) => {
                        finish("failed", Some(format!("unreadable payload: {e}")), false).await?;
                        stats.failed += 1;
                        continue;
                    }
                };
                let result = connector.record_payment(&record).await;
                if result.is_ok() {
                    tracing::info!(connector = %row.connector_id, invoice = %record.invoice_external_id,
                        amount = %record.amount, "payment recorded");
                    // Read the invoice back (its balance now says so), then lift the pause.
                    let refs = [relance_core::ObjectRef::invoice(
                        record.invoice_external_id.clone(),
                    )];
                    match connector.fetch(&refs).await {
                        Ok(changes) => {
                            let event = relance_core::InboundEvent {
                                kind: "payment recorded".into(),
                                changes,
                                ..Default::default()
                            };
                            store
                                .apply(&row.connector_id, "refetch", &[event], None, 0, clock.now())
                                .await?;
                            store
                                .clear_payment_pause(row.invoice_id, clock.now())
                                .await?;
                        }
                        Err(e) => tracing::warn!(connector = %row.connector_id, error = %e,
                            "payment recorded; the invoice will be re-read by the next sync"),
                    }
                }
                result
            } else {
                let request: WriteBack = match serde_json::from_str(&row.payload) {
                    Ok(r) => r,
                    Err(e) => {
                        finish("failed", Some(format!("unreadable payload: {e}")), false).await?;
                        stats.failed += 1;
                        continue;
                    }
                };
                let result = match done_together.remove(&row.id) {
                    Some(r) => r,
                    None => connector.write_back(&request).await,
                };
                if result.is_ok() {
                    tracing::info!(connector = %row.connector_id, invoice = %request.invoice_external_id,
                        step = %request.activity.step, "written back");
                }
                result
            };
            match result {
                Ok(()) => {
                    finish("done", None, false).await?;
                    stats.done += 1;
                }
                Err(ConnectorError::Unsupported(e)) => {
                    finish("skipped", Some(e), false).await?;
                    stats.skipped += 1;
                }
                Err(e) if e.is_retryable() && row.attempts < MAX_ATTEMPTS => {
                    tracing::warn!(connector = %row.connector_id, error = %e, "write-back delayed");
                    finish("pending", Some(e.to_string()), true).await?;
                    stats.retried += 1;
                }
                Err(e) => {
                    tracing::error!(connector = %row.connector_id, error = %e, "write-back failed");
                    finish("failed", Some(e.to_string()), false).await?;
                    stats.failed += 1;
                }
            }
        }
    }
}
