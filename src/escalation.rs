//! What an approved people's step produces: the formal notice (or registered letter) as a PDF
//! written to the letters folder and e-mailed to the approver, ready to post or to hand to a
//! registered-mail provider; the hand-off dossier as a folder per customer (the invoice, every
//! reminder with its dates and outcome, the letters, the computed amounts).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::channels::{Attachment, OutgoingMessage};
use crate::daemon::App;
use crate::letters::{Letter, LetterInvoice, Party};
use crate::planner::day_in;
use crate::policy::config::ChannelKind;
use crate::store::{InvoiceRow, TaskRow};

/// Folder of generated letters.
pub fn letters_dir(app: &App) -> PathBuf {
    app.config.base_dir.join("letters")
}

/// Folder of hand-off dossiers.
pub fn dossiers_dir(app: &App) -> PathBuf {
    app.config.base_dir.join("dossiers")
}

fn safe(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(60).collect()
}

/// Generates the letter of an approved letter step, writes it and e-mails it to the approver
/// (`company.email`). Returns what was done, for the task's record.
pub async fn approve_letter(
    app: &App,
    task: &TaskRow,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let (invoice, customer) = app
        .store
        .invoice_with_customer(task.invoice_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the invoice is gone")?;
    let company = &app.config.company;
    let today = day_in(now, company.timezone);
    let step = app.config.policy.steps.iter().find(|s| s.id == task.step);
    let registered = step.is_some_and(|s| s.registered);
    invoice.due_on.ok_or("the invoice has no due date")?;
    // The invoices the letter claims: this task's and, with `group_by_customer`, the customer's
    // other invoices waiting for the same letter step (in the same currency): one letter.
    let mut claimed: Vec<(Option<i64>, InvoiceRow)> = vec![(None, invoice.clone())];
    if app.config.policy.group_by_customer {
        for other in app.store.review_tasks().await.map_err(|e| e.to_string())? {
            if other.id == task.id
                || other.channel != "letter"
                || other.step != task.step
                || other.currency != invoice.currency
                || other.due_on.is_none()
            {
                continue;
            }
            if let Some((i, c)) = app
                .store
                .invoice_with_customer(other.invoice_id)
                .await
                .map_err(|e| e.to_string())?
                && c.id == customer.id
            {
                claimed.push((Some(other.id), i));
            }
        }
        claimed.sort_by_key(|(_, i)| (i.due_on, i.id));
    }
    let mut rows = Vec::new();
    let mut rates: Vec<Decimal> = Vec::new();
    let mut claimed_total = Decimal::ZERO;
    for (_, inv) in &claimed {
        let fees = app
            .dispatcher
            .late_fees_of(inv, Some(&customer), today)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the invoice has no due date")?
            .map_err(|e| {
                format!(
                    "invoice {}: late-payment figures cannot be computed: {e}",
                    inv.number
                )
            })?;
        for p in &fees.periods {
            if !rates.contains(&p.rate) {
                rates.push(p.rate);
            }
        }
        claimed_total += fees.total;
        rows.push(LetterInvoice {
            number: inv.number.clone(),
            issued_on: inv.issued_on,
            due_on: inv.due_on.expect("checked"),
            total: inv.total().amount,
            balance: fees.balance,
            interest: fees.interest,
            indemnity: fees.indemnity,
        });
    }
    let numbers = claimed
        .iter()
        .map(|(_, i)| i.number.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let locale = customer
        .locale
        .clone()
        .unwrap_or_else(|| company.locale.clone());
    let fr = !locale.starts_with("en");
    let consumer = app.config.late_payment.kind_of(
        &customer.name,
        &customer.external_id,
        customer.kind.as_deref(),
    ) == crate::config::CustomerKindConfig::B2c;
    let rate_text = if rates.is_empty() {
        if fr {
            "aucune pénalité à ce jour".to_string()
        } else {
            "no interest to date".to_string()
        }
    } else {
        let list = rates
            .iter()
            .map(|r| {
                let t = r.normalize().to_string();
                if fr {
                    format!("{} %", t.replace('.', ","))
                } else {
                    format!("{t}%")
                }
            })
            .collect::<Vec<_>>()
            .join(" / ");
        match (fr, consumer) {
            (true, false) => format!("taux annuel de {list} (article L441-10 du Code de commerce)"),
            (false, false) => format!("{list} a year (French Commercial Code, article L441-10)"),
            (true, true) => format!("taux de l'intérêt légal, {list} l'an"),
            (false, true) => format!("the legal interest rate, {list} a year"),
        }
    };
    let address_lines = |a: &Option<String>| -> Vec<String> {
        a.as_deref()
            .map(|a| {
                a.split(',')
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let letter = Letter {
        locale: if fr { "fr".into() } else { "en".into() },
        creditor: Party {
            name: company.legal_name.clone(),
            address_lines: address_lines(&company.address),
        },
        creditor_siren: company.siren.clone(),
        creditor_email: company.email.clone(),
        debtor: Party {
            name: customer.name.clone(),
            // The provider's postal address; without one, the e-mail (the approver completes it).
            address_lines: match customer.address.as_deref() {
                Some(a) if !a.trim().is_empty() => address_lines(&Some(a.to_string())),
                _ => customer.email_list().into_iter().take(1).collect(),
            },
        },
        date: today,
        place: company
            .address
            .as_deref()
            .and_then(|a| a.split(',').nth(1))
            .map(|c| {
                c.trim()
                    .trim_start_matches(|ch: char| ch.is_ascii_digit())
                    .trim()
                    .to_string()
            })
            .filter(|c| !c.is_empty()),
        reference: format!("MED-{}-{:05}", today.format("%Y"), task.id),
        registered,
        currency: invoice.currency.clone(),
        invoices: rows,
        rate_text,
        deadline_days: 8,
        payment_url: invoice.payment_url.clone(),
        bank: company.bank.clone(),
        consumer,
    };
    let pdf = crate::letters::render_pdf(&letter)?;
    let dir = letters_dir(app);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(crate::letters::file_name(&letter));
    std::fs::write(&path, &pdf).map_err(|e| format!("{}: {e}", path.display()))?;
    // The e-mail to the approver is in the company's language; the letter in the customer's.
    let address_known = customer
        .address
        .as_deref()
        .is_some_and(|a| !a.trim().is_empty());
    let (subject, text) = if company.locale.starts_with("en") {
        let kind = if registered {
            "registered letter"
        } else {
            "formal notice"
        };
        (
            format!(
                "[Relance] {kind} to send: {} – invoice(s) {numbers} ({})",
                customer.name, letter.reference
            ),
            format!(
                "The {kind} to {} (invoice(s) {numbers}, total claimed {} {}) is attached ({}).\n\
                 {}sign it, then post it{}.\n",
                customer.name,
                claimed_total,
                invoice.currency,
                path.display(),
                if address_known {
                    "Check the debtor's address, "
                } else {
                    "Complete the debtor's postal address (the source has none), "
                },
                if registered {
                    " by registered mail with acknowledgement of receipt"
                } else {
                    ""
                }
            ),
        )
    } else {
        let kind = if registered {
            "lettre recommandée avec AR"
        } else {
            "mise en demeure"
        };
        (
            format!(
                "[Relance] {kind} à envoyer : {} – facture(s) {numbers} ({})",
                customer.name, letter.reference
            ),
            format!(
                "La {kind} pour {} (facture(s) {numbers}, total réclamé {} {}) est jointe ({}).\n\
                 {}signez-la, puis postez-la{}.\n",
                customer.name,
                claimed_total,
                invoice.currency,
                path.display(),
                if address_known {
                    "Vérifiez l'adresse du débiteur, "
                } else {
                    "Complétez l'adresse postale du débiteur (la source n'en donne pas), "
                },
                if registered {
                    " en recommandé avec accusé de réception"
                } else {
                    ""
                }
            ),
        )
    };
    let mut told = String::new();
    if let Some(channel) = app.dispatcher.channels.get(&ChannelKind::Email) {
        let message = OutgoingMessage {
            to: vec![company.email.clone()],
            to_name: None,
            subject,
            text,
            html: None,
            message_id: format!("<letter.{}@{}>", letter.reference, app.message_domain()),
            reference: format!("letter:{}", task.id),
            attachments: vec![Attachment {
                filename: crate::letters::file_name(&letter),
                content_type: "application/pdf".into(),
                content: pdf,
            }],
            sent_at: now,
        };
        match channel.send(&message).await {
            Ok(_) => told = format!("; e-mailed to {}", company.email),
            Err(e) => told = format!("; NOT e-mailed ({e})"),
        }
    }
    // The other invoices' tasks are done by the same letter.
    for (other, inv) in &claimed {
        if let Some(id) = other {
            let note = format!(
                "letter {} generated (with invoice {}){told}",
                path.display(),
                invoice.number
            );
            if let Err(e) = app
                .store
                .act_on_task(*id, crate::store::TaskAction::Done, Some(&note), now)
                .await
            {
                tracing::warn!(task = id, invoice = %inv.number, error = %e, "could not close a task the letter covers");
            }
        }
    }
    Ok(format!("letter {} generated{told}", path.display()))
}

/// Builds the hand-off dossier of an approved hand-off step.
pub async fn approve_handoff(
    app: &App,
    task: &TaskRow,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let (invoice, customer) = app
        .store
        .invoice_with_customer(task.invoice_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the invoice is gone")?;
    let today = day_in(now, app.config.company.timezone);
    let history = app
        .store
        .invoice_history(task.invoice_id)
        .await
        .map_err(|e| e.to_string())?;
    let fees = app
        .dispatcher
        .late_fees_of(&invoice, Some(&customer), today)
        .await
        .map_err(|e| e.to_string())?;
    let dir = dossiers_dir(app).join(format!("{}-{}", safe(&customer.name), customer.id));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let amounts = match &fees {
        Some(Ok(r)) => serde_json::json!({
            "principal": r.principal.to_string(), "balance": r.balance.to_string(),
            "interest": r.interest.to_string(), "indemnity": r.indemnity.to_string(),
            "total": r.total.to_string(), "days_late": r.days_late,
            "articles": r.articles, "computed_on": today,
        }),
        Some(Err(e)) => serde_json::json!({"error": e.to_string()}),
        None => serde_json::Value::Null,
    };
    let summary = serde_json::json!({
        "customer": {"name": customer.name, "emails": customer.email_list(), "phone": customer.phone},
        "creditor": {"name": app.config.company.legal_name, "address": app.config.company.address,
                     "siren": app.config.company.siren, "email": app.config.company.email},
        "invoice": {"number": invoice.number, "connector": invoice.connector_id,
                    "external_id": invoice.external_id, "issued_on": invoice.issued_on,
                    "due_on": invoice.due_on, "total": invoice.total().amount.to_string(),
                    "balance": invoice.balance().amount.to_string(), "currency": invoice.currency,
                    "payment_url": invoice.payment_url},
        "reminders": history,
        "amounts": amounts,
        "prepared_on": today,
    });
    // Every message as it went out: one text file each, listed in the summary.
    let messages = app
        .store
        .sent_messages(task.invoice_id)
        .await
        .map_err(|e| e.to_string())?;
    let mut summary = summary;
    let mut listed = Vec::new();
    if !messages.is_empty() {
        let folder = dir.join(format!("{}-messages", safe(&invoice.number)));
        std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        for (i, m) in messages.iter().enumerate() {
            let name = format!(
                "{:02}-{}-{}.txt",
                i + 1,
                m.sent_at.format("%Y-%m-%d"),
                safe(&m.step)
            );
            let text = format!(
                "Date: {}\nChannel: {}\nTo: {}\nSubject: {}\n\n{}",
                m.sent_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                m.channel,
                m.recipients.as_deref().unwrap_or(""),
                m.subject.as_deref().unwrap_or(""),
                m.body
            );
            let path = folder.join(&name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            listed.push(serde_json::json!({
                "step": m.step, "channel": m.channel, "sent_at": m.sent_at,
                "recipients": m.recipients, "subject": m.subject,
                "file": format!("{}-messages/{name}", safe(&invoice.number)),
            }));
        }
    }
    summary["messages"] = serde_json::Value::Array(listed);
    let file = dir.join(format!("{}.json", safe(&invoice.number)));
    std::fs::write(&file, serde_json::to_string_pretty(&summary).expect("json"))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    // The letters generated for this invoice, copied in.
    let mut copied = 0;
    for line in &history {
        let Some(outcome) = &line.outcome else {
            continue;
        };
        let Some(at) = outcome.find("letter /").or_else(|| outcome.find("letter ")) else {
            continue;
        };
        let rest = &outcome[at + "letter ".len()..];
        let Some(path) = rest.split(" generated").next() else {
            continue;
        };
        let path = Path::new(path);
        if let Some(name) = path.file_name()
            && std::fs::copy(path, dir.join(name)).is_ok()
        {
            copied += 1;
        }
    }
    Ok(format!(
        "dossier {} prepared ({} reminder(s), {} message(s), {copied} letter(s))",
        dir.display(),
        summary["reminders"].as_array().map_or(0, |a| a.len()),
        messages.len()
    ))
}
