//! The HTTP client every connector shares: a rate limit per provider account, retries with
//! exponential backoff and jitter on 409/429/5xx/timeouts/connection errors, `Retry-After`
//! honoured, and a request count. Secrets travel in headers and never reach a log line.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::HeaderMap;

use crate::clock::Clock;
use crate::error::ConnectorError;
use crate::retry::{Outcome, Retry, RetryRules, decide};

/// How a connector's client behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Connector id, for log lines and error messages.
    pub label: String,
    /// Sustained request rate allowed for the provider account.
    pub requests_per_second: NonZeroU32,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` slept through inside one call; a longer one ends the call with
    /// the provider's answer so the caller can reschedule instead of blocking.
    pub max_wait: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Provider-specific retry inputs.
    pub rules: RetryRules,
    /// Further quotas every request must also fit (QuickBooks: 500 a minute besides 10 a
    /// second). A quota allows its burst plus its rate over any window.
    pub extra_quotas: Vec<Quota>,
    /// The response header carrying the provider's request id, logged with retries.
    pub request_id_header: &'static str,
}

impl HttpConfig {
    /// Defaults suited to a REST API: 5 retries from 500 ms to 30 s, 30 s per attempt.
    pub fn new(label: impl Into<String>, requests_per_second: u32) -> Self {
        HttpConfig {
            label: label.into(),
            requests_per_second: NonZeroU32::new(requests_per_second.max(1))
                .expect("max(1) is never zero"),
            max_retries: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            rules: RetryRules::default(),
            extra_quotas: Vec::new(),
            request_id_header: "request-id",
        }
    }
}

/// A provider's final answer, after retries.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    /// Attempts made, the successful one included.
    pub attempts: u32,
}

impl HttpResponse {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The shared client.
#[derive(Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    limiters: Vec<Arc<DefaultDirectRateLimiter>>,
    config: HttpConfig,
    clock: Arc<dyn Clock>,
    requests: AtomicU64,
}

enum AttemptError {
    Transport {
        message: String,
        timeout: bool,
    },
    Retryable {
        response: HttpResponse,
        after: Option<Duration>,
    },
}

impl HttpClient {
    /// Builds a client; installs the TLS crypto provider on first use.
    pub fn new(config: HttpConfig, clock: Arc<dyn Clock>) -> Result<Self, ConnectorError> {
        // Several clients may race to install it; the first wins and the rest are no-ops.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .user_agent(concat!("relance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConnectorError::Invalid(format!("{}: cannot build HTTP client: {e}", config.label))
            })?;
        let limiters = std::iter::once(Quota::per_second(config.requests_per_second))
            .chain(config.extra_quotas.iter().copied())
            .map(|q| Arc::new(RateLimiter::direct(q)))
            .collect();
        Ok(HttpClient {
            inner,
            limiters,
            config,
            clock,
            requests: AtomicU64::new(0),
        })
    }

    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The client's configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Sends the request `make` builds, as many times as the retry rules allow, and returns the
    /// final answer whatever its status (the connector classifies errors). `what` names the
    /// call in logs (`list invoices`); never put a secret in it.
    pub async fn send<F>(&self, what: &str, make: F) -> Result<HttpResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.config.min_delay)
            .with_max_delay(self.config.max_delay)
            .with_max_times(self.config.max_retries)
            .with_jitter();
        let attempt = || async {
            for limiter in &self.limiters {
                limiter.until_ready().await;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(make(&self.inner), n).await
        };
        let max_wait = self.config.max_wait;
        let result = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e| match e {
                AttemptError::Transport { .. } => true,
                AttemptError::Retryable { after, .. } => after.is_none_or(|d| d <= max_wait),
            })
            .adjust(|e, delay| match e {
                AttemptError::Retryable {
                    after: Some(after), ..
                } => delay.map(|_| *after),
                _ => delay,
            })
            .notify(|e, delay| match e {
                AttemptError::Transport { message, .. } => tracing::warn!(
                    connector = %self.config.label, call = what, delay_ms = delay.as_millis() as u64,
                    error = %message, "request failed, retrying"
                ),
                AttemptError::Retryable { response, .. } => tracing::warn!(
                    connector = %self.config.label, call = what, status = response.status,
                    delay_ms = delay.as_millis() as u64,
                    request_id = response.header(self.config.request_id_header).unwrap_or("-"),
                    "provider asked to retry"
                ),
            })
            .await;
        match result {
            Ok(response) => Ok(response),
            Err(AttemptError::Retryable { response, .. }) => Ok(response),
            Err(AttemptError::Transport { message, timeout }) => {
                let kind = if timeout { "timed out" } else { "failed" };
                Err(ConnectorError::Transient(format!(
                    "{}: {what}: request {kind} after {} attempts: {message}",
                    self.config.label,
                    attempts.load(Ordering::Relaxed)
                )))
            }
        }
    }

    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
        attempts: u32,
    ) -> Result<HttpResponse, AttemptError> {
        let transport = |e: reqwest::Error| AttemptError::Transport {
            timeout: e.is_timeout(),
            message: e.without_url().to_string(),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        let response = HttpResponse {
            status,
            headers,
            body,
            attempts,
        };
        let outcome = Outcome::Status {
            status,
            headers: &response.headers,
        };
        match decide(outcome, self.config.rules, self.clock.now()) {
            Retry::No => Ok(response),
            Retry::Backoff => Err(AttemptError::Retryable {
                response,
                after: None,
            }),
            Retry::After(after) => Err(AttemptError::Retryable {
                response,
                after: Some(after),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn client(retries: usize) -> HttpClient {
        let mut config = HttpConfig::new("test", 1000);
        config.max_retries = retries;
        config.min_delay = Duration::from_millis(1);
        config.max_delay = Duration::from_millis(5);
        HttpClient::new(config, Arc::new(SystemClock)).unwrap()
    }

    #[tokio::test]
    async fn retries_server_errors_then_returns_the_success() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/x"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/x"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        let c = client(5);
        let url = format!("{}/x", server.uri());
        let r = c.send("get x", |h| h.get(&url)).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], b"ok");
        assert_eq!(r.attempts, 3);
        assert_eq!(c.requests(), 3);
    }

    #[tokio::test]
    async fn gives_up_with_the_last_answer_when_retries_run_out() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
            .mount(&server)
            .await;
        let c = client(2);
        let url = format!("{}/x", server.uri());
        let r = c.send("get x", |h| h.get(&url)).await.unwrap();
        assert_eq!(r.status, 500);
        assert_eq!(r.attempts, 3);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(400))
            .mount(&server)
            .await;
        let c = client(5);
        let url = format!("{}/x", server.uri());
        let r = c.send("get x", |h| h.get(&url)).await.unwrap();
        assert_eq!((r.status, r.attempts), (400, 1));
    }

    #[tokio::test]
    async fn a_retry_after_longer_than_max_wait_is_handed_back() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
            .mount(&server)
            .await;
        let c = client(5);
        let url = format!("{}/x", server.uri());
        let r = c.send("get x", |h| h.get(&url)).await.unwrap();
        assert_eq!((r.status, r.attempts), (429, 1));
    }

    #[tokio::test]
    async fn connection_errors_become_transient_after_retries() {
        // A port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        let c = client(1);
        let e = c.send("get x", |h| h.get(&url)).await.unwrap_err();
        assert!(matches!(e, ConnectorError::Transient(_)), "{e:?}");
        assert!(e.to_string().contains("after 2 attempts"), "{e}");
        assert_eq!(c.requests(), 2);
    }
}
