//! Write-back: each reminder appended as one dated line to the invoice's private note, with a
//! sparse update carrying the `SyncToken` just read; a stale token is read again and retried.

use relance_core::{Activity, ConnectorError, RecordPayment, WriteBack};
use sha2::{Digest, Sha256};

use crate::client::{CallError, Method};
use crate::{QuickBooksConnector, map, path_segment};

/// Prefix of Relance's lines in a private note.
pub const PREFIX: &str = "[Relance] ";
/// Attempts when the `SyncToken` keeps going stale.
const ATTEMPTS: usize = 4;

/// The line recorded for an activity. Neutral and factual: the note may show on statements.
pub fn line(activity: &Activity) -> String {
    let mut line = format!(
        "{PREFIX}{} {}: reminder {} sent by {}",
        activity.sent_at.format("%Y-%m-%d"),
        activity.step,
        activity.reminders_sent,
        activity.channel
    );
    if matches!(
        activity.channel.as_str(),
        "task" | "call" | "letter" | "handoff"
    ) {
        line = format!(
            "{PREFIX}{} {}: to do by a person ({})",
            activity.sent_at.format("%Y-%m-%d"),
            activity.step,
            activity.channel
        );
    }
    if activity.step == "thank_you" {
        line = format!(
            "{PREFIX}{} thank-you sent by {}",
            activity.sent_at.format("%Y-%m-%d"),
            activity.channel
        );
    }
    line.retain(|c| c != '\n' && c != '\r');
    line
}

/// The note with `line` appended, Relance's oldest lines dropped to stay within `limit`
/// characters; the user's own text is never touched. `None` when the line is already there.
pub fn with_line(note: &str, line: &str, limit: usize) -> Result<Option<String>, String> {
    if note.lines().any(|l| l == line) {
        return Ok(None);
    }
    let mut lines: Vec<&str> = if note.is_empty() {
        Vec::new()
    } else {
        note.split('\n').collect()
    };
    lines.push(line);
    let len = |lines: &[&str]| {
        lines.iter().map(|l| l.chars().count()).sum::<usize>() + lines.len().saturating_sub(1)
    };
    while len(&lines) > limit {
        match lines[..lines.len() - 1]
            .iter()
            .position(|l| l.starts_with(PREFIX))
        {
            Some(i) => {
                lines.remove(i);
            }
            None => {
                return Err(format!(
                    "the private note has no room for Relance's line ({} characters of the user's own text, limit {limit})",
                    len(&lines[..lines.len() - 1])
                ));
            }
        }
    }
    Ok(Some(lines.join("\n")))
}

/// `requestid` for one attempt: stable for the same body, at most 50 characters.
fn request_id(key: &str, token: &str) -> String {
    let digest = Sha256::digest(format!("{key}\n{token}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("relance-{}", &hex[..40])
}

/// Appends the activity's line to the invoice's private note.
pub async fn append_note(
    c: &QuickBooksConnector,
    request: &WriteBack,
) -> Result<(), ConnectorError> {
    let id = path_segment(&request.invoice_external_id)?;
    let line = line(&request.activity);
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let Some(invoice) = c.read_invoice(id).await? else {
            tracing::info!(connector = %c.id, invoice = id, "invoice deleted: nothing written back");
            return Ok(());
        };
        if map::is_voided(&invoice) {
            tracing::info!(connector = %c.id, invoice = id, "invoice voided: nothing written back");
            return Ok(());
        }
        let note = invoice.private_note.clone().unwrap_or_default();
        let Some(new_note) = with_line(&note, &line, c.config.private_note_limit)
            .map_err(|m| ConnectorError::Invalid(format!("{}: invoice {id}: {m}", c.id)))?
        else {
            return Ok(());
        };
        let token = invoice.sync_token.clone().unwrap_or_else(|| "0".into());
        let body = serde_json::json!({
            "Id": invoice.id,
            "SyncToken": token,
            "sparse": true,
            "PrivateNote": new_note,
        });
        match c
            .client
            .call(
                "write back",
                Method::Post,
                "invoice",
                &[("requestid", request_id(&request.idempotency_key, &token))],
                Some(&body),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(CallError::StaleObject(m)) => {
                tracing::info!(connector = %c.id, invoice = id, "stale SyncToken: reading again");
                last = Some(m);
            }
            Err(CallError::Other(e)) => {
                return Err(e.context(format!("invoice {id}")));
            }
        }
    }
    Err(ConnectorError::Transient(last.unwrap_or_default()))
}

fn number(d: rust_decimal::Decimal) -> serde_json::Value {
    // QuickBooks wants JSON numbers; a decimal's text is one (no float arithmetic involved).
    serde_json::from_str(&d.normalize().to_string()).expect("a decimal is a JSON number")
}

/// Records a payment taken elsewhere (a payment link) against the invoice, once: the
/// `requestid` is derived from the record's key, so a retry after a lost answer gets Intuit's
/// first answer back instead of a second payment; an invoice already settled is left alone.
pub async fn record_payment(
    c: &QuickBooksConnector,
    p: &RecordPayment,
) -> Result<(), ConnectorError> {
    let Some(account) = c.config.payment_deposit_account.as_deref() else {
        return Err(ConnectorError::Unsupported(format!(
            "{}: a payment of {} ({}) was taken for invoice {}: set payment_deposit_account to let Relance record it, or record it in QuickBooks yourself (the invoice stays paused until then)",
            c.id, p.amount, p.reference, p.invoice_external_id
        )));
    };
    let id = path_segment(&p.invoice_external_id)?;
    let Some(invoice) = c.read_invoice(id).await? else {
        return Err(ConnectorError::Invalid(format!(
            "{}: invoice {id} was deleted in QuickBooks: payment {} of {} not recorded",
            c.id, p.reference, p.amount
        )));
    };
    let ctx = c.context().await?;
    let currency = invoice
        .currency_ref
        .as_ref()
        .map(|r| r.value.clone())
        .unwrap_or_else(|| ctx.home_currency.code().to_string());
    if currency != p.amount.currency.code() {
        return Err(ConnectorError::Invalid(format!(
            "{}: invoice {id} is in {currency}, the payment {} in {}: not recorded",
            c.id, p.reference, p.amount.currency
        )));
    }
    let balance = invoice.balance.unwrap_or_default();
    if balance.is_zero() || map::is_voided(&invoice) {
        tracing::info!(connector = %c.id, invoice = id, "invoice already settled in QuickBooks: payment not recorded again");
        return Ok(());
    }
    let customer = p
        .customer_external_id
        .clone()
        .or_else(|| invoice.customer_ref.as_ref().map(|r| r.value.clone()))
        .ok_or_else(|| {
            ConnectorError::Invalid(format!("{}: invoice {id} has no customer", c.id))
        })?;
    let applied = p.amount.amount.min(balance);
    let date = p.paid_at.with_timezone(&c.timezone).date_naive();
    let reference: String = {
        let chars: Vec<char> = p.reference.chars().collect();
        chars[chars.len().saturating_sub(21)..].iter().collect()
    };
    let body = serde_json::json!({
        "CustomerRef": { "value": customer },
        "TotalAmt": number(p.amount.amount),
        "TxnDate": date.format("%Y-%m-%d").to_string(),
        "PaymentRefNum": reference,
        "PrivateNote": format!("Paid via Relance payment link ({})", p.reference),
        "DepositToAccountRef": { "value": account },
        "Line": [{
            "Amount": number(applied),
            "LinkedTxn": [{ "TxnId": id, "TxnType": "Invoice" }],
        }],
    });
    c.client
        .call(
            "record payment",
            Method::Post,
            "payment",
            &[("requestid", request_id(&p.idempotency_key, "payment"))],
            Some(&body),
        )
        .await
        .map_err(|e| ConnectorError::from(e).context(format!("invoice {id}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_relance_lines_go_first_and_user_text_stays() {
        let note = "PO 7781\n[Relance] 2026-11-01 a\n[Relance] 2026-11-08 b";
        let out = with_line(note, "[Relance] 2026-11-15 c", 60)
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            "PO 7781\n[Relance] 2026-11-08 b\n[Relance] 2026-11-15 c"
        );
        let out = with_line(note, "[Relance] 2026-11-15 c", 40)
            .unwrap()
            .unwrap();
        assert_eq!(out, "PO 7781\n[Relance] 2026-11-15 c");
        assert_eq!(
            with_line(note, "[Relance] 2026-11-08 b", 4000).unwrap(),
            None
        );
        assert!(with_line(&"x".repeat(50), "[Relance] 2026-11-15 c", 40).is_err());
        assert_eq!(
            with_line("", "[Relance] x", 40).unwrap().unwrap(),
            "[Relance] x"
        );
        assert!(request_id("wb:1", "3").len() <= 50);
        assert_ne!(request_id("wb:1", "3"), request_id("wb:1", "4"));
    }
}
