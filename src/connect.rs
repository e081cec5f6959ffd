//! Connecting an OAuth connector (`relance connect ID`): the authorization URL with a CSRF
//! state recorded in the store, and the callback (on the daemon's `/oauth/{id}/callback`, or a
//! redirect URL pasted into the CLI) that checks the state once and stores the tokens.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use relance_core::Connector;

use crate::store::{StateCheck, Store, StoreError};

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The connector takes no OAuth connection.
    #[error("connector `{0}` does not connect with OAuth")]
    NotOAuth(String),
    /// The callback's state was never issued here, or expired, or is for another connector.
    #[error(
        "unknown or expired `state`: start again with `relance connect {0}` (a link works once, for {1} minutes)"
    )]
    BadState(String, i64),
    /// The callback has no state.
    #[error("the redirect has no `state` parameter")]
    NoState,
    /// The provider or the exchange failed.
    #[error(transparent)]
    Connector(#[from] relance_core::ConnectorError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts a connection: the URL to open.
pub async fn start(
    store: &Store,
    connector: &dyn Connector,
    now: DateTime<Utc>,
) -> Result<String, ConnectError> {
    let oauth = connector
        .oauth()
        .ok_or_else(|| ConnectError::NotOAuth(connector.id().to_string()))?;
    let start = oauth.authorize_url();
    let verifier = start
        .pkce_verifier
        .as_ref()
        .map(secrecy::ExposeSecret::expose_secret);
    store
        .insert_oauth_state(connector.id(), &start.state, verifier, now)
        .await?;
    Ok(start.url)
}

/// What a completed callback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// Tokens stored for this account.
    Connected(String),
    /// The same callback came before and connected this account (if known).
    AlreadyDone(Option<String>),
}

/// Handles a callback's query parameters. The state is consumed first, so the one-time code
/// is never exchanged twice (Intuit may invalidate the tokens of a code exchanged twice).
pub async fn complete(
    store: &Store,
    connector: &dyn Connector,
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Completed, ConnectError> {
    let oauth = connector
        .oauth()
        .ok_or_else(|| ConnectError::NotOAuth(connector.id().to_string()))?;
    let state = params.get("state").ok_or(ConnectError::NoState)?;
    match store.take_oauth_state(connector.id(), state, now).await? {
        StateCheck::Valid(verifier) => {
            let done = oauth.complete(params, verifier.as_deref()).await;
            store
                .finish_oauth_state(state, done.as_ref().ok().map(String::as_str))
                .await?;
            let account = done?;
            tracing::info!(connector = connector.id(), account = %account, "connected");
            Ok(Completed::Connected(account))
        }
        StateCheck::Used(account) => Ok(Completed::AlreadyDone(account)),
        StateCheck::Unknown => Err(ConnectError::BadState(
            connector.id().to_string(),
            crate::store::STATE_TTL.num_minutes(),
        )),
    }
}

/// The query parameters of a pasted redirect URL (or of a bare query string).
pub fn params_of(pasted: &str) -> HashMap<String, String> {
    let pasted = pasted.trim();
    let query = match url::Url::parse(pasted) {
        Ok(u) => u.query().unwrap_or("").to_string(),
        Err(_) => pasted.trim_start_matches('?').to_string(),
    };
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_urls_and_queries() {
        let p = params_of(
            "https://relance.example.com/oauth/qbo/callback?code=AB%2B1&state=xyz&realmId=9341452119837706\n",
        );
        assert_eq!(p["code"], "AB+1");
        assert_eq!(p["state"], "xyz");
        assert_eq!(p["realmId"], "9341452119837706");
        assert_eq!(params_of("?code=c&state=s")["state"], "s");
    }
}
