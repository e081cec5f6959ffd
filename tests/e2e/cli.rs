//! The command line as a user meets it: `check`, `migrate`, `sync`, `plan --at`, the demo.

use std::path::Path;

use serde_json::Value;

use crate::both_backends;
use crate::common::db::TestDb;
use crate::common::smtp::SmtpSink;
use crate::common::stripe::{self, FakeStripe};
use crate::common::{
    SMTP_PASSWORD, Setup, config_yaml, relance, run, scalar, stderr, stdout, write_config,
};

const CSV: &str = "number,customer,email,locale,total,balance,currency,issued_on,due_on,status\n\
F-1,Brasserie du Port,a@brasserie.example,fr,1248.00,1248.00,EUR,2026-12-01,2027-01-08,open\n\
F-2,Kobayashi,b@kobayashi.example,en,500.00,500.00,EUR,2026-12-01,2027-01-18,open\n\
F-3,Hôtel,c@hotel.example,fr,960.00,0,EUR,2026-12-01,2027-01-05,paid\n\
F-4,Librairie,d@librairie.example,fr,3.00,3.00,EUR,2026-12-01,2027-01-01,open\n\
F-5,Cabinet,e@cabinet.example,fr,100.00,100.00,EUR,2026-12-01,2027-03-01,open\n\
F-6,Broken,x@broken.example,fr,abc,abc,EUR,2026-12-01,2027-01-01,open\n";

fn csv_setup(db: &TestDb, smtp: &str) -> std::path::PathBuf {
    let csv = db.dir.path().join("invoices.csv");
    std::fs::write(&csv, CSV).unwrap();
    let mut setup = Setup::new(&db.url, smtp);
    setup.csv = Some(csv);
    write_config(db.dir.path(), &setup)
}

#[tokio::test]
async fn check_reports_every_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = config_yaml(&Setup::new("sqlite://x.db", "file://out"))
        .replace("offset_days: 14", "offset_days: soon")
        .replace("timezone: Europe/Paris", "timezone: Europe/Pariss")
        .replace("min_balance: 5.00", "min_balance: 5.00\n  max_reminders: 3")
        .replace("template: thanks", "template: merci");
    let path = dir.path().join("relance.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = run(relance(&["--config", path.to_str().unwrap(), "check"])).await;
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    for line in [
        "policy.steps[2].offset_days: expected an integer",
        "company.timezone: unknown time zone `Europe/Pariss`",
        "policy.max_reminders: unknown field `max_reminders`",
    ] {
        assert!(text.contains(line), "`{line}` missing from:\n{text}");
    }
    assert!(
        text.contains("4 problem(s)") || text.contains("3 problem(s)"),
        "{text}"
    );
}

#[tokio::test]
async fn check_names_an_unset_variable() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::new("sqlite://x.db", "smtp://127.0.0.1:2525");
    setup.stripe = Some("http://127.0.0.1:1".into());
    let path = write_config(dir.path(), &setup);
    let mut cmd = relance(&["--config", path.to_str().unwrap(), "check"]);
    cmd.env_remove("STRIPE_SECRET_KEY");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out)
            .contains("connectors[0].api_key: environment variable STRIPE_SECRET_KEY is not set"),
        "{}",
        stdout(&out)
    );
}

both_backends!(
    secrets_never_reach_the_output_or_the_logs,
    |db: TestDb| async move {
        let fake = FakeStripe::start().await;
        fake.add_customer(stripe::customer("cus_a", "A", "a@example.com", "fr"));
        fake.add_invoice(stripe::invoice(
            "in_a", "F-1", "cus_a", 5000, "eur", 1799000000, 1796000000,
        ));
        let smtp = SmtpSink::start().await;
        let mut setup = Setup::new(&db.url, &smtp.url());
        setup.stripe = Some(fake.uri());
        let path = write_config(db.dir.path(), &setup);
        let config = path.to_str().unwrap();
        let secrets = [stripe::KEY, stripe::WEBHOOK_SECRET, SMTP_PASSWORD, "Pa55"];
        let mut outputs = vec![
            run(relance(&["--config", config, "check"])).await,
            run(relance(&[
                "--config",
                config,
                "--now",
                "2027-01-22T09:00:00Z",
                "run",
                "--once",
            ]))
            .await,
            run(relance(&[
                "--config",
                config,
                "--log-format",
                "json",
                "--now",
                "2027-01-23T09:00:00Z",
                "run",
                "--once",
            ]))
            .await,
            run(relance(&["--config", config, "check"])).await,
        ];
        // A refused key shows up as an error that names the variable, not the value.
        let wrong = relance(&["--config", config, "sync"])
            .env("STRIPE_SECRET_KEY", "sk_test_51WrongKeyWrongKey")
            .output()
            .unwrap();
        assert!(!wrong.status.success());
        assert!(
            stdout(&wrong).contains("STRIPE_SECRET_KEY"),
            "{}",
            stdout(&wrong)
        );
        assert!(!stdout(&wrong).contains("WrongKey") && !stderr(&wrong).contains("WrongKey"));
        outputs.push(wrong);
        for o in &outputs {
            let all = format!("{}{}", stdout(o), stderr(o));
            for s in secrets {
                assert!(!all.contains(s), "secret {s} leaked:\n{all}");
            }
        }
        assert_eq!(smtp.messages().len(), 1);
        assert!(stdout(&outputs[0]).contains("configuration is valid"));
        assert!(
            stdout(&outputs[3]).contains("reminders   sent 1"),
            "{}",
            stdout(&outputs[3])
        );
    }
);

both_backends!(
    plan_shows_what_would_go_out_and_why_not_and_sends_nothing,
    |db: TestDb| async move {
        let smtp = SmtpSink::start().await;
        let path = csv_setup(&db, &smtp.url());
        let config = path.to_str().unwrap();
        let out = run(relance(&["--config", config, "sync"])).await;
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("legacy: 5 invoices"), "{text}");
        assert!(
            text.contains("line 7") && text.contains("`abc`"),
            "bad row reported: {text}"
        );

        let out = run(relance(&["--config", config, "plan", "--at", "2027-01-15"])).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("Plan for 2027-01-15"), "{text}");
        assert!(text.contains("Would send (2)"), "{text}");
        assert!(
            text.contains("friendly") && text.contains("a@brasserie.example"),
            "{text}"
        );
        assert!(
            text.contains("courtesy") && text.contains("b@kobayashi.example"),
            "{text}"
        );
        assert!(text.contains("below the minimum"), "{text}");
        assert!(text.contains("next step courtesy on 2027-02-26"), "{text}");

        let out = run(relance(&[
            "--config",
            config,
            "plan",
            "--at",
            "2027-01-15",
            "--format",
            "json",
        ]))
        .await;
        let json: Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
        assert_eq!(json["date"], "2027-01-15");
        let actions = json["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 2);
        let a = actions.iter().find(|a| a["invoice"] == "F-1").unwrap();
        assert_eq!(a["step"], "friendly");
        assert_eq!(a["amount"], "1248.00");
        assert_eq!(a["currency"], "EUR");
        assert_eq!(a["days_from_due"], 7);
        assert_eq!(a["recipients"][0], "a@brasserie.example");
        let held = json["held"].as_array().unwrap();
        assert!(held.iter().any(|h| h["reason"]["code"] == "below_minimum"));
        assert!(json["counts"]["paid"].as_u64().unwrap() >= 1);
        // A dry run: nothing sent, nothing planned in the outbox.
        assert!(smtp.messages().is_empty());
        assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM reminders").await, 0);

        // Once the reminders went out, the plan says so.
        let out = run(relance(&[
            "--config",
            config,
            "--now",
            "2027-01-15T09:00:00+01:00",
            "run",
            "--once",
        ]))
        .await;
        assert!(out.status.success());
        assert_eq!(smtp.messages().len(), 2);
        let out = run(relance(&["--config", config, "plan", "--at", "2027-01-16"])).await;
        let text = stdout(&out);
        assert!(
            text.contains("already sent: friendly (2027-01-15)"),
            "{text}"
        );
    }
);

#[tokio::test]
async fn migrate_is_idempotent_and_unknown_connectors_are_refused() {
    let db = TestDb::sqlite().await;
    let path = csv_setup(&db, "file://out");
    let config = path.to_str().unwrap();
    for _ in 0..2 {
        let out = run(relance(&["--config", config, "migrate"])).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("up to date (sqlite)"));
    }
    let out = run(relance(&[
        "--config",
        config,
        "sync",
        "--connector",
        "nope",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no connector `nope`"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn the_readme_demo_runs_offline() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        &dir.path().join("config"),
    );
    let config = dir.path().join("config/demo/relance.yaml");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--now",
        "2026-12-01T09:00:00+01:00",
        "run",
        "--once",
    ];
    let out = run(relance(&args)).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Planned for 2026-12-01: 4 new reminder(s)"),
        "{text}"
    );
    assert!(text.contains("Sent 4, failed 0"), "{text}");
    let outbox = dir.path().join("demo-out/outbox");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 4);
    assert!(dir.path().join("demo-out/relance.db").exists());
    // Run again: already sent, nothing new.
    let out = run(relance(&args)).await;
    assert!(stdout(&out).contains("Sent 0"), "{}", stdout(&out));
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 4);
}

both_backends!(
    an_invoice_taken_out_of_the_csv_is_no_longer_chased,
    |db: TestDb| async move {
        let smtp = SmtpSink::start().await;
        let config = csv_setup(&db, &smtp.url());
        let csv = db.dir.path().join("invoices.csv");
        let sync = || async {
            let out = run(relance(&[
                "--config",
                config.to_str().unwrap(),
                "--now",
                "2027-01-10T09:00:00+01:00",
                "sync",
            ]))
            .await;
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out)
        };
        let open_f2 = || {
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE external_id = 'F-2' AND status = 'open'",
            )
        };
        sync().await;
        assert_eq!(open_f2().await, 1);
        // The admin deletes the F-2 row: the file is the whole book, F-2 is closed.
        let without: String = CSV
            .lines()
            .filter(|l| !l.starts_with("F-2,"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&csv, &without).unwrap();
        let said = sync().await;
        assert!(
            said.contains("1 open invoice(s) missing from the full listing"),
            "{said}"
        );
        assert_eq!(open_f2().await, 0);
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE external_id = 'F-2' AND status = 'void'"
            )
            .await,
            1
        );
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE status = 'open'"
            )
            .await,
            3,
            "the others untouched"
        );
        // Put back (a newer file): chased again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&csv, CSV).unwrap();
        sync().await;
        assert_eq!(open_f2().await, 1);
        // A file with no invoice at all looks like a broken export: nothing is closed.
        std::fs::write(&csv, CSV.lines().next().unwrap().to_string() + "\n").unwrap();
        sync().await;
        assert_eq!(
            scalar(
                &db.url,
                "SELECT COUNT(*) FROM invoices WHERE status = 'open'"
            )
            .await,
            4
        );
    }
);

#[tokio::test]
async fn the_readme_ladder_demo_runs_offline() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        &dir.path().join("config"),
    );
    let config = dir.path().join("config/demo/ladder.yaml");
    let cmd = |now: &'static str, args: &'static [&'static str]| {
        let config = config.clone();
        async move {
            let mut all = vec!["--config", config.to_str().unwrap(), "--now", now];
            all.extend_from_slice(args);
            let out = run(relance(&all)).await;
            assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
            stdout(&out)
        }
    };
    let tasks = |now: &'static str| async move {
        let v: Value =
            serde_json::from_str(&cmd(now, &["tasks", "--format", "json"]).await).unwrap();
        v["tasks"].as_array().unwrap().clone()
    };
    // 1 April: a courtesy notice, a firm reminder with its late fees, three calls to make.
    let text = cmd("2026-04-01T10:00:00+02:00", &["run", "--once"]).await;
    assert!(text.contains("Sent 2, failed 0"), "{text}");
    let calls = tasks("2026-04-01T10:00:00+02:00").await;
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert!(calls.iter().all(|t| t["step"] == "call"));
    for t in &calls {
        let id = t["id"].as_i64().unwrap().to_string();
        let config = config.clone();
        let out = run(relance(&[
            "--config",
            config.to_str().unwrap(),
            "--now",
            "2026-04-01T11:00:00+02:00",
            "tasks",
            "done",
            &id,
            "--note",
            "appel passé",
        ]))
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // 2 April: the formal notices; the brasserie's two invoices go in one letter.
    cmd("2026-04-02T10:00:00+02:00", &["run", "--once"]).await;
    let notices = tasks("2026-04-02T10:00:00+02:00").await;
    assert_eq!(notices.len(), 3, "{notices:#?}");
    let first = notices
        .iter()
        .find(|t| t["invoice"] == "F-2026-0031")
        .unwrap();
    let id = first["id"].as_i64().unwrap().to_string();
    let out = run(relance(&[
        "--config",
        config.to_str().unwrap(),
        "--now",
        "2026-04-02T10:30:00+02:00",
        "tasks",
        "approve",
        &id,
    ]))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let left = tasks("2026-04-02T10:30:00+02:00").await;
    assert_eq!(
        left.len(),
        1,
        "Jeanne Martin's notice still waits: {left:#?}"
    );
    let letters: Vec<_> = std::fs::read_dir(dir.path().join("config/demo/letters"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(letters.len(), 1);
    let doc = lopdf::Document::load(&letters[0]).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).unwrap();
    assert!(
        text.contains("F-2026-0031") && text.contains("F-2026-0032"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("demo-out/ladder/outbox"))
            .unwrap()
            .count(),
        3,
        "two reminders and the letter sent to the approver"
    );
}
