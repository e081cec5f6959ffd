//! The `Connector` trait: what the daemon asks of every provider.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ConnectorError;
use crate::types::{Change, InboundEvent, RecordPayment, WriteBack};
use crate::webhook::{SignatureCheck, VerifiedEvent, WebhookError, WebhookReply};

/// The kinds of provider objects Relance reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// An invoice.
    Invoice,
    /// A customer.
    Customer,
    /// A payment.
    Payment,
}

/// A provider object named by kind and id, to fetch afresh.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Object kind.
    pub kind: ObjectKind,
    /// The provider's id.
    pub external_id: String,
}

impl ObjectRef {
    /// An invoice reference.
    pub fn invoice(id: impl Into<String>) -> Self {
        ObjectRef {
            kind: ObjectKind::Invoice,
            external_id: id.into(),
        }
    }
}

/// What the connector can do, so the daemon does not ask for the impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// It accepts webhooks at `POST /webhooks/{id}`.
    pub webhooks: bool,
    /// It records activities on the source platform.
    pub write_back: bool,
    /// It can fetch single objects by id (fresh state before a reminder).
    pub fetch: bool,
}

/// One call to [`Connector::pull`].
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// The cursor the previous call returned, as stored; `None` the first time.
    pub cursor: Option<String>,
    /// Start over with a full listing, whatever the cursor says.
    pub full: bool,
    /// The daemon's clock (never read the wall clock in a connector).
    pub now: DateTime<Utc>,
}

/// One page of changes. The daemon commits `events` and `cursor` in one transaction, then calls
/// again while `more` is true: a crash between pages repeats at most one page, harmlessly.
#[derive(Debug, Clone, Default)]
pub struct Pull {
    /// What changed, in any order (versions are ordered by `source_updated_at`).
    pub events: Vec<InboundEvent>,
    /// The cursor to store with these changes.
    pub cursor: Option<String>,
    /// Call again right away for the next page.
    pub more: bool,
    /// The phase being synced (`customers`, `invoices`, `events`), for progress display.
    pub phase: &'static str,
    /// Problems that did not stop the page (a bad CSV row, an unparseable object), for humans.
    pub warnings: Vec<String>,
    /// Requests made to the provider for this page.
    pub requests: u32,
    /// Whether this page is part of a listing of every invoice the provider has.
    pub listing: Listing,
}

/// Where a page stands in a full listing of invoices. When a sync has seen a listing from its
/// first page to its last, an open invoice it did not list is checked with the provider (or,
/// for a source that cannot be asked, taken as removed): nothing is chased on a stale copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Listing {
    /// Not part of one (customers, events, an incremental query).
    #[default]
    No,
    /// The first page of invoices of a full listing.
    Starts,
    /// A later page of the same listing.
    Continues,
}

/// A provider, as the daemon sees it. Implementations live in their own crate and depend on
/// this one only.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The id given in the configuration (`stripe-main`).
    fn id(&self) -> &str;

    /// The provider kind (`stripe`, `csv`).
    fn kind(&self) -> &'static str;

    /// What this connector supports.
    fn capabilities(&self) -> Capabilities;

    /// Pulls the next page of changes after `request.cursor`.
    async fn pull(&self, request: PullRequest) -> Result<Pull, ConnectorError>;

    /// Fetches objects afresh by id. Objects that no longer exist come back as deletions.
    async fn fetch(&self, refs: &[ObjectRef]) -> Result<Vec<Change>, ConnectorError> {
        let _ = refs;
        Err(ConnectorError::Unsupported(format!(
            "{}: fetching objects by id is not supported",
            self.id()
        )))
    }

    /// The signature check for this connector's webhooks, if it accepts any.
    fn signature_check(&self) -> Option<&dyn SignatureCheck> {
        None
    }

    /// Parses a webhook whose signature was verified into provider events.
    fn parse_webhook(&self, event: &VerifiedEvent) -> Result<Vec<InboundEvent>, WebhookError> {
        let _ = event;
        Err(WebhookError::NotSupported)
    }

    /// The answer the provider expects once a webhook's changes are committed.
    fn webhook_reply(&self, events: &[InboundEvent]) -> WebhookReply {
        let _ = events;
        WebhookReply::json_ok()
    }

    /// The answer to a webhook that could not be accepted.
    fn webhook_error_reply(&self, error: &WebhookError) -> WebhookReply {
        WebhookReply::error(error)
    }

    /// Records several activities, in one call where the platform allows it; one result per
    /// request, in order (a failure of one does not fail the others).
    async fn write_back_many(&self, requests: &[WriteBack]) -> Vec<Result<(), ConnectorError>> {
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            out.push(self.write_back(r).await);
        }
        out
    }

    /// Records on the platform a payment taken elsewhere for one of its invoices. Must apply
    /// once per `idempotency_key`, however often it is called.
    async fn record_payment(&self, payment: &RecordPayment) -> Result<(), ConnectorError> {
        let _ = payment;
        Err(ConnectorError::Unsupported(format!(
            "{}: recording payments is not supported",
            self.id()
        )))
    }

    /// The OAuth connection flow, for connectors that need one.
    fn oauth(&self) -> Option<&dyn crate::auth::OAuthConnect> {
        None
    }

    /// Requests sent to the provider by this process so far.
    fn requests(&self) -> u64 {
        0
    }

    /// Records an activity on the source platform.
    async fn write_back(&self, request: &WriteBack) -> Result<(), ConnectorError> {
        let _ = request;
        Err(ConnectorError::Unsupported(format!(
            "{}: write-back is not supported",
            self.id()
        )))
    }
}
