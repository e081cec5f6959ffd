//! Stripe connector: full listing of customers and invoices, then the Events API from a stored
//! cursor, webhooks verified on the raw body, and metadata write-back.
//!
//! Pinned API version: [`client::STRIPE_VERSION`]. Since basil (2025-03-31) an invoice no
//! longer names its charge or payment intent; payments are Invoice Payment objects
//! (`invoice_payment.paid`), which this connector maps to [`relance_core::Payment`].

pub mod client;
pub mod config;
pub mod map;
pub mod model;
pub mod webhook;
pub mod writeback;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use chrono_tz::Tz;
use relance_core::http::HttpConfig;
use relance_core::{
    Capabilities, Change, Clock, Connector, ConnectorError, InboundEvent, ObjectKind, ObjectRef,
    Pull, PullRequest, SignatureCheck, VerifiedEvent, WebhookError, WriteBack,
};
use serde::{Deserialize, Serialize};

pub use config::StripeConfig;

use client::StripeClient;
use map::MapOptions;

/// Page size for every listing (Stripe's maximum).
const PAGE: &str = "100";
/// Stripe keeps events for 30 days; a cursor older than this needs a full listing.
const EVENTS_RETENTION: TimeDelta = TimeDelta::days(29);
/// Events created this close to "now" may not be listed yet: keep them in the next window.
const EVENTS_OVERLAP: TimeDelta = TimeDelta::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    Customers,
    Invoices,
    Events,
}

/// Where the sync stands, stored by the daemon between calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    phase: Phase,
    /// `starting_after` for the next page of the current walk.
    after: Option<String>,
    /// `created[gte]` of the events window (Unix seconds).
    events_since: i64,
}

impl Cursor {
    fn fresh(now: i64) -> Self {
        Cursor {
            phase: Phase::Customers,
            after: None,
            events_since: now - EVENTS_OVERLAP.num_seconds(),
        }
    }
}

/// One Stripe account.
pub struct StripeConnector {
    id: String,
    client: StripeClient,
    signature: Option<webhook::StripeSignature>,
    options: MapOptions,
    clock: Arc<dyn Clock>,
}

impl StripeConnector {
    /// Builds the connector `id` from its configuration. `default_timezone` (the company's)
    /// applies when the section names none.
    pub fn new(
        id: &str,
        config: StripeConfig,
        default_timezone: Tz,
        clock: Arc<dyn Clock>,
        tune: impl FnOnce(&mut HttpConfig),
    ) -> Result<Self, ConnectorError> {
        let timezone = match &config.timezone {
            Some(tz) => tz
                .parse::<Tz>()
                .map_err(|_| ConnectorError::Invalid(format!("{id}: unknown time zone `{tz}`")))?,
            None => default_timezone,
        };
        let client = StripeClient::new(
            id,
            &config.api_base,
            config.api_key.clone(),
            config.rate(),
            clock.clone(),
            tune,
        )?;
        Ok(StripeConnector {
            id: id.to_string(),
            client,
            signature: config
                .webhook_secret
                .clone()
                .map(|s| webhook::StripeSignature::new(s, config.webhook_tolerance_seconds)),
            options: MapOptions {
                timezone,
                chase_automatic_collection: config.chase_automatic_collection,
            },
            clock,
        })
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.client.requests()
    }

    fn page_query(after: &Option<String>) -> Vec<(&'static str, String)> {
        let mut q = vec![("limit", PAGE.to_string())];
        if let Some(after) = after {
            q.push(("starting_after", after.clone()));
        }
        q
    }

    async fn pull_customers(
        &self,
        cursor: &mut Cursor,
        pull: &mut Pull,
    ) -> Result<(), ConnectorError> {
        let page: Result<model::List<model::Customer>, _> = self
            .client
            .get(
                "list customers",
                "/v1/customers",
                &Self::page_query(&cursor.after),
            )
            .await;
        let page = match page {
            Ok(page) => page,
            Err(
                e @ (ConnectorError::NotFound(_) | ConnectorError::Provider { status: 404, .. }),
            ) => {
                pull.warnings.push(format!(
                    "{e}; continuing with the names and e-mails printed on invoices"
                ));
                cursor.phase = Phase::Invoices;
                cursor.after = None;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let changes = page
            .data
            .iter()
            .filter_map(map::customer)
            .map(Change::Customer)
            .collect();
        pull.events.push(InboundEvent {
            kind: "customer.list".into(),
            changes,
            ..InboundEvent::default()
        });
        match (page.has_more, page.data.last()) {
            (true, Some(last)) => cursor.after = Some(last.id.clone()),
            _ => {
                cursor.phase = Phase::Invoices;
                cursor.after = None;
            }
        }
        Ok(())
    }

    async fn pull_invoices(
        &self,
        cursor: &mut Cursor,
        pull: &mut Pull,
    ) -> Result<(), ConnectorError> {
        pull.listing = if cursor.after.is_none() {
            relance_core::Listing::Starts
        } else {
            relance_core::Listing::Continues
        };
        let query = Self::page_query(&cursor.after);
        let body = self
            .client
            .get_raw("list invoices", "/v1/invoices", &query)
            .await?;
        // Parsing a page is ~20 ms of CPU: off the async worker, so the previous page's
        // database writes keep moving meanwhile.
        let (options, id) = (self.options, self.id.clone());
        let page = tokio::task::spawn_blocking(move || map::invoice_page(&body, options, &id))
            .await
            .map_err(|e| ConnectorError::Invalid(format!("{}: list invoices: {e}", self.id)))?
            .map_err(|e| ConnectorError::Invalid(format!("{}: list invoices: {e}", self.id)))?;
        pull.warnings.extend(page.warnings);
        let (changes, has_more, last_id) = (page.changes, page.has_more, page.last_id);
        pull.events.push(InboundEvent {
            kind: "invoice.list".into(),
            changes,
            ..InboundEvent::default()
        });
        match (has_more, last_id) {
            (true, Some(last)) => cursor.after = Some(last),
            (true, None) => {
                return Err(ConnectorError::Invalid(format!(
                    "{}: list invoices: has_more without a readable last id",
                    self.id
                )));
            }
            _ => {
                cursor.phase = Phase::Events;
                cursor.after = None;
            }
        }
        Ok(())
    }

    async fn pull_events(
        &self,
        cursor: &mut Cursor,
        pull: &mut Pull,
        now: i64,
    ) -> Result<(), ConnectorError> {
        let mut query = Self::page_query(&cursor.after);
        query.push(("created[gte]", cursor.events_since.to_string()));
        for t in map::EVENT_TYPES {
            query.push(("types[]", t.to_string()));
        }
        let page: model::List<Box<serde_json::value::RawValue>> =
            self.client.get("list events", "/v1/events", &query).await?;
        let mut last_id = None;
        for raw in &page.data {
            let event = match serde_json::from_str::<model::Event>(raw.get()) {
                Ok(e) => e,
                Err(e) => {
                    let id = serde_json::from_str::<model::IdOnly>(raw.get())
                        .ok()
                        .and_then(|o| o.id);
                    pull.warnings.push(format!(
                        "{}: event {}: unreadable ({e}); skipped",
                        self.id,
                        id.as_deref().unwrap_or("?")
                    ));
                    last_id = id;
                    continue;
                }
            };
            last_id = Some(event.id.clone());
            match map::event(&event, self.options) {
                Ok(mapped) => pull.events.push(mapped),
                Err(e) => pull.warnings.push(format!("{}: {e}; skipped", self.id)),
            }
        }
        match (page.has_more, last_id) {
            (true, Some(last)) => cursor.after = Some(last),
            _ => {
                // Every event older than the overlap has been listed by now.
                cursor.events_since = cursor.events_since.max(now - EVENTS_OVERLAP.num_seconds());
                cursor.after = None;
            }
        }
        Ok(())
    }

    async fn fetch_one(&self, r: &ObjectRef) -> Result<Option<Change>, ConnectorError> {
        match r.kind {
            ObjectKind::Invoice => {
                let path = format!("/v1/invoices/{}", r.external_id);
                match self
                    .client
                    .get::<model::Invoice>("get invoice", &path, &[])
                    .await
                {
                    Ok(inv) => map::invoice(&inv, None, self.options)
                        .map(|i| Some(Change::Invoice(i)))
                        .map_err(ConnectorError::Invalid),
                    // Only Stripe's own `resource_missing` says the invoice is gone.
                    Err(ConnectorError::NotFound(_)) => Ok(Some(Change::InvoiceDeleted {
                        external_id: r.external_id.clone(),
                        at: self.clock.now(),
                    })),
                    Err(e) => Err(e),
                }
            }
            ObjectKind::Customer => {
                let path = format!("/v1/customers/{}", r.external_id);
                let c: model::Customer = self.client.get("get customer", &path, &[]).await?;
                Ok(map::customer(&c).map(Change::Customer))
            }
            ObjectKind::Payment => Ok(None),
        }
    }
}

#[async_trait]
impl Connector for StripeConnector {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "stripe"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            webhooks: self.signature.is_some(),
            write_back: true,
            fetch: true,
        }
    }

    async fn pull(&self, request: PullRequest) -> Result<Pull, ConnectorError> {
        let now = request.now.timestamp();
        let stored: Option<Cursor> = match (&request.cursor, request.full) {
            (Some(c), false) => Some(serde_json::from_str(c).map_err(|e| {
                ConnectorError::Invalid(format!("{}: stored sync cursor unreadable: {e}", self.id))
            })?),
            _ => None,
        };
        let mut pull = Pull::default();
        let mut cursor = match stored {
            Some(c)
                if c.phase == Phase::Events
                    && c.events_since < now - EVENTS_RETENTION.num_seconds() =>
            {
                pull.warnings.push(format!(
                    "{}: last sync older than the 30 days Stripe keeps events: full resync",
                    self.id
                ));
                Cursor::fresh(now)
            }
            Some(c) => c,
            None => Cursor::fresh(now),
        };
        let before = self.client.requests();
        pull.phase = match cursor.phase {
            Phase::Customers => "customers",
            Phase::Invoices => "invoices",
            Phase::Events => "events",
        };
        let listing = cursor.phase != Phase::Events;
        match cursor.phase {
            Phase::Customers => self.pull_customers(&mut cursor, &mut pull).await?,
            Phase::Invoices => self.pull_invoices(&mut cursor, &mut pull).await?,
            Phase::Events => self.pull_events(&mut cursor, &mut pull, now).await?,
        }
        // After a listing, read the events that happened during it right away.
        pull.more = listing || cursor.after.is_some();
        pull.requests = (self.client.requests() - before) as u32;
        pull.cursor = Some(serde_json::to_string(&cursor).expect("cursor serialises"));
        Ok(pull)
    }

    async fn fetch(&self, refs: &[ObjectRef]) -> Result<Vec<Change>, ConnectorError> {
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            out.extend(self.fetch_one(r).await?);
        }
        Ok(out)
    }

    fn signature_check(&self) -> Option<&dyn SignatureCheck> {
        self.signature.as_ref().map(|s| s as &dyn SignatureCheck)
    }

    fn parse_webhook(&self, event: &VerifiedEvent) -> Result<Vec<InboundEvent>, WebhookError> {
        webhook::parse(event, self.options)
    }

    fn requests(&self) -> u64 {
        self.client.requests()
    }

    async fn write_back(&self, request: &WriteBack) -> Result<(), ConnectorError> {
        let path = format!("/v1/invoices/{}", request.invoice_external_id);
        let _: serde_json::Value = self
            .client
            .post_form(
                "write back",
                &path,
                &writeback::form(&request.activity),
                &writeback::idempotency_key(&request.idempotency_key),
            )
            .await
            .map_err(|e| e.context(format!("invoice {}", request.invoice_external_id)))?;
        Ok(())
    }
}
