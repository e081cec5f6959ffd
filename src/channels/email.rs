//! E-mail channel: multipart text + HTML built with lettre, sent over one reused SMTP
//! connection (TCP_NODELAY set, STARTTLS when offered or implicit TLS, AUTH when configured),
//! or written as `.eml` files (the demo and test mode).
//!
//! The connection is opened here rather than by lettre's pool because lettre 0.11.23 leaves
//! Nagle's algorithm on, which costs ~40 ms per message on loopback (lettre PR #1159).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart, header};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, Message};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::{Channel, ChannelError, Delivery, OutgoingMessage};
use crate::policy::config::ChannelKind;

/// How the SMTP session is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// `smtp://`: STARTTLS when the server offers it.
    Opportunistic,
    /// `smtp://…?tls=required`: STARTTLS or fail.
    Required,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum SmtpTarget {
    /// An SMTP server.
    Smtp {
        /// Host name.
        host: String,
        /// Port.
        port: u16,
        /// Security.
        tls: Tls,
        /// `user`, `password` from the URL's user info.
        credentials: Option<(String, SecretString)>,
    },
    /// A folder of `.eml` files.
    Files(PathBuf),
}

impl SmtpTarget {
    /// Parses `smtp://user:pass@host:587`, `smtps://…`, `file:///folder` (or `file://relative`).
    /// Errors never repeat the URL (it holds a password).
    pub fn parse(raw: &str, base_dir: &Path) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("file://") {
            if path.is_empty() {
                return Err("file:// URL names no folder".into());
            }
            return Ok(SmtpTarget::Files(crate::config::resolve(
                base_dir,
                Path::new(path),
            )));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| format!("not a valid URL ({e}); expected smtp://, smtps:// or file://"))?;
        let (mut tls, default_port) = match url.scheme() {
            "smtp" => (Tls::Opportunistic, 587),
            "smtps" => (Tls::Implicit, 465),
            other => {
                return Err(format!(
                    "unsupported scheme `{other}`; expected smtp://, smtps:// or file://"
                ));
            }
        };
        for (k, v) in url.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "required") if tls == Tls::Opportunistic => tls = Tls::Required,
                ("tls", "opportunistic") if tls == Tls::Opportunistic => {}
                _ => return Err(format!("unknown URL option `{k}={v}` (only tls=required)")),
            }
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL names no host")?
            .to_string();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| "user name or password is not valid UTF-8 once decoded".to_string())
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            let user = decode(url.username())?;
            let pass = decode(url.password().unwrap_or(""))?;
            Some((user, SecretString::from(pass)))
        };
        Ok(SmtpTarget::Smtp {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            credentials,
        })
    }

    /// A description without the password, for logs and `relance check`.
    pub fn describe(&self) -> String {
        match self {
            SmtpTarget::Files(p) => format!("files in {}", p.display()),
            SmtpTarget::Smtp {
                host,
                port,
                tls,
                credentials,
            } => {
                let tls = match tls {
                    Tls::Opportunistic => "STARTTLS when offered",
                    Tls::Required => "STARTTLS required",
                    Tls::Implicit => "TLS",
                };
                let user = credentials
                    .as_ref()
                    .map(|(u, _)| format!("{u}@"))
                    .unwrap_or_default();
                format!("smtp {user}{host}:{port} ({tls})")
            }
        }
    }
}

/// What the channel needs besides the target.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `From:`.
    pub from: Mailbox,
    /// `Reply-To:`.
    pub reply_to: Option<Mailbox>,
    /// Test mode: every message goes here.
    pub test_recipient: Option<Mailbox>,
    /// Timeout of each SMTP exchange.
    pub timeout: Duration,
}

/// The e-mail channel.
pub struct EmailChannel {
    target: SmtpTarget,
    settings: EmailSettings,
    hello: ClientId,
    connection: Mutex<Option<AsyncSmtpConnection>>,
}

/// `AsyncTokioStream` over a TLS stream we opened ourselves (implicit TLS).
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl tokio::io::AsyncRead for TlsStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> ChannelError {
    let message = e.to_string();
    if e.is_permanent() {
        ChannelError::Permanent(message)
    } else {
        ChannelError::Transient(message)
    }
}

impl EmailChannel {
    /// A channel to `target`.
    pub fn new(target: SmtpTarget, settings: EmailSettings) -> Self {
        let hello = match settings.from.email.domain() {
            d if !d.is_empty() => ClientId::Domain(d.to_string()),
            _ => ClientId::default(),
        };
        EmailChannel {
            target,
            settings,
            hello,
            connection: Mutex::new(None),
        }
    }

    /// Builds the MIME message exactly as it will be sent.
    pub fn build(&self, m: &OutgoingMessage) -> Result<(Message, Vec<String>), ChannelError> {
        let invalid =
            |what: &str, e: &dyn std::fmt::Display| ChannelError::Permanent(format!("{what}: {e}"));
        let (recipients, subject) = match &self.settings.test_recipient {
            Some(test) => (
                vec![test.clone()],
                format!("[TEST → {}] {}", m.to.join(", "), m.subject),
            ),
            None => {
                let mut boxes = Vec::new();
                for addr in &m.to {
                    let address: Address = addr
                        .trim()
                        .parse()
                        .map_err(|e| invalid(&format!("recipient `{addr}`"), &e))?;
                    boxes.push(Mailbox::new(m.to_name.clone(), address));
                }
                if boxes.is_empty() {
                    return Err(ChannelError::Permanent("no recipient address".into()));
                }
                (boxes, m.subject.clone())
            }
        };
        let mut builder = Message::builder()
            .from(self.settings.from.clone())
            .subject(subject)
            .message_id(Some(m.message_id.clone()))
            .date(SystemTime::from(m.sent_at))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Relance-Reference"),
                m.reference.clone(),
            ));
        if self.settings.test_recipient.is_some() {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Relance-Original-To"),
                m.to.join(", "),
            ));
        }
        if let Some(r) = &self.settings.reply_to {
            builder = builder.reply_to(r.clone());
        }
        for r in &recipients {
            builder = builder.to(r.clone());
        }
        let text = SinglePart::builder()
            .header(header::ContentType::TEXT_PLAIN)
            .body(m.text.clone());
        let body = match &m.html {
            Some(html) => MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(header::ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
            None => MultiPart::mixed().singlepart(text),
        };
        let body = if m.attachments.is_empty() {
            body
        } else {
            let mut mixed = MultiPart::mixed().multipart(body);
            for a in &m.attachments {
                let ct = header::ContentType::parse(&a.content_type)
                    .map_err(|e| invalid("attachment type", &e))?;
                mixed = mixed.singlepart(
                    MimeAttachment::new(a.filename.clone()).body(a.content.clone(), ct),
                );
            }
            mixed
        };
        let message = builder
            .multipart(body)
            .map_err(|e| invalid("cannot build the message", &e))?;
        let shown = recipients.iter().map(|r| r.email.to_string()).collect();
        Ok((message, shown))
    }

    async fn connect(
        &self,
        host: &str,
        port: u16,
        tls: Tls,
        credentials: &Option<(String, SecretString)>,
    ) -> Result<AsyncSmtpConnection, ChannelError> {
        let transient = |what: &str, e: &dyn std::fmt::Display| {
            ChannelError::Transient(format!("smtp {host}:{port}: {what}: {e}"))
        };
        let tcp = tokio::time::timeout(self.settings.timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|e| transient("connect", &e))?
            .map_err(|e| transient("connect", &e))?;
        tcp.set_nodelay(true).map_err(|e| transient("socket", &e))?;
        let mut conn = match tls {
            Tls::Implicit => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let roots = rustls::RootCertStore::from_iter(
                    webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
                );
                let config = rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| transient("server name", &e))?;
                let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| transient("TLS handshake", &e))?;
                AsyncSmtpConnection::connect_with_transport(
                    Box::new(TlsStream(stream)),
                    &self.hello,
                )
                .await
                .map_err(smtp_error)?
            }
            Tls::Opportunistic | Tls::Required => {
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                        .await
                        .map_err(smtp_error)?;
                if conn.can_starttls() {
                    let params = TlsParameters::new(host.to_string())
                        .map_err(|e| transient("TLS parameters", &e))?;
                    conn.starttls(params, &self.hello)
                        .await
                        .map_err(smtp_error)?;
                } else if tls == Tls::Required {
                    return Err(ChannelError::Transient(format!(
                        "smtp {host}:{port}: server does not offer STARTTLS (tls=required)"
                    )));
                }
                conn
            }
        };
        if let Some((user, pass)) = credentials {
            let creds = Credentials::new(user.clone(), pass.expose_secret().to_string());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(smtp_error)?;
        }
        Ok(conn)
    }

    async fn send_smtp(
        &self,
        message: &Message,
        host: &str,
        port: u16,
        tls: Tls,
        credentials: &Option<(String, SecretString)>,
    ) -> Result<String, ChannelError> {
        let bytes = message.formatted();
        let mut slot = self.connection.lock().await;
        // A reused connection may have been closed by the server while idle: one fresh retry.
        for fresh in [false, true] {
            let reused = slot.is_some() && !fresh;
            if !reused {
                *slot = None;
                *slot = Some(self.connect(host, port, tls, credentials).await?);
            }
            let conn = slot.as_mut().expect("connection was just set");
            let sent =
                tokio::time::timeout(self.settings.timeout, conn.send(message.envelope(), &bytes))
                    .await;
            match sent {
                Ok(Ok(response)) => {
                    return Ok(response.message().collect::<Vec<_>>().join(" "));
                }
                Ok(Err(e)) => {
                    let broken = conn.has_broken() || !e.is_permanent();
                    if broken {
                        *slot = None;
                    } else {
                        // The server refused this message; reset the transaction for the next.
                        let _ = conn.command(lettre::transport::smtp::commands::Rset).await;
                    }
                    if reused && !e.is_permanent() && !e.is_transient() {
                        continue;
                    }
                    return Err(smtp_error(e));
                }
                Err(_) => {
                    *slot = None;
                    return Err(ChannelError::Transient(format!(
                        "smtp {host}:{port}: no answer within {:?}",
                        self.settings.timeout
                    )));
                }
            }
        }
        Err(ChannelError::Transient(format!(
            "smtp {host}:{port}: connection lost"
        )))
    }

    async fn write_file(
        &self,
        dir: &Path,
        message: &Message,
        id: &str,
    ) -> Result<String, ChannelError> {
        let io = |e: std::io::Error| {
            ChannelError::Transient(format!("cannot write to {}: {e}", dir.display()))
        };
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let name: String = id
            .trim_matches(|c| c == '<' || c == '>')
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.eml"));
        let tmp = dir.join(format!(".{name}.eml.tmp"));
        tokio::fs::write(&tmp, message.formatted())
            .await
            .map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(format!("written to {}", path.display()))
    }

    /// Closes the SMTP session, if one is open.
    pub async fn close(&self) {
        if let Some(mut conn) = self.connection.lock().await.take() {
            let _ = conn.quit().await;
        }
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    async fn send(&self, m: &OutgoingMessage) -> Result<Delivery, ChannelError> {
        let (message, recipients) = self.build(m)?;
        let detail = match &self.target {
            SmtpTarget::Files(dir) => self.write_file(dir, &message, &m.message_id).await?,
            SmtpTarget::Smtp {
                host,
                port,
                tls,
                credentials,
            } => {
                self.send_smtp(&message, host, *port, *tls, credentials)
                    .await?
            }
        };
        Ok(Delivery { recipients, detail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let base = Path::new("/etc/relance");
        match SmtpTarget::parse(
            "smtp://compta%40atelier.fr:p%40ss@smtp.example.com:587",
            base,
        )
        .unwrap()
        {
            SmtpTarget::Smtp {
                host,
                port,
                tls,
                credentials,
            } => {
                assert_eq!(
                    (host.as_str(), port, tls),
                    ("smtp.example.com", 587, Tls::Opportunistic)
                );
                let (u, p) = credentials.unwrap();
                assert_eq!(u, "compta@atelier.fr");
                assert_eq!(p.expose_secret(), "p@ss");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            SmtpTarget::parse("smtps://mail.example.com", base).unwrap(),
            SmtpTarget::Smtp {
                port: 465,
                tls: Tls::Implicit,
                ..
            }
        ));
        assert!(matches!(
            SmtpTarget::parse("smtp://mail.example.com?tls=required", base).unwrap(),
            SmtpTarget::Smtp {
                port: 587,
                tls: Tls::Required,
                credentials: None,
                ..
            }
        ));
        match SmtpTarget::parse("file://out/mail", base).unwrap() {
            SmtpTarget::Files(p) => assert_eq!(p, Path::new("/etc/relance/out/mail")),
            other => panic!("{other:?}"),
        }
        match SmtpTarget::parse("file:///var/mail", base).unwrap() {
            SmtpTarget::Files(p) => assert_eq!(p, Path::new("/var/mail")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn url_errors_never_echo_the_password() {
        for bad in [
            "http://u:hunter2@x",
            "smtp://u:hunter2@",
            "smtp://u:hunter2@x?foo=bar",
            "not a url hunter2",
        ] {
            let e = SmtpTarget::parse(bad, Path::new("/")).unwrap_err();
            assert!(!e.contains("hunter2"), "{bad}: {e}");
        }
        let t = SmtpTarget::parse("smtp://me:hunter2@x:25", Path::new("/")).unwrap();
        assert!(!t.describe().contains("hunter2"));
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
