//! OAuth tokens for connectors that need them (QuickBooks, Salesforce): kept by the daemon in
//! its store, encrypted at rest, behind [`CredentialStore`]; refreshed by [`TokenManager`] one
//! refresh at a time per connector, across processes, with the rotated refresh token saved
//! before the new access token is used.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::ConnectorError;

/// What the store holds for one connector.
#[derive(Clone)]
pub struct Credentials {
    /// The connector's token set, as JSON (decrypted).
    pub secret: SecretString,
    /// Bumped on every save: a 401 refreshes only if the rejected version is still current.
    pub version: i64,
    /// Set when the provider refused the refresh token: a person must reconnect.
    pub needs_reconnect: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("secret", &"[redacted]")
            .field("version", &self.version)
            .field("needs_reconnect", &self.needs_reconnect)
            .finish()
    }
}

/// Where connectors keep their tokens. The daemon implements it on its database, encrypted
/// with `RELANCE_SECRET_KEY`; every method is one statement, so replicas share it safely.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The connector's credentials, if it was ever connected.
    async fn load(&self, connector: &str) -> Result<Option<Credentials>, ConnectorError>;

    /// Takes the refresh lease for `ttl` unless someone else holds an unexpired one.
    async fn try_lease(
        &self,
        connector: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, ConnectorError>;

    /// Replaces the credentials if they are still at `expected_version` (a fresh connection
    /// passes `None`: it replaces whatever is there), clears "needs reconnect" and the lease,
    /// and returns the new version. Replacing is what retires the old refresh token: the two
    /// never coexist in the store.
    async fn save(
        &self,
        connector: &str,
        secret: &SecretString,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, ConnectorError>;

    /// Gives the lease back without saving.
    async fn release(&self, connector: &str, holder: &str) -> Result<(), ConnectorError>;

    /// Records that the provider refused the refresh token.
    async fn mark_needs_reconnect(
        &self,
        connector: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ConnectorError>;
}

/// An OAuth token set as connectors keep it (inside [`Credentials::secret`]).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenSet {
    /// Bearer token for API calls.
    pub access_token: String,
    /// When the access token stops working.
    pub expires_at: DateTime<Utc>,
    /// Token to get the next access token, if the flow has one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the refresh token dies if unused (QuickBooks: rolling ~100 days).
    #[serde(default)]
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Absolute end of the refresh token (QuickBooks: 5 years), when the provider says.
    #[serde(default)]
    pub refresh_hard_expires_at: Option<DateTime<Utc>>,
    /// The provider account the tokens open (QuickBooks realm id).
    #[serde(default)]
    pub account: Option<String>,
    /// Base URL of the account's API when the provider assigns one (Salesforce instance).
    #[serde(default)]
    pub instance_url: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("account", &self.account)
            .field("instance_url", &self.instance_url)
            .finish()
    }
}

impl TokenSet {
    /// As stored.
    pub fn to_secret(&self) -> SecretString {
        SecretString::from(serde_json::to_string(self).expect("a token set serialises"))
    }

    /// From the store.
    pub fn from_secret(secret: &SecretString) -> Result<Self, ConnectorError> {
        serde_json::from_str(secret.expose_secret()).map_err(|e| {
            ConnectorError::Auth(format!(
                "stored credentials are unreadable ({}); reconnect",
                e.classify_name()
            ))
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Why a refresh failed.
#[derive(Debug)]
pub enum RefreshError {
    /// The provider refused the grant for good (`invalid_grant`): reconnect.
    Revoked(String),
    /// Anything else (network, 5xx, bad answer): try again later.
    Other(ConnectorError),
}

/// Gets a new token set from the provider (refresh-token grant, or a new JWT assertion).
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A new token set replacing `current`. Keep fields the provider does not resend
    /// (account, a refresh token not rotated).
    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, RefreshError>;
}

/// Refresh this long before the access token expires.
const EARLY: TimeDelta = TimeDelta::seconds(120);
/// A refresh lease outlives the longest refresh call.
const LEASE: Duration = Duration::from_secs(60);
/// How often a process waiting on another's refresh looks again.
const POLL: Duration = Duration::from_millis(200);

/// Hands out valid access tokens for one connector.
pub struct TokenManager {
    connector: String,
    store: Arc<dyn CredentialStore>,
    clock: Arc<dyn Clock>,
    holder: String,
    current: tokio::sync::Mutex<Option<(i64, TokenSet)>>,
}

impl TokenManager {
    /// A manager for `connector`'s tokens in `store`.
    pub fn new(connector: &str, store: Arc<dyn CredentialStore>, clock: Arc<dyn Clock>) -> Self {
        TokenManager {
            connector: connector.to_string(),
            store,
            clock,
            holder: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The store, for the connect flow.
    pub fn store(&self) -> &Arc<dyn CredentialStore> {
        &self.store
    }

    /// A token set whose access token is valid now, refreshing it if needed. `rejected` is the
    /// version the provider just refused (a 401): then it is refreshed even if not expired,
    /// unless someone already replaced it.
    pub async fn token(
        &self,
        source: &dyn TokenSource,
        rejected: Option<i64>,
    ) -> Result<(i64, TokenSet), ConnectorError> {
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        if let Some((version, set)) = current.as_ref()
            && rejected != Some(*version)
            && set.expires_at - EARLY > now
        {
            return Ok((*version, set.clone()));
        }
        let deadline = std::time::Instant::now() + LEASE + LEASE;
        loop {
            let (version, set) = self.load().await?;
            let now = self.clock.now();
            if rejected != Some(version) && set.expires_at - EARLY > now {
                *current = Some((version, set.clone()));
                return Ok((version, set));
            }
            if self
                .store
                .try_lease(&self.connector, &self.holder, LEASE, now)
                .await?
            {
                let result = self.refresh_leased(source, rejected).await;
                if result.is_err() {
                    let _ = self.store.release(&self.connector, &self.holder).await;
                }
                let (version, set) = result?;
                *current = Some((version, set.clone()));
                return Ok((version, set));
            }
            if std::time::Instant::now() > deadline {
                return Err(ConnectorError::Transient(format!(
                    "{}: another process has been refreshing the token for too long",
                    self.connector
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Forgets the cached token (after the store was changed by a connect).
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }

    async fn load(&self) -> Result<(i64, TokenSet), ConnectorError> {
        let creds = self.store.load(&self.connector).await?.ok_or_else(|| {
            ConnectorError::Auth(format!(
                "{0}: not connected yet: run `relance connect {0}`",
                self.connector
            ))
        })?;
        if let Some(reason) = &creds.needs_reconnect {
            return Err(ConnectorError::Auth(format!(
                "{0}: needs reconnect ({reason}): run `relance connect {0}`",
                self.connector
            )));
        }
        Ok((creds.version, TokenSet::from_secret(&creds.secret)?))
    }

    /// Under the lease: re-read (someone may have refreshed just before), refresh, save.
    async fn refresh_leased(
        &self,
        source: &dyn TokenSource,
        rejected: Option<i64>,
    ) -> Result<(i64, TokenSet), ConnectorError> {
        let (version, set) = self.load().await?;
        let now = self.clock.now();
        if rejected != Some(version) && set.expires_at - EARLY > now {
            self.store.release(&self.connector, &self.holder).await?;
            return Ok((version, set));
        }
        match source.refresh(&set).await {
            Ok(new) => {
                // Saved before anything uses it: the old refresh token may be dead already.
                match self
                    .store
                    .save(&self.connector, &new.to_secret(), Some(version), now)
                    .await?
                {
                    Some(v) => {
                        tracing::info!(connector = %self.connector, version = v, "access token refreshed");
                        Ok((v, new))
                    }
                    None => Err(ConnectorError::Transient(format!(
                        "{}: the stored token changed during the refresh (a reconnect?)",
                        self.connector
                    ))),
                }
            }
            Err(RefreshError::Revoked(reason)) => {
                tracing::error!(connector = %self.connector, %reason, "refresh token refused: needs reconnect");
                self.store
                    .mark_needs_reconnect(&self.connector, &reason, now)
                    .await?;
                Err(ConnectorError::Auth(format!(
                    "{0}: needs reconnect ({reason}): run `relance connect {0}`",
                    self.connector
                )))
            }
            Err(RefreshError::Other(e)) => Err(e),
        }
    }
}

/// How a connection stands, for `relance check` and `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Never connected: run `relance connect`.
    NotConnected,
    /// Connected to `account`; the refresh token ends at `refresh_expires_at` if unused.
    Connected {
        /// The provider account (QuickBooks realm id).
        account: Option<String>,
        /// End of the refresh token's rolling window.
        refresh_expires_at: Option<DateTime<Utc>>,
        /// Absolute end of the refresh token.
        refresh_hard_expires_at: Option<DateTime<Utc>>,
    },
    /// The provider refused the refresh token: run `relance connect` again.
    NeedsReconnect(String),
}

/// Where `relance connect` sends the user.
pub struct AuthorizeUrl {
    /// The provider's authorization page, with its parameters.
    pub url: String,
    /// The CSRF state the callback must carry back.
    pub state: String,
    /// The PKCE code verifier (RFC 7636) the code exchange must present, when the URL carries
    /// a code challenge.
    pub pkce_verifier: Option<SecretString>,
}

impl std::fmt::Debug for AuthorizeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeUrl")
            .field("url", &self.url)
            .field(
                "pkce_verifier",
                &self.pkce_verifier.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

/// The OAuth connection flow of a connector (`relance connect ID`).
#[async_trait]
pub trait OAuthConnect: Send + Sync {
    /// The page to send the user to, the CSRF state it carries back, and the PKCE verifier
    /// to keep until the callback (for providers that take PKCE).
    fn authorize_url(&self) -> AuthorizeUrl;

    /// Finishes with the callback's query parameters (`code`, `realmId`...) and the PKCE
    /// verifier of the authorization URL: exchanges the code and stores the tokens. Returns
    /// the account connected. The caller checked `state`.
    async fn complete(
        &self,
        params: &std::collections::HashMap<String, String>,
        pkce_verifier: Option<&str>,
    ) -> Result<String, ConnectorError>;

    /// The connection as stored.
    async fn status(&self) -> Result<ConnectionStatus, ConnectorError>;

    /// False when the connector logs in by itself (Salesforce JWT bearer): then `relance
    /// connect` calls [`OAuthConnect::connect_now`] instead of showing a page.
    fn needs_browser(&self) -> bool {
        true
    }

    /// Logs in without a person and stores the session (flows that can).
    async fn connect_now(&self) -> Result<String, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "this connection needs a browser".into(),
        ))
    }
}

/// What [`oauth_http`]'s function returns.
pub type OAuthFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<http::Response<Vec<u8>>, reqwest::Error>> + Send>>;

/// The HTTP function the `oauth2` crate calls, on a `reqwest` client: each request sent as
/// built, plus `extra` headers (e.g. Intuit's opt-in for the refresh token's absolute end).
pub fn oauth_http(
    client: reqwest::Client,
    extra: &'static [(&'static str, &'static str)],
) -> impl Fn(http::Request<Vec<u8>>) -> OAuthFuture {
    move |request: http::Request<Vec<u8>>| {
        let client = client.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut builder = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers);
            for (k, v) in extra {
                builder = builder.header(*k, *v);
            }
            let response = builder.body(body).send().await?;
            let mut out = http::Response::builder().status(response.status());
            for (k, v) in response.headers() {
                out = out.header(k, v);
            }
            let body = response.bytes().await?.to_vec();
            Ok(out
                .body(body)
                .expect("status and headers come from a response"))
        })
    }
}

/// An in-memory [`CredentialStore`] for tests of connectors.
#[derive(Default)]
pub struct MemoryCredentials {
    rows: std::sync::Mutex<std::collections::HashMap<String, MemoryRow>>,
}

#[derive(Clone)]
struct MemoryRow {
    secret: SecretString,
    version: i64,
    needs_reconnect: Option<String>,
    lease: Option<(String, DateTime<Utc>)>,
}

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn load(&self, connector: &str) -> Result<Option<Credentials>, ConnectorError> {
        let rows = self.rows.lock().expect("not poisoned");
        Ok(rows.get(connector).map(|r| Credentials {
            secret: r.secret.clone(),
            version: r.version,
            needs_reconnect: r.needs_reconnect.clone(),
        }))
    }

    async fn try_lease(
        &self,
        connector: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, ConnectorError> {
        let mut rows = self.rows.lock().expect("not poisoned");
        let Some(row) = rows.get_mut(connector) else {
            return Ok(false);
        };
        if row
            .lease
            .as_ref()
            .is_some_and(|(h, until)| h != holder && *until > now)
        {
            return Ok(false);
        }
        row.lease = Some((
            holder.to_string(),
            now + TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX),
        ));
        Ok(true)
    }

    async fn save(
        &self,
        connector: &str,
        secret: &SecretString,
        expected_version: Option<i64>,
        _now: DateTime<Utc>,
    ) -> Result<Option<i64>, ConnectorError> {
        let mut rows = self.rows.lock().expect("not poisoned");
        let version = match (rows.get(connector), expected_version) {
            (Some(r), Some(v)) if r.version != v => return Ok(None),
            (None, Some(_)) => return Ok(None),
            (Some(r), _) => r.version + 1,
            (None, None) => 1,
        };
        rows.insert(
            connector.to_string(),
            MemoryRow {
                secret: secret.clone(),
                version,
                needs_reconnect: None,
                lease: None,
            },
        );
        Ok(Some(version))
    }

    async fn release(&self, connector: &str, holder: &str) -> Result<(), ConnectorError> {
        let mut rows = self.rows.lock().expect("not poisoned");
        if let Some(row) = rows.get_mut(connector)
            && row.lease.as_ref().is_some_and(|(h, _)| h == holder)
        {
            row.lease = None;
        }
        Ok(())
    }

    async fn mark_needs_reconnect(
        &self,
        connector: &str,
        reason: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), ConnectorError> {
        let mut rows = self.rows.lock().expect("not poisoned");
        if let Some(row) = rows.get_mut(connector) {
            row.needs_reconnect = Some(reason.to_string());
            row.lease = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Counting {
        calls: AtomicU32,
        revoked: bool,
        clock: Arc<ManualClock>,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, RefreshError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.revoked {
                return Err(RefreshError::Revoked("invalid_grant".into()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(TokenSet {
                access_token: format!("access-{n}"),
                expires_at: self.clock.now() + TimeDelta::hours(1),
                refresh_token: Some(format!("refresh-{n}")),
                ..current.clone()
            })
        }
    }

    fn expired(now: DateTime<Utc>) -> TokenSet {
        TokenSet {
            access_token: "access-0".into(),
            expires_at: now - TimeDelta::seconds(1),
            refresh_token: Some("refresh-0".into()),
            refresh_expires_at: None,
            refresh_hard_expires_at: None,
            account: Some("9341452119837706".into()),
            instance_url: None,
        }
    }

    #[tokio::test]
    async fn two_managers_refresh_once_and_keep_the_rotated_token() {
        let now: DateTime<Utc> = "2026-11-24T09:00:00Z".parse().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentials::default());
        store
            .save("qbo", &expired(now).to_secret(), None, now)
            .await
            .unwrap();
        let source = Counting {
            calls: AtomicU32::new(0),
            revoked: false,
            clock: clock.clone(),
        };
        // Two "replicas" sharing the store.
        let a = TokenManager::new("qbo", store.clone(), clock.clone());
        let b = TokenManager::new("qbo", store.clone(), clock.clone());
        let (ra, rb) = tokio::join!(a.token(&source, None), b.token(&source, None));
        let (va, ta) = ra.unwrap();
        let (vb, tb) = rb.unwrap();
        assert_eq!(source.calls.load(Ordering::SeqCst), 1, "one refresh only");
        assert_eq!((va, vb), (2, 2));
        assert_eq!(ta.access_token, "access-1");
        assert_eq!(tb.refresh_token.as_deref(), Some("refresh-1"));
        let stored = TokenSet::from_secret(&store.load("qbo").await.unwrap().unwrap().secret);
        assert_eq!(stored.unwrap().refresh_token.as_deref(), Some("refresh-1"));
        // A 401 on version 2 refreshes again; a 401 on an older version does not.
        let (v, t) = a.token(&source, Some(2)).await.unwrap();
        assert_eq!((v, t.access_token.as_str()), (3, "access-2"));
        let (v, _) = b.token(&source, Some(2)).await.unwrap();
        assert_eq!(v, 3);
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_refresh_marks_needs_reconnect() {
        let now: DateTime<Utc> = "2026-11-24T09:00:00Z".parse().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentials::default());
        store
            .save("qbo", &expired(now).to_secret(), None, now)
            .await
            .unwrap();
        let source = Counting {
            calls: AtomicU32::new(0),
            revoked: true,
            clock: clock.clone(),
        };
        let m = TokenManager::new("qbo", store.clone(), clock.clone());
        let e = m.token(&source, None).await.unwrap_err();
        assert!(matches!(e, ConnectorError::Auth(_)));
        assert!(e.to_string().contains("relance connect qbo"), "{e}");
        let creds = store.load("qbo").await.unwrap().unwrap();
        assert_eq!(creds.needs_reconnect.as_deref(), Some("invalid_grant"));
        // No second attempt with a dead token.
        assert!(m.token(&source, None).await.is_err());
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
        assert!(!format!("{creds:?}").contains("refresh-0"));
    }
}
