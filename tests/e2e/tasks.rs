//! The review queue through the binary: a step past the automatic limit waits for a person,
//! is approved and goes out; a call to make is recorded as done; a letter cannot be approved
//! (not generated yet) and is skipped; a payment clears what is still waiting.

use serde_json::Value;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::smtp::SmtpSink;
use crate::common::{Setup, relance, run, scalar, stderr, stdout, write_config};

const CSV: &str = "number,customer,email,locale,total,balance,currency,issued_on,due_on,status,address\n\
F-1,Brasserie du Port,a@brasserie.example,fr,1248.00,1248.00,EUR,2026-12-01,2027-01-15,open,\"4 quai des Bateliers, 67000 Strasbourg\"\n";

const POLICY: &str = "policy:
  max_automatic_reminders: 1
  min_balance: 5.00
  steps:
    - { id: friendly, offset_days: 7,  channel: email,  template: friendly }
    - { id: firm,     offset_days: 14, channel: email,  template: firm }
    - { id: call,     offset_days: 30, channel: task,   template: call, assignee: owner }
    - { id: notice,   offset_days: 31, channel: letter, template: mise_en_demeure }
    - { id: legal,    offset_days: 40, channel: handoff, template: dossier }
  thank_you: { channel: email, template: thanks }
";

fn config(db: &TestDb, smtp: &str) -> std::path::PathBuf {
    config_with(db, smtp, CSV, POLICY)
}

fn config_with(db: &TestDb, smtp: &str, invoices: &str, policy: &str) -> std::path::PathBuf {
    let csv = db.dir.path().join("invoices.csv");
    std::fs::write(&csv, invoices).unwrap();
    let mut setup = Setup::new(&db.url, smtp);
    setup.csv = Some(csv);
    let path = write_config(db.dir.path(), &setup);
    // Replace the default policy with the ladder above; a rates table reaching 2027
    // (the shipped one stops at the last published half-year).
    let rates = db.dir.path().join("rates.csv");
    let mut table = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/rates.csv"),
    )
    .unwrap();
    table.push_str("2026-S2,2026-07-01,2026-12-31,2.15,12.15,2.62,6.67,test fixture\n");
    table.push_str("2027-S1,2027-01-01,2027-06-30,2.15,12.15,2.62,6.67,test fixture\n");
    std::fs::write(&rates, table).unwrap();
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "  locale: fr\n",
        "  locale: fr\n  iban: FR7630006000011234567890189\n  bic: AGRIFRPP\n",
    );
    let start = text.find("policy:").unwrap();
    let end = text.find("templates:").unwrap();
    std::fs::write(
        &path,
        format!(
            "{}{policy}late_payment:\n  rates_file: {}\n{}",
            &text[..start],
            rates.display(),
            &text[end..]
        ),
    )
    .unwrap();
    path
}

async fn cmd(config: &std::path::Path, now: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", config.to_str().unwrap(), "--now", now];
    all.extend_from_slice(args);
    run(relance(&all)).await
}

async fn tasks(config: &std::path::Path, now: &str) -> Vec<Value> {
    let out = cmd(config, now, &["tasks", "--format", "json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    v["tasks"].as_array().unwrap().clone()
}

both_backends!(review_queue_through_the_binary, |db: TestDb| async move {
    let smtp = SmtpSink::start().await;
    let config = config(&db, &smtp.url());
    let day = |d: &str| format!("{d}T10:00:00+01:00");
    // D+7: the one automatic reminder.
    assert!(
        cmd(&config, &day("2027-01-22"), &["run", "--once"])
            .await
            .status
            .success()
    );
    assert_eq!(smtp.messages().len(), 1);
    // D+14: past the limit, the firm reminder waits for a person.
    assert!(
        cmd(&config, &day("2027-01-29"), &["run", "--once"])
            .await
            .status
            .success()
    );
    assert_eq!(smtp.messages().len(), 1, "not sent by itself");
    let list = tasks(&config, &day("2027-01-29")).await;
    assert_eq!(list.len(), 1, "{list:#?}");
    let firm = &list[0];
    assert_eq!(firm["step"], "firm");
    assert_eq!(firm["channel"], "email");
    assert_eq!(firm["amount"], "1248.00");
    assert_eq!(firm["days_late"], 14);
    assert!(
        firm["reason"]
            .as_str()
            .unwrap()
            .contains("step limit reached")
    );
    assert_eq!(firm["history"][0]["step"], "friendly");
    assert_eq!(firm["history"][0]["status"], "sent");
    let text = stdout(&cmd(&config, &day("2027-01-29"), &["tasks"]).await);
    assert!(
        text.contains("Waiting for a person (1)") && text.contains("a@brasserie.example"),
        "{text}"
    );
    // Approved: it goes out with the next round.
    let id = firm["id"].as_i64().unwrap().to_string();
    let out = cmd(
        &config,
        &day("2027-01-29"),
        &["tasks", "approve", &id, "--note", "OK Claire"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        cmd(&config, &day("2027-01-29"), &["run", "--once"])
            .await
            .status
            .success()
    );
    assert_eq!(smtp.messages().len(), 2);
    assert!(tasks(&config, &day("2027-01-29")).await.is_empty());
    // Acting on it again is refused.
    let out = cmd(&config, &day("2027-01-29"), &["tasks", "skip", &id]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no task"), "{}", stderr(&out));
    // D+30: a call to make.
    assert!(
        cmd(&config, &day("2027-02-14"), &["run", "--once"])
            .await
            .status
            .success()
    );
    let list = tasks(&config, &day("2027-02-14")).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["step"], "call");
    assert_eq!(list[0]["assignee"], "owner");
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let out = cmd(
        &config,
        &day("2027-02-14"),
        &["tasks", "done", &id, "--note", "promised for the 20th"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // D+31: the formal notice to approve; approved, it is generated as a PDF and e-mailed to
    // the approver, ready to post.
    assert!(
        cmd(&config, &day("2027-02-15"), &["run", "--once"])
            .await
            .status
            .success()
    );
    assert_eq!(
        smtp.messages().len(),
        2,
        "people's steps send nothing by themselves"
    );
    let list = tasks(&config, &day("2027-02-15")).await;
    assert_eq!(list[0]["step"], "notice");
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let out = cmd(&config, &day("2027-02-15"), &["tasks", "approve", &id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("letter"), "{}", stdout(&out));
    let letters: Vec<_> = std::fs::read_dir(db.dir.path().join("letters"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(letters.len(), 1);
    let pdf = std::fs::read(letters[0].path()).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    // Both parties' addresses, the invoice and the amounts, read back from the PDF.
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc
        .extract_text(&pages)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        "Brasserie du Port",
        "4 quai des Bateliers",
        "67000 Strasbourg",
        "F-1",
        "Mise en demeure",
        "L441-10",
        "IBAN FR76 3000 6000 0112 3456 7890 189",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from the letter: {text}"
        );
    }
    let to_approver: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == "compta@atelier-dupont.fr"))
        .collect();
    assert_eq!(to_approver.len(), 1);
    let parsed = to_approver[0].parsed();
    let attachment = parsed.attachments().next().expect("the PDF is attached");
    assert!(attachment.contents().starts_with(b"%PDF"));
    assert_eq!(
        scalar(
            &db.url,
            "SELECT COUNT(*) FROM reminders WHERE step = 'notice' AND status = 'sent'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &db.url,
            "SELECT COUNT(*) FROM reminders WHERE status = 'review'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &db.url,
            "SELECT COUNT(*) FROM reminders WHERE step = 'call' AND status = 'sent'"
        )
        .await,
        1
    );
});

async fn plan_json(config: &std::path::Path, day: &str) -> Value {
    let out = cmd(
        config,
        &format!("{day}T10:00:00+01:00"),
        &["plan", "--at", day, "--format", "json"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

both_backends!(disputes_promises_and_pauses, |db: TestDb| async move {
    let smtp = SmtpSink::start().await;
    let config = config(&db, &smtp.url());
    let now = "2027-01-20T10:00:00+01:00";
    assert!(cmd(&config, now, &["sync"]).await.status.success());
    // Disputed: not chased, with the reason shown, until resumed.
    let out = cmd(
        &config,
        now,
        &[
            "dispute",
            "F-1",
            "--reason",
            "goods damaged",
            "--by",
            "claire",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = plan_json(&config, "2027-01-22").await;
    assert_eq!(plan["actions"].as_array().unwrap().len(), 0, "{plan:#}");
    let held = &plan["held"][0];
    assert_eq!(held["reason"]["code"], "paused");
    assert!(
        held["detail"]
            .as_str()
            .unwrap()
            .contains("dispute: goods damaged"),
        "{held}"
    );
    assert!(
        cmd(&config, now, &["resume", "F-1", "--by", "claire"])
            .await
            .status
            .success()
    );
    assert_eq!(
        plan_json(&config, "2027-01-22").await["actions"][0]["step"],
        "friendly"
    );
    // A promise pauses until its day; broken, the ladder resumes and says so.
    assert!(
        cmd(&config, now, &["promise", "F-1", "--until", "2027-01-25"])
            .await
            .status
            .success()
    );
    assert_eq!(
        plan_json(&config, "2027-01-24").await["held"][0]["reason"]["code"],
        "paused"
    );
    let after = plan_json(&config, "2027-01-26").await;
    assert_eq!(after["actions"][0]["step"], "friendly");
    assert!(
        after["actions"][0]["notes"][0]
            .as_str()
            .unwrap()
            .contains("promise to pay by 2027-01-25: broken"),
        "{after:#}"
    );
    // A customer paused.
    assert!(
        cmd(
            &config,
            now,
            &[
                "pause",
                "Brasserie du Port",
                "--until",
                "2027-02-28",
                "--reason",
                "holidays"
            ]
        )
        .await
        .status
        .success()
    );
    let held = plan_json(&config, "2027-02-10").await["held"][0].clone();
    assert!(
        held["detail"].as_str().unwrap().contains("holidays"),
        "{held}"
    );
    // Unknown names are refused clearly.
    let out = cmd(&config, now, &["dispute", "F-999", "--reason", "x"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nothing named `F-999`"));
    assert_eq!(
        scalar(&db.url, "SELECT COUNT(*) FROM interventions").await,
        4
    );
});

both_backends!(firm_reminder_shows_late_fees, |db: TestDb| async move {
    let smtp = SmtpSink::start().await;
    let csv = db.dir.path().join("invoices.csv");
    std::fs::write(
        &csv,
        "number,customer,email,locale,total,balance,currency,issued_on,due_on,status\n\
         F-1,Brasserie du Port,a@brasserie.example,fr,1248.00,1248.00,EUR,2026-01-01,2026-02-01,open\n\
         F-2,Kobayashi,b@kobayashi.example,fr,500.00,500.00,EUR,2026-05-01,2026-06-20,open\n",
    )
    .unwrap();
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.csv = Some(csv);
    let path = write_config(db.dir.path(), &setup);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("template: firm }", "template: firm, show_late_fees: true }");
    std::fs::write(&path, text).unwrap();
    // F-1, 14 days late on 2026-02-15: 1248.00 × 12.15 % × 14 / 365 = 5.8158… → 5,82 €;
    // + 40,00 € indemnity → 1 293,82 €.
    for day in ["2026-02-08", "2026-02-15"] {
        let out = cmd(&path, &format!("{day}T10:00:00+01:00"), &["run", "--once"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let firm = smtp
        .messages()
        .into_iter()
        .find(|m| m.subject().contains("F-1") && m.text().contains("pénalités de retard ("))
        .expect("the firm reminder of F-1");
    let body = firm.text();
    for expected in [
        "14 jours au taux annuel de 12,15 %",
        "5,82 €",
        "40,00 €",
        "1 293,82 €",
        "L441-10",
    ] {
        assert!(body.contains(expected), "`{expected}` missing:\n{body}");
    }
    // F-2's delay runs into 2026-S2, which the shipped table does not have: the firm reminder
    // goes out without figures (never made up), with the general statement instead.
    for day in ["2026-06-27", "2026-07-04"] {
        assert!(
            cmd(&path, &format!("{day}T10:00:00+02:00"), &["run", "--once"])
                .await
                .status
                .success()
        );
    }
    let firm2: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.subject().contains("F-2"))
        .collect();
    let last = firm2.last().unwrap().text();
    assert!(
        last.contains("indemnité forfaitaire pour frais de recouvrement de 40 €"),
        "{last}"
    );
    assert!(!last.contains("taux annuel"), "{last}");
});

both_backends!(alerts_once_per_crossing, |db: TestDb| async move {
    let smtp = SmtpSink::start().await;
    let csv = db.dir.path().join("invoices.csv");
    let write = |balance: &str| {
        std::fs::write(
            &csv,
            format!(
                "number,customer,email,locale,total,balance,currency,issued_on,due_on,status\n\
                 F-1,Brasserie du Port,a@brasserie.example,fr,12000.00,{balance},EUR,2026-12-01,2027-01-05,{}\n",
                if balance == "0" { "paid" } else { "open" }
            ),
        )
        .unwrap()
    };
    write("12000.00");
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.csv = Some(csv.clone());
    let path = write_config(db.dir.path(), &setup);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "  thank_you: { channel: email, template: thanks }\n",
        "  thank_you: { channel: email, template: thanks }\n  alerts:\n    - { id: big-debt, when: { customer_overdue_total_at_least: 10000.00 }, notify: boss@atelier-dupont.fr }\n",
    );
    std::fs::write(&path, text).unwrap();
    let alerts = || {
        smtp.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == "boss@atelier-dupont.fr"))
            .count()
    };
    let run_on = |day: &'static str| {
        let path = path.clone();
        async move {
            let out = cmd(&path, &format!("{day}T10:00:00+01:00"), &["run", "--once"]).await;
            assert!(out.status.success(), "{}", stderr(&out));
        }
    };
    run_on("2027-01-10").await;
    assert_eq!(alerts(), 1, "crossed: told");
    run_on("2027-01-11").await;
    assert_eq!(alerts(), 1, "still above: not told again");
    write("0");
    run_on("2027-01-12").await;
    assert_eq!(alerts(), 1);
    write("12000.00");
    run_on("2027-01-13").await;
    assert_eq!(alerts(), 2, "fell below, crossed again: told again");
    let m = smtp
        .messages()
        .into_iter()
        .find(|m| m.to.iter().any(|t| t == "boss@atelier-dupont.fr"))
        .unwrap();
    assert!(
        m.subject().contains("big-debt") && m.subject().contains("Brasserie du Port"),
        "{}",
        m.subject()
    );
});

both_backends!(one_message_per_customer, |db: TestDb| async move {
    let smtp = SmtpSink::start().await;
    let csv = db.dir.path().join("invoices.csv");
    let write = |f2: &str| {
        std::fs::write(
            &csv,
            format!(
                "number,customer,email,locale,total,balance,currency,issued_on,due_on,status\n\
                 F-1,Brasserie du Port,a@brasserie.example,fr,100.00,100.00,EUR,2026-12-01,2027-01-10,open\n\
                 F-2,Brasserie du Port,a@brasserie.example,fr,200.00,{f2},EUR,2026-12-01,2027-01-12,{}\n\
                 F-3,Brasserie du Port,a@brasserie.example,fr,300.00,300.00,EUR,2026-12-01,2027-01-15,open\n",
                if f2 == "0" { "paid" } else { "open" }
            ),
        )
        .unwrap()
    };
    write("200.00");
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.csv = Some(csv.clone());
    let path = write_config(db.dir.path(), &setup);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "  min_balance: 5.00\n",
        "  min_balance: 5.00\n  group_by_customer: true\n",
    );
    std::fs::write(&path, text).unwrap();
    let run_on = |day: &'static str| {
        let path = path.clone();
        async move {
            let out = cmd(&path, &format!("{day}T10:00:00+01:00"), &["run", "--once"]).await;
            assert!(out.status.success(), "{}", stderr(&out));
        }
    };
    // Three invoices each due a friendly reminder: one message listing all three.
    run_on("2027-01-22").await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "one message for the customer");
    let body = messages[0].text();
    for n in ["F-1", "F-2", "F-3"] {
        assert!(body.contains(n), "{n} missing:\n{body}");
    }
    assert!(
        messages[0].subject().contains("F-1"),
        "timed on the oldest: {}",
        messages[0].subject()
    );
    assert_eq!(
        scalar(
            &db.url,
            "SELECT COUNT(*) FROM reminders WHERE step = 'friendly' AND status = 'sent'"
        )
        .await,
        3,
        "each invoice's ladder advances"
    );
    // F-2 paid: gone from the next message (its thank-you goes on its own).
    write("0");
    run_on("2027-01-24").await;
    let firm = smtp
        .messages()
        .into_iter()
        .find(|m| m.text().contains("Malgré notre précédent rappel"))
        .expect("the firm reminder");
    let body = firm.text();
    assert!(body.contains("F-1") && body.contains("F-3"), "{body}");
    assert!(
        !body.contains("F-2"),
        "a paid invoice is not listed:\n{body}"
    );
});

both_backends!(payment_plan_through_the_binary, |db: TestDb| async move {
    let smtp = SmtpSink::start().await;
    let csv = db.dir.path().join("invoices.csv");
    std::fs::write(
        &csv,
        "number,customer,email,locale,total,balance,currency,issued_on,due_on,status\n\
         F-1,Brasserie du Port,a@brasserie.example,fr,1248.00,1248.00,EUR,2026-12-01,2027-01-15,open\n",
    )
    .unwrap();
    let mut setup = Setup::new(&db.url, &smtp.url());
    setup.csv = Some(csv);
    let path = write_config(db.dir.path(), &setup);
    let at = |d: &str| format!("{d}T10:00:00+01:00");
    assert!(
        cmd(&path, &at("2027-01-20"), &["sync"])
            .await
            .status
            .success()
    );
    let out = cmd(
        &path,
        &at("2027-01-20"),
        &[
            "payment-plan",
            "F-1",
            "--instalments",
            "3",
            "--every",
            "30d",
            "--first",
            "2027-02-01",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("3. 2027-04-02"), "{}", stdout(&out));
    // The ladder is replaced: no friendly reminder on D+7.
    let plan = plan_json(&path, "2027-01-22").await;
    assert_eq!(
        plan["held"][0]["reason"]["code"], "payment_plan",
        "{plan:#}"
    );
    assert!(
        cmd(&path, &at("2027-01-22"), &["run", "--once"])
            .await
            .status
            .success()
    );
    assert_eq!(smtp.messages().len(), 0);
    // The first instalment's reminder on its day: 1248.00 / 3 = 416.00.
    assert!(
        cmd(&path, &at("2027-02-01"), &["run", "--once"])
            .await
            .status
            .success()
    );
    let m = &smtp.messages()[0];
    assert!(m.subject().contains("1/3"), "{}", m.subject());
    assert!(
        m.text().contains("416,00 €") && m.text().contains("1er février 2027"),
        "{}",
        m.text()
    );
    // Not paid: after the grace days the plan is broken and the ladder resumes.
    let plan = plan_json(&path, "2027-02-10").await;
    assert_eq!(plan["actions"][0]["step"], "firm", "{plan:#}");
    assert!(
        plan["actions"][0]["notes"][0]
            .as_str()
            .unwrap()
            .contains("payment plan broken")
    );
    // A schedule that does not add up to the balance is refused.
    let out = cmd(
        &path,
        &at("2027-02-10"),
        &["payment-plan", "F-1", "--schedule", "2027-03-01=100.00"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("add up to"), "{}", stderr(&out));
});

#[tokio::test]
async fn rates_listed_and_updated_from_the_ecb() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let dir = tempfile::tempdir().unwrap();
    // Today's half-year (2026-S2) is not in the shipped table: said, with a failing status.
    let out = run(relance(&["--now", "2026-11-25T10:00:00Z", "rates"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("(2026-S2) is MISSING"),
        "{}",
        stdout(&out)
    );
    let ecb = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "KEY,FREQ,REF_AREA,TIME_PERIOD,OBS_VALUE\n\
             FM.B.U2.EUR.4F.KR.MRR_FX.LEV,B,U2,2025-06-11,2.15\n\
             FM.B.U2.EUR.4F.KR.MRR_FX.LEV,B,U2,2026-09-16,1.90\n",
        ))
        .mount(&ecb)
        .await;
    let file = dir.path().join("rates.csv");
    let url = format!(
        "{}/service/data/FM/B.U2.EUR.4F.KR.MRR_FX.LEV?format=csvdata",
        ecb.uri()
    );
    let file_s = file.to_str().unwrap();
    // Without the legal rate of the half-year (no machine source): refused, with the ECB rate.
    let out = run(relance(&[
        "--now",
        "2026-11-25T10:00:00Z",
        "rates",
        "update",
        "--out",
        file_s,
        "--ecb-url",
        &url,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("2.15 %"), "{}", stderr(&out));
    let out = run(relance(&[
        "--now",
        "2026-11-25T10:00:00Z",
        "rates",
        "update",
        "--out",
        file_s,
        "--ecb-url",
        &url,
        "--legal-professional",
        "2.62",
        "--legal-consumer",
        "6.67",
    ]))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // The rate in force on 1 July 2026 (2.15), not the later cut.
    assert!(
        stdout(&out).contains("2026-S2: ECB rate 2.15 %"),
        "{}",
        stdout(&out)
    );
    let out = run(relance(&[
        "--now",
        "2026-11-25T10:00:00Z",
        "rates",
        "--rates-file",
        file_s,
    ]))
    .await;
    assert!(out.status.success(), "{}", stdout(&out));
    // The new half-year is used: 1000.00 from 2026-07-02 to 2026-07-31 (30 days) at 12.15 %:
    // 1000 × 0.1215 × 30 / 365 = 9.9863… → 9.99.
    let out = run(relance(&[
        "late-fees",
        "--amount",
        "1000.00",
        "--due",
        "2026-07-01",
        "--at",
        "2026-07-31",
        "--rates-file",
        file_s,
        "--format",
        "json",
    ]))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["interest"], "9.99");
}

both_backends!(
    a_consumer_is_not_charged_b2b_penalties,
    |db: TestDb| async move {
        let smtp = SmtpSink::start().await;
        let csv = db.dir.path().join("invoices.csv");
        std::fs::write(
        &csv,
        "number,customer,email,locale,total,balance,currency,issued_on,due_on,status,customer_kind\n\
         F-1,Brasserie du Port,a@brasserie.example,fr,1248.00,1248.00,EUR,2026-01-01,2026-02-01,open,\n\
         F-2,Jeanne Martin,jeanne@example.com,fr,300.00,300.00,EUR,2026-01-01,2026-02-01,open,\n\
         F-3,Paul Durand,paul@example.com,fr,200.00,200.00,EUR,2026-01-01,2026-02-01,open,b2c\n",
    )
    .unwrap();
        let mut setup = Setup::new(&db.url, &smtp.url());
        setup.csv = Some(csv);
        setup.extra = "late_payment:\n  b2c_customers: [\"Jeanne Martin\"]\n".into();
        let path = write_config(db.dir.path(), &setup);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("template: firm }", "template: firm, show_late_fees: true }");
        std::fs::write(&path, text).unwrap();
        for day in ["2026-02-08", "2026-02-15"] {
            assert!(
                cmd(&path, &format!("{day}T10:00:00+01:00"), &["run", "--once"])
                    .await
                    .status
                    .success()
            );
        }
        let firm = |who: &str| {
            smtp.messages()
                .into_iter()
                .rfind(|m| m.to.iter().any(|t| t == who))
                .unwrap()
                .text()
        };
        assert!(
            firm("a@brasserie.example").contains("40,00 €"),
            "the business owes the indemnity"
        );
        let consumer = firm("jeanne@example.com");
        assert!(
            !consumer.contains("40"),
            "no B2B indemnity for a consumer:\n{consumer}"
        );
        assert!(
            !consumer.contains("L441-10"),
            "no B2B penalties for a consumer:\n{consumer}"
        );
        // Marked a consumer by the source (a CSV column, a connector field) instead.
        let marked = firm("paul@example.com");
        assert!(
            !marked.contains("L441-10") && !marked.contains("40,00"),
            "{marked}"
        );
    }
);

/// Text of a PDF, whitespace runs (no-break spaces included) as one space.
fn pdf_text(path: &std::path::Path) -> String {
    let doc = lopdf::Document::load_mem(&std::fs::read(path).unwrap()).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages)
        .unwrap()
        .split(|c: char| c.is_whitespace() || c == '\u{202f}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

both_backends!(
    a_consumer_letter_claims_legal_interest_from_the_first_notice,
    |db: TestDb| async move {
        let smtp = SmtpSink::start().await;
        let csv = "number,customer,email,locale,total,balance,currency,issued_on,due_on,status,customer_kind\n\
                   F-9,Paul Durand,paul@example.com,fr,1248.00,1248.00,EUR,2026-12-01,2027-01-15,open,b2c\n";
        let policy = "policy:
  max_automatic_reminders: 0
  min_balance: 5.00
  steps:
    - { id: notice,     offset_days: 10, channel: letter, template: mise_en_demeure }
    - { id: firm,       offset_days: 20, channel: email,  template: firm, show_late_fees: true }
    - { id: registered, offset_days: 40, channel: letter, template: lrar, registered: true }
  thank_you: { channel: email, template: thanks }
";
        let config = config_with(&db, &smtp.url(), csv, policy);
        let day = |d: &str| format!("{d}T10:00:00+01:00");
        let approve = |d: &'static str| {
            let config = config.clone();
            async move {
                assert!(
                    cmd(&config, &day(d), &["run", "--once"])
                        .await
                        .status
                        .success()
                );
                let list = tasks(&config, &day(d)).await;
                assert_eq!(list.len(), 1, "{list:#?}");
                let id = list[0]["id"].as_i64().unwrap().to_string();
                let out = cmd(&config, &day(d), &["tasks", "approve", &id]).await;
                assert!(out.status.success(), "{}", stderr(&out));
            }
        };
        let letters = || {
            let mut l: Vec<_> = std::fs::read_dir(db.dir.path().join("letters"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            l.sort();
            l
        };
        // D+10, the formal notice: a consumer owes the balance; no commercial-code penalty,
        // no EUR 40; legal interest will run from this notice.
        approve("2027-01-25").await;
        let first = pdf_text(&letters()[0]);
        for expected in [
            "Mise en demeure",
            "1231-6 et 1344-1 du Code civil",
            "Total réclamé : 1 248,00 €",
        ] {
            assert!(first.contains(expected), "`{expected}` missing: {first}");
        }
        assert!(
            !first.contains("L441-10") && !first.contains("40,00"),
            "{first}"
        );
        // D+20, the firm e-mail (approved): legal interest since the notice, 26 Jan to 4 Feb,
        // 10 days: 1248 × 2.62 % × 10/365 = 0.8958 → 0,90 €; no commercial-code wording.
        approve("2027-02-04").await;
        assert!(
            cmd(&config, &day("2027-02-04"), &["run", "--once"])
                .await
                .status
                .success()
        );
        let firm = smtp
            .messages()
            .into_iter()
            .rfind(|m| m.to.iter().any(|t| t == "paul@example.com"))
            .expect("the firm e-mail")
            .text();
        assert!(
            firm.contains("intérêts au taux légal") && firm.contains("0,90"),
            "{firm}"
        );
        assert!(
            !firm.contains("L441-10") && !firm.contains("40,00"),
            "{firm}"
        );
        // D+40, the registered letter: legal interest (2027-S1 fixture: 2.62 %) from the day
        // after the notice, 26 Jan to 24 Feb, 30 days: 1248 × 2.62 % × 30/365 = 2.6875 → 2.69.
        approve("2027-02-24").await;
        let all = letters();
        assert_eq!(all.len(), 2, "{all:?}");
        let second = all
            .iter()
            .map(|p| pdf_text(p))
            .find(|t| t != &first)
            .unwrap();
        for expected in [
            "Lettre recommandée avec accusé de réception",
            "intérêts au taux légal 2,69 €",
            "Total réclamé : 1 250,69 €",
        ] {
            assert!(second.contains(expected), "`{expected}` missing: {second}");
        }
        assert!(!second.contains("L441-10"), "{second}");
    }
);

both_backends!(
    one_formal_notice_claims_all_the_customers_invoices_at_that_step,
    |db: TestDb| async move {
        let smtp = SmtpSink::start().await;
        let csv = "number,customer,email,locale,total,balance,currency,issued_on,due_on,status\n\
                   F-1,Brasserie du Port,a@brasserie.example,fr,1248.00,1248.00,EUR,2026-12-01,2027-01-15,open\n\
                   F-2,Brasserie du Port,a@brasserie.example,fr,300.00,300.00,EUR,2026-12-01,2027-01-10,open\n\
                   F-3,Café Central,c@cafe.example,fr,99.00,99.00,EUR,2026-12-01,2027-01-10,open\n";
        let policy = "policy:
  max_automatic_reminders: 0
  min_balance: 5.00
  group_by_customer: true
  steps:
    - { id: notice, offset_days: 10, channel: letter, template: mise_en_demeure }
  thank_you: { channel: email, template: thanks }
";
        let config = config_with(&db, &smtp.url(), csv, policy);
        let now = "2027-01-25T10:00:00+01:00";
        assert!(cmd(&config, now, &["run", "--once"]).await.status.success());
        let list = tasks(&config, now).await;
        assert_eq!(list.len(), 3, "{list:#?}");
        let f1 = list.iter().find(|t| t["invoice"] == "F-1").unwrap();
        let out = cmd(
            &config,
            now,
            &["tasks", "approve", &f1["id"].as_i64().unwrap().to_string()],
        )
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
        // One letter for the brasserie, claiming both invoices; the café's task still waits.
        let letters: Vec<_> = std::fs::read_dir(db.dir.path().join("letters"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(letters.len(), 1);
        let text = pdf_text(&letters[0]);
        for expected in ["F-1", "F-2", "1 548,00 €", "Brasserie du Port"] {
            assert!(text.contains(expected), "`{expected}` missing: {text}");
        }
        assert!(!text.contains("F-3"), "{text}");
        let left = tasks(&config, now).await;
        assert_eq!(left.len(), 1, "{left:#?}");
        assert_eq!(left[0]["invoice"], "F-3");
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM reminders WHERE step = 'notice' AND status = 'sent'"
            )
            .await,
            2
        );
        let to_approver = smtp
            .messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == "compta@atelier-dupont.fr"))
            .count();
        assert_eq!(to_approver, 1, "one letter, one e-mail to the approver");
    }
);
