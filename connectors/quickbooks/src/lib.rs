//! QuickBooks Online connector: OAuth 2.0 (tokens kept encrypted by the daemon, refreshed one
//! at a time), customers, invoices and payments through the query endpoint on
//! `MetaData.LastUpdatedTime`, deletions through change data capture, webhooks in both formats
//! as "fetch these objects" hints, and each reminder written back as a line of the invoice's
//! private note.
//!
//! Pinned `minorversion`: [`client::MINOR_VERSION`].

pub mod client;
pub mod config;
pub mod map;
pub mod model;
pub mod oauth;
pub mod webhook;
pub mod writeback;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use relance_core::auth::{
    AuthorizeUrl, ConnectionStatus, CredentialStore, OAuthConnect, RefreshError, TokenManager,
    TokenSet,
};
use relance_core::http::HttpConfig;
use relance_core::{
    Capabilities, Change, Clock, Connector, ConnectorError, Currency, InboundEvent, ObjectKind,
    ObjectRef, Pull, PullRequest, RecordPayment, SignatureCheck, VerifiedEvent, WebhookError,
    WebhookReply, WriteBack,
};
use serde::{Deserialize, Serialize};

pub use config::QuickBooksConfig;

use client::{CallError, Method, QboClient, quote};
use map::MapContext;
use oauth::IntuitOAuth;

/// Rows per query page (Intuit's maximum).
pub const PAGE: u32 = 1000;
/// Change data capture reaches back 30 days; an older cursor needs a full listing.
const CDC_WINDOW: TimeDelta = TimeDelta::days(29);
/// Incremental windows start this much before the last change seen: timestamps have
/// one-second precision and clocks drift; the upsert makes the overlap harmless.
const OVERLAP: TimeDelta = TimeDelta::minutes(5);
/// Ids per `Id IN (...)` query when fetching named objects.
const IDS_PER_QUERY: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    Customers,
    Invoices,
    Payments,
    Deletions,
    Idle,
}

impl Phase {
    fn entity(self) -> &'static str {
        match self {
            Phase::Customers => "Customer",
            Phase::Invoices => "Invoice",
            Phase::Payments => "Payment",
            Phase::Deletions | Phase::Idle => "",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Phase::Customers => "customers",
            Phase::Invoices => "invoices",
            Phase::Payments => "payments",
            Phase::Deletions => "deletions",
            Phase::Idle => "idle",
        }
    }
}

/// Where the sync stands, stored by the daemon between calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    phase: Phase,
    /// `STARTPOSITION` of the next page of the current phase (1-based).
    start: u32,
    /// Lower bound of this round's window; `None` for a full listing.
    since: Option<DateTime<Utc>>,
    /// Latest `LastUpdatedTime` seen so far (the next round starts there).
    high: Option<DateTime<Utc>>,
}

/// One QuickBooks Online company.
pub struct QuickBooksConnector {
    id: String,
    config: QuickBooksConfig,
    client: QboClient,
    signature: Option<webhook::IntuitSignature>,
    timezone: Tz,
    clock: Arc<dyn Clock>,
    home_currency: tokio::sync::OnceCell<Currency>,
    /// The company connected, once known (routes webhook events).
    realm: std::sync::RwLock<Option<String>>,
}

impl QuickBooksConnector {
    /// A connector for `config`, keeping its tokens in `store`.
    pub fn new(
        id: &str,
        config: QuickBooksConfig,
        store: Arc<dyn CredentialStore>,
        company_timezone: Tz,
        clock: Arc<dyn Clock>,
        tune: impl FnOnce(&mut HttpConfig),
    ) -> Result<Self, ConnectorError> {
        let oauth = IntuitOAuth::new(id, &config, clock.clone())?;
        let tokens = TokenManager::new(id, store, clock.clone());
        let client = QboClient::new(
            id,
            &config.api_base(),
            config.requests_per_second,
            config.requests_per_minute,
            config.realm_id.clone(),
            tokens,
            oauth,
            clock.clone(),
            tune,
        )?;
        Ok(QuickBooksConnector {
            id: id.to_string(),
            signature: config
                .webhook_verifier_token
                .clone()
                .map(webhook::IntuitSignature::new),
            realm: std::sync::RwLock::new(config.realm_id.clone()),
            config,
            client,
            timezone: company_timezone,
            clock,
            home_currency: tokio::sync::OnceCell::new(),
        })
    }

    async fn context(&self) -> Result<MapContext, ConnectorError> {
        let home = self
            .home_currency
            .get_or_try_init(|| async {
                let body = self
                    .client
                    .call("read preferences", Method::Get, "preferences", &[], None)
                    .await?;
                let prefs: model::PreferencesEnvelope =
                    self.client.parse("read preferences", &body)?;
                let code = prefs
                    .preferences
                    .currency
                    .and_then(|c| c.home)
                    .map(|r| r.value)
                    .unwrap_or_else(|| "USD".to_string());
                Currency::parse(&code).map_err(|e| {
                    ConnectorError::Invalid(format!("{}: home currency `{code}`: {e}", self.id))
                })
            })
            .await?;
        Ok(MapContext {
            home_currency: *home,
            timezone: self.timezone,
        })
    }

    fn remember_realm(&self, realm: Option<String>) {
        if let Some(r) = realm {
            *self.realm.write().expect("not poisoned") = Some(r);
        }
    }

    fn statement(entity: &str, since: Option<DateTime<Utc>>, start: u32) -> String {
        let mut filters = Vec::new();
        if entity == "Customer" {
            filters.push("Active IN (true, false)".to_string());
        }
        if let Some(since) = since {
            filters.push(format!(
                "MetaData.LastUpdatedTime >= {}",
                quote(&since.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
            ));
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        };
        format!(
            "SELECT * FROM {entity}{filter} ORDERBY MetaData.LastUpdatedTime STARTPOSITION {start} MAXRESULTS {PAGE}"
        )
    }

    async fn query_page(
        &self,
        entity: &str,
        statement: &str,
        with_link: bool,
    ) -> Result<model::QueryResponse, ConnectorError> {
        let mut query = vec![("query", statement.to_string())];
        if with_link {
            query.push(("include", "invoiceLink".to_string()));
        }
        let what = format!("query {entity}");
        let body = self
            .client
            .call(&what, Method::Get, "query", &query, None)
            .await?;
        Ok(self
            .client
            .parse::<model::QueryEnvelope>(&what, &body)?
            .query)
    }

    fn page_changes(
        &self,
        page: &model::QueryResponse,
        ctx: &MapContext,
        warnings: &mut Vec<String>,
        high: &mut Option<DateTime<Utc>>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut seen = |t: Option<DateTime<Utc>>| {
            if let Some(t) = t
                && high.is_none_or(|h| t > h)
            {
                *high = Some(t);
            }
        };
        for c in &page.customers {
            seen(
                c.meta_data
                    .as_ref()
                    .and_then(|m| m.last_updated)
                    .map(|t| t.to_utc()),
            );
            changes.push(map::customer(c));
        }
        for i in &page.invoices {
            seen(
                i.meta_data
                    .as_ref()
                    .and_then(|m| m.last_updated)
                    .map(|t| t.to_utc()),
            );
            match map::invoice(i, ctx) {
                Ok(c) => changes.push(c),
                Err(e) => warnings.push(format!("{}: skipped: {e}", self.id)),
            }
        }
        for p in &page.payments {
            seen(
                p.meta_data
                    .as_ref()
                    .and_then(|m| m.last_updated)
                    .map(|t| t.to_utc()),
            );
            match map::payment(p, ctx) {
                Ok((c, _)) => changes.extend(c),
                Err(e) => warnings.push(format!("{}: skipped: {e}", self.id)),
            }
        }
        changes
    }

    /// Invoices by id, batched in `Id IN (...)` queries; an id the query does not return is
    /// read alone, and a 610/404 there means it was deleted.
    async fn fetch_invoices(
        &self,
        ids: &[String],
        ctx: &MapContext,
    ) -> Result<Vec<Change>, ConnectorError> {
        let mut out = Vec::new();
        if ids.len() == 1 {
            return Ok(vec![self.read_invoice_change(&ids[0], ctx).await?]);
        }
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let list = chunk
                .iter()
                .map(|i| quote(i))
                .collect::<Vec<_>>()
                .join(", ");
            let page = self
                .query_page(
                    "Invoice",
                    &format!("SELECT * FROM Invoice WHERE Id IN ({list}) MAXRESULTS {PAGE}"),
                    true,
                )
                .await?;
            let found: HashSet<&str> = page.invoices.iter().map(|i| i.id.as_str()).collect();
            for i in &page.invoices {
                out.push(map::invoice(i, ctx).map_err(ConnectorError::Invalid)?);
            }
            for missing in chunk.iter().filter(|i| !found.contains(i.as_str())) {
                out.push(self.read_invoice_change(missing, ctx).await?);
            }
        }
        Ok(out)
    }

    async fn read_invoice(&self, id: &str) -> Result<Option<model::QboInvoice>, ConnectorError> {
        let path = format!("invoice/{}", path_segment(id)?);
        match self
            .client
            .call(
                "read invoice",
                Method::Get,
                &path,
                &[("include", "invoiceLink".to_string())],
                None,
            )
            .await
        {
            Ok(body) => Ok(Some(
                self.client
                    .parse::<model::InvoiceEnvelope>("read invoice", &body)?
                    .invoice,
            )),
            Err(CallError::Other(ConnectorError::NotFound(_))) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn read_invoice_change(
        &self,
        id: &str,
        ctx: &MapContext,
    ) -> Result<Change, ConnectorError> {
        match self.read_invoice(id).await? {
            Some(i) => map::invoice(&i, ctx).map_err(ConnectorError::Invalid),
            None => Ok(Change::InvoiceDeleted {
                external_id: id.to_string(),
                at: self.clock.now(),
            }),
        }
    }

    async fn fetch_by_ids(
        &self,
        entity: &str,
        ids: &[String],
    ) -> Result<model::QueryResponse, ConnectorError> {
        let mut all = model::QueryResponse::default();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let list = chunk
                .iter()
                .map(|i| quote(i))
                .collect::<Vec<_>>()
                .join(", ");
            let active = if entity == "Customer" {
                " AND Active IN (true, false)"
            } else {
                ""
            };
            let page = self
                .query_page(
                    entity,
                    &format!(
                        "SELECT * FROM {entity} WHERE Id IN ({list}){active} MAXRESULTS {PAGE}"
                    ),
                    false,
                )
                .await?;
            all.customers.extend(page.customers);
            all.payments.extend(page.payments);
        }
        Ok(all)
    }
}

/// An id as a path segment: QuickBooks ids are digits; anything else is refused rather than
/// spliced into a URL.
fn path_segment(id: &str) -> Result<&str, ConnectorError> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(ConnectorError::Invalid(format!(
            "`{id}` is not a QuickBooks id"
        )))
    }
}

#[async_trait]
impl Connector for QuickBooksConnector {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "quickbooks"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            webhooks: self.signature.is_some(),
            write_back: true,
            fetch: true,
        }
    }

    async fn pull(&self, request: PullRequest) -> Result<Pull, ConnectorError> {
        let now = request.now;
        let stored: Option<Cursor> = request
            .cursor
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        let mut cursor = match stored {
            Some(c) if !request.full && c.phase != Phase::Idle => c,
            Some(c) if !request.full => {
                // A new round from where the last one ended, or a full listing when change
                // data capture can no longer see that far back.
                let since = c.high.or(c.since).map(|t| t - OVERLAP);
                let since = since.filter(|s| now - *s < CDC_WINDOW);
                Cursor {
                    phase: Phase::Customers,
                    start: 1,
                    since,
                    high: c.high,
                }
            }
            _ => Cursor {
                phase: Phase::Customers,
                start: 1,
                since: None,
                high: None,
            },
        };
        let before = self.client.requests();
        let ctx = self.context().await?;
        let mut pull = Pull {
            phase: cursor.phase.name(),
            ..Pull::default()
        };
        match cursor.phase {
            Phase::Customers | Phase::Invoices | Phase::Payments => {
                let entity = cursor.phase.entity();
                if cursor.phase == Phase::Invoices && cursor.since.is_none() {
                    pull.listing = if cursor.start == 1 {
                        relance_core::Listing::Starts
                    } else {
                        relance_core::Listing::Continues
                    };
                }
                let statement = Self::statement(entity, cursor.since, cursor.start);
                let page = self
                    .query_page(entity, &statement, cursor.phase == Phase::Invoices)
                    .await?;
                let rows = page.customers.len() + page.invoices.len() + page.payments.len();
                let changes = self.page_changes(&page, &ctx, &mut pull.warnings, &mut cursor.high);
                pull.events.push(InboundEvent {
                    id: None,
                    kind: format!("{}.page", entity.to_ascii_lowercase()),
                    changes,
                    refetch: Vec::new(),
                });
                // A short page ends the phase; a full one may not (maxResults is the number
                // of rows returned, not a total).
                if rows as u32 >= PAGE {
                    cursor.start += PAGE;
                } else {
                    cursor.start = 1;
                    cursor.phase = match cursor.phase {
                        Phase::Customers => Phase::Invoices,
                        Phase::Invoices => Phase::Payments,
                        _ if cursor.since.is_some() => Phase::Deletions,
                        _ => Phase::Idle,
                    };
                }
            }
            Phase::Deletions => {
                let since = cursor.since.expect("deletions only run incrementally");
                let body = self
                    .client
                    .call(
                        "change data capture",
                        Method::Get,
                        "cdc",
                        &[
                            ("entities", "Invoice".to_string()),
                            (
                                "changedSince",
                                since.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
                            ),
                        ],
                        None,
                    )
                    .await?;
                let cdc: model::CdcEnvelope = self.client.parse("change data capture", &body)?;
                let mut changes = Vec::new();
                let mut count = 0;
                for item in &cdc.cdc {
                    for q in &item.query {
                        count += q.invoices.len();
                        // Only deletions: changed invoices came with the query phases.
                        for i in q.invoices.iter().filter(|i| i.status.is_some()) {
                            match map::invoice(i, &ctx) {
                                Ok(c) => changes.push(c),
                                Err(e) => pull.warnings.push(format!("{}: {e}", self.id)),
                            }
                        }
                    }
                }
                if count >= 1000 {
                    // Capped answer: deletions may be missing. List everything next round.
                    pull.warnings.push(format!(
                        "{}: change data capture returned its maximum (1000 objects); the next round lists everything",
                        self.id
                    ));
                    cursor.high = None;
                    cursor.since = None;
                }
                pull.events.push(InboundEvent {
                    id: None,
                    kind: "invoice.deletions".into(),
                    changes,
                    refetch: Vec::new(),
                });
                cursor.phase = Phase::Idle;
            }
            Phase::Idle => unreachable!("an idle cursor starts a new round above"),
        }
        if cursor.phase == Phase::Idle && cursor.high.is_none() {
            cursor.high = Some(now);
        }
        pull.more = cursor.phase != Phase::Idle;
        pull.requests = u32::try_from(self.client.requests() - before).unwrap_or(u32::MAX);
        pull.cursor = Some(serde_json::to_string(&cursor).expect("cursor serialises"));
        Ok(pull)
    }

    async fn fetch(&self, refs: &[ObjectRef]) -> Result<Vec<Change>, ConnectorError> {
        let ctx = self.context().await?;
        let ids = |kind: ObjectKind| -> Vec<String> {
            let mut seen = HashSet::new();
            refs.iter()
                .filter(|r| r.kind == kind && seen.insert(r.external_id.clone()))
                .map(|r| r.external_id.clone())
                .collect()
        };
        let mut out = Vec::new();
        let customers = ids(ObjectKind::Customer);
        if !customers.is_empty() {
            let page = self.fetch_by_ids("Customer", &customers).await?;
            out.extend(page.customers.iter().map(map::customer));
        }
        let mut invoices = ids(ObjectKind::Invoice);
        let payments = ids(ObjectKind::Payment);
        if !payments.is_empty() {
            // A payment changes the balance of the invoices it names: fetch those too.
            let page = self.fetch_by_ids("Payment", &payments).await?;
            for p in &page.payments {
                let (changes, linked) = map::payment(p, &ctx).map_err(ConnectorError::Invalid)?;
                out.extend(changes);
                for id in linked {
                    if !invoices.contains(&id) {
                        invoices.push(id);
                    }
                }
            }
        }
        if !invoices.is_empty() {
            out.extend(self.fetch_invoices(&invoices, &ctx).await?);
        }
        Ok(out)
    }

    fn signature_check(&self) -> Option<&dyn SignatureCheck> {
        self.signature.as_ref().map(|s| s as &dyn SignatureCheck)
    }

    fn parse_webhook(&self, event: &VerifiedEvent) -> Result<Vec<InboundEvent>, WebhookError> {
        let realm = self.realm.read().expect("not poisoned").clone();
        let (events, foreign) = webhook::parse(event.body(), realm.as_deref())?;
        if foreign > 0 {
            tracing::warn!(connector = %self.id, foreign, "webhook events for another company skipped");
        }
        Ok(events)
    }

    fn webhook_error_reply(&self, error: &WebhookError) -> WebhookReply {
        match error {
            // Intuit re-sends the whole batch on a 4xx and holds back later events: a signed
            // body we cannot read is logged and acknowledged.
            WebhookError::Malformed(m) => {
                tracing::error!(connector = %self.id, error = %m, "signed QuickBooks notification not understood; acknowledged");
                WebhookReply::json_ok()
            }
            WebhookError::MissingSignature(_)
            | WebhookError::MalformedSignature(_)
            | WebhookError::BadSignature => WebhookReply {
                status: 403,
                ..WebhookReply::error(error)
            },
            _ => WebhookReply::error(error),
        }
    }

    async fn write_back(&self, request: &WriteBack) -> Result<(), ConnectorError> {
        writeback::append_note(self, request).await
    }

    async fn record_payment(&self, payment: &RecordPayment) -> Result<(), ConnectorError> {
        writeback::record_payment(self, payment).await
    }

    fn oauth(&self) -> Option<&dyn OAuthConnect> {
        Some(self)
    }

    fn requests(&self) -> u64 {
        self.client.requests()
    }
}

#[async_trait]
impl OAuthConnect for QuickBooksConnector {
    fn authorize_url(&self) -> AuthorizeUrl {
        let (url, state) = self.client.oauth.authorize_url();
        // Intuit documents no PKCE for confidential apps: the client secret protects the code.
        AuthorizeUrl {
            url,
            state,
            pkce_verifier: None,
        }
    }

    async fn complete(
        &self,
        params: &HashMap<String, String>,
        _pkce_verifier: Option<&str>,
    ) -> Result<String, ConnectorError> {
        if let Some(error) = params.get("error") {
            return Err(ConnectorError::Auth(format!(
                "{}: the authorization was not granted ({error})",
                self.id
            )));
        }
        let code = params.get("code").ok_or_else(|| {
            ConnectorError::Invalid(format!("{}: the callback has no `code`", self.id))
        })?;
        let realm = params.get("realmId").ok_or_else(|| {
            ConnectorError::Invalid(format!(
                "{}: the callback has no `realmId` (was the accounting scope granted?)",
                self.id
            ))
        })?;
        if let Some(configured) = &self.config.realm_id
            && configured != realm
        {
            return Err(ConnectorError::Invalid(format!(
                "{}: you connected company {realm}, but realm_id in the configuration is {configured}",
                self.id
            )));
        }
        let tokens = self
            .client
            .oauth
            .exchange_code(code, realm)
            .await
            .map_err(|e| match e {
                RefreshError::Revoked(m) => ConnectorError::Auth(format!(
                    "{}: the authorization code was refused ({m}); codes work once and expire in minutes: run `relance connect {}` again",
                    self.id, self.id
                )),
                RefreshError::Other(e) => e,
            })?;
        self.client
            .tokens
            .store()
            .save(&self.id, &tokens.to_secret(), None, self.clock.now())
            .await?;
        self.client.tokens.forget().await;
        self.remember_realm(Some(realm.clone()));
        Ok(realm.clone())
    }

    async fn status(&self) -> Result<ConnectionStatus, ConnectorError> {
        let Some(creds) = self.client.tokens.store().load(&self.id).await? else {
            return Ok(ConnectionStatus::NotConnected);
        };
        if let Some(reason) = creds.needs_reconnect {
            return Ok(ConnectionStatus::NeedsReconnect(reason));
        }
        let set = TokenSet::from_secret(&creds.secret)?;
        self.remember_realm(set.account.clone());
        Ok(ConnectionStatus::Connected {
            account: set.account,
            refresh_expires_at: set.refresh_expires_at,
            refresh_hard_expires_at: set.refresh_hard_expires_at,
        })
    }
}
