//! Alerts: thresholds on overdue balances, evaluated after each cycle. An alert e-mail goes
//! out once per crossing, and again only after the value fell below the threshold and crossed
//! it again (the state is kept in the store, so restarts and replicas do not repeat it).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::channels::{Channel, OutgoingMessage};
use crate::policy::CustomerHistory;
use crate::policy::config::Alert;
use crate::store::{Store, StoreError};

/// One threshold crossed now, to tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossing {
    /// Alert id.
    pub alert: String,
    /// `customer:{id}` or `ledger`.
    pub subject: String,
    /// Who it is about (customer name, or "the ledger").
    pub label: String,
    /// The value now.
    pub value: Decimal,
    /// The threshold.
    pub threshold: Decimal,
    /// Who is told.
    pub notify: String,
}

/// The values each alert watches, from the customers' histories: `(subject, label, value)`.
pub fn values(
    alert: &Alert,
    histories: &HashMap<i64, CustomerHistory>,
    names: &HashMap<i64, String>,
) -> Vec<(String, String, Decimal, Decimal)> {
    let mut out = Vec::new();
    if let Some(t) = alert.when.customer_overdue_total_at_least {
        for (id, h) in histories {
            let label = names
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("customer {id}"));
            out.push((format!("customer:{id}"), label, h.overdue_total, t));
        }
    }
    if let Some(t) = alert.when.total_overdue_at_least {
        let total: Decimal = histories.values().map(|h| h.overdue_total).sum();
        out.push(("ledger".into(), "the ledger".into(), total, t));
    }
    out
}

/// Evaluates every alert on `today`; returns the crossings to tell (already recorded).
pub async fn evaluate(
    store: &Store,
    alerts: &[Alert],
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Crossing>, StoreError> {
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    let histories = store.customer_histories(today).await?;
    let names = store.customer_names().await?;
    let active: std::collections::HashSet<(String, String)> =
        store.active_alerts().await?.into_iter().collect();
    let mut out = Vec::new();
    for alert in alerts {
        let mut seen = std::collections::HashSet::new();
        for (subject, label, value, threshold) in values(alert, &histories, &names) {
            let crossed = value >= threshold;
            seen.insert(subject.clone());
            let was = active.contains(&(alert.id.clone(), subject.clone()));
            if crossed == was {
                continue;
            }
            if store
                .alert_transition(&alert.id, &subject, crossed, now)
                .await?
            {
                out.push(Crossing {
                    alert: alert.id.clone(),
                    subject,
                    label,
                    value,
                    threshold,
                    notify: alert.notify.clone(),
                });
            }
        }
        // Crossed before, no longer owing anything overdue (no history row at all): below.
        for (a, subject) in &active {
            if a == &alert.id && !seen.contains(subject) {
                store.alert_transition(a, subject, false, now).await?;
            }
        }
    }
    Ok(out)
}

/// The e-mail telling a crossing.
pub fn message(c: &Crossing, company: &str, domain: &str, now: DateTime<Utc>) -> OutgoingMessage {
    let subject = format!(
        "[Relance] Alerte {} : {} ({} ≥ {})",
        c.alert, c.label, c.value, c.threshold
    );
    let text = format!(
        "L'alerte « {} » de {company} est déclenchée : {} a {} en retard de paiement (seuil {}).\n\
         Voir `relance plan` et `relance tasks`.\n\n\
         Alert `{}`: {} has {} overdue (threshold {}).\n",
        c.alert, c.label, c.value, c.threshold, c.alert, c.label, c.value, c.threshold
    );
    OutgoingMessage {
        to: vec![c.notify.clone()],
        to_name: None,
        subject,
        text,
        html: None,
        message_id: format!(
            "<alert.{}.{}.{}@{domain}>",
            c.alert,
            c.subject.replace(':', "-"),
            now.timestamp()
        ),
        reference: format!("alert:{}:{}", c.alert, c.subject),
        attachments: Vec::new(),
        sent_at: now,
    }
}

/// Evaluates and sends; failures to send are logged (the state is recorded: an alert is
/// never sent in a loop).
pub async fn run(
    store: &Store,
    alerts: &[Alert],
    channel: Option<&dyn Channel>,
    company: &str,
    domain: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let crossings = evaluate(store, alerts, today, now).await?;
    for c in &crossings {
        tracing::warn!(alert = %c.alert, subject = %c.label, value = %c.value, threshold = %c.threshold, "alert threshold crossed");
        if let Some(channel) = channel
            && let Err(e) = channel.send(&message(c, company, domain, now)).await
        {
            tracing::error!(alert = %c.alert, error = %e, "alert e-mail not sent");
        }
    }
    Ok(crossings.len())
}
