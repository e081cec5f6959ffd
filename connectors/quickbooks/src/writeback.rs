//! Write-back: each reminder appended as one dated line to the invoice's private note, with a
//! sparse update carrying the `SyncToken` just read; a stale token is read again and retried.

use relance_core::{Activity, ConnectorError, WriteBack};
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
