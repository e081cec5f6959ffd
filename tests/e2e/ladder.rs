//! 120 days of the French ladder through the binary, day by day with `--now`, on a book of
//! customers with different histories: exactly the expected e-mails, tasks, letters and
//! dossier, on business days only, and nothing after a payment.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use serde_json::Value;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::smtp::SmtpSink;
use crate::common::{Setup, relance, rows, run, stderr, stdout, write_config};

const HEADER: &str =
    "number,customer,email,locale,total,balance,currency,issued_on,due_on,status,paid_on\n";

/// The book on `day`: payments arrive on their days.
fn book(day: NaiveDate) -> String {
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    let mut csv = String::from(HEADER);
    // Alpha: three invoices paid on time (reliable); A-4 paid on 2027-01-29.
    // Beta: three invoices paid 30 days late (at risk); B-4 never paid.
    for i in 1..=3 {
        csv.push_str(&format!(
            "A-{i},Alpha,alpha@example.com,fr,100.00,0,EUR,2026-09-01,2026-10-0{i},paid,2026-10-0{i}\n\
             B-{i},Beta,beta@example.com,fr,100.00,0,EUR,2026-09-01,2026-10-0{i},paid,2026-11-0{i}\n"
        ));
    }
    let open_or_paid =
        |n: &str, who: &str, mail: &str, amount: &str, due: &str, paid: Option<&str>| match paid
            .filter(|p| day >= d(p))
        {
            Some(p) => format!("{n},{who},{mail},fr,{amount},0,EUR,2026-12-01,{due},paid,{p}\n"),
            None => format!("{n},{who},{mail},fr,{amount},{amount},EUR,2026-12-01,{due},open,\n"),
        };
    csv.push_str(&open_or_paid(
        "A-4",
        "Alpha",
        "alpha@example.com",
        "1200.00",
        "2027-01-20",
        Some("2027-01-29"),
    ));
    csv.push_str(&open_or_paid(
        "B-4",
        "Beta",
        "beta@example.com",
        "1248.00",
        "2027-01-15",
        None,
    ));
    csv.push_str(&open_or_paid(
        "C-1",
        "Gamma",
        "gamma@example.com",
        "500.00",
        "2027-02-05",
        Some("2027-02-22"),
    ));
    csv.push_str(&open_or_paid(
        "D-1",
        "Delta",
        "delta@example.com",
        "800.00",
        "2027-03-22",
        Some("2027-04-07"),
    ));
    csv
}

const POLICY: &str = "late_payment:
  rates_file: RATES
policy:
  max_automatic_reminders: 2
  min_balance: 5.00
  group_by_customer: true
  steps:
    - { id: courtesy,   offset_days: -3, channel: email,   template: courtesy }
    - { id: friendly,   offset_days: 7,  channel: email,   template: friendly }
    - { id: firm,       offset_days: 14, channel: email,   template: firm, show_late_fees: true }
    - { id: call,       offset_days: 30, channel: task,    template: call, assignee: owner }
    - { id: notice,     offset_days: 30, channel: letter,  template: mise_en_demeure, show_late_fees: true }
    - { id: registered, offset_days: 45, channel: letter,  template: lrar, registered: true }
    - { id: legal,      offset_days: 90, channel: handoff, template: dossier }
  thank_you: { channel: email, template: thanks }
  segments:
    - id: reliable
      when: { paid_invoices_at_least: 3, average_days_late_at_most: 5 }
      tone: gentle
      skip_steps: [courtesy]
    - id: at_risk
      when: { average_days_late_at_least: 20 }
      tone: firm
      offset_shift_days: -3
";

fn is_french_business_day(d: NaiveDate) -> bool {
    let holidays = [
        "2027-03-29",
        "2027-05-01",
        "2027-05-08",
        "2027-05-06",
        "2027-05-17",
        "2027-01-01",
    ];
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
        && !holidays
            .iter()
            .any(|h| h.parse::<NaiveDate>().unwrap() == d)
}

both_backends!(one_hundred_and_twenty_days, |db: TestDb| async move {
    let smtp = SmtpSink::start().await;
    let dir = db.dir.path();
    let csv = dir.join("invoices.csv");
    let start: NaiveDate = "2027-01-04".parse().unwrap();
    std::fs::write(&csv, book(start)).unwrap();
    let rates = dir.join("rates.csv");
    let mut table = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/rates.csv"),
    )
    .unwrap();
    table.push_str("2026-S2,2026-07-01,2026-12-31,2.15,12.15,2.62,6.67,test fixture\n");
    table.push_str("2027-S1,2027-01-01,2027-06-30,2.15,12.15,2.62,6.67,test fixture\n");
    std::fs::write(&rates, table).unwrap();
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.csv = Some(csv.clone());
    let path = write_config(dir, &setup);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "  locale: fr\n",
        "  locale: fr\n  legal_name: Atelier Dupont SARL\n  address: \"12 rue des Tanneurs, 67000 Strasbourg, France\"\n  siren: \"812345678\"\n  holidays: FR\n  send_window: { days: [mon, tue, wed, thu, fri], from: \"09:00\", to: \"17:30\" }\n",
    );
    let p0 = text.find("policy:").unwrap();
    let p1 = text.find("templates:").unwrap();
    let text = format!(
        "{}{}{}",
        &text[..p0],
        POLICY.replace("RATES", rates.to_str().unwrap()),
        &text[p1..]
    );
    std::fs::write(&path, text).unwrap();
    let config = path.to_str().unwrap().to_string();
    let mut actions: Vec<String> = Vec::new();
    for i in 0..120 {
        let day = start + TimeDelta::days(i);
        std::fs::write(&csv, book(day)).unwrap();
        let now = format!("{day}T10:00:00+01:00");
        let out = run(relance(&[
            "--config", &config, "--now", &now, "run", "--once",
        ]))
        .await;
        assert!(out.status.success(), "{day}: {}", stderr(&out));
        // A diligent person works the review queue every day.
        let out = run(relance(&[
            "--config", &config, "--now", &now, "tasks", "--format", "json",
        ]))
        .await;
        let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
        for t in list["tasks"].as_array().unwrap() {
            let id = t["id"].as_i64().unwrap().to_string();
            let verb = if t["channel"] == "task" {
                "done"
            } else {
                "approve"
            };
            let out = run(relance(&[
                "--config", &config, "--now", &now, "tasks", verb, &id, "--note", "ok",
            ]))
            .await;
            assert!(out.status.success(), "{day} {verb} {id}: {}", stderr(&out));
            actions.push(format!("{day} {} {verb}", t["step"].as_str().unwrap()));
        }
    }
    // Every reminder that went out, by invoice: (step, day).
    let sent = rows(
        &db.url,
        "SELECT i.number, r.step, CAST(r.planned_on AS TEXT), r.status, COALESCE(r.segment, '') FROM reminders r \
         JOIN invoices i ON i.id = r.invoice_id WHERE r.status IN ('sent', 'skipped') ORDER BY i.number, r.planned_on, r.id",
    )
    .await;
    let mut got: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for r in &sent {
        let day = r[2].clone().unwrap();
        got.entry(r[0].clone().unwrap()).or_default().push((
            r[1].clone().unwrap(),
            day[..10].to_string(),
            r[3].clone().unwrap(),
        ));
        if r[3].as_deref() == Some("sent") {
            let d: NaiveDate = day[..10].parse().unwrap();
            assert!(
                is_french_business_day(d),
                "{r:?} sent on a non-business day"
            );
        }
    }
    let expect = |n: &str, list: &[(&str, &str)]| {
        let mine: Vec<(String, String)> = got
            .get(n)
            .map(|v| {
                v.iter()
                    .filter(|x| x.2 == "sent")
                    .map(|x| (x.0.clone(), x.1.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let want: Vec<(String, String)> = list
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(mine, want, "{n}");
    };
    // Alpha (reliable): no courtesy notice, friendly on D+7 (Wed 27 Jan), paid on the 29th.
    expect(
        "A-4",
        &[("friendly", "2027-01-27"), ("thank_you", "2027-01-29")],
    );
    // Beta (at risk, everything 3 days earlier): courtesy due Sat 9 Jan → Mon 11; then the
    // people's steps, approved the day they come; the hand-off 87 days after the due date.
    expect(
        "B-4",
        &[
            ("courtesy", "2027-01-11"),
            ("friendly", "2027-01-19"),
            ("firm", "2027-01-26"),
            ("call", "2027-02-11"),
            ("notice", "2027-02-12"),
            ("registered", "2027-02-26"),
            ("legal", "2027-04-12"),
        ],
    );
    // Gamma (no history): the standard ladder, then paid: a thank-you, nothing more.
    expect(
        "C-1",
        &[
            ("courtesy", "2027-02-02"),
            ("friendly", "2027-02-12"),
            ("firm", "2027-02-19"),
            ("thank_you", "2027-02-22"),
        ],
    );
    // Delta: friendly due on Easter Monday (29 March) → Tuesday 30.
    expect(
        "D-1",
        &[
            ("courtesy", "2027-03-19"),
            ("friendly", "2027-03-30"),
            ("firm", "2027-04-05"),
            ("thank_you", "2027-04-07"),
        ],
    );
    assert!(
        got["B-4"].iter().all(|x| x.2 == "sent"),
        "nothing skipped for Beta"
    );
    assert_eq!(
        rows(&db.url, "SELECT DISTINCT COALESCE(segment, '') FROM reminders r JOIN invoices i ON i.id = r.invoice_id WHERE i.number = 'B-4' AND r.kind = 'reminder'").await,
        vec![vec![Some("at_risk".to_string())]]
    );
    // What went out by e-mail: the automatic reminders and thank-yous to customers, the two
    // letters to the approver; no call, letter or hand-off went to a customer.
    let messages = smtp.messages();
    let to = |who: &str| {
        messages
            .iter()
            .filter(|m| m.to.iter().any(|t| t == who))
            .count()
    };
    assert_eq!(to("alpha@example.com"), 2);
    assert_eq!(to("beta@example.com"), 3);
    assert_eq!(to("gamma@example.com"), 4);
    assert_eq!(to("delta@example.com"), 4);
    assert_eq!(
        to("compta@atelier-dupont.fr"),
        2,
        "the formal notice and the registered letter"
    );
    assert_eq!(std::fs::read_dir(dir.join("letters")).unwrap().count(), 2);
    let dossier = std::fs::read_dir(dir.join("dossiers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let outcomes = rows(
        &db.url,
        "SELECT step, outcome FROM reminders WHERE step IN ('notice', 'registered', 'legal')",
    )
    .await;
    assert_eq!(
        std::fs::read_dir(&dossier).unwrap().count(),
        4,
        "the summary, the messages and the two letters: {outcomes:?}"
    );
    // Every message the customer was sent about the invoice, as it went out.
    let folder = std::fs::read_dir(&dossier)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let mut sent: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    sent.sort();
    assert_eq!(sent.len(), to("beta@example.com"), "{sent:#?}");
    assert!(
        sent.iter()
            .all(|m| m.contains("To: beta@example.com") && m.contains("B-4")),
        "{sent:#?}"
    );
    assert!(
        sent.iter().any(|m| m.contains("pénalités de retard")),
        "the firm reminder, with its figures: {sent:#?}"
    );
    assert_eq!(
        actions,
        vec![
            "2027-02-11 call done",
            "2027-02-12 notice approve",
            "2027-02-26 registered approve",
            "2027-04-12 legal approve",
        ]
    );
});
