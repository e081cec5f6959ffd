//! Connecting a company and refreshing its tokens, with the `oauth2` crate over Intuit's
//! endpoints (Basic client authentication, form bodies).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use relance_core::auth::{RefreshError, TokenSet, TokenSource};
use relance_core::{Clock, ConnectorError};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::QuickBooksConfig;

/// The scope Relance asks for.
pub const SCOPE: &str = "com.intuit.quickbooks.accounting";

/// Intuit's extra token fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntuitFields {
    /// Seconds left on the refresh token's rolling window.
    #[serde(default)]
    pub x_refresh_token_expires_in: Option<i64>,
    /// Seconds left to the refresh token's absolute end (5 years), when asked for.
    #[serde(default)]
    pub x_refresh_token_hard_expires_in: Option<i64>,
}

impl ExtraTokenFields for IntuitFields {}

type IntuitToken = StandardTokenResponse<IntuitFields, BasicTokenType>;
type IntuitClient = oauth2::Client<
    BasicErrorResponse,
    IntuitToken,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Intuit's OAuth endpoints for one app.
pub struct IntuitOAuth {
    client: IntuitClient,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    label: String,
}

impl IntuitOAuth {
    /// From the connector's settings.
    pub fn new(
        label: &str,
        config: &QuickBooksConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            ConnectorError::Invalid(format!("{label}: {what}: {e}"))
        };
        let client =
            oauth2::Client::new(ClientId::new(config.client_id.expose_secret().to_string()))
                .set_client_secret(ClientSecret::new(
                    config.client_secret.expose_secret().to_string(),
                ))
                .set_auth_uri(
                    AuthUrl::new(config.authorize_url.clone())
                        .map_err(|e| invalid("authorize_url", &e))?,
                )
                .set_token_uri(
                    TokenUrl::new(config.token_url()).map_err(|e| invalid("oauth_base", &e))?,
                )
                .set_redirect_uri(
                    RedirectUrl::new(config.redirect_url.clone())
                        .map_err(|e| invalid("redirect_url", &e))?,
                );
        // Several clients may race to install it; the first wins and the rest are no-ops.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("relance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid("HTTP client", &e))?;
        Ok(IntuitOAuth {
            client,
            http,
            clock,
            label: label.to_string(),
        })
    }

    /// The page to send the user to, and the CSRF state it carries.
    pub fn authorize_url(&self) -> (String, String) {
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new(SCOPE.to_string()))
            .url();
        (url.to_string(), state.secret().clone())
    }

    /// Exchanges an authorization code for tokens of company `realm`.
    pub async fn exchange_code(&self, code: &str, realm: &str) -> Result<TokenSet, RefreshError> {
        let http = self.http_fn();
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .request_async(&http)
            .await
            .map_err(|e| self.error(e))?;
        Ok(self.token_set(&response, None, Some(realm.to_string())))
    }

    fn http_fn(&self) -> impl Fn(oauth2::HttpRequest) -> relance_core::auth::OAuthFuture + use<> {
        // Ask for the 5-year end of the refresh token as well.
        relance_core::auth::oauth_http(
            self.http.clone(),
            &[("x-include-refresh-token-hard-expires-in", "true")],
        )
    }

    fn token_set(
        &self,
        response: &IntuitToken,
        previous: Option<&TokenSet>,
        realm: Option<String>,
    ) -> TokenSet {
        let now = self.clock.now();
        let extra = response.extra_fields();
        TokenSet {
            access_token: response.access_token().secret().clone(),
            expires_at: now
                + response
                    .expires_in()
                    .and_then(|d| TimeDelta::from_std(d).ok())
                    .unwrap_or(TimeDelta::hours(1)),
            // Intuit always sends one; keep the old one if it ever does not.
            refresh_token: response
                .refresh_token()
                .map(|t| t.secret().clone())
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            refresh_expires_at: extra
                .x_refresh_token_expires_in
                .map(|s| now + TimeDelta::seconds(s))
                .or_else(|| previous.and_then(|p| p.refresh_expires_at)),
            refresh_hard_expires_at: extra
                .x_refresh_token_hard_expires_in
                .map(|s| now + TimeDelta::seconds(s))
                .or_else(|| previous.and_then(|p| p.refresh_hard_expires_at)),
            account: realm.or_else(|| previous.and_then(|p| p.account.clone())),
            instance_url: None,
        }
    }

    fn error(&self, e: RequestTokenError<reqwest::Error, BasicErrorResponse>) -> RefreshError {
        let label = &self.label;
        match e {
            RequestTokenError::ServerResponse(r) => {
                let description = r
                    .error_description()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                match r.error() {
                    BasicErrorResponseType::InvalidGrant => {
                        RefreshError::Revoked(format!("invalid_grant{description}"))
                    }
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient => {
                        RefreshError::Other(ConnectorError::Auth(format!(
                            "{label}: Intuit refused the app's credentials ({}{description}): check client_id and client_secret",
                            r.error()
                        )))
                    }
                    other => RefreshError::Other(ConnectorError::Invalid(format!(
                        "{label}: token request refused: {other}{description}"
                    ))),
                }
            }
            RequestTokenError::Request(e) => RefreshError::Other(ConnectorError::Transient(
                format!("{label}: token request failed: {}", e.without_url()),
            )),
            RequestTokenError::Parse(e, _) => RefreshError::Other(ConnectorError::Transient(
                format!("{label}: unreadable answer from the token endpoint ({e})"),
            )),
            RequestTokenError::Other(m) => RefreshError::Other(ConnectorError::Transient(format!(
                "{label}: token request failed: {m}"
            ))),
        }
    }
}

#[async_trait]
impl TokenSource for IntuitOAuth {
    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, RefreshError> {
        let Some(refresh) = &current.refresh_token else {
            return Err(RefreshError::Revoked("no refresh token stored".into()));
        };
        let http = self.http_fn();
        let response = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
            .request_async(&http)
            .await
            .map_err(|e| self.error(e))?;
        Ok(self.token_set(&response, Some(current), None))
    }
}
