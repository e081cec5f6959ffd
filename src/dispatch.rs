//! Dispatch: claim due reminders with a lease, re-read the invoice under the claim (and
//! refresh it from its provider), render, send, and record the outcome with the write-back in
//! the same transaction. Transient failures are retried with backoff; permanent ones are
//! recorded and never retried.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use relance_core::{Activity, Change, Clock, InboundEvent, InvoiceStatus, ObjectRef, WriteBack};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::channels::{Channel, ChannelError, OutgoingMessage};
use crate::config::{CompanyConfig, DispatchConfig};
use crate::connectors::Connectors;
use crate::failpoint;
use crate::planner::day_in;
use crate::policy::config::{ChannelKind, Policy, THANK_YOU_STEP};
use crate::store::{
    ClaimedReminder, CustomerRow, InvoiceRow, ReminderStatus, Store, StoreError, WriteBackRequest,
};
use crate::templates::{InvoiceView, MessageContext, Party, Templates};

/// Counts of one dispatch round.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchStats {
    /// Delivered.
    pub sent: u32,
    /// Given up (permanent error or too many attempts).
    pub failed: u32,
    /// Put back for a later attempt.
    pub retried: u32,
    /// Not sent: the invoice changed (paid, paused...).
    pub cancelled: u32,
}

/// Everything the dispatcher uses.
pub struct Dispatcher {
    /// The store.
    pub store: Store,
    /// Channels by kind.
    pub channels: HashMap<ChannelKind, Arc<dyn Channel>>,
    /// Templates.
    pub templates: Arc<Templates>,
    /// Connectors (fresh state before sending, write-back capability).
    pub connectors: Connectors,
    /// The policy (minimum balance).
    pub policy: Policy,
    /// The business.
    pub company: CompanyConfig,
    /// Outbox settings.
    pub settings: DispatchConfig,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// This worker's lease owner id.
    pub owner: String,
    /// Late-payment settings (figures shown on `show_late_fees` steps).
    pub late_payment: crate::config::LatePaymentConfig,
    /// The rates table.
    pub rates: Arc<crate::law::RatesTable>,
}

/// Delay before attempt `attempts + 1` of a transiently failing reminder.
pub fn backoff(attempts: i32) -> TimeDelta {
    const STEPS: [i64; 8] = [60, 300, 900, 3600, 7200, 14400, 28800, 43200];
    let i = usize::try_from(attempts.max(1) - 1)
        .unwrap_or(0)
        .min(STEPS.len() - 1);
    TimeDelta::seconds(STEPS[i])
}

enum Outcome {
    Sent,
    Failed,
    Retried,
    Cancelled,
}

impl Dispatcher {
    /// Sends what is due now, batch after batch, until nothing is due or `cancel` fires (then
    /// claimed rows not yet sent are given back).
    pub async fn run_once(&self, cancel: &CancellationToken) -> Result<DispatchStats, StoreError> {
        let mut stats = DispatchStats::default();
        loop {
            let now = self.clock.now();
            let lease_until =
                now + TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::minutes(5));
            let batch = self
                .store
                .claim_reminders(
                    &self.owner,
                    now,
                    lease_until,
                    i64::from(self.settings.batch),
                )
                .await?;
            if batch.is_empty() {
                return Ok(stats);
            }
            let mut rows = batch.into_iter();
            for row in rows.by_ref() {
                if cancel.is_cancelled() {
                    self.store
                        .unclaim_reminder(row.id, &self.owner, self.clock.now())
                        .await?;
                    continue;
                }
                match self.process(&row).await? {
                    Outcome::Sent => stats.sent += 1,
                    Outcome::Failed => stats.failed += 1,
                    Outcome::Retried => stats.retried += 1,
                    Outcome::Cancelled => stats.cancelled += 1,
                }
            }
            if cancel.is_cancelled() {
                return Ok(stats);
            }
        }
    }

    async fn release(
        &self,
        row: &ClaimedReminder,
        status: ReminderStatus,
        reason: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.store
            .release_reminder(
                row.id,
                &self.owner,
                status,
                reason,
                retry_at,
                self.clock.now(),
            )
            .await?;
        if status == ReminderStatus::Failed {
            // Given up: what was to ride with it is tried on its own.
            self.store.release_group(&row.key, self.clock.now()).await?;
        }
        Ok(())
    }

    async fn cancel(&self, row: &ClaimedReminder, reason: &str) -> Result<Outcome, StoreError> {
        tracing::info!(reminder = %row.key, step = %row.step, reason, "reminder cancelled");
        self.release(row, ReminderStatus::Cancelled, reason, None)
            .await?;
        // The reminders that were to ride with it go on their own.
        self.store.release_group(&row.key, self.clock.now()).await?;
        Ok(Outcome::Cancelled)
    }

    /// Re-reads the invoice from its provider, when it can, and stores the fresh version: a
    /// payment seen there stops the reminder even if its webhook has not arrived.
    async fn refresh(&self, invoice: &InvoiceRow) -> Result<(), StoreError> {
        let Some(connector) = self.connectors.get(&invoice.connector_id) else {
            return Ok(());
        };
        if !self.settings.refresh_before_send || !connector.capabilities().fetch {
            return Ok(());
        }
        match connector
            .fetch(&[ObjectRef::invoice(invoice.external_id.clone())])
            .await
        {
            Ok(changes) => {
                let fresh: Vec<Change> = changes;
                let event = InboundEvent {
                    kind: "refresh".into(),
                    changes: fresh,
                    ..InboundEvent::default()
                };
                self.store
                    .apply(
                        &invoice.connector_id,
                        "refresh",
                        &[event],
                        None,
                        0,
                        self.clock.now(),
                    )
                    .await?;
            }
            Err(e) => tracing::warn!(
                connector = %invoice.connector_id, invoice = %invoice.number, error = %e,
                "could not refresh the invoice before reminding; using the stored state"
            ),
        }
        Ok(())
    }

    /// Why this reminder must not go out any more, if so.
    fn stale(
        &self,
        row: &ClaimedReminder,
        invoice: &InvoiceRow,
        customer: &CustomerRow,
    ) -> Option<String> {
        let status = invoice.status();
        if row.step == THANK_YOU_STEP {
            return (status != InvoiceStatus::Paid)
                .then(|| format!("invoice is {}", status.as_str()));
        }
        let today = day_in(self.clock.now(), self.company.timezone);
        if status != InvoiceStatus::Open {
            return Some(format!("invoice {} before sending", status.as_str()));
        }
        if !invoice.chase {
            return Some("invoice is collected automatically".into());
        }
        if customer.excluded {
            return Some("customer excluded".into());
        }
        if let Some(until) = [invoice.paused_until, customer.paused_until]
            .into_iter()
            .flatten()
            .filter(|u| *u >= today)
            .max()
        {
            return Some(format!("paused until {until}"));
        }
        let balance = invoice.balance();
        if balance.is_settled() || balance.amount < self.policy.min_balance {
            return Some(format!("balance {balance} below the minimum"));
        }
        None
    }

    fn message(
        &self,
        row: &ClaimedReminder,
        invoice: &InvoiceRow,
        customer: &CustomerRow,
        listed: &[InvoiceRow],
        instalment: Option<(usize, chrono::NaiveDate, relance_core::Money, usize)>,
        facts: &crate::store::LateFeeFacts,
    ) -> Result<OutgoingMessage, String> {
        let to: Vec<String> = match &invoice.email {
            Some(e) if !e.trim().is_empty() => vec![e.trim().to_string()],
            _ => customer.email_list(),
        };
        if to.is_empty() {
            return Err(format!("customer {} has no e-mail address", customer.name));
        }
        let wanted: Vec<&str> = customer
            .locale
            .as_deref()
            .into_iter()
            .chain(std::iter::once(self.company.locale.as_str()))
            .collect();
        // The segment's tone first (`firm.gentle`), the plain template otherwise.
        let template = row
            .variant
            .as_ref()
            .map(|v| format!("{}.{v}", row.template))
            .filter(|t| self.templates.resolve_locale(t, &wanted).is_some())
            .unwrap_or_else(|| row.template.clone());
        let locale = self
            .templates
            .resolve_locale(&template, &wanted)
            .ok_or_else(|| format!("template {template} has no subject/txt files"))?;
        let now = self.clock.now();
        let today = day_in(now, self.company.timezone);
        let view = InvoiceView::new(
            &invoice.number,
            &invoice.total(),
            &invoice.balance(),
            invoice.issued_on,
            invoice.due_on,
            invoice.payment_url.as_deref(),
            &locale,
            today,
        );
        let context = MessageContext {
            company: Party {
                name: self.company.name.clone(),
                email: self.company.email.clone(),
            },
            customer: Party {
                name: customer.name.clone(),
                email: to.join(", "),
            },
            invoices: if listed.len() > 1 {
                listed
                    .iter()
                    .map(|i| {
                        InvoiceView::new(
                            &i.number,
                            &i.total(),
                            &i.balance(),
                            i.issued_on,
                            i.due_on,
                            i.payment_url.as_deref(),
                            &locale,
                            today,
                        )
                    })
                    .collect()
            } else {
                vec![view.clone()]
            },
            invoice: view,
            step: row.step.clone(),
            today: crate::templates::format::date(today, &locale),
            locale: locale.clone(),
            late_fees: self.late_fees(row, invoice, customer, facts, today, &locale),
            b2c: self.late_payment.kind_of(
                &customer.name,
                &customer.external_id,
                customer.kind.as_deref(),
            ) == crate::config::CustomerKindConfig::B2c,
            instalment: instalment.map(|(n, due, amount, of)| crate::templates::InstalmentView {
                number: n,
                of,
                amount: crate::templates::format::money(&amount, &locale),
                due_on: crate::templates::format::date(due, &locale),
            }),
        };
        let rendered = self
            .templates
            .render(&template, &locale, &context)
            .map_err(|e| e.to_string())?;
        Ok(OutgoingMessage {
            to,
            to_name: Some(customer.name.clone()),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id: row.message_id.clone(),
            reference: row.key.clone(),
            attachments: Vec::new(),
            sent_at: now,
        })
    }

    /// The late-payment figures of a `show_late_fees` step: interest on the open balance from
    /// the day after the due date to today, and the indemnity (B2B). When they cannot be
    /// computed (a half-year missing from the rates table), the message goes without them and
    /// the error is logged: never a made-up figure.
    fn late_fees(
        &self,
        row: &ClaimedReminder,
        invoice: &InvoiceRow,
        customer: &CustomerRow,
        facts: &crate::store::LateFeeFacts,
        today: chrono::NaiveDate,
        locale: &str,
    ) -> Option<crate::templates::LateFeesView> {
        let step = self.policy.steps.iter().find(|s| s.id == row.step)?;
        if !step.show_late_fees {
            return None;
        }
        let balance = invoice.balance();
        match self.late_fee_result(invoice, Some(customer), facts, today)? {
            // A consumer owes nothing of the kind before a formal notice: no section at all.
            Ok(r) if r.interest.is_zero() && r.indemnity.is_zero() => None,
            Ok(r) => Some(crate::templates::LateFeesView::new(
                &r,
                balance.currency,
                locale,
            )),
            Err(e) => {
                tracing::error!(reminder = %row.key, error = %e, "late-payment figures left out of the message");
                None
            }
        }
    }

    /// Interest and indemnity on an invoice up to `today`, under the configured late-payment
    /// settings (`None` without a due date). The payments the store knows are applied on their
    /// days (interest runs on the larger balance before each), the open balance stays what
    /// the provider says: the principal is the open balance plus those payments, so anything
    /// else that lowered the invoice (a credit note, a discount, a payment the provider did not
    /// date) counts as before the due date and never earns interest. A consumer's interest
    /// runs from the first formal notice sent.
    pub fn late_fee_result(
        &self,
        invoice: &InvoiceRow,
        customer: Option<&CustomerRow>,
        facts: &crate::store::LateFeeFacts,
        today: chrono::NaiveDate,
    ) -> Option<Result<crate::law::LateFeeResult, crate::law::LawError>> {
        let kind = match customer {
            Some(c) => self
                .late_payment
                .kind_of(&c.name, &c.external_id, c.kind.as_deref()),
            None => self.late_payment.customer_kind,
        };
        let input = late_fee_input(
            &self.late_payment,
            self.company.timezone,
            invoice.balance(),
            invoice.due_on?,
            kind,
            facts,
            today,
        );
        Some(crate::law::compute(&self.rates, &input))
    }

    /// [`Dispatcher::late_fee_result`] with the payments and formal notice the store holds.
    pub async fn late_fees_of(
        &self,
        invoice: &InvoiceRow,
        customer: Option<&CustomerRow>,
        today: chrono::NaiveDate,
    ) -> Result<Option<Result<crate::law::LateFeeResult, crate::law::LawError>>, StoreError> {
        let facts = self
            .store
            .late_fee_facts(invoice.id, &invoice.currency)
            .await?;
        Ok(self.late_fee_result(invoice, customer, &facts, today))
    }

    async fn process(&self, row: &ClaimedReminder) -> Result<Outcome, StoreError> {
        let span = tracing::info_span!("dispatch", reminder = %row.key, step = %row.step);
        self.process_in_span(row).instrument(span).await
    }

    async fn process_in_span(&self, row: &ClaimedReminder) -> Result<Outcome, StoreError> {
        let Some(invoice_id) = row.invoice_id else {
            return self.cancel(row, "reminder names no invoice").await;
        };
        if let Some(note) = &row.last_error
            && note == crate::store::INTERRUPTED
        {
            tracing::warn!(message_id = %row.message_id, "resending after an interrupted attempt");
        }
        let Some((invoice, _)) = self.store.invoice_with_customer(invoice_id).await? else {
            return self.cancel(row, "invoice no longer exists").await;
        };
        self.refresh(&invoice).await?;
        let Some((invoice, customer)) = self.store.invoice_with_customer(invoice_id).await? else {
            return self.cancel(row, "invoice no longer exists").await;
        };
        if let Some(reason) = self.stale(row, &invoice, &customer) {
            return self.cancel(row, &reason).await;
        }
        failpoint::hit("dispatch.after_claim");
        let kind = match row.channel.as_str() {
            "email" => ChannelKind::Email,
            other => {
                let reason = format!("unknown channel {other}");
                self.release(row, ReminderStatus::Failed, &reason, None)
                    .await?;
                return Ok(Outcome::Failed);
            }
        };
        let Some(channel) = self.channels.get(&kind) else {
            let reason = format!("channel {} is not configured", kind.as_str());
            self.release(row, ReminderStatus::Failed, &reason, None)
                .await?;
            return Ok(Outcome::Failed);
        };
        // One message per customer: every open invoice of the customer is listed.
        let mut listed = Vec::new();
        if self.policy.group_by_customer && row.step != THANK_YOU_STEP {
            for id in self.store.open_invoices_of(customer.id).await? {
                if let Some((i, _)) = self.store.invoice_with_customer(id).await? {
                    listed.push(i);
                }
            }
        }
        let instalment = match row
            .step
            .strip_prefix("instalment-")
            .and_then(|n| n.parse::<i32>().ok())
        {
            Some(n) => self
                .store
                .instalment(invoice.id, n)
                .await?
                .map(|(due, minor, of)| {
                    (
                        n as usize,
                        due,
                        relance_core::Money::from_minor(minor, invoice.balance().currency),
                        of,
                    )
                }),
            None => None,
        };
        // Payments and notice date matter only to a step that shows late-payment figures.
        let shows_fees = self
            .policy
            .steps
            .iter()
            .any(|s| s.id == row.step && s.show_late_fees);
        let facts = if shows_fees {
            self.store
                .late_fee_facts(invoice.id, &invoice.currency)
                .await?
        } else {
            crate::store::LateFeeFacts::default()
        };
        let message = match self.message(row, &invoice, &customer, &listed, instalment, &facts) {
            Ok(m) => m,
            Err(reason) => {
                tracing::error!(error = %reason, "cannot build the reminder");
                self.release(row, ReminderStatus::Failed, &reason, None)
                    .await?;
                return Ok(Outcome::Failed);
            }
        };
        match channel.send(&message).await {
            Ok(delivery) => {
                failpoint::hit("dispatch.after_send");
                let now = self.clock.now();
                let recipients = delivery.recipients.join(", ");
                let connector = self.connectors.get(&invoice.connector_id);
                let writes_back = connector.is_some_and(|c| c.capabilities().write_back);
                let amount = if row.step == THANK_YOU_STEP {
                    invoice.total()
                } else {
                    invoice.balance()
                };
                let payload = |count: u32| {
                    let ordinal = if row.step == THANK_YOU_STEP {
                        "thank-you".to_string()
                    } else {
                        format!("reminder {count}")
                    };
                    let request = WriteBack {
                        invoice_external_id: invoice.external_id.clone(),
                        idempotency_key: format!("{}-{}", invoice.connector_id, row.key),
                        activity: Activity {
                            step: row.step.clone(),
                            channel: row.channel.clone(),
                            sent_at: now,
                            reminders_sent: count,
                            amount: Some(amount),
                            summary: format!(
                                "{ordinal} ({}) sent by {} on {}",
                                row.step,
                                row.channel,
                                now.format("%Y-%m-%d")
                            ),
                        },
                    };
                    serde_json::to_string(&request).expect("write-back serialises")
                };
                let writeback = writes_back.then_some(WriteBackRequest {
                    connector_id: &invoice.connector_id,
                    invoice_id: invoice.id,
                    payload: &payload,
                });
                self.store
                    .mark_sent(
                        row.id,
                        &recipients,
                        now,
                        (&message.subject, &message.text),
                        writeback,
                    )
                    .await?;
                // The reminders that rode with it: sent too, each written back on its invoice.
                for (member, member_invoice, step) in self.store.group_members(&row.key).await? {
                    let Some((inv, _)) = self.store.invoice_with_customer(member_invoice).await?
                    else {
                        continue;
                    };
                    let member_payload = |count: u32| {
                        serde_json::to_string(&WriteBack {
                            invoice_external_id: inv.external_id.clone(),
                            idempotency_key: format!(
                                "{}-invoice:{}:{step}",
                                inv.connector_id, inv.id
                            ),
                            activity: Activity {
                                step: step.clone(),
                                channel: row.channel.clone(),
                                sent_at: now,
                                reminders_sent: count,
                                amount: Some(inv.balance()),
                                summary: format!(
                                    "reminder {count} ({step}) sent by {} on {}, with invoice {}",
                                    row.channel,
                                    now.format("%Y-%m-%d"),
                                    invoice.number
                                ),
                            },
                        })
                        .expect("write-back serialises")
                    };
                    let member_writes = self
                        .connectors
                        .get(&inv.connector_id)
                        .is_some_and(|c| c.capabilities().write_back);
                    let request = member_writes.then_some(WriteBackRequest {
                        connector_id: &inv.connector_id,
                        invoice_id: inv.id,
                        payload: &member_payload,
                    });
                    self.store
                        .mark_sent(
                            member,
                            &recipients,
                            now,
                            (&message.subject, &message.text),
                            request,
                        )
                        .await?;
                }
                tracing::info!(
                    invoice = %invoice.number, to = %recipients, message_id = %row.message_id,
                    detail = %delivery.detail, "reminder sent"
                );
                Ok(Outcome::Sent)
            }
            Err(ChannelError::Permanent(e)) => {
                tracing::error!(invoice = %invoice.number, error = %e, "reminder refused: not retried");
                self.release(row, ReminderStatus::Failed, &e, None).await?;
                Ok(Outcome::Failed)
            }
            Err(ChannelError::Transient(e)) => {
                if row.attempts >= self.settings.max_attempts as i32 {
                    let reason = format!("gave up after {} attempts: {e}", row.attempts);
                    tracing::error!(invoice = %invoice.number, error = %reason, "reminder failed");
                    self.release(row, ReminderStatus::Failed, &reason, None)
                        .await?;
                    return Ok(Outcome::Failed);
                }
                let retry_at = self.clock.now() + backoff(row.attempts);
                tracing::warn!(invoice = %invoice.number, error = %e, %retry_at, "reminder delayed");
                self.release(row, ReminderStatus::Pending, &e, Some(retry_at))
                    .await?;
                Ok(Outcome::Retried)
            }
        }
    }
}

/// The late-payment computation's input for an invoice with this open balance and due date:
/// the store's payments on their days (those after `today` left out), the principal being the
/// open balance plus those payments, the formal notice's day, the customer's kind and the
/// configured rate and indemnity. See [`Dispatcher::late_fee_result`].
pub fn late_fee_input(
    late_payment: &crate::config::LatePaymentConfig,
    tz: chrono_tz::Tz,
    balance: relance_core::Money,
    due: chrono::NaiveDate,
    kind: crate::config::CustomerKindConfig,
    facts: &crate::store::LateFeeFacts,
    today: chrono::NaiveDate,
) -> crate::law::LateFeeInput {
    let payments: Vec<crate::law::Payment> = facts
        .payments
        .iter()
        .map(|(at, minor)| crate::law::Payment {
            date: day_in(*at, tz),
            amount: relance_core::Money::from_minor(*minor, balance.currency).amount,
        })
        .filter(|p| p.date <= today && p.amount > rust_decimal::Decimal::ZERO)
        .collect();
    let paid: rust_decimal::Decimal = payments.iter().map(|p| p.amount).sum();
    let mut input = crate::law::LateFeeInput::new(balance.amount + paid, due, today);
    input.payments = payments;
    input.notice = facts
        .notice
        .map(|at| day_in(at, tz))
        .filter(|d| *d <= today);
    input.indemnity = late_payment.recovery_indemnity;
    input.kind = match kind {
        crate::config::CustomerKindConfig::B2b => crate::law::CustomerKind::B2b,
        crate::config::CustomerKindConfig::B2c => crate::law::CustomerKind::B2c,
    };
    if let crate::config::PenaltyRate::Contractual(r) = late_payment.penalty_rate {
        input.contractual_rate = Some(r);
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    mod late_fees {
        use super::*;
        use crate::config::{CustomerKindConfig, LatePaymentConfig};
        use crate::store::LateFeeFacts;
        use chrono::{NaiveDate, TimeZone};
        use relance_core::{Currency, Money};
        use rust_decimal::Decimal;

        fn dec(s: &str) -> Decimal {
            s.parse().unwrap()
        }

        fn d(y: i32, m: u32, day: u32) -> NaiveDate {
            NaiveDate::from_ymd_opt(y, m, day).unwrap()
        }

        fn at(y: i32, m: u32, day: u32, h: u32, min: u32) -> chrono::DateTime<Utc> {
            Utc.with_ymd_and_hms(y, m, day, h, min, 0).unwrap()
        }

        fn figures(
            balance_minor: i64,
            kind: CustomerKindConfig,
            facts: &LateFeeFacts,
            today: NaiveDate,
        ) -> (crate::law::LateFeeInput, crate::law::LateFeeResult) {
            let input = late_fee_input(
                &LatePaymentConfig::default(),
                chrono_tz::Europe::Paris,
                Money::from_minor(balance_minor, Currency::EUR),
                d(2025, 1, 15),
                kind,
                facts,
                today,
            );
            let result = crate::law::compute(crate::law::RatesTable::embedded(), &input).unwrap();
            (input, result)
        }

        /// 1248.00 invoiced, 500.00 paid on 14 Feb 2025, 748.00 still open on 16 March
        /// (2025-S1: ECB 3.15 + 10 = 13.15 %):
        ///   16 Jan–14 Feb, 30 days on 1248.00: 1248 × 13.15 % × 30/365 = 13.4886
        ///   15 Feb–16 Mar, 30 days on  748.00:  748 × 13.15 % × 30/365 =  8.0845
        ///   interest 21.5731 → 21.57; + 40.00 indemnity + 748.00 = 809.57.
        /// Without the payment's date it would be 748 × 13.15 % × 60/365 = 16.17.
        #[test]
        fn a_partial_payment_is_applied_on_its_day() {
            let facts = LateFeeFacts {
                payments: vec![(at(2025, 2, 14, 10, 0), 50_000)],
                notice: None,
            };
            let (input, r) = figures(74_800, CustomerKindConfig::B2b, &facts, d(2025, 3, 16));
            assert_eq!(input.amount, dec("1248.00"));
            assert_eq!(r.periods.len(), 2);
            assert_eq!(r.interest, dec("21.57"));
            assert_eq!(r.indemnity, dec("40.00"));
            assert_eq!(r.balance, dec("748.00"));
            assert_eq!(r.total, dec("809.57"));
        }

        /// A payment received at 23:30 UTC on 14 Feb is 15 Feb in Paris, where the company
        /// counts its days; one received after `today` is not counted yet.
        #[test]
        fn payments_are_dated_in_the_company_time_zone_and_future_ones_ignored() {
            let facts = LateFeeFacts {
                payments: vec![
                    (at(2025, 2, 14, 23, 30), 50_000),
                    (at(2025, 4, 1, 9, 0), 10_000),
                ],
                notice: None,
            };
            let (input, r) = figures(74_800, CustomerKindConfig::B2b, &facts, d(2025, 3, 16));
            assert_eq!(input.payments.len(), 1);
            assert_eq!(input.payments[0].date, d(2025, 2, 15));
            assert_eq!(input.amount, dec("1248.00"));
            assert_eq!(r.balance, dec("748.00"));
        }

        /// A consumer owes nothing before the formal notice; from the day after it, the legal
        /// rate (2025-S1, 3.71 %): 300 × 3.71 % × 24/365 (21 Feb–16 Mar) = 0.7318 → 0.73.
        #[test]
        fn a_consumer_owes_legal_interest_from_the_formal_notice() {
            let none = LateFeeFacts::default();
            let (_, before) = figures(30_000, CustomerKindConfig::B2c, &none, d(2025, 3, 16));
            assert_eq!((before.interest, before.indemnity), (dec("0"), dec("0")));
            let noticed = LateFeeFacts {
                payments: Vec::new(),
                notice: Some(at(2025, 2, 20, 9, 0)),
            };
            let (input, after) = figures(30_000, CustomerKindConfig::B2c, &noticed, d(2025, 3, 16));
            assert_eq!(input.notice, Some(d(2025, 2, 20)));
            assert_eq!(after.interest, dec("0.73"));
            assert_eq!(after.indemnity, dec("0"));
            assert_eq!(after.total, dec("300.73"));
        }
    }

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(backoff(1), TimeDelta::minutes(1));
        assert_eq!(backoff(2), TimeDelta::minutes(5));
        assert_eq!(backoff(4), TimeDelta::hours(1));
        assert_eq!(backoff(50), TimeDelta::hours(12));
        assert_eq!(backoff(0), TimeDelta::minutes(1));
    }
}
