//! The `policy:` section: steps relative to the due date, limits, the thank-you.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How a step reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// An e-mail (SMTP or files).
    Email,
    /// Something a person does (a phone call): a task in the review queue.
    Task,
    /// A letter (formal notice, registered letter): approved by a person, then sent.
    Letter,
    /// The hand-off to court or a collection agency: approved by a person.
    Handoff,
}

impl ChannelKind {
    /// The YAML spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Task => "task",
            ChannelKind::Letter => "letter",
            ChannelKind::Handoff => "handoff",
        }
    }

    /// True when a person must act before (or instead of) sending.
    pub fn needs_person(&self) -> bool {
        !matches!(self, ChannelKind::Email)
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
    /// Show late-payment interest and the recovery indemnity in the message.
    #[serde(default)]
    pub show_late_fees: bool,
    /// Who acts on a task step: `owner` (the account owner at the source) or an e-mail.
    #[serde(default)]
    pub assignee: Option<String>,
    /// A registered letter (lettre recommandée avec accusé de réception).
    #[serde(default)]
    pub registered: bool,
}

/// Conditions on a customer's payment history; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentWhen {
    /// At least this many invoices paid.
    #[serde(default)]
    pub paid_invoices_at_least: Option<u32>,
    /// Paid on average at most this many days late.
    #[serde(default)]
    pub average_days_late_at_most: Option<Decimal>,
    /// Paid on average at least this many days late.
    #[serde(default)]
    pub average_days_late_at_least: Option<Decimal>,
    /// Owes at least this much overdue, all invoices together.
    #[serde(default)]
    pub overdue_total_at_least: Option<Decimal>,
    /// Has at least this many open invoices.
    #[serde(default)]
    pub open_invoices_at_least: Option<u32>,
}

/// A group of customers treated their own way; the first that matches applies.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Stable id, recorded on each reminder.
    pub id: String,
    /// Who belongs.
    #[serde(default)]
    pub when: SegmentWhen,
    /// Template variant (`firm.gentle.fr.txt`, falling back to `firm.fr.txt`).
    #[serde(default)]
    pub tone: Option<String>,
    /// Steps not used for these customers.
    #[serde(default)]
    pub skip_steps: Vec<String>,
    /// Every step this many days earlier (negative) or later.
    #[serde(default)]
    pub offset_shift_days: i32,
}

/// What an alert watches.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertWhen {
    /// One customer owes at least this much overdue.
    #[serde(default)]
    pub customer_overdue_total_at_least: Option<Decimal>,
    /// The whole ledger has at least this much overdue.
    #[serde(default)]
    pub total_overdue_at_least: Option<Decimal>,
}

/// An e-mail to the finance team when a threshold is crossed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// Stable id.
    pub id: String,
    /// The threshold.
    pub when: AlertWhen,
    /// Who is told.
    pub notify: String,
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
    /// One message per customer listing all their open invoices.
    pub group_by_customer: bool,
    /// Customer segments, first match wins.
    pub segments: Vec<Segment>,
    /// Thresholds that e-mail the finance team.
    pub alerts: Vec<Alert>,
}

/// Id of the thank-you step in the outbox.
pub const THANK_YOU_STEP: &str = "thank_you";
