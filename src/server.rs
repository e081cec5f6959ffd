//! HTTP: `POST /webhooks/{connector_id}` (signature checked on the raw body before anything
//! is parsed; answered 2xx only once the change is committed), `GET /healthz` and
//! `GET /metrics` (Prometheus text format).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use relance_core::InboundEvent;
use relance_core::webhook::verify;
use relance_core::{Clock, UnverifiedWebhook, WebhookError, WebhookReply};
use serde_json::json;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::connectors::Connectors;
use crate::store::{ApplyStats, Store};

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Connectors by id.
    pub connectors: Connectors,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Woken when a webhook changed something (the worker re-plans sooner).
    pub changed: Arc<Notify>,
    writer: mpsc::Sender<Pending>,
}

/// A verified webhook waiting to be committed, and who to tell.
struct Pending {
    connector: String,
    events: Vec<InboundEvent>,
    done: oneshot::Sender<Result<ApplyStats, String>>,
}

/// Webhooks committed together at most.
const GROUP: usize = 64;

impl AppState {
    /// The state, with the task that commits webhooks (started on the current runtime).
    pub fn new(
        store: Store,
        connectors: Connectors,
        clock: Arc<dyn Clock>,
        changed: Arc<Notify>,
    ) -> AppState {
        let (writer, queue) = mpsc::channel(1024);
        tokio::spawn(commit_webhooks(store.clone(), clock.clone(), queue));
        AppState {
            store,
            connectors,
            clock,
            changed,
            writer,
        }
    }
}

/// Commits webhooks in groups: those that arrive while a transaction runs share the next
/// one (group commit), and each is answered only once its group is committed. A group that
/// fails is retried one webhook at a time, so one bad event cannot hold up the others.
async fn commit_webhooks(store: Store, clock: Arc<dyn Clock>, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(GROUP);
    while queue.recv_many(&mut batch, GROUP).await > 0 {
        let mut by_connector: Vec<(String, Vec<Pending>)> = Vec::new();
        for p in batch.drain(..) {
            match by_connector.iter_mut().find(|(c, _)| *c == p.connector) {
                Some((_, group)) => group.push(p),
                None => by_connector.push((p.connector.clone(), vec![p])),
            }
        }
        for (connector, group) in by_connector {
            let events: Vec<InboundEvent> = group.iter().flat_map(|p| p.events.clone()).collect();
            match store
                .apply(&connector, "webhook", &events, None, 0, clock.now())
                .await
            {
                Ok(stats) => {
                    let each = ApplyStats {
                        events: stats.events / group.len().max(1),
                        ..stats
                    };
                    for p in group {
                        let _ = p.done.send(Ok(each));
                    }
                }
                Err(_) if group.len() > 1 => {
                    for p in group {
                        let r = store
                            .apply(&connector, "webhook", &p.events, None, 0, clock.now())
                            .await
                            .map_err(|e| e.to_string());
                        let _ = p.done.send(r);
                    }
                }
                Err(e) => {
                    for p in group {
                        let _ = p.done.send(Err(e.to_string()));
                    }
                }
            }
        }
    }
}

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/{connector_id}", post(webhook))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route("/oauth/{connector_id}/callback", get(oauth_callback))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .with_state(state)
}

fn reply(r: WebhookReply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

async fn webhook(
    State(app): State<AppState>,
    Path(connector_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(connector) = app.connectors.get(&connector_id) else {
        return reply(WebhookReply {
            status: 404,
            content_type: "application/json",
            body: json!({ "error": format!("no connector `{connector_id}`") }).to_string(),
        });
    };
    let Some(check) = connector.signature_check() else {
        tracing::warn!(connector = %connector_id, "webhook refused: no webhook secret configured");
        return reply(connector.webhook_error_reply(&WebhookError::NotSupported));
    };
    let now = app.clock.now();
    let verified = match verify(check, UnverifiedWebhook { headers, body }, now) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(connector = %connector_id, error = %e, "webhook refused");
            return reply(connector.webhook_error_reply(&e));
        }
    };
    let events = match connector.parse_webhook(&verified) {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!(connector = %connector_id, error = %e, "webhook refused");
            return reply(connector.webhook_error_reply(&e));
        }
    };
    let (done, committed) = oneshot::channel();
    let pending = Pending {
        connector: connector_id.clone(),
        events: events.clone(),
        done,
    };
    let result = match app.writer.send(pending).await {
        Ok(()) => committed
            .await
            .unwrap_or_else(|_| Err("the webhook writer stopped".into())),
        Err(_) => Err("the webhook writer stopped".into()),
    };
    match result {
        Ok(stats) => {
            tracing::info!(
                connector = %connector_id,
                events = stats.events, duplicates = stats.duplicates,
                invoices = stats.invoices, payments = stats.payments,
                cancelled = stats.cancelled,
                kinds = %events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>().join(","),
                "webhook applied"
            );
            if stats.duplicates < stats.events {
                app.changed.notify_one();
            }
            reply(connector.webhook_reply(&events))
        }
        Err(e) => {
            // Not acknowledged: the provider delivers it again later.
            tracing::error!(connector = %connector_id, error = %e, "webhook not stored");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json")],
                json!({ "error": "could not store the event; retry later" }).to_string(),
            )
                .into_response()
        }
    }
}

/// Prometheus text exposition (format 0.0.4): the outbox, invoices and write-backs by
/// status, and per connector its last successful sync, whether its last sync failed and the
/// provider requests it made. Computed from the store at each scrape (shared by replicas).
async fn metrics(State(app): State<AppState>) -> Response {
    use std::fmt::Write as _;
    let mut out = String::new();
    let up = app.store.ping().await.is_ok();
    let _ = writeln!(
        out,
        "# HELP relance_database_up Whether the database answers.\n\
         # TYPE relance_database_up gauge\nrelance_database_up {}",
        u8::from(up)
    );
    if let Ok(counts) = app.store.status_counts().await {
        for (table, help) in [
            (
                "reminders",
                "Reminders (the outbox and its history) by status.",
            ),
            ("invoices", "Invoices by status."),
            (
                "writebacks",
                "Write-backs to the source platforms by status.",
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP relance_{table} {help}\n# TYPE relance_{table} gauge"
            );
            for (_, status, n) in counts.iter().filter(|(t, _, _)| t == table) {
                let _ = writeln!(out, "relance_{table}{{status=\"{status}\"}} {n}");
            }
        }
    }
    let mut success = String::new();
    let mut failing = String::new();
    let mut requests = String::new();
    for c in app.connectors.iter() {
        let id = c.id();
        let state = app.store.sync_state(id).await.ok().flatten();
        if let Some(at) = state.as_ref().and_then(|s| s.last_success_at) {
            let _ = writeln!(
                success,
                "relance_connector_last_success_timestamp_seconds{{connector=\"{id}\"}} {}",
                at.timestamp()
            );
        }
        let error = state.as_ref().is_some_and(|s| s.last_error.is_some());
        let _ = writeln!(
            failing,
            "relance_connector_failing{{connector=\"{id}\"}} {}",
            u8::from(error)
        );
        let _ = writeln!(
            requests,
            "relance_connector_requests_total{{connector=\"{id}\"}} {}",
            c.requests()
        );
    }
    let _ = write!(
        out,
        "# HELP relance_connector_last_success_timestamp_seconds End of the connector's last successful sync.\n\
         # TYPE relance_connector_last_success_timestamp_seconds gauge\n{success}\
         # HELP relance_connector_failing 1 when the connector's last sync failed.\n\
         # TYPE relance_connector_failing gauge\n{failing}\
         # HELP relance_connector_requests_total Provider requests made by this process.\n\
         # TYPE relance_connector_requests_total counter\n{requests}"
    );
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

async fn health(State(app): State<AppState>) -> Response {
    let database = app.store.ping().await;
    let mut connectors = Vec::new();
    for c in app.connectors.iter() {
        let state = app.store.sync_state(c.id()).await.ok().flatten();
        connectors.push(json!({
            "id": c.id(),
            "kind": c.kind(),
            "last_success_at": state.as_ref().and_then(|s| s.last_success_at),
            "last_error": state.as_ref().and_then(|s| s.last_error.clone()),
            "connection": match c.oauth() {
                None => serde_json::Value::Null,
                Some(o) => match o.status().await {
                    Ok(relance_core::auth::ConnectionStatus::NotConnected) => json!("not_connected"),
                    Ok(relance_core::auth::ConnectionStatus::NeedsReconnect(reason)) => {
                        json!({"needs_reconnect": reason})
                    }
                    Ok(relance_core::auth::ConnectionStatus::Connected { account, .. }) => {
                        json!({"connected": account})
                    }
                    Err(e) => json!({"error": e.to_string()}),
                },
            },
        }));
    }
    let ok = database.is_ok();
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "database": match &database { Ok(()) => "ok".to_string(), Err(e) => e.to_string() },
        "connectors": connectors,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /oauth/{connector_id}/callback`: where the provider sends the user back after
/// `relance connect`.
async fn oauth_callback(
    State(app): State<AppState>,
    Path(connector_id): Path<String>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let page = |status: StatusCode, text: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response()
    };
    let Some(connector) = app.connectors.get(&connector_id) else {
        return page(
            StatusCode::NOT_FOUND,
            format!("No connector `{connector_id}` here.\n"),
        );
    };
    match crate::connect::complete(&app.store, connector.as_ref(), &params, app.clock.now()).await {
        Ok(crate::connect::Completed::Connected(account)) => {
            app.changed.notify_one();
            page(
                StatusCode::OK,
                format!(
                    "Relance is connected to company {account} for `{connector_id}`. You can close this page.\n"
                ),
            )
        }
        Ok(crate::connect::Completed::AlreadyDone(account)) => page(
            StatusCode::OK,
            format!(
                "This connection was already completed{}. You can close this page.\n",
                account
                    .map(|a| format!(" (company {a})"))
                    .unwrap_or_default()
            ),
        ),
        Err(e) => {
            tracing::error!(connector = %connector_id, error = %e, "connection failed");
            page(
                StatusCode::BAD_REQUEST,
                format!("The connection failed: {e}\n"),
            )
        }
    }
}
