//! The API a Relance connector is written against.
//!
//! A connector turns one provider's objects into the normalised types of [`types`], behind the
//! [`Connector`] trait. It never sees the store, the policy or the channels: the daemon drives it
//! (pull pages of changes, verify and parse webhooks, fetch objects by id, write activities back)
//! and persists what it returns. Money is [`Money`] (exact decimals), times are UTC.

pub mod auth;
pub mod clock;
pub mod connector;
pub mod error;
pub mod http;
pub mod money;
pub mod retry;
pub mod types;
pub mod webhook;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use connector::{Capabilities, Connector, Listing, ObjectKind, ObjectRef, Pull, PullRequest};
pub use error::ConnectorError;
pub use money::{Currency, Money, MoneyError};
pub use types::{
    Activity, Change, Customer, CustomerHint, ExternalPayment, InboundEvent, Invoice,
    InvoiceStatus, Payment, RecordPayment, WriteBack, address_line,
};
pub use webhook::{SignatureCheck, UnverifiedWebhook, VerifiedEvent, WebhookError, WebhookReply};
