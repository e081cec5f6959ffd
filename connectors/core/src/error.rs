//! Errors a connector reports, classified so one retry policy serves every provider.

use std::time::Duration;

/// What went wrong talking to a provider. Messages name the connector and the object and never
/// contain a secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// The provider asked us to slow down.
    #[error("{message}")]
    RateLimited {
        /// How long the provider asked us to wait, if it said.
        retry_after: Option<Duration>,
        /// What happened.
        message: String,
    },
    /// A failure that may pass: 5xx, timeout, connection reset, lock contention.
    #[error("{0}")]
    Transient(String),
    /// Credentials refused or missing permission: a person must act.
    #[error("{0}")]
    Auth(String),
    /// The object does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    /// The request or the provider's answer is unusable: retrying will not help.
    #[error("{0}")]
    Invalid(String),
    /// Any other error the provider reported, with its own code.
    #[error("{message}")]
    Provider {
        /// HTTP status.
        status: u16,
        /// The provider's error code, if any.
        code: Option<String>,
        /// What happened.
        message: String,
    },
    /// The connector cannot do this (e.g. write back to a CSV file).
    #[error("{0}")]
    Unsupported(String),
}

impl ConnectorError {
    /// True when trying the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::RateLimited { .. } | ConnectorError::Transient(_)
        )
    }

    /// The delay the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The same error with `context` (connector id, object) put in front of its message.
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        let wrap = |m: String| format!("{context}: {m}");
        match self {
            ConnectorError::RateLimited {
                retry_after,
                message,
            } => ConnectorError::RateLimited {
                retry_after,
                message: wrap(message),
            },
            ConnectorError::Transient(m) => ConnectorError::Transient(wrap(m)),
            ConnectorError::Auth(m) => ConnectorError::Auth(wrap(m)),
            ConnectorError::NotFound(m) => ConnectorError::NotFound(wrap(m)),
            ConnectorError::Invalid(m) => ConnectorError::Invalid(wrap(m)),
            ConnectorError::Provider {
                status,
                code,
                message,
            } => ConnectorError::Provider {
                status,
                code,
                message: wrap(message),
            },
            ConnectorError::Unsupported(m) => ConnectorError::Unsupported(wrap(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_prefixed_and_class_kept() {
        let e = ConnectorError::Auth("401 invalid API key".into()).context("stripe-main");
        assert_eq!(e.to_string(), "stripe-main: 401 invalid API key");
        assert!(matches!(e, ConnectorError::Auth(_)));
        assert!(!e.is_retryable());
        let r = ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
            message: "429".into(),
        };
        assert!(r.is_retryable());
        assert_eq!(r.retry_after(), Some(Duration::from_secs(2)));
    }
}
