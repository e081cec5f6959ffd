//! Logging in to an org: the JWT bearer flow (a signed assertion, no user present) or the
//! web-server flow once (`relance connect`) and refresh tokens after it (with Refresh Token
//! Rotation handled by the shared token manager: the newest token is saved before use).

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
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use relance_core::auth::{RefreshError, TokenSet, TokenSource};
use relance_core::{Clock, ConnectorError};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::{Flow, SalesforceConfig};
use crate::jwt::JwtSigner;

/// Salesforce's extra token fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SalesforceFields {
    /// Where this org's API lives: every call goes there, never to the login host.
    #[serde(default)]
    pub instance_url: Option<String>,
    /// Identity URL (`…/id/<org id>/<user id>`).
    #[serde(default)]
    pub id: Option<String>,
}

impl ExtraTokenFields for SalesforceFields {}

type SfToken = StandardTokenResponse<SalesforceFields, BasicTokenType>;
type SfClient = oauth2::Client<
    BasicErrorResponse,
    SfToken,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Salesforce sessions last as the org's session timeout says (2 h by default) and token
/// responses do not say: refreshed after this long, or on the first 401.
const SESSION: TimeDelta = TimeDelta::minutes(60);

/// The login of one org.
pub struct SalesforceAuth {
    label: String,
    flow: Flow,
    token_url: String,
    audience: String,
    client_id: String,
    username: Option<String>,
    signer: Option<JwtSigner>,
    oauth: Option<SfClient>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
struct JwtResponse {
    access_token: String,
    instance_url: String,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl SalesforceAuth {
    /// From the connector's settings; reads the private key file of the JWT flow.
    pub fn new(
        label: &str,
        config: &SalesforceConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            ConnectorError::Invalid(format!("{label}: {what}: {e}"))
        };
        let login = config.login();
        let token_url = format!("{login}/services/oauth2/token");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("relance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid("HTTP client", &e))?;
        let signer = match (config.auth.flow, &config.auth.private_key_file) {
            (Flow::JwtBearer, Some(path)) => {
                Some(JwtSigner::from_file(path).map_err(|e| invalid("auth.private_key_file", &e))?)
            }
            _ => None,
        };
        let oauth = match (
            config.auth.flow,
            &config.auth.client_secret,
            &config.auth.redirect_url,
        ) {
            (Flow::RefreshToken, Some(secret), Some(redirect)) => Some(
                oauth2::Client::new(ClientId::new(
                    config.auth.client_id.expose_secret().to_string(),
                ))
                .set_client_secret(ClientSecret::new(secret.expose_secret().to_string()))
                .set_auth_uri(
                    AuthUrl::new(format!("{login}/services/oauth2/authorize"))
                        .map_err(|e| invalid("login_url", &e))?,
                )
                .set_token_uri(
                    TokenUrl::new(token_url.clone()).map_err(|e| invalid("login_url", &e))?,
                )
                .set_redirect_uri(
                    RedirectUrl::new(redirect.clone())
                        .map_err(|e| invalid("auth.redirect_url", &e))?,
                )
                .set_auth_type(oauth2::AuthType::RequestBody),
            ),
            _ => None,
        };
        Ok(SalesforceAuth {
            label: label.to_string(),
            flow: config.auth.flow,
            token_url,
            audience: config.auth.audience.clone().unwrap_or(login),
            client_id: config.auth.client_id.expose_secret().to_string(),
            username: config.auth.username.clone(),
            signer,
            oauth,
            http,
            clock,
        })
    }

    /// The flow in use.
    pub fn flow(&self) -> Flow {
        self.flow
    }

    /// The authorization page, its CSRF state and its PKCE verifier (web-server flow). The
    /// URL carries an S256 code challenge: External Client Apps require PKCE by default.
    pub fn authorize_url(&self) -> Option<relance_core::auth::AuthorizeUrl> {
        let oauth = self.oauth.as_ref()?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = oauth
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("api".into()))
            .add_scope(Scope::new("refresh_token".into()))
            .set_pkce_challenge(challenge)
            .url();
        Some(relance_core::auth::AuthorizeUrl {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: Some(verifier.secret().clone().into()),
        })
    }

    /// Exchanges an authorization code (web-server flow), with the PKCE verifier of its
    /// authorization URL when there was one.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, RefreshError> {
        let oauth = self.oauth.as_ref().ok_or_else(|| {
            RefreshError::Other(ConnectorError::Invalid(format!(
                "{}: the web-server flow is not configured",
                self.label
            )))
        })?;
        let http = self.http_fn();
        let request = oauth.exchange_code(AuthorizationCode::new(code.to_string()));
        let request = match pkce_verifier {
            Some(v) => request.set_pkce_verifier(PkceCodeVerifier::new(v.to_string())),
            None => request,
        };
        let response = request
            .request_async(&http)
            .await
            .map_err(|e| self.oauth_error(e))?;
        Ok(self.token_set(&response, None))
    }

    /// A session from a new JWT assertion.
    pub async fn jwt_login(&self) -> Result<TokenSet, RefreshError> {
        let (Some(signer), Some(username)) = (&self.signer, &self.username) else {
            return Err(RefreshError::Other(ConnectorError::Invalid(format!(
                "{}: the jwt_bearer flow needs auth.username and auth.private_key_file",
                self.label
            ))));
        };
        let now = self.clock.now();
        let assertion = signer.assertion(&self.client_id, username, &self.audience, now);
        let response = self
            .http
            .post(&self.token_url)
            .header("Accept", "application/json")
            .form(&crate::jwt::token_form(&assertion))
            .send()
            .await
            .map_err(|e| {
                RefreshError::Other(ConnectorError::Transient(format!(
                    "{}: token request failed: {}",
                    self.label,
                    e.without_url()
                )))
            })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        if status == 200 {
            let r: JwtResponse = serde_json::from_slice(&body).map_err(|e| {
                RefreshError::Other(ConnectorError::Transient(format!(
                    "{}: unreadable token answer ({e})",
                    self.label
                )))
            })?;
            return Ok(TokenSet {
                access_token: r.access_token,
                expires_at: now + SESSION,
                refresh_token: None,
                refresh_expires_at: None,
                refresh_hard_expires_at: None,
                account: None,
                instance_url: Some(r.instance_url.trim_end_matches('/').to_string()),
            });
        }
        let error: Option<ErrorResponse> = serde_json::from_slice(&body).ok();
        match (status, error) {
            (400, Some(e)) => {
                let d = e.error_description.unwrap_or_default();
                // A refused assertion is a setup problem (user not approved, wrong audience,
                // certificate): a person must fix it, retrying changes nothing.
                Err(RefreshError::Revoked(format!("{}: {d}", e.error)))
            }
            (s, _) if s >= 500 => Err(RefreshError::Other(ConnectorError::Transient(format!(
                "{}: token endpoint answered {s}",
                self.label
            )))),
            (s, _) => Err(RefreshError::Other(ConnectorError::Auth(format!(
                "{}: token endpoint answered {s}",
                self.label
            )))),
        }
    }

    fn http_fn(&self) -> impl Fn(oauth2::HttpRequest) -> relance_core::auth::OAuthFuture + use<> {
        relance_core::auth::oauth_http(self.http.clone(), &[])
    }

    fn token_set(&self, response: &SfToken, previous: Option<&TokenSet>) -> TokenSet {
        let now = self.clock.now();
        TokenSet {
            access_token: response.access_token().secret().clone(),
            expires_at: now + SESSION,
            // With rotation a new one comes back; without, the old one stays valid.
            refresh_token: response
                .refresh_token()
                .map(|t| t.secret().clone())
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            refresh_expires_at: None,
            refresh_hard_expires_at: None,
            account: response
                .extra_fields()
                .id
                .as_deref()
                .and_then(org_of_identity)
                .or_else(|| previous.and_then(|p| p.account.clone())),
            instance_url: response
                .extra_fields()
                .instance_url
                .clone()
                .map(|u| u.trim_end_matches('/').to_string())
                .or_else(|| previous.and_then(|p| p.instance_url.clone())),
        }
    }

    fn oauth_error(
        &self,
        e: RequestTokenError<reqwest::Error, BasicErrorResponse>,
    ) -> RefreshError {
        let label = &self.label;
        match e {
            RequestTokenError::ServerResponse(r) => {
                let d = r
                    .error_description()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                match r.error() {
                    BasicErrorResponseType::InvalidGrant => {
                        RefreshError::Revoked(format!("invalid_grant{d}"))
                    }
                    other => RefreshError::Other(ConnectorError::Auth(format!(
                        "{label}: token request refused: {other}{d}"
                    ))),
                }
            }
            RequestTokenError::Request(e) => RefreshError::Other(ConnectorError::Transient(
                format!("{label}: token request failed: {}", e.without_url()),
            )),
            RequestTokenError::Parse(e, _) => RefreshError::Other(ConnectorError::Transient(
                format!("{label}: unreadable token answer ({e})"),
            )),
            RequestTokenError::Other(m) => RefreshError::Other(ConnectorError::Transient(format!(
                "{label}: token request failed: {m}"
            ))),
        }
    }
}

/// The org id in an identity URL (`https://login.salesforce.com/id/<org>/<user>`).
pub fn org_of_identity(id: &str) -> Option<String> {
    let mut parts = id.trim_end_matches('/').rsplit('/');
    let _user = parts.next()?;
    let org = parts.next()?;
    (org.len() == 18 || org.len() == 15).then(|| org.to_string())
}

#[async_trait]
impl TokenSource for SalesforceAuth {
    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, RefreshError> {
        match self.flow {
            Flow::JwtBearer => self.jwt_login().await,
            Flow::RefreshToken => {
                let oauth = self.oauth.as_ref().ok_or_else(|| {
                    RefreshError::Other(ConnectorError::Invalid(format!(
                        "{}: the web-server flow is not configured",
                        self.label
                    )))
                })?;
                let Some(refresh) = &current.refresh_token else {
                    return Err(RefreshError::Revoked("no refresh token stored".into()));
                };
                let http = self.http_fn();
                let response = oauth
                    .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
                    .request_async(&http)
                    .await
                    .map_err(|e| self.oauth_error(e))?;
                Ok(self.token_set(&response, Some(current)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_from_identity_url() {
        assert_eq!(
            org_of_identity(
                "https://login.salesforce.com/id/00D5e000000RlncEAC/0055e00000IntgUAAR"
            )
            .as_deref(),
            Some("00D5e000000RlncEAC")
        );
        assert_eq!(org_of_identity("nonsense"), None);
    }
}
