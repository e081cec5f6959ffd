//! Write-back: every reminder becomes a Task on the invoice (or its account), created 200 at a
//! time through sObject Collections with `allOrNone: false`, each record's outcome read from
//! the answer (200 even when some fail). A human step (a phone call) becomes an open Task for
//! the account owner, due that day. Tasks carry their write-back key in the subject, so a
//! retried batch never creates one twice.

use std::collections::{HashMap, HashSet};

use relance_core::{Activity, ConnectorError, WriteBack};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Method, quote};
use crate::{Described, SalesforceConnector, map};

/// Records per Collections call (Salesforce's maximum).
const PER_CALL: usize = 200;

/// Channels done by a person: the Task stays open for the account owner.
fn is_human(channel: &str) -> bool {
    matches!(channel, "task" | "call" | "phone")
}

/// The subject, at most 255 characters, ending with the write-back key.
pub fn subject(a: &Activity, key: &str) -> String {
    let tail = format!(" [{key}]");
    let head = if is_human(&a.channel) {
        format!("Relance: call to make ({})", a.step)
    } else {
        format!(
            "Relance: reminder {} ({}) sent by {}",
            a.reminders_sent, a.step, a.channel
        )
    };
    let room = 255usize.saturating_sub(tail.chars().count());
    let head: String = head.chars().take(room).collect();
    format!("{head}{tail}")
}

/// One Task record.
pub fn task_record(
    request: &WriteBack,
    what_id: &str,
    contact: Option<&str>,
    owner: Option<&str>,
) -> Value {
    let a = &request.activity;
    let date = a.sent_at.format("%Y-%m-%d").to_string();
    let amount = a
        .amount
        .map(|m| format!("Amount due: {m}.\n"))
        .unwrap_or_default();
    let mut description = format!(
        "Relance, step {}: {}.\n{amount}Relance key: {}",
        a.step, a.summary, request.idempotency_key
    );
    description.truncate(32_000);
    let human = is_human(&a.channel);
    let mut record = json!({
        "attributes": {"type": "Task"},
        "Subject": subject(a, &request.idempotency_key),
        "Description": description,
        "ActivityDate": date,
        "Status": if human { "Not Started" } else { "Completed" },
        "Priority": if human { "High" } else { "Normal" },
        "TaskSubtype": if human { "Call" } else if a.channel == "email" { "Email" } else { "Task" },
        "WhatId": what_id,
    });
    if let Some(c) = contact {
        record["WhoId"] = json!(c);
    }
    if human && let Some(o) = owner {
        record["OwnerId"] = json!(o);
    }
    record
}

#[derive(Debug, Deserialize)]
struct SaveResult {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<SaveError>,
}

#[derive(Debug, Deserialize)]
struct SaveError {
    #[serde(rename = "statusCode", default)]
    status_code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    fields: Vec<String>,
}

/// One record's failure as an error: lock contention passes, the rest needs a person.
fn record_error(label: &str, e: &SaveError) -> ConnectorError {
    let text = format!(
        "{label}: Task refused: {}: {}{}",
        e.status_code,
        e.message,
        if e.fields.is_empty() {
            String::new()
        } else {
            format!(" (fields {})", e.fields.join(", "))
        }
    );
    match e.status_code.as_str() {
        "UNABLE_TO_LOCK_ROW" | "REQUEST_RUNNING_TOO_LONG" => ConnectorError::Transient(text),
        _ => ConnectorError::Invalid(text),
    }
}

/// Creates the Tasks of `requests`; one result per request, in order.
pub(crate) async fn write(
    c: &SalesforceConnector,
    d: &Described,
    requests: &[WriteBack],
) -> Vec<Result<(), ConnectorError>> {
    let mut out = Vec::with_capacity(requests.len());
    for chunk in requests.chunks(PER_CALL) {
        match write_chunk(c, d, chunk).await {
            Ok(results) => out.extend(results),
            Err(e) => out.extend(chunk.iter().map(|_| Err(e.clone()))),
        }
    }
    out
}

async fn write_chunk(
    c: &SalesforceConnector,
    d: &Described,
    chunk: &[WriteBack],
) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
    let ids: Vec<String> = {
        let mut seen = HashSet::new();
        chunk
            .iter()
            .map(|r| r.invoice_external_id.clone())
            .filter(|i| seen.insert(i.clone()))
            .collect()
    };
    let list = ids.iter().map(|i| quote(i)).collect::<Vec<_>>().join(", ");
    // The invoices' contact, account and its owner, in one query.
    let mut select = vec!["Id".to_string()];
    select.extend(d.mapping.field("contact").map(str::to_string));
    select.extend(d.mapping.field("account").map(str::to_string));
    select.extend(d.account_owner.clone());
    let page = c
        .query_page(
            "read invoices for tasks",
            &format!(
                "SELECT {} FROM {} WHERE Id IN ({list})",
                select.join(", "),
                d.mapping.object
            ),
        )
        .await?;
    let mut targets: HashMap<String, map::Record> = HashMap::new();
    for r in page.records {
        if let Some(id) = map::text(&r, "Id") {
            targets.insert(id, r);
        }
    }
    // Tasks already there (a retried batch whose answer was lost).
    let existing = c
        .query_page(
            "read existing tasks",
            &format!(
                "SELECT Subject FROM Task WHERE WhatId IN ({list}) AND Subject LIKE 'Relance:%'"
            ),
        )
        .await?;
    let done: HashSet<String> = existing
        .records
        .iter()
        .filter_map(|r| map::text(r, "Subject"))
        .collect();
    let mut results: Vec<Option<Result<(), ConnectorError>>> = vec![None; chunk.len()];
    let mut records = Vec::new();
    let mut positions = Vec::new();
    for (i, request) in chunk.iter().enumerate() {
        let Some(target) = targets
            .iter()
            .find(|(id, _)| crate::same_id(id, &request.invoice_external_id))
            .map(|(_, r)| r)
        else {
            tracing::info!(connector = %c.id, invoice = %request.invoice_external_id, "invoice gone: no Task written");
            results[i] = Some(Ok(()));
            continue;
        };
        if done.contains(&subject(&request.activity, &request.idempotency_key)) {
            results[i] = Some(Ok(()));
            continue;
        }
        let contact = d
            .mapping
            .field("contact")
            .and_then(|f| map::text(target, f));
        let owner = d
            .account_owner
            .as_deref()
            .and_then(|p| map::text(target, p));
        records.push(task_record(
            request,
            &request.invoice_external_id,
            contact.as_deref(),
            owner.as_deref(),
        ));
        positions.push(i);
    }
    // Records refused because the invoice object takes no activities go on the account.
    let mut accounts: HashMap<usize, String> = HashMap::new();
    for (k, &i) in positions.iter().enumerate() {
        let target = targets
            .iter()
            .find(|(id, _)| crate::same_id(id, &chunk[i].invoice_external_id))
            .map(|(_, r)| r);
        if let Some(account) =
            target.and_then(|t| d.mapping.field("account").and_then(|f| map::text(t, f)))
        {
            accounts.insert(k, account);
        }
    }
    let mut retry: Vec<(usize, Value)> = Vec::new();
    if !records.is_empty() {
        let saved = post(c, &records).await?;
        for (k, (s, &i)) in saved.iter().zip(&positions).enumerate() {
            let on_what = s
                .errors
                .iter()
                .any(|e| e.fields.iter().any(|f| f == "WhatId"));
            if !s.success
                && on_what
                && let Some(account) = accounts.get(&k)
            {
                let mut record = records[k].clone();
                record["WhatId"] = json!(account);
                retry.push((i, record));
                continue;
            }
            results[i] = Some(outcome(c, s));
        }
    }
    if !retry.is_empty() {
        tracing::info!(connector = %c.id, count = retry.len(), "the invoice object takes no activities: Tasks put on the accounts");
        let records: Vec<Value> = retry.iter().map(|(_, r)| r.clone()).collect();
        let saved = post(c, &records).await?;
        for (s, (i, _)) in saved.iter().zip(&retry) {
            results[*i] = Some(outcome(c, s));
        }
    }
    Ok(results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect())
}

/// Creates `records` in one Collections call; one result per record, in order.
async fn post(
    c: &SalesforceConnector,
    records: &[Value],
) -> Result<Vec<SaveResult>, ConnectorError> {
    let body = c
        .client
        .call(
            "create tasks",
            Method::Post,
            "composite/sobjects",
            &[],
            Some(&json!({"allOrNone": false, "records": records})),
        )
        .await?;
    let saved: Vec<SaveResult> = c.client.parse("create tasks", &body)?;
    if saved.len() != records.len() {
        return Err(ConnectorError::Invalid(format!(
            "{}: create tasks: {} results for {} records",
            c.id,
            saved.len(),
            records.len()
        )));
    }
    Ok(saved)
}

/// One record's result as the write-back's outcome.
fn outcome(c: &SalesforceConnector, s: &SaveResult) -> Result<(), ConnectorError> {
    // A deleted invoice needs no Task: done.
    let deleted = s
        .errors
        .iter()
        .any(|e| e.status_code == "ENTITY_IS_DELETED");
    if s.success || deleted {
        Ok(())
    } else {
        Err(s
            .errors
            .first()
            .map(|e| record_error(&c.id, e))
            .unwrap_or_else(|| {
                ConnectorError::Invalid(format!("{}: Task refused without a reason", c.id))
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(channel: &str) -> Activity {
        Activity {
            step: "firm".into(),
            channel: channel.into(),
            sent_at: "2026-11-24T09:00:00Z".parse().unwrap(),
            reminders_sent: 2,
            amount: Some(relance_core::Money::new(
                rust_decimal::Decimal::new(85000, 2),
                relance_core::Currency::parse("EUR").unwrap(),
            )),
            summary: "reminder 2 sent by email".into(),
        }
    }

    #[test]
    fn email_and_call_tasks() {
        let wb = WriteBack {
            invoice_external_id: "a1X5e00000Inv01EAB".into(),
            idempotency_key: "wb:7".into(),
            activity: activity("email"),
        };
        let t = task_record(
            &wb,
            "a1X5e00000Inv01EAB",
            Some("0035e00000BiLl1AAF"),
            Some("005X"),
        );
        assert_eq!(t["Status"], "Completed");
        assert_eq!(t["TaskSubtype"], "Email");
        assert_eq!(t["ActivityDate"], "2026-11-24");
        assert_eq!(t["WhoId"], "0035e00000BiLl1AAF");
        assert!(t.get("OwnerId").is_none());
        assert_eq!(
            t["Subject"],
            "Relance: reminder 2 (firm) sent by email [wb:7]"
        );
        assert!(t["Description"].as_str().unwrap().contains("850.00 EUR"));
        let call = WriteBack {
            activity: activity("call"),
            ..wb
        };
        let t = task_record(&call, "a1X", None, Some("005X"));
        assert_eq!(t["Status"], "Not Started");
        assert_eq!(t["TaskSubtype"], "Call");
        assert_eq!(t["OwnerId"], "005X");
        assert!(subject(&activity(&"x".repeat(400)), "wb:1").chars().count() <= 255);
    }
}
