//! Message templates: `<template>.<locale>.subject`, `.txt` and (optional) `.html` files in the
//! templates folder, rendered with minijinja (HTML auto-escaped, undefined variables are
//! errors). The locale falls back from the customer's language to the company's, then `en`.

pub mod format;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use relance_core::Money;
use serde::Serialize;

/// A rendering failure: names the template file.
#[derive(Debug, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct TemplateError {
    /// File name.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Subject (one line).
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML, if the template has one.
    pub html: Option<String>,
    /// Locale used.
    pub locale: String,
}

/// One invoice as templates see it: amounts and dates already formatted for the locale.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceView {
    /// Number.
    pub number: String,
    /// Total, formatted.
    pub total: String,
    /// Still owed, formatted.
    pub balance: String,
    /// Amount as a plain decimal (`1234.56`).
    pub balance_amount: String,
    /// ISO currency code.
    pub currency: String,
    /// Issue date, formatted.
    pub issued_on: Option<String>,
    /// Due date, formatted.
    pub due_on: Option<String>,
    /// Due date, ISO.
    pub due_date: Option<String>,
    /// Days past the due date (0 if not due).
    pub days_overdue: i64,
    /// Days until the due date (0 if due or past).
    pub days_until_due: i64,
    /// Where to pay.
    pub payment_url: Option<String>,
}

impl InvoiceView {
    /// Builds the view of an invoice for `locale` on `today`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        number: &str,
        total: &Money,
        balance: &Money,
        issued_on: Option<NaiveDate>,
        due_on: Option<NaiveDate>,
        payment_url: Option<&str>,
        locale: &str,
        today: NaiveDate,
    ) -> Self {
        let days = due_on.map(|d| (today - d).num_days()).unwrap_or(0);
        InvoiceView {
            number: number.to_string(),
            total: format::money(total, locale),
            balance: format::money(balance, locale),
            balance_amount: balance.amount.to_string(),
            currency: balance.currency.code().to_string(),
            issued_on: issued_on.map(|d| format::date(d, locale)),
            due_on: due_on.map(|d| format::date(d, locale)),
            due_date: due_on.map(|d| d.to_string()),
            days_overdue: days.max(0),
            days_until_due: (-days).max(0),
            payment_url: payment_url.map(str::to_string),
        }
    }
}

/// Everything a template can use.
#[derive(Debug, Clone, Serialize)]
pub struct MessageContext {
    /// `{name, email}` of the business.
    pub company: Party,
    /// `{name, email}` of the customer.
    pub customer: Party,
    /// The invoice the message is about (the oldest when several).
    pub invoice: InvoiceView,
    /// Every invoice in the message (several when grouped by customer).
    pub invoices: Vec<InvoiceView>,
    /// Step id (`friendly`).
    pub step: String,
    /// Today, formatted.
    pub today: String,
    /// Language used.
    pub locale: String,
    /// Late-payment interest and indemnity, on steps with `show_late_fees` (absent when they
    /// cannot be computed: never a made-up figure).
    pub late_fees: Option<LateFeesView>,
    /// The instalment a payment-plan reminder is about.
    pub instalment: Option<InstalmentView>,
    /// The customer is a consumer: the B2B late-payment penalties and the EUR 40 indemnity
    /// do not apply to them.
    pub b2c: bool,
}

/// An instalment of a payment plan, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct InstalmentView {
    /// 1-based.
    pub number: usize,
    /// How many in the plan.
    pub of: usize,
    /// Amount.
    pub amount: String,
    /// Due date.
    pub due_on: String,
}

/// Late-payment figures as templates see them, formatted for the locale.
#[derive(Debug, Clone, Serialize)]
pub struct LateFeesView {
    /// The balance still owed (interest ran on more before each partial payment).
    pub principal: String,
    /// Days late.
    pub days_late: i64,
    /// The rate(s) applied, % a year (`12,15 %`).
    pub rate: String,
    /// Interest to date.
    pub interest: String,
    /// Recovery indemnity.
    pub indemnity: String,
    /// Principal + interest + indemnity.
    pub total: String,
    /// The legal texts.
    pub articles: String,
}

impl LateFeesView {
    /// From a computation, in `currency` and `locale`.
    pub fn new(
        r: &crate::law::LateFeeResult,
        currency: relance_core::Currency,
        locale: &str,
    ) -> Self {
        let m = |d: rust_decimal::Decimal| format::money(&Money::new(d, currency), locale);
        let mut rates: Vec<rust_decimal::Decimal> = Vec::new();
        for p in &r.periods {
            if !rates.contains(&p.rate) {
                rates.push(p.rate);
            }
        }
        let pct = |d: &rust_decimal::Decimal| {
            let t = d.normalize().to_string();
            if locale.starts_with("fr") {
                format!("{} %", t.replace('.', ","))
            } else {
                format!("{t}%")
            }
        };
        LateFeesView {
            principal: m(r.balance),
            days_late: r.days_late,
            rate: rates.iter().map(pct).collect::<Vec<_>>().join(" / "),
            interest: m(r.interest),
            indemnity: m(r.indemnity),
            total: m(r.total),
            articles: r.articles.join(", "),
        }
    }
}

/// A name and an address.
#[derive(Debug, Clone, Serialize)]
pub struct Party {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
}

/// The templates folder.
pub struct Templates {
    env: Environment<'static>,
    dir: PathBuf,
}

impl Templates {
    /// Loads templates from `dir` (read lazily, so edits apply on the next message).
    pub fn new(dir: &Path) -> Self {
        let mut env = Environment::new();
        env.set_loader(minijinja::path_loader(dir));
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // HTML escaping that leaves `/` alone, so links read as links in the source.
        env.set_formatter(|out, state, value| {
            if matches!(state.auto_escape(), AutoEscape::Html)
                && !value.is_safe()
                && let Some(s) = value.as_str()
            {
                out.write_str(&escape_html(s))?;
                return Ok(());
            }
            minijinja::escape_formatter(out, state, value)
        });
        Templates {
            env,
            dir: dir.to_path_buf(),
        }
    }

    fn exists(&self, template: &str, locale: &str, part: &str) -> bool {
        self.dir
            .join(format!("{template}.{locale}.{part}"))
            .is_file()
    }

    /// The first of `wanted` (languages, most wanted first) for which `template` has a
    /// subject and a text part; `en` last.
    pub fn resolve_locale(&self, template: &str, wanted: &[&str]) -> Option<String> {
        wanted
            .iter()
            .map(|l| format::language(l))
            .chain(std::iter::once("en".to_string()))
            .find(|l| {
                !l.is_empty()
                    && self.exists(template, l, "subject")
                    && self.exists(template, l, "txt")
            })
    }

    /// Renders `template` in `locale` with `context`.
    pub fn render<S: Serialize>(
        &self,
        template: &str,
        locale: &str,
        context: &S,
    ) -> Result<Rendered, TemplateError> {
        let context = minijinja::Value::from(minijinja::value::Serde(context));
        let render = |part: &str| -> Result<String, TemplateError> {
            let name = format!("{template}.{locale}.{part}");
            let t = self.env.get_template(&name).map_err(|e| TemplateError {
                name: name.clone(),
                message: detail(&e),
            })?;
            t.render(&context).map_err(|e| TemplateError {
                name,
                message: detail(&e),
            })
        };
        let subject = render("subject")?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let text = render("txt")?;
        let html = if self.exists(template, locale, "html") {
            Some(render("html")?)
        } else {
            None
        };
        Ok(Rendered {
            subject,
            text,
            html,
            locale: locale.to_string(),
        })
    }
}

/// Escapes `& < > " '` for HTML text and attribute values.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn detail(e: &minijinja::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use relance_core::Currency;

    fn context(locale: &str) -> MessageContext {
        let today: NaiveDate = "2027-01-22".parse().unwrap();
        let total = Money::from_minor(123456, Currency::EUR);
        let invoice = InvoiceView::new(
            "F-2027-001",
            &total,
            &total,
            Some("2026-12-15".parse().unwrap()),
            Some("2027-01-15".parse().unwrap()),
            Some("https://pay.example/F-2027-001"),
            locale,
            today,
        );
        MessageContext {
            company: Party {
                name: "Atelier Dupont SARL".into(),
                email: "compta@atelier-dupont.fr".into(),
            },
            customer: Party {
                name: "Brasserie du Port".into(),
                email: "compta@brasserie.example".into(),
            },
            invoices: vec![invoice.clone()],
            invoice,
            step: "friendly".into(),
            late_fees: None,
            instalment: None,
            b2c: false,
            today: format::date(today, locale),
            locale: locale.into(),
        }
    }

    fn shipped() -> Templates {
        Templates::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates"))
    }

    #[test]
    fn every_shipped_template_renders_in_both_languages() {
        let t = shipped();
        for template in ["courtesy", "friendly", "firm", "thanks"] {
            for locale in ["fr", "en"] {
                let r = t.render(template, locale, &context(locale)).unwrap();
                assert!(!r.subject.is_empty() && !r.subject.contains('\n'));
                let html = r.html.expect("html part shipped");
                if template != "thanks" {
                    let amount = if locale == "fr" {
                        "1 234,56 €"
                    } else {
                        "€1,234.56"
                    };
                    assert!(r.text.contains(amount), "{template}.{locale}: {}", r.text);
                    assert!(
                        r.text.contains("https://pay.example/F-2027-001"),
                        "{template}.{locale}"
                    );
                    assert!(
                        html.contains("https://pay.example/F-2027-001"),
                        "{template}.{locale}"
                    );
                }
                assert!(r.text.contains("F-2027-001"), "{template}.{locale}");
            }
        }
    }

    #[test]
    fn french_dates_in_french_messages() {
        let r = shipped().render("friendly", "fr", &context("fr")).unwrap();
        assert!(r.text.contains("15 janvier 2027"), "{}", r.text);
        let r = shipped().render("friendly", "en", &context("en")).unwrap();
        assert!(r.text.contains("January 15, 2027"), "{}", r.text);
    }

    #[test]
    fn html_is_escaped() {
        let mut c = context("fr");
        c.invoice.number = "<script>x</script>".into();
        let r = shipped().render("friendly", "fr", &c).unwrap();
        let html = r.html.unwrap();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn locale_falls_back_to_company_then_english() {
        let t = shipped();
        assert_eq!(
            t.resolve_locale("friendly", &["fr-FR", "en"]).as_deref(),
            Some("fr")
        );
        assert_eq!(
            t.resolve_locale("friendly", &["de", "fr"]).as_deref(),
            Some("fr")
        );
        assert_eq!(t.resolve_locale("friendly", &["de"]).as_deref(), Some("en"));
        assert_eq!(t.resolve_locale("nope", &["fr"]), None);
    }

    #[test]
    fn an_undefined_variable_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.fr.subject"), "{{ nope }}").unwrap();
        std::fs::write(dir.path().join("x.fr.txt"), "t").unwrap();
        let e = Templates::new(dir.path())
            .render("x", "fr", &context("fr"))
            .unwrap_err();
        assert!(e.to_string().starts_with("template x.fr.subject"), "{e}");
    }
}
