//! Salesforce connector: invoices from a configurable object (Salesforce Billing's
//! `blng__Invoice__c`, Revenue Cloud's `Invoice`, or a custom object) through SOQL on
//! `SystemModstamp`, accounts for names and phones, deletions through `getDeleted`, Outbound
//! Messages as "fetch this record" hints, and every reminder written back as a Task through
//! sObject Collections.

pub mod auth;
pub mod client;
pub mod config;
pub mod jwt;
pub mod limits;
pub mod map;
pub mod outbound;
pub mod tasks;

use crate::map::ACCOUNT_ADDRESS;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use relance_core::auth::{
    AuthorizeUrl, ConnectionStatus, CredentialStore, OAuthConnect, RefreshError, TokenManager,
    TokenSet,
};
use relance_core::http::HttpConfig;
use relance_core::{
    Capabilities, Change, Clock, Connector, ConnectorError, Currency, InboundEvent, ObjectKind,
    ObjectRef, Pull, PullRequest, SignatureCheck, VerifiedEvent, WebhookError, WebhookReply,
    WriteBack,
};
use serde::{Deserialize, Serialize};

pub use config::SalesforceConfig;

use client::{Method, SfClient, quote};
use config::{Flow, Mapping};
use map::{MapContext, QueryPage};

/// `getDeleted` reaches back 15 days; an older cursor needs a full listing.
const DELETED_WINDOW: TimeDelta = TimeDelta::days(14);
/// Incremental windows start this much before the last change seen (commits can land with
/// an older `SystemModstamp`); the store ignores versions it already has.
const OVERLAP: TimeDelta = TimeDelta::minutes(2);
/// Ids per `Id IN (...)` (statements are limited to 100,000 characters).
const IDS_PER_QUERY: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    Invoices,
    Accounts,
    Deletions,
    Idle,
}

/// Where the sync stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    phase: Phase,
    /// `nextRecordsUrl` of the query in progress.
    next: Option<String>,
    /// Lower bound of this round (`None`: a full listing).
    since: Option<DateTime<Utc>>,
    /// Latest `SystemModstamp` seen.
    high: Option<DateTime<Utc>>,
    /// When this round started (end of the deletions window).
    started: DateTime<Utc>,
}

/// What describe said about the invoice object, checked once per process.
#[derive(Debug, Clone)]
struct Described {
    mapping: Mapping,
    select: Vec<String>,
    account_name: Option<String>,
    account_owner: Option<String>,
    multi_currency: bool,
    default_currency: Currency,
    /// Person Accounts are on in the org: `Account.IsPersonAccount` marks consumers (B2C).
    person_accounts: bool,
}

impl Described {
    /// The Account fields read with every account.
    fn account_fields(&self) -> String {
        let mut fields = format!("Id, Name, Phone, {ACCOUNT_ADDRESS}, SystemModstamp");
        if self.person_accounts {
            fields.push_str(", IsPersonAccount, PersonEmail");
        }
        fields
    }
}

#[derive(Deserialize)]
struct Describe {
    fields: Vec<DescribeField>,
}

#[derive(Deserialize)]
struct DescribeField {
    name: String,
    #[serde(rename = "relationshipName", default)]
    relationship: Option<String>,
}

/// One Salesforce org.
pub struct SalesforceConnector {
    id: String,
    config: SalesforceConfig,
    client: SfClient,
    org_check: Option<outbound::OrgCheck>,
    clock: Arc<dyn Clock>,
    described: tokio::sync::OnceCell<Described>,
}

impl SalesforceConnector {
    /// A connector for `config`, keeping its session in `store`.
    pub fn new(
        id: &str,
        config: SalesforceConfig,
        store: Arc<dyn CredentialStore>,
        clock: Arc<dyn Clock>,
        tune: impl FnOnce(&mut HttpConfig),
    ) -> Result<Self, ConnectorError> {
        let auth = auth::SalesforceAuth::new(id, &config, clock.clone())?;
        let tokens = TokenManager::new(id, store, clock.clone());
        let client = SfClient::new(
            id,
            &config.api_version,
            tokens,
            auth,
            limits::ApiBudget::new(config.api_share),
            clock.clone(),
            tune,
        )?;
        Ok(SalesforceConnector {
            id: id.to_string(),
            org_check: config
                .outbound_message_org_id
                .as_deref()
                .map(outbound::OrgCheck::new),
            config,
            client,
            clock,
            described: tokio::sync::OnceCell::new(),
        })
    }

    /// Describes the invoice object and checks every configured field against it, naming
    /// the bad one.
    async fn described(&self) -> Result<&Described, ConnectorError> {
        self.described
            .get_or_try_init(|| async {
                let mapping = self.config.invoices.mapping();
                let path = format!("sobjects/{}/describe", mapping.object);
                let body = self
                    .client
                    .call("describe", Method::Get, &path, &[], None)
                    .await
                    .map_err(|e| match e {
                        ConnectorError::NotFound(m) => ConnectorError::Invalid(format!(
                            "{}: invoices.object: `{}` does not exist or is not visible to the integration user ({m})",
                            self.id, mapping.object
                        )),
                        e => e,
                    })?;
                let describe: Describe = self.client.parse("describe", &body)?;
                let names: HashSet<&str> = describe.fields.iter().map(|f| f.name.as_str()).collect();
                let relationship = |field: &str| {
                    describe
                        .fields
                        .iter()
                        .find(|f| f.name == field)
                        .and_then(|f| f.relationship.clone())
                };
                let mut problems = Vec::new();
                for (key, field) in &mapping.fields {
                    if !names.contains(field.as_str()) {
                        problems.push(format!(
                            "invoices.fields.{key}: `{field}` is not a field of {} (or field-level security hides it)",
                            mapping.object
                        ));
                    }
                }
                if let Some(p) = &mapping.contact_email {
                    let first = p.split('.').next().unwrap_or("");
                    let known = describe
                        .fields
                        .iter()
                        .any(|f| f.relationship.as_deref() == Some(first));
                    if p.contains('.') && !known {
                        problems.push(format!(
                            "invoices.contact_email: `{first}` is not a relationship of {}",
                            mapping.object
                        ));
                    } else if !p.contains('.') && !names.contains(p.as_str()) {
                        problems.push(format!(
                            "invoices.contact_email: `{p}` is not a field of {}",
                            mapping.object
                        ));
                    }
                }
                if !problems.is_empty() {
                    return Err(ConnectorError::Invalid(format!(
                        "{}: {}",
                        self.id,
                        problems.join("; ")
                    )));
                }
                let multi_currency = names.contains("CurrencyIsoCode");
                let account_rel = mapping.field("account").and_then(relationship);
                let account_name = account_rel.as_ref().map(|r| format!("{r}.Name"));
                let account_owner = account_rel.as_ref().map(|r| format!("{r}.OwnerId"));
                let mut select: Vec<String> = vec!["Id".into(), "SystemModstamp".into()];
                for f in mapping.fields.values() {
                    select.push(f.clone());
                }
                select.extend(mapping.contact_email.clone());
                select.extend(account_name.clone());
                if multi_currency {
                    select.push("CurrencyIsoCode".into());
                }
                let mut seen = HashSet::new();
                select.retain(|f| seen.insert(f.clone()));
                let default_currency = match &self.config.currency {
                    Some(c) => Currency::parse(c).map_err(|e| {
                        ConnectorError::Invalid(format!("{}: currency: {e}", self.id))
                    })?,
                    None => {
                        let page: QueryPage = self
                            .query_page("organization", "SELECT DefaultCurrencyIsoCode FROM Organization")
                            .await?;
                        let code = page
                            .records
                            .first()
                            .and_then(|r| map::text(r, "DefaultCurrencyIsoCode"))
                            .unwrap_or_else(|| "EUR".into());
                        Currency::parse(&code).map_err(|e| {
                            ConnectorError::Invalid(format!("{}: org currency `{code}`: {e}", self.id))
                        })?
                    }
                };
                // Person Accounts (individuals, B2C) exist only where the org turned them on;
                // `IsPersonAccount` is then a field of Account.
                let person_accounts = match self
                    .client
                    .call("describe accounts", Method::Get, "sobjects/Account/describe", &[], None)
                    .await
                {
                    Ok(body) => {
                        let account: Describe = self.client.parse("describe accounts", &body)?;
                        account.fields.iter().any(|f| f.name == "IsPersonAccount")
                    }
                    Err(ConnectorError::NotFound(_)) => false,
                    Err(e) => return Err(e),
                };
                Ok(Described {
                    mapping,
                    select,
                    account_name,
                    account_owner,
                    multi_currency,
                    default_currency,
                    person_accounts,
                })
            })
            .await
    }

    async fn query_page(&self, what: &str, soql: &str) -> Result<QueryPage, ConnectorError> {
        let body = self
            .client
            .call(what, Method::Get, "query", &[("q", soql.to_string())], None)
            .await?;
        self.client.parse(what, &body)
    }

    async fn next_page(&self, what: &str, next: &str) -> Result<QueryPage, ConnectorError> {
        if !next.starts_with("/services/data/") {
            return Err(ConnectorError::Invalid(format!(
                "{}: unexpected nextRecordsUrl `{next}`",
                self.id
            )));
        }
        let body = self.client.call(what, Method::Get, next, &[], None).await?;
        self.client.parse(what, &body)
    }

    fn ctx<'a>(&self, d: &'a Described) -> MapContext<'a> {
        MapContext {
            mapping: &d.mapping,
            account_name: d.account_name.clone(),
            multi_currency: d.multi_currency,
            default_currency: d.default_currency,
        }
    }

    fn invoice_soql(d: &Described, filter: &str) -> String {
        format!(
            "SELECT {} FROM {}{filter} ORDER BY SystemModstamp, Id",
            d.select.join(", "),
            d.mapping.object
        )
    }

    /// Invoices by id; ids the query does not return were deleted (or are no longer shared).
    async fn fetch_invoices(&self, ids: &[String]) -> Result<Vec<Change>, ConnectorError> {
        let d = self.described().await?;
        let ctx = self.ctx(d);
        let mut out = Vec::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let list = chunk
                .iter()
                .map(|i| quote(i))
                .collect::<Vec<_>>()
                .join(", ");
            let mut page = self
                .query_page(
                    "read invoices",
                    &Self::invoice_soql(d, &format!(" WHERE Id IN ({list})")),
                )
                .await?;
            let mut found = HashSet::new();
            loop {
                for r in &page.records {
                    if let Some(id) = map::text(r, "Id") {
                        found.insert(id.clone());
                    }
                    out.push(map::invoice(r, &ctx).map_err(ConnectorError::Invalid)?);
                }
                match (&page.next, page.done) {
                    (Some(next), false) => page = self.next_page("read invoices", next).await?,
                    _ => break,
                }
            }
            for id in chunk {
                if !found.iter().any(|f| same_id(f, id)) {
                    out.push(Change::InvoiceDeleted {
                        external_id: id.clone(),
                        at: self.clock.now(),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Salesforce ids compare case-insensitively in their 18-character form, case-sensitively
/// in the 15-character one.
pub fn same_id(a: &str, b: &str) -> bool {
    if a.len() == 18 && b.len() == 18 {
        a.eq_ignore_ascii_case(b)
    } else {
        a.get(..15) == b.get(..15) && a.len() >= 15 && b.len() >= 15
    }
}

fn soql_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[async_trait]
impl Connector for SalesforceConnector {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "salesforce"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            webhooks: self.org_check.is_some(),
            write_back: true,
            fetch: true,
        }
    }

    async fn pull(&self, request: PullRequest) -> Result<Pull, ConnectorError> {
        let now = request.now;
        let before = self.client.requests();
        let stored: Option<Cursor> = request
            .cursor
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        let mut cursor = match stored {
            Some(c) if !request.full && c.phase != Phase::Idle => c,
            Some(c) if !request.full => Cursor {
                phase: Phase::Invoices,
                next: None,
                since: c
                    .high
                    .or(c.since)
                    .map(|t| t - OVERLAP)
                    .filter(|s| now - *s < DELETED_WINDOW),
                high: c.high,
                started: now,
            },
            _ => Cursor {
                phase: Phase::Invoices,
                next: None,
                since: None,
                high: None,
                started: now,
            },
        };
        let d = self.described().await?;
        let ctx = self.ctx(d);
        let mut pull = Pull::default();
        let mut changes = Vec::new();
        let filter = cursor
            .since
            .map(|s| format!(" WHERE SystemModstamp >= {}", soql_time(s)))
            .unwrap_or_default();
        match cursor.phase {
            Phase::Invoices => {
                pull.phase = "invoices";
                if cursor.since.is_none() {
                    pull.listing = if cursor.next.is_none() {
                        relance_core::Listing::Starts
                    } else {
                        relance_core::Listing::Continues
                    };
                }
                let page = match &cursor.next {
                    Some(next) => self.next_page("query invoices", next).await?,
                    None => {
                        self.query_page("query invoices", &Self::invoice_soql(d, &filter))
                            .await?
                    }
                };
                for r in &page.records {
                    if let Some(t) = map::text(r, "SystemModstamp").and_then(|s| map::datetime(&s))
                        && cursor.high.is_none_or(|h| t > h)
                    {
                        cursor.high = Some(t);
                    }
                    match map::invoice(r, &ctx) {
                        Ok(c) => changes.push(c),
                        Err(e) => pull.warnings.push(format!("{}: skipped: {e}", self.id)),
                    }
                }
                cursor.next = page.next.filter(|_| !page.done);
                if cursor.next.is_none() {
                    cursor.phase = Phase::Accounts;
                }
            }
            Phase::Accounts => {
                pull.phase = "accounts";
                let page = match &cursor.next {
                    Some(next) => self.next_page("query accounts", next).await?,
                    None => {
                        let account = d.mapping.field("account").unwrap_or("Id");
                        let since = cursor
                            .since
                            .map(|s| format!(" AND SystemModstamp >= {}", soql_time(s)))
                            .unwrap_or_default();
                        self.query_page(
                            "query accounts",
                            &format!(
                                "SELECT {} FROM Account WHERE Id IN (SELECT {account} FROM {}){since} ORDER BY SystemModstamp, Id",
                                d.account_fields(),
                                d.mapping.object
                            ),
                        )
                        .await?
                    }
                };
                changes.extend(page.records.iter().filter_map(map::account));
                cursor.next = page.next.filter(|_| !page.done);
                if cursor.next.is_none() {
                    cursor.phase = if cursor.since.is_some() {
                        Phase::Deletions
                    } else {
                        Phase::Idle
                    };
                }
            }
            Phase::Deletions => {
                pull.phase = "deletions";
                let start = cursor.since.expect("deletions run on incremental rounds");
                // The window must be longer than a minute.
                if cursor.started - start > TimeDelta::minutes(2) {
                    #[derive(Deserialize)]
                    struct Deleted {
                        #[serde(rename = "deletedRecords", default)]
                        records: Vec<DeletedRecord>,
                    }
                    #[derive(Deserialize)]
                    struct DeletedRecord {
                        id: String,
                        #[serde(rename = "deletedDate")]
                        at: String,
                    }
                    let body = self
                        .client
                        .call(
                            "deleted records",
                            Method::Get,
                            &format!("sobjects/{}/deleted/", d.mapping.object),
                            &[
                                ("start", start.to_rfc3339()),
                                ("end", cursor.started.to_rfc3339()),
                            ],
                            None,
                        )
                        .await?;
                    let deleted: Deleted = self.client.parse("deleted records", &body)?;
                    for r in deleted.records {
                        changes.push(Change::InvoiceDeleted {
                            at: map::datetime(&r.at).unwrap_or(now),
                            external_id: r.id,
                        });
                    }
                }
                cursor.phase = Phase::Idle;
            }
            Phase::Idle => unreachable!("an idle cursor starts a new round above"),
        }
        if cursor.phase == Phase::Idle && cursor.high.is_none() {
            cursor.high = Some(cursor.started);
        }
        pull.events.push(InboundEvent {
            id: None,
            kind: format!("{}.page", pull.phase),
            changes,
            refetch: Vec::new(),
        });
        pull.more = cursor.phase != Phase::Idle;
        pull.requests = u32::try_from(self.client.requests() - before).unwrap_or(u32::MAX);
        pull.cursor = Some(serde_json::to_string(&cursor).expect("cursor serialises"));
        Ok(pull)
    }

    async fn fetch(&self, refs: &[ObjectRef]) -> Result<Vec<Change>, ConnectorError> {
        let mut invoices = Vec::new();
        let mut accounts = Vec::new();
        for r in refs {
            let list = match r.kind {
                ObjectKind::Invoice => &mut invoices,
                ObjectKind::Customer => &mut accounts,
                ObjectKind::Payment => continue,
            };
            if !list.contains(&r.external_id) {
                list.push(r.external_id.clone());
            }
        }
        let mut out = Vec::new();
        if !invoices.is_empty() {
            out.extend(self.fetch_invoices(&invoices).await?);
        }
        let fields = if accounts.is_empty() {
            String::new()
        } else {
            self.described().await?.account_fields()
        };
        for chunk in accounts.chunks(IDS_PER_QUERY) {
            let list = chunk
                .iter()
                .map(|i| quote(i))
                .collect::<Vec<_>>()
                .join(", ");
            let page = self
                .query_page(
                    "read accounts",
                    &format!("SELECT {fields} FROM Account WHERE Id IN ({list})"),
                )
                .await?;
            out.extend(page.records.iter().filter_map(map::account));
        }
        Ok(out)
    }

    fn signature_check(&self) -> Option<&dyn SignatureCheck> {
        self.org_check.as_ref().map(|c| c as &dyn SignatureCheck)
    }

    fn parse_webhook(&self, event: &VerifiedEvent) -> Result<Vec<InboundEvent>, WebhookError> {
        let notifications = outbound::parse(event.body()).map_err(WebhookError::Malformed)?;
        Ok(outbound::events(&notifications))
    }

    fn webhook_reply(&self, _events: &[InboundEvent]) -> WebhookReply {
        WebhookReply {
            status: 200,
            content_type: "text/xml; charset=utf-8",
            body: outbound::ack(),
        }
    }

    fn webhook_error_reply(&self, error: &WebhookError) -> WebhookReply {
        // SOAP 1.1: faults travel with HTTP 500; a foreign org is refused outright.
        let status = match error {
            WebhookError::WrongAccount(_) => 403,
            WebhookError::NotSupported => 404,
            _ => 500,
        };
        WebhookReply {
            status,
            content_type: "text/xml; charset=utf-8",
            body: outbound::fault(&error.to_string()),
        }
    }

    async fn write_back(&self, request: &WriteBack) -> Result<(), ConnectorError> {
        self.write_back_many(std::slice::from_ref(request))
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    async fn write_back_many(&self, requests: &[WriteBack]) -> Vec<Result<(), ConnectorError>> {
        match self.described().await {
            Ok(d) => tasks::write(self, d, requests).await,
            Err(e) => requests.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn oauth(&self) -> Option<&dyn OAuthConnect> {
        Some(self)
    }

    fn requests(&self) -> u64 {
        self.client.requests()
    }
}

#[async_trait]
impl OAuthConnect for SalesforceConnector {
    fn authorize_url(&self) -> AuthorizeUrl {
        self.client.auth.authorize_url().unwrap_or(AuthorizeUrl {
            url: String::new(),
            state: String::new(),
            pkce_verifier: None,
        })
    }

    async fn complete(
        &self,
        params: &HashMap<String, String>,
        pkce_verifier: Option<&str>,
    ) -> Result<String, ConnectorError> {
        if let Some(error) = params.get("error") {
            return Err(ConnectorError::Auth(format!(
                "{}: the authorization was not granted ({error}{})",
                self.id,
                params
                    .get("error_description")
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )));
        }
        let code = params.get("code").ok_or_else(|| {
            ConnectorError::Invalid(format!("{}: the callback has no `code`", self.id))
        })?;
        let set = self
            .client
            .auth
            .exchange_code(code, pkce_verifier)
            .await
            .map_err(|e| refresh_error(&self.id, e))?;
        self.save(set).await
    }

    async fn status(&self) -> Result<ConnectionStatus, ConnectorError> {
        let Some(creds) = self.client.tokens.store().load(&self.id).await? else {
            return Ok(ConnectionStatus::NotConnected);
        };
        if let Some(reason) = creds.needs_reconnect {
            return Ok(ConnectionStatus::NeedsReconnect(reason));
        }
        let set = TokenSet::from_secret(&creds.secret)?;
        Ok(ConnectionStatus::Connected {
            account: set.account.or(set.instance_url),
            refresh_expires_at: None,
            refresh_hard_expires_at: None,
        })
    }

    fn needs_browser(&self) -> bool {
        self.client.auth.flow() == Flow::RefreshToken
    }

    async fn connect_now(&self) -> Result<String, ConnectorError> {
        let set = self
            .client
            .auth
            .jwt_login()
            .await
            .map_err(|e| refresh_error(&self.id, e))?;
        self.save(set).await
    }
}

impl SalesforceConnector {
    async fn save(&self, set: TokenSet) -> Result<String, ConnectorError> {
        let account = set
            .account
            .clone()
            .or_else(|| set.instance_url.clone())
            .unwrap_or_default();
        self.client
            .tokens
            .store()
            .save(&self.id, &set.to_secret(), None, self.clock.now())
            .await?;
        self.client.tokens.forget().await;
        Ok(account)
    }
}

fn refresh_error(id: &str, e: RefreshError) -> ConnectorError {
    match e {
        RefreshError::Revoked(m) => ConnectorError::Auth(format!("{id}: Salesforce refused ({m})")),
        RefreshError::Other(e) => e,
    }
}
