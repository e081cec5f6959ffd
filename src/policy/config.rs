//! The `policy:` section: steps relative to the due date, limits, the thank-you.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How a step reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// An e-mail (SMTP or files).
    Email,
}

impl ChannelKind {
    /// The YAML spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
        }
    }
}

/// One rung of the ladder.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Stable id (`friendly`): part of the idempotency key, never reuse one for another step.
    pub id: String,
    /// Days from the due date; negative = before it.
    pub offset_days: i32,
    /// Channel.
    pub channel: ChannelKind,
    /// Template name (`friendly` → `friendly.fr.subject`, `.txt`, `.html`).
    pub template: String,
}

/// The message after a reminded invoice is paid.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThankYou {
    /// Channel.
    pub channel: ChannelKind,
    /// Template name.
    pub template: String,
}

/// The whole policy, validated: steps sorted by offset, ids unique.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Reminders after the due date sent without a person (later steps are not sent).
    pub max_automatic_reminders: u32,
    /// Balances below this are not chased.
    pub min_balance: Decimal,
    /// Steps by increasing offset.
    pub steps: Vec<Step>,
    /// Thank-you after payment, if any.
    pub thank_you: Option<ThankYou>,
}

/// Id of the thank-you step in the outbox.
pub const THANK_YOU_STEP: &str = "thank_you";
