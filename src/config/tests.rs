//! Configuration parsing and validation: every error at once, with its path; no secret echoed.

use std::path::Path;

use secrecy::ExposeSecret;

use super::*;

const ISSUE_YAML: &str = r#"
database: sqlite://relance.db
server:
  listen: 127.0.0.1:8080
  public_url: https://relance.example.com
company:
  name: Atelier Dupont SARL
  email: compta@atelier-dupont.fr
  timezone: Europe/Paris
  locale: fr
connectors:
  - id: stripe-main
    kind: stripe
    api_key: ${STRIPE_SECRET_KEY}
    webhook_secret: ${STRIPE_WEBHOOK_SECRET}
    api_base: https://api.stripe.com
    poll_interval: 10m
  - id: legacy
    kind: csv
    path: exports/invoices.csv
channels:
  email:
    smtp: smtp://compta%40atelier-dupont.fr:${SMTP_PASSWORD}@smtp.example.com:587
    from: "Atelier Dupont <compta@atelier-dupont.fr>"
    reply_to: compta@atelier-dupont.fr
    test_recipient: null
policy:
  max_automatic_reminders: 2
  min_balance: 5.00
  steps:
    - { id: courtesy, offset_days: -3, channel: email, template: courtesy }
    - { id: friendly, offset_days: 7,  channel: email, template: friendly }
    - { id: firm,     offset_days: 14, channel: email, template: firm }
  thank_you: { channel: email, template: thanks }
templates: TEMPLATES
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "STRIPE_SECRET_KEY" => Some("sk_test_51SuperSecretKeyValue".into()),
        "STRIPE_WEBHOOK_SECRET" => Some("whsec_SuperSecretWebhook".into()),
        "SMTP_PASSWORD" => Some("hunter2/@:x".into()),
        _ => None,
    }
}

fn templates_dir() -> String {
    format!("{}/config/templates", env!("CARGO_MANIFEST_DIR"))
}

fn parse_text(text: &str) -> Result<Config, Issues> {
    let text = text.replace("TEMPLATES", &templates_dir());
    let mut issues = Issues::default();
    let base = Path::new("/etc/relance");
    let config = parse(&text, &base.join("relance.yaml"), base, &env, &mut issues);
    match config {
        Some(c) if issues.is_empty() => Ok(c),
        _ => Err(issues),
    }
}

fn paths(issues: &Issues) -> Vec<&str> {
    issues.0.iter().map(|i| i.path.as_str()).collect()
}

#[test]
fn the_issue_example_parses() {
    let c = parse_text(ISSUE_YAML).unwrap();
    assert_eq!(
        c.database.expose_secret(),
        "sqlite:///etc/relance/relance.db"
    );
    assert_eq!(c.connectors.len(), 2);
    assert_eq!(c.connectors[0].poll_interval, Duration::from_secs(600));
    assert_eq!(c.connectors[1].settings.kind(), "csv");
    match &c.connectors[1].settings {
        ConnectorSettings::Csv(csv) => {
            assert_eq!(csv.path, Path::new("/etc/relance/exports/invoices.csv"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.policy.steps.len(), 3);
    assert_eq!(c.policy.min_balance.to_string(), "5");
    assert_eq!(c.company.timezone, chrono_tz::Europe::Paris);
    let email = c.email.as_ref().unwrap();
    match &email.target {
        crate::channels::email::SmtpTarget::Smtp {
            host, credentials, ..
        } => {
            assert_eq!(host, "smtp.example.com");
            let (user, pass) = credentials.as_ref().unwrap();
            assert_eq!(user, "compta@atelier-dupont.fr");
            // The password was percent-encoded into the URL and decoded back intact.
            assert_eq!(pass.expose_secret(), "hunter2/@:x");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let c = parse_text(ISSUE_YAML).unwrap();
    let debug = format!("{c:?}");
    for secret in [
        "sk_test_51SuperSecretKeyValue",
        "whsec_SuperSecretWebhook",
        "hunter2",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
}

#[test]
fn every_error_is_reported_at_once_with_its_path() {
    let text = ISSUE_YAML
        .replace("offset_days: 14", "offset_days: soon")
        .replace("timezone: Europe/Paris", "timezone: Mars/Olympus")
        .replace("kind: csv", "kind: cvs")
        .replace(
            "max_automatic_reminders: 2",
            "max_automatic_reminders: 2\n  surprise: 1",
        )
        .replace("listen: 127.0.0.1:8080", "listen: here");
    let issues = parse_text(&text).unwrap_err();
    let p = paths(&issues);
    for expected in [
        "policy.steps[2].offset_days",
        "company.timezone",
        "connectors[1].kind",
        "policy.surprise",
        "server.listen",
    ] {
        assert!(p.contains(&expected), "{expected} missing from {issues}");
    }
    let steps = issues
        .0
        .iter()
        .find(|i| i.path == "policy.steps[2].offset_days")
        .unwrap();
    assert!(
        steps.message.starts_with("expected an integer"),
        "{}",
        steps.message
    );
    let unknown = issues
        .0
        .iter()
        .find(|i| i.path == "policy.surprise")
        .unwrap();
    assert!(
        unknown.message.contains("unknown field `surprise`"),
        "{}",
        unknown.message
    );
}

#[test]
fn a_missing_variable_names_the_variable_and_the_path() {
    let text = ISSUE_YAML.replace("${SMTP_PASSWORD}", "${SMTP_PASS}");
    let issues = parse_text(&text).unwrap_err();
    assert_eq!(
        issues.to_string(),
        "channels.email.smtp: environment variable SMTP_PASS is not set"
    );
}

#[test]
fn bad_secret_values_are_not_echoed() {
    let text = ISSUE_YAML.replace("${STRIPE_WEBHOOK_SECRET}", "${STRIPE_SECRET_KEY}");
    let issues = parse_text(&text).unwrap_err();
    assert!(paths(&issues).contains(&"connectors[0].webhook_secret"));
    assert!(!issues.to_string().contains("SuperSecret"), "{issues}");
}

#[test]
fn unknown_sections_and_connector_fields_are_errors() {
    let text = format!("{ISSUE_YAML}\nextra: 1\n")
        .replace("poll_interval: 10m", "poll_interval: 10m\n    api_kye: x");
    let issues = parse_text(&text).unwrap_err();
    let p = paths(&issues);
    assert!(p.contains(&"extra"), "{issues}");
    assert!(p.contains(&"connectors[0].api_kye"), "{issues}");
    assert!(
        issues.to_string().contains("unknown field `api_kye`"),
        "{issues}"
    );
}

#[test]
fn duplicate_ids_and_email_steps_without_a_channel() {
    let text = ISSUE_YAML
        .replace("id: legacy", "id: stripe-main")
        .replace("id: firm,", "id: friendly,");
    let issues = parse_text(&text).unwrap_err();
    let p = paths(&issues);
    assert!(p.contains(&"connectors[1].id"), "{issues}");
    assert!(p.contains(&"policy.steps[2].id"), "{issues}");

    let start = ISSUE_YAML.find("channels:").unwrap();
    let end = ISSUE_YAML.find("policy:").unwrap();
    let no_channels = format!("{}{}", &ISSUE_YAML[..start], &ISSUE_YAML[end..]);
    let issues = parse_text(&no_channels).unwrap_err();
    assert!(
        paths(&issues).contains(&"policy.steps[0].channel"),
        "{issues}"
    );
}

#[test]
fn missing_templates_are_reported_per_step() {
    let text = ISSUE_YAML.replace("template: firm", "template: ferme");
    let issues = parse_text(&text).unwrap_err();
    assert_eq!(paths(&issues), vec!["policy.steps[2].template"]);
    assert!(issues.to_string().contains("ferme.fr.subject"), "{issues}");
}

#[test]
fn syntax_errors_are_one_clear_error() {
    let issues = parse_text("company: [unclosed").unwrap_err();
    assert_eq!(issues.0.len(), 1);
    assert!(
        issues.0[0].message.starts_with("not valid YAML"),
        "{issues}"
    );
}

#[test]
fn database_urls() {
    let pg = ISSUE_YAML.replace(
        "sqlite://relance.db",
        "postgres://relance:${STRIPE_SECRET_KEY}@db.internal/relance",
    );
    let c = parse_text(&pg).unwrap();
    assert!(
        c.database
            .expose_secret()
            .starts_with("postgres://relance:sk_test_")
    );
    let bad = ISSUE_YAML.replace("sqlite://relance.db", "mysql://x");
    assert_eq!(paths(&parse_text(&bad).unwrap_err()), vec!["database"]);
}

#[test]
fn paths_are_resolved_and_folded() {
    assert_eq!(
        resolve(Path::new("/a/b/config"), Path::new("../../out/x.db")),
        Path::new("/a/out/x.db")
    );
    assert_eq!(
        resolve(Path::new("/a"), Path::new("/abs")),
        Path::new("/abs")
    );
}

#[test]
fn bank_details_are_checked_and_formatted_for_letters() {
    let with = |iban: &str, bic: &str| {
        ISSUE_YAML.replace(
            "  locale: fr\n",
            &format!("  locale: fr\n  iban: \"{iban}\"\n  bic: \"{bic}\"\n"),
        )
    };
    // The example IBAN of the French banking federation, spaces anywhere, lower case.
    let c = parse_text(&with("fr7630006000011234567890189", "agrifrpp")).unwrap();
    assert_eq!(
        c.company.bank.as_deref(),
        Some("IBAN FR76 3000 6000 0112 3456 7890 189 – BIC AGRIFRPP")
    );
    // One digit changed: the check digits no longer match.
    let issues = parse_text(&with("FR76 3000 6000 0112 3456 7890 188", "AGRIFRPP")).unwrap_err();
    assert_eq!(paths(&issues), vec!["company.iban"], "{issues}");
    let issues = parse_text(&with("FR76 3000 6000 0112 3456 7890 189", "AGRI")).unwrap_err();
    assert_eq!(paths(&issues), vec!["company.bic"], "{issues}");
    assert_eq!(parse_text(ISSUE_YAML).unwrap().company.bank, None);
    assert_eq!(
        iban_formatted("DE89 3704 0044 0532 0130 00").as_deref(),
        Some("DE89 3704 0044 0532 0130 00")
    );
    assert_eq!(
        iban_formatted("GB82 WEST 1234 5698 7654 32").as_deref(),
        Some("GB82 WEST 1234 5698 7654 32")
    );
    assert_eq!(iban_formatted("not an iban"), None);
}
