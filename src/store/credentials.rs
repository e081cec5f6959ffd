//! Connector credentials (OAuth tokens) at rest: encrypted with ChaCha20-Poly1305 under the key
//! in `RELANCE_SECRET_KEY`, bound to their connector id, one row per connector; and the CSRF
//! states of connections in progress.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::{DateTime, TimeDelta, Utc};
use relance_core::ConnectorError;
use relance_core::auth::{CredentialStore, Credentials};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{Context, Store, StoreError, on_pool};

/// The environment variable holding the key.
pub const SECRET_KEY_VAR: &str = "RELANCE_SECRET_KEY";

/// The key that encrypts credentials at rest.
#[derive(Clone)]
pub struct SecretKey(Key);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// Parses 32 bytes given as 64 hex digits or as base64 (`openssl rand -base64 32`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| e.to_string())?
        } else {
            STANDARD.decode(text).map_err(|_| {
                format!("{SECRET_KEY_VAR} must be 32 random bytes as base64 (openssl rand -base64 32) or 64 hex digits")
            })?
        };
        if bytes.len() != 32 {
            return Err(format!(
                "{SECRET_KEY_VAR} must be 32 bytes, it decodes to {} (openssl rand -base64 32)",
                bytes.len()
            ));
        }
        let bytes: [u8; 32] = bytes.try_into().expect("length checked");
        Ok(SecretKey(Key::from(bytes)))
    }

    /// From the configuration's copy of the variable: `None` when unset, an error when set
    /// but unusable.
    pub fn from_config(value: Option<&SecretString>) -> Result<Option<Self>, String> {
        value.map(|v| Self::parse(v.expose_secret())).transpose()
    }

    fn encrypt(&self, connector: &str, plain: &str) -> String {
        let cipher = ChaCha20Poly1305::new(&self.0);
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: connector.as_bytes(),
                },
            )
            .expect("encryption of a small buffer does not fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        STANDARD.encode(out)
    }

    fn decrypt(&self, connector: &str, stored: &str) -> Result<String, String> {
        let bytes = STANDARD
            .decode(stored)
            .map_err(|_| "stored credentials are not base64".to_string())?;
        if bytes.len() < 12 {
            return Err("stored credentials are truncated".into());
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().expect("split at 12");
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: connector.as_bytes(),
                },
            )
            .map_err(|_| {
                format!("stored credentials cannot be decrypted: {SECRET_KEY_VAR} is not the key they were saved with")
            })?;
        String::from_utf8(plain).map_err(|_| "stored credentials are not text".to_string())
    }
}

/// What a callback's `state` turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateCheck {
    /// Issued by `relance connect` for this connector, unexpired, first use: go on, with the
    /// PKCE verifier recorded with it.
    Valid(Option<String>),
    /// Already used: the connection it started is done (a callback delivered twice).
    Used(Option<String>),
    /// Never issued, for another connector, or expired: refuse.
    Unknown,
}

fn hash_state(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// How long a `relance connect` state stays valid.
pub const STATE_TTL: TimeDelta = TimeDelta::minutes(30);

impl Store {
    /// Records the CSRF state of a connection being started.
    pub async fn insert_oauth_state(
        &self,
        connector: &str,
        state: &str,
        pkce_verifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO oauth_states (state_hash, connector_id, created_at, expires_at, \
             pkce_verifier) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(hash_state(state))
        .bind(connector)
        .bind(now)
        .bind(now + STATE_TTL)
        .bind(pkce_verifier)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("recording an OAuth state"))
    }

    /// Consumes a callback's state: valid once, for its connector, before it expires.
    pub async fn take_oauth_state(
        &self,
        connector: &str,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<StateCheck, StoreError> {
        let hash = hash_state(state);
        let taken: Option<(Option<String>,)> = on_pool!(self, |pool| sqlx::query_as(
            "UPDATE oauth_states SET used_at = $3 WHERE state_hash = $1 AND connector_id = $2 \
             AND used_at IS NULL AND expires_at > $3 RETURNING pkce_verifier"
        )
        .bind(&hash)
        .bind(connector)
        .bind(now)
        .fetch_optional(pool)
        .await
        .ctx("checking an OAuth state"))?;
        if let Some((verifier,)) = taken {
            return Ok(StateCheck::Valid(verifier));
        }
        let used: Option<(Option<String>,)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT account FROM oauth_states WHERE state_hash = $1 AND connector_id = $2 \
             AND used_at IS NOT NULL"
        )
        .bind(&hash)
        .bind(connector)
        .fetch_optional(pool)
        .await
        .ctx("checking an OAuth state"))?;
        Ok(match used {
            Some((account,)) => StateCheck::Used(account),
            None => StateCheck::Unknown,
        })
    }

    /// Records which account a used state connected
    /// (`None` when the exchange failed), and forgets the PKCE verifier either way.
    pub async fn finish_oauth_state(
        &self,
        state: &str,
        account: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE oauth_states SET account = COALESCE($2, account), pkce_verifier = NULL \
             WHERE state_hash = $1"
        )
        .bind(hash_state(state))
        .bind(account)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("recording an OAuth state"))
    }

    /// When `connector`'s credentials were last saved, and their version (to wait for a
    /// connection to complete).
    pub async fn credentials_version(&self, connector: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT version FROM credentials WHERE connector_id = $1"
        )
        .bind(connector)
        .fetch_optional(pool)
        .await
        .ctx("reading credentials"))?;
        Ok(row.map(|r| r.0))
    }
}

/// [`CredentialStore`] on the database.
pub struct DbCredentials {
    store: Store,
    key: Result<Option<SecretKey>, String>,
}

impl DbCredentials {
    /// Credentials in `store`, encrypted with `key` (from [`SecretKey::from_env`]).
    pub fn new(store: Store, key: Result<Option<SecretKey>, String>) -> Self {
        DbCredentials { store, key }
    }

    fn key(&self) -> Result<&SecretKey, ConnectorError> {
        match &self.key {
            Ok(Some(k)) => Ok(k),
            Ok(None) => Err(ConnectorError::Auth(format!(
                "{SECRET_KEY_VAR} is not set: it encrypts connector tokens at rest (generate one with `openssl rand -base64 32` and keep it safe)"
            ))),
            Err(e) => Err(ConnectorError::Auth(e.clone())),
        }
    }
}

fn db(e: StoreError) -> ConnectorError {
    ConnectorError::Transient(e.to_string())
}

#[async_trait]
impl CredentialStore for DbCredentials {
    async fn load(&self, connector: &str) -> Result<Option<Credentials>, ConnectorError> {
        let row: Option<(String, i64, Option<String>)> = on_pool!(self.store, |pool| {
            sqlx::query_as(
                "SELECT secret, version, needs_reconnect FROM credentials WHERE connector_id = $1",
            )
            .bind(connector)
            .fetch_optional(pool)
            .await
            .ctx("reading credentials")
        })
        .map_err(db)?;
        let Some((sealed, version, needs_reconnect)) = row else {
            return Ok(None);
        };
        let plain = self
            .key()?
            .decrypt(connector, &sealed)
            .map_err(|e| ConnectorError::Auth(format!("{connector}: {e}")))?;
        Ok(Some(Credentials {
            secret: SecretString::from(plain),
            version,
            needs_reconnect,
        }))
    }

    async fn try_lease(
        &self,
        connector: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, ConnectorError> {
        let until = now + TimeDelta::from_std(ttl).unwrap_or(TimeDelta::minutes(1));
        let n = on_pool!(self.store, |pool| {
            sqlx::query(
            "UPDATE credentials SET lease_holder = $2, lease_until = $3 WHERE connector_id = $1 \
             AND (lease_holder IS NULL OR lease_holder = $2 OR lease_until < $4)"
        )
        .bind(connector)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .ctx("leasing a token refresh")
        })
        .map_err(db)?;
        Ok(n == 1)
    }

    async fn save(
        &self,
        connector: &str,
        secret: &SecretString,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, ConnectorError> {
        let sealed = self.key()?.encrypt(connector, secret.expose_secret());
        let row: Option<(i64,)> = match expected_version {
            Some(v) => on_pool!(self.store, |pool| sqlx::query_as(
                "UPDATE credentials SET secret = $2, version = version + 1, \
                 needs_reconnect = NULL, lease_holder = NULL, lease_until = NULL, updated_at = $3 \
                 WHERE connector_id = $1 AND version = $4 RETURNING version"
            )
            .bind(connector)
            .bind(&sealed)
            .bind(now)
            .bind(v)
            .fetch_optional(pool)
            .await
            .ctx("saving credentials")),
            None => on_pool!(self.store, |pool| sqlx::query_as(
                "INSERT INTO credentials (connector_id, secret, version, updated_at) \
                 VALUES ($1, $2, 1, $3) ON CONFLICT (connector_id) DO UPDATE SET \
                 secret = excluded.secret, version = credentials.version + 1, \
                 needs_reconnect = NULL, lease_holder = NULL, lease_until = NULL, \
                 updated_at = excluded.updated_at RETURNING version"
            )
            .bind(connector)
            .bind(&sealed)
            .bind(now)
            .fetch_optional(pool)
            .await
            .ctx("saving credentials")),
        }
        .map_err(db)?;
        Ok(row.map(|r| r.0))
    }

    async fn release(&self, connector: &str, holder: &str) -> Result<(), ConnectorError> {
        on_pool!(self.store, |pool| sqlx::query(
            "UPDATE credentials SET lease_holder = NULL, lease_until = NULL \
             WHERE connector_id = $1 AND lease_holder = $2"
        )
        .bind(connector)
        .bind(holder)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("releasing a token refresh"))
        .map_err(db)
    }

    async fn mark_needs_reconnect(
        &self,
        connector: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ConnectorError> {
        on_pool!(self.store, |pool| sqlx::query(
            "UPDATE credentials SET needs_reconnect = $2, lease_holder = NULL, \
             lease_until = NULL, updated_at = $3 WHERE connector_id = $1"
        )
        .bind(connector)
        .bind(reason)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        .ctx("marking a connector for reconnection"))
        .map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_for_one_connector_only() {
        let key = SecretKey::parse(&"ab".repeat(32)).unwrap();
        let sealed = key.encrypt("qbo", r#"{"refresh_token":"RT-1"}"#);
        assert!(!sealed.contains("RT-1"));
        assert_eq!(
            key.decrypt("qbo", &sealed).unwrap(),
            r#"{"refresh_token":"RT-1"}"#
        );
        assert!(key.decrypt("other", &sealed).is_err());
        let other = SecretKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(
            other
                .decrypt("qbo", &sealed)
                .unwrap_err()
                .contains("RELANCE_SECRET_KEY")
        );
        assert!(SecretKey::parse("short").is_err());
        assert!(
            SecretKey::parse(&STANDARD.encode([1u8; 16]))
                .unwrap_err()
                .contains("16")
        );
        assert_eq!(format!("{key:?}"), "SecretKey([redacted])");
    }
}
