//! HTTP: `POST /webhooks/{connector_id}` (signature checked on the raw body before anything
//! is parsed; answered 2xx only once the change is committed) and `GET /healthz`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use relance_core::webhook::verify;
use relance_core::{Clock, UnverifiedWebhook, WebhookError, WebhookReply};
use serde_json::json;
use tokio::sync::Notify;

use crate::connectors::Connectors;
use crate::store::Store;

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
}

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/{connector_id}", post(webhook))
        .route("/healthz", get(health))
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
    match app
        .store
        .apply(&connector_id, "webhook", &events, None, 0, now)
        .await
    {
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
