//! The reminder policy: a pure function of (invoice, customer and its history, reminders
//! already planned or sent, policy, today) → the one action due today, or why there is none.
//! No I/O and no clock: `today` is a parameter, so any date can be planned and tested.

pub mod config;

use std::fmt;

use chrono::NaiveDate;
use relance_core::InvoiceStatus;
use rust_decimal::Decimal;
use serde::Serialize;

use config::{ChannelKind, Policy, Segment, Step, THANK_YOU_STEP};

use crate::calendar::Calendar;

/// Where a reminder row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderState {
    /// Planned, waiting to be sent.
    Pending,
    /// Claimed by a worker.
    Sending,
    /// Delivered.
    Sent,
    /// Gave up (bad address, too many attempts).
    Failed,
    /// Not sent on purpose (missed window, limit).
    Skipped,
    /// Invoice closed before sending.
    Cancelled,
    /// Waiting for a person (`relance tasks`): approve, do, or skip.
    Review,
    /// Goes out inside another reminder to the same customer (one message per customer).
    Grouped,
}

impl ReminderState {
    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ReminderState::Pending,
            "sending" => ReminderState::Sending,
            "sent" => ReminderState::Sent,
            "failed" => ReminderState::Failed,
            "skipped" => ReminderState::Skipped,
            "cancelled" => ReminderState::Cancelled,
            "review" => ReminderState::Review,
            "grouped" => ReminderState::Grouped,
            _ => return None,
        })
    }

    /// The stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReminderState::Pending => "pending",
            ReminderState::Sending => "sending",
            ReminderState::Sent => "sent",
            ReminderState::Failed => "failed",
            ReminderState::Skipped => "skipped",
            ReminderState::Cancelled => "cancelled",
            ReminderState::Review => "review",
            ReminderState::Grouped => "grouped",
        }
    }

    /// Sent or on its way: counts against the automatic limit.
    pub fn counts(&self) -> bool {
        matches!(
            self,
            ReminderState::Pending
                | ReminderState::Sending
                | ReminderState::Sent
                | ReminderState::Grouped
        )
    }
}

/// What the policy needs to know about an invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceFacts {
    /// Lifecycle.
    pub status: InvoiceStatus,
    /// Chased by reminders at all.
    pub chase: bool,
    /// Due date.
    pub due_on: Option<NaiveDate>,
    /// Amount still owed (in the invoice's currency).
    pub balance: Decimal,
    /// Paused until this date (a promise to pay, a dispute).
    pub paused_until: Option<NaiveDate>,
    /// Why (`dispute: …`, `promise to pay by …`).
    pub pause_reason: Option<String>,
    /// A payment plan in force, if any.
    pub plan: Option<PlanFacts>,
}

/// A payment plan: instalments in order, covering the balance when it was agreed.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFacts {
    /// `(due date, amount)` of each instalment.
    pub instalments: Vec<(NaiveDate, Decimal)>,
}

/// Days after an instalment's date before it counts as missed.
pub const INSTALMENT_GRACE_DAYS: i64 = 5;

/// The step id of instalment `n` (1-based).
pub fn instalment_step(n: usize) -> String {
    format!("instalment-{n}")
}

/// The customer's payment history, from the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CustomerHistory {
    /// Invoices paid.
    pub paid_invoices: u32,
    /// Average days late over paid invoices (0 when paid on time or early).
    pub average_days_late: Decimal,
    /// Invoices still open.
    pub open_invoices: u32,
    /// Overdue balance, all invoices together (the largest currency's total when several).
    pub overdue_total: Decimal,
}

/// The first segment `history` belongs to.
pub fn segment_of<'a>(policy: &'a Policy, history: &CustomerHistory) -> Option<&'a Segment> {
    policy.segments.iter().find(|s| {
        let w = &s.when;
        w.paid_invoices_at_least
            .is_none_or(|n| history.paid_invoices >= n)
            && w.average_days_late_at_most
                .is_none_or(|d| history.paid_invoices > 0 && history.average_days_late <= d)
            && w.average_days_late_at_least
                .is_none_or(|d| history.paid_invoices > 0 && history.average_days_late >= d)
            && w.overdue_total_at_least
                .is_none_or(|t| history.overdue_total >= t)
            && w.open_invoices_at_least
                .is_none_or(|n| history.open_invoices >= n)
    })
}

/// What the policy needs to know about a customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerFacts {
    /// Never chased.
    pub excluded: bool,
    /// Paused until this date.
    pub paused_until: Option<NaiveDate>,
    /// Why.
    pub pause_reason: Option<String>,
    /// Payment history.
    pub history: CustomerHistory,
}

/// A reminder already in the outbox for this invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderFact {
    /// Step id (`thank_you` for the thank-you).
    pub step: String,
    /// Where it stands.
    pub state: ReminderState,
    /// Sent without a person.
    pub automatic: bool,
    /// Day it was planned for.
    pub planned_on: NaiveDate,
}

/// Everything the policy reads for one invoice.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The invoice.
    pub invoice: &'a InvoiceFacts,
    /// Its customer.
    pub customer: &'a CustomerFacts,
    /// Its reminders so far.
    pub reminders: &'a [ReminderFact],
}

/// A step the policy wants sent today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    /// Step id.
    pub step: String,
    /// `reminder` or `thank_you`.
    pub kind: &'static str,
    /// Channel.
    pub channel: ChannelKind,
    /// Template name.
    pub template: String,
    /// Sent without a person.
    pub automatic: bool,
    /// Days from the due date (None for the thank-you).
    pub offset_days: Option<i32>,
    /// Why a person must act first (the automatic limit, a call to make, a letter to
    /// approve): the step goes to the review queue (`relance tasks`) instead of out.
    pub review: Option<String>,
    /// The customer's segment, if one matched.
    pub segment: Option<String>,
    /// Template variant (the segment's tone).
    pub variant: Option<String>,
}

/// Why nothing goes out today.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Hold {
    /// Paid, and no thank-you due.
    Paid,
    /// Cancelled at the source.
    Void,
    /// Written off.
    Uncollectible,
    /// Not issued yet.
    Draft,
    /// Collected by the provider itself (automatic charge).
    NotChased,
    /// No due date to count from.
    NoDueDate,
    /// The customer is excluded from reminders.
    Excluded,
    /// Paused by a person.
    Paused {
        /// Until when (9999-12-31 for a dispute: until resumed).
        until: NaiveDate,
        /// Why.
        reason: Option<String>,
    },
    /// Owes less than `policy.min_balance`.
    BelowMinimum {
        /// Owed.
        balance: Decimal,
        /// Threshold.
        minimum: Decimal,
    },
    /// No step fits yet.
    NotYetDue {
        /// Next step.
        next_step: String,
        /// Its day.
        on: NaiveDate,
    },
    /// Today's step is already in the outbox.
    #[serde(rename = "already_sent")]
    AlreadyPlanned {
        /// Step.
        step: String,
        /// Its state.
        state: ReminderState,
        /// Its day.
        planned_on: NaiveDate,
        /// Next step, if any.
        next_step: Option<String>,
        /// Its day.
        next_on: Option<NaiveDate>,
    },
    /// `max_automatic_reminders` reached: later steps need a person.
    #[serde(rename = "step_limit_reached")]
    LimitReached {
        /// Step that would be due.
        step: String,
        /// Automatic reminders already sent or planned.
        sent: u32,
        /// The limit.
        max: u32,
    },
    /// Thank-you already sent.
    #[serde(rename = "thanked")]
    ThankedAlready,
    /// Not a business day (weekend, public holiday): reminders wait.
    NotBusinessDay {
        /// Next business day.
        next: NaiveDate,
    },
    /// A payment plan holds: the next reminder is for the next instalment.
    PaymentPlan {
        /// Next instalment (1-based), if any remains.
        next: Option<usize>,
        /// Its reminder's day.
        on: Option<NaiveDate>,
    },
}

impl Hold {
    /// A short machine code (`paid`, `not_yet_due`...).
    pub fn code(&self) -> &'static str {
        match self {
            Hold::Paid => "paid",
            Hold::Void => "void",
            Hold::Uncollectible => "uncollectible",
            Hold::Draft => "draft",
            Hold::NotChased => "not_chased",
            Hold::NoDueDate => "no_due_date",
            Hold::Excluded => "excluded",
            Hold::Paused { .. } => "paused",
            Hold::BelowMinimum { .. } => "below_minimum",
            Hold::NotYetDue { .. } => "not_yet_due",
            Hold::AlreadyPlanned { .. } => "already_sent",
            Hold::LimitReached { .. } => "step_limit_reached",
            Hold::ThankedAlready => "thanked",
            Hold::NotBusinessDay { .. } => "not_business_day",
            Hold::PaymentPlan { .. } => "payment_plan",
        }
    }
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hold::Paid => write!(f, "paid"),
            Hold::Void => write!(f, "void"),
            Hold::Uncollectible => write!(f, "uncollectible (written off)"),
            Hold::Draft => write!(f, "draft (not issued)"),
            Hold::NotChased => write!(f, "collected automatically by the provider: not chased"),
            Hold::NoDueDate => write!(f, "no due date"),
            Hold::Excluded => write!(f, "customer excluded from reminders"),
            Hold::Paused {
                reason: Some(r), ..
            } => write!(f, "paused: {r}"),
            Hold::Paused {
                until,
                reason: None,
            } => write!(f, "paused until {until}"),
            Hold::BelowMinimum { balance, minimum } => {
                write!(f, "balance {balance} below the minimum {minimum}")
            }
            Hold::NotYetDue { next_step, on } => write!(f, "next step {next_step} on {on}"),
            Hold::AlreadyPlanned {
                step,
                state,
                planned_on,
                next_step,
                next_on,
            } => {
                let verb = match state {
                    ReminderState::Sent => "already sent",
                    ReminderState::Pending | ReminderState::Sending => "already planned",
                    ReminderState::Failed => "failed",
                    ReminderState::Skipped => "skipped",
                    ReminderState::Cancelled => "cancelled",
                    ReminderState::Review => "waiting for a person",
                    ReminderState::Grouped => "already planned with another invoice",
                };
                write!(f, "{verb}: {step} ({planned_on})")?;
                match (next_step, next_on) {
                    (Some(s), Some(d)) => write!(f, "; next {s} on {d}"),
                    _ => write!(f, "; no further step"),
                }
            }
            Hold::LimitReached { step, sent, max } => write!(
                f,
                "step limit reached: {sent} automatic reminders of {max}; {step} needs a person"
            ),
            Hold::ThankedAlready => write!(f, "paid; thank-you already sent"),
            Hold::NotBusinessDay { next } => {
                write!(f, "not a business day; next one {next}")
            }
            Hold::PaymentPlan {
                next: Some(n),
                on: Some(d),
            } => write!(f, "payment plan: instalment {n} reminded on {d}"),
            Hold::PaymentPlan { .. } => write!(f, "payment plan: every instalment reminded"),
        }
    }
}

/// The policy's answer for one invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What to send today, or why nothing.
    pub action: Result<Planned, Hold>,
    /// Earlier steps never sent whose day has passed: recorded as skipped, never sent late.
    pub missed: Vec<String>,
    /// Things a person should know (a promise to pay broken).
    pub notes: Vec<String>,
}

impl Decision {
    fn hold(h: Hold) -> Self {
        Decision {
            action: Err(h),
            missed: Vec::new(),
            notes: Vec::new(),
        }
    }
}

fn planned(step: &Step, kind: &'static str, review: Option<String>) -> Planned {
    Planned {
        step: step.id.clone(),
        kind,
        channel: step.channel,
        template: step.template.clone(),
        automatic: review.is_none(),
        offset_days: Some(step.offset_days),
        review,
        segment: None,
        variant: None,
    }
}

/// Why a step needs a person, if it does.
fn review_reason(step: &Step) -> Option<String> {
    match step.channel {
        ChannelKind::Email => None,
        ChannelKind::Task => Some(format!(
            "{}: a call to make{}",
            step.id,
            step.assignee
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default()
        )),
        ChannelKind::Letter if step.registered => {
            Some(format!("{}: a registered letter to approve", step.id))
        }
        ChannelKind::Letter => Some(format!("{}: a letter to approve", step.id)),
        ChannelKind::Handoff => Some(format!("{}: the hand-off to approve", step.id)),
    }
}

/// The day a step falls on.
pub fn day_of(due: NaiveDate, offset_days: i32) -> NaiveDate {
    due + chrono::TimeDelta::days(i64::from(offset_days))
}

/// Decides what `input`'s invoice gets `today` under `policy`, every day being a business
/// day (see [`decide_on`]).
pub fn decide(input: PlanInput<'_>, policy: &Policy, today: NaiveDate) -> Decision {
    decide_on(input, policy, today, &Calendar::every_day())
}

/// Decides what `input`'s invoice gets `today` under `policy`, steps falling on the
/// calendar's business days: a step whose day is a weekend or a public holiday goes out the
/// next business day, and nothing goes out on other days. The customer's segment (first
/// match) shifts the steps, leaves some out, and picks the template variant.
pub fn decide_on(
    input: PlanInput<'_>,
    policy: &Policy,
    today: NaiveDate,
    calendar: &Calendar,
) -> Decision {
    let segment = segment_of(policy, &input.customer.history);
    let mut decision = decide_inner(input, policy, today, calendar, segment);
    if let (Ok(planned), Some(seg)) = (&mut decision.action, segment)
        && planned.kind == "reminder"
    {
        planned.segment = Some(seg.id.clone());
        planned.variant = seg.tone.clone();
    }
    decision
}

fn decide_inner(
    input: PlanInput<'_>,
    policy: &Policy,
    today: NaiveDate,
    calendar: &Calendar,
    segment: Option<&Segment>,
) -> Decision {
    let inv = input.invoice;
    let find = |step: &str| input.reminders.iter().find(|r| r.step == step);
    match inv.status {
        InvoiceStatus::Paid => {
            let reminded = input
                .reminders
                .iter()
                .any(|r| r.step != THANK_YOU_STEP && r.state == ReminderState::Sent);
            return match (&policy.thank_you, reminded, find(THANK_YOU_STEP)) {
                (Some(_), true, Some(_)) => Decision::hold(Hold::ThankedAlready),
                (Some(t), true, None) => Decision {
                    action: Ok(Planned {
                        step: THANK_YOU_STEP.to_string(),
                        kind: "thank_you",
                        channel: t.channel,
                        template: t.template.clone(),
                        automatic: true,
                        offset_days: None,
                        review: None,
                        segment: None,
                        variant: None,
                    }),
                    missed: Vec::new(),
                    notes: Vec::new(),
                },
                _ => Decision::hold(Hold::Paid),
            };
        }
        InvoiceStatus::Void => return Decision::hold(Hold::Void),
        InvoiceStatus::Uncollectible => return Decision::hold(Hold::Uncollectible),
        InvoiceStatus::Draft => return Decision::hold(Hold::Draft),
        InvoiceStatus::Open => {}
    }
    if !inv.chase {
        return Decision::hold(Hold::NotChased);
    }
    let Some(due) = inv.due_on else {
        return Decision::hold(Hold::NoDueDate);
    };
    if input.customer.excluded {
        return Decision::hold(Hold::Excluded);
    }
    let paused = [
        (inv.paused_until, &inv.pause_reason),
        (input.customer.paused_until, &input.customer.pause_reason),
    ]
    .into_iter()
    .filter_map(|(until, reason)| until.map(|u| (u, reason)))
    .filter(|(until, _)| *until >= today)
    .max_by_key(|(until, _)| *until);
    if let Some((until, reason)) = paused {
        return Decision::hold(Hold::Paused {
            until,
            reason: reason.clone(),
        });
    }
    if inv.balance <= Decimal::ZERO || inv.balance < policy.min_balance {
        return Decision::hold(Hold::BelowMinimum {
            balance: inv.balance,
            minimum: policy.min_balance,
        });
    }

    if !calendar.is_business_day(today) {
        return Decision::hold(Hold::NotBusinessDay {
            next: calendar.next_business_day(today),
        });
    }
    let mut plan_notes = Vec::new();
    if let Some(plan) = &inv.plan {
        let remaining_after =
            |k: usize| -> Decimal { plan.instalments[k + 1..].iter().map(|(_, a)| *a).sum() };
        let tolerance = Decimal::new(1, 2);
        let missed = plan.instalments.iter().enumerate().find(|(k, (d, _))| {
            *d + chrono::TimeDelta::days(INSTALMENT_GRACE_DAYS) < today
                && inv.balance > remaining_after(*k) + tolerance
        });
        match missed {
            Some((k, (d, amount))) => plan_notes.push(format!(
                "payment plan broken: instalment {} of {amount} due {d} not paid; the ladder resumes",
                k + 1
            )),
            None => {
                for (k, (d, _)) in plan.instalments.iter().enumerate() {
                    if inv.balance <= remaining_after(k) + tolerance {
                        continue;
                    }
                    let id = instalment_step(k + 1);
                    let day = calendar.next_business_day(*d);
                    if day > today {
                        return Decision::hold(Hold::PaymentPlan {
                            next: Some(k + 1),
                            on: Some(day),
                        });
                    }
                    if find(&id).is_none() {
                        return Decision {
                            action: Ok(Planned {
                                step: id,
                                kind: "reminder",
                                channel: ChannelKind::Email,
                                template: "instalment".into(),
                                automatic: true,
                                offset_days: None,
                                review: None,
                                segment: None,
                                variant: None,
                            }),
                            missed: Vec::new(),
                            notes: Vec::new(),
                        };
                    }
                }
                return Decision::hold(Hold::PaymentPlan { next: None, on: None });
            }
        }
    }
    let shift = segment.map_or(0, |s| s.offset_shift_days);
    let skipped = |s: &Step| segment.is_some_and(|seg| seg.skip_steps.contains(&s.id));
    // The day a step goes out: its offset (shifted for the segment), moved to a business day.
    let on = |s: &Step| calendar.next_business_day(day_of(due, s.offset_days + shift));
    // A step fits from its day until the next step's day; a notice before the due date
    // (negative offset) stops fitting on the due date itself.
    let fits = |s: &Step| !skipped(s) && on(s) <= today && (s.offset_days >= 0 || today < due);
    let Some(current) = policy.steps.iter().rposition(fits) else {
        return match policy.steps.iter().find(|s| !skipped(s) && on(s) > today) {
            Some(next) => Decision::hold(Hold::NotYetDue {
                next_step: next.id.clone(),
                on: on(next),
            }),
            None => Decision::hold(Hold::NotYetDue {
                next_step: "none".into(),
                on: due,
            }),
        };
    };
    // Steps sharing the day of the current one: the first not yet in the outbox.
    let offset = policy.steps[current].offset_days;
    let same_day: Vec<usize> = (0..=current)
        .filter(|&i| policy.steps[i].offset_days == offset && !skipped(&policy.steps[i]))
        .collect();
    let next_after = policy.steps.iter().find(|s| !skipped(s) && on(s) > today);
    let Some(&index) = same_day
        .iter()
        .find(|&&i| find(&policy.steps[i].id).is_none())
    else {
        let step = &policy.steps[current];
        let row = find(&step.id).expect("every same-day step has a row here");
        return Decision::hold(Hold::AlreadyPlanned {
            step: step.id.clone(),
            state: row.state,
            planned_on: row.planned_on,
            next_step: next_after.map(|s| s.id.clone()),
            next_on: next_after.map(on),
        });
    };
    let step = &policy.steps[index];
    let mut review = review_reason(step);
    if step.offset_days > 0 && review.is_none() {
        let sent = input
            .reminders
            .iter()
            .filter(|r| r.automatic && r.state.counts())
            .filter(|r| {
                policy
                    .steps
                    .iter()
                    .any(|s| s.id == r.step && s.offset_days > 0)
            })
            .count() as u32;
        if sent >= policy.max_automatic_reminders {
            // Past the automatic limit, every further step waits for a person.
            review = Some(
                Hold::LimitReached {
                    step: step.id.clone(),
                    sent,
                    max: policy.max_automatic_reminders,
                }
                .to_string(),
            );
        }
    }
    let missed = policy.steps[..index]
        .iter()
        .filter(|s| !skipped(s) && find(&s.id).is_none())
        .map(|s| s.id.clone())
        .collect();
    // A promise to pay that ran out with the invoice still open: the ladder resumes where
    // it was, and a person is told.
    let mut notes = match (&inv.pause_reason, inv.paused_until) {
        (Some(r), Some(until)) if r.starts_with("promise") && until < today => {
            vec![format!("{r}: broken")]
        }
        _ => Vec::new(),
    };
    notes.extend(plan_notes);
    Decision {
        action: Ok(planned(step, "reminder", review)),
        missed,
        notes,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod codes {
    use super::*;

    #[test]
    fn json_codes_match_the_codes() {
        let d = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        let holds = [
            Hold::Paid,
            Hold::Void,
            Hold::Uncollectible,
            Hold::Draft,
            Hold::NotChased,
            Hold::NoDueDate,
            Hold::Excluded,
            Hold::Paused {
                until: d,
                reason: None,
            },
            Hold::BelowMinimum {
                balance: Decimal::ONE,
                minimum: Decimal::TEN,
            },
            Hold::NotYetDue {
                next_step: "x".into(),
                on: d,
            },
            Hold::AlreadyPlanned {
                step: "x".into(),
                state: ReminderState::Sent,
                planned_on: d,
                next_step: None,
                next_on: None,
            },
            Hold::LimitReached {
                step: "x".into(),
                sent: 2,
                max: 2,
            },
            Hold::ThankedAlready,
        ];
        for h in holds {
            let json = serde_json::to_value(&h).unwrap();
            assert_eq!(json["code"], h.code(), "{h:?}");
        }
    }
}
