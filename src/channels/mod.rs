//! Channels: how a rendered reminder reaches a person. Every channel sits behind [`Channel`],
//! so SMS, push or registered letters are additions, not rewrites.

pub mod email;

use async_trait::async_trait;

use crate::policy::config::ChannelKind;

/// A file sent along (a PDF letter, later).
#[derive(Debug, Clone)]
pub struct Attachment {
    /// File name shown to the recipient.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Content.
    pub content: Vec<u8>,
}

/// A reminder ready to go: rendered, addressed, with its deterministic id.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// Recipient addresses (e-mail) or numbers (SMS).
    pub to: Vec<String>,
    /// Recipient's display name.
    pub to_name: Option<String>,
    /// Subject line (e-mail).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, if the template has one.
    pub html: Option<String>,
    /// Deterministic `Message-ID` (`<…@domain>`), the same on every attempt, so a message
    /// sent twice after a crash is recognisable as one.
    pub message_id: String,
    /// The outbox key, carried in a header for tracing.
    pub reference: String,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// `Date:` of the message (the injected clock's now).
    pub sent_at: chrono::DateTime<chrono::Utc>,
}

/// A delivery the channel accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Where it actually went (the test address in test mode).
    pub recipients: Vec<String>,
    /// What the server or sink said.
    pub detail: String,
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// May pass: server down, timeout, greylisting (4xx). Retried with backoff.
    #[error("{0}")]
    Transient(String),
    /// Will not pass: bad address, message refused (5xx). Recorded, not retried.
    #[error("{0}")]
    Permanent(String),
}

/// A way to reach people.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Which channel this is.
    fn kind(&self) -> ChannelKind;

    /// Delivers one message.
    async fn send(&self, message: &OutgoingMessage) -> Result<Delivery, ChannelError>;
}
