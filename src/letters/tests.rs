use super::*;

/// A decimal from its literal text (the `dec!` macro needs a feature the project doesn't use).
macro_rules! dec {
    ($v:literal) => {
        stringify!($v).parse::<Decimal>().unwrap()
    };
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

const CUSTOMER: &str = "Hôtel Beau Rivage — Société Générale d'Équipement";

fn invoice(number: &str, total: Decimal, interest: Decimal) -> LetterInvoice {
    LetterInvoice {
        number: number.into(),
        issued_on: Some(d(2027, 1, 5)),
        due_on: d(2027, 2, 4),
        total,
        balance: total,
        interest,
        indemnity: dec!(40),
    }
}

fn letter(locale: &str) -> Letter {
    Letter {
        locale: locale.into(),
        creditor: Party {
            name: "Atelier Kléber SAS".into(),
            address_lines: vec![
                "12 rue des Grandes Arcades".into(),
                "67000 Strasbourg".into(),
            ],
        },
        creditor_siren: Some("123 456 789".into()),
        creditor_email: "compta@atelier-kleber.fr".into(),
        debtor: Party {
            name: CUSTOMER.into(),
            address_lines: vec![
                "Service comptabilité".into(),
                "4 quai de l'Écluse".into(),
                "69002 Lyon".into(),
            ],
        },
        date: d(2027, 3, 10),
        place: Some("Strasbourg".into()),
        reference: "MED-2027-0042".into(),
        registered: false,
        currency: "EUR".into(),
        invoices: vec![
            invoice("F-2027-0007", dec!(1234.56), dec!(12.34)),
            invoice("F-2027-0019", dec!(15000.05), dec!(184.93)),
        ],
        rate_text: "taux BCE + 10 points (12,15 %)".into(),
        deadline_days: 8,
        payment_url: Some("https://pay.example.com/i/abc123".into()),
        bank: Some("IBAN FR76 3000 6000 0112 3456 7890 189 BIC AGRIFRPP".into()),
        consumer: false,
    }
}

/// Text of every page, with all runs of whitespace (no-break spaces, line ends) as one space.
fn text_of(pdf: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(pdf).expect("PDF parses");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let raw = doc.extract_text(&pages).expect("text extracts");
    squash(&raw)
}

fn squash(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '\u{202f}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_has(text: &str, needle: &str) {
    let needle = squash(needle);
    assert!(text.contains(&needle), "missing {needle:?} in:\n{text}");
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn french_letter_has_the_legal_content() {
    let l = letter("fr");
    let pdf = render_pdf(&l).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = text_of(&pdf);

    assert_has(&text, "Mise en demeure de payer");
    assert_has(&text, "vous mettons en demeure de nous régler");
    assert_has(&text, "sous 8 jours");
    assert_has(&text, "MED-2027-0042");
    assert_has(&text, "F-2027-0007");
    assert_has(&text, "F-2027-0019");
    for amount in [
        "1\u{202f}234,56\u{a0}€",
        "15\u{202f}000,05\u{a0}€",
        "12,34\u{a0}€",
        "184,93\u{a0}€",
        "40,00\u{a0}€",
        "80,00\u{a0}€",
    ] {
        assert_has(&text, amount);
    }
    // 1234.56 + 15000.05 + 12.34 + 184.93 + 80 = 16511.88
    assert_eq!(
        money(Lang::Fr, "EUR", Totals::of(&l.invoices).claimed()),
        "16\u{202f}511,88\u{a0}€"
    );
    assert_has(&text, "Total réclamé : 16\u{202f}511,88\u{a0}€");
    assert_has(&text, "L441-10");
    assert_has(&text, "D441-5");
    assert_has(&text, "1344 du Code civil");
    assert_has(&text, "au plus tard le 18 mars 2027");
    assert_has(&text, "Strasbourg, le 10 mars 2027");
    assert_has(&text, CUSTOMER);
    assert_has(&text, "4 quai de l'Écluse");
    assert_has(&text, "SIREN 123 456 789");
    assert_has(&text, "https://pay.example.com/i/abc123");
    assert_has(&text, "IBAN FR76 3000 6000 0112 3456 7890 189 BIC AGRIFRPP");
    assert_has(&text, "taux BCE + 10 points (12,15 %)");
    assert!(!text.contains("Lettre recommandée"), "not registered");

    // Embedded TrueType font, no standard font.
    assert!(contains_bytes(&pdf, b"/FontFile2"));
    assert!(contains_bytes(&pdf, b"DejaVuSans"));
    assert!(!contains_bytes(&pdf, b"/Helvetica"));

    // A4.
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    for (_, page_id) in doc.get_pages() {
        let page = doc.get_dictionary(page_id).unwrap();
        let mb = page.get(b"MediaBox").unwrap().as_array().unwrap();
        let nums: Vec<f32> = mb.iter().map(|o| o.as_float().unwrap()).collect();
        assert_eq!(nums.len(), 4);
        assert!((nums[2] - 595.28).abs() < 0.5, "{nums:?}");
        assert!((nums[3] - 841.89).abs() < 0.5, "{nums:?}");
    }
    // A clickable payment link.
    assert!(contains_bytes(
        &pdf,
        b"/URI (https://pay.example.com/i/abc123)"
    ));
}

#[test]
fn english_letter() {
    let pdf = render_pdf(&letter("en")).unwrap();
    let text = text_of(&pdf);
    assert_has(&text, "Formal notice to pay");
    assert_has(&text, "give you formal notice to pay");
    assert_has(&text, "EUR 1,234.56");
    assert_has(&text, "EUR 15,000.05");
    assert_has(&text, "Total claimed: EUR 16,511.88");
    assert_has(&text, "by 18 March 2027 at the latest");
    assert_has(&text, "L441-10");
    assert_has(&text, "D441-5");
    assert_has(&text, "Strasbourg, 10 March 2027");
    assert_has(&text, CUSTOMER);
    assert!(!text.contains("1 234,56"));
}

#[test]
fn unknown_locale_is_french() {
    let text = text_of(&render_pdf(&letter("de")).unwrap());
    assert_has(&text, "Mise en demeure de payer");
}

#[test]
fn registered_line() {
    let mut l = letter("fr");
    l.registered = true;
    assert_has(
        &text_of(&render_pdf(&l).unwrap()),
        "Lettre recommandée avec accusé de réception",
    );
    let mut l = letter("en");
    l.registered = true;
    assert_has(
        &text_of(&render_pdf(&l).unwrap()),
        "Registered letter with acknowledgement of receipt",
    );
}

#[test]
fn long_table_runs_onto_more_pages() {
    let mut l = letter("fr");
    l.invoices = (1..=120)
        .map(|i| invoice(&format!("F-2026-{i:04}"), dec!(100.10), dec!(1.01)))
        .collect();
    let pdf = render_pdf(&l).unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let n = doc.get_pages().len();
    assert!(n >= 3, "{n} pages");
    let text = text_of(&pdf);
    for i in [1, 60, 120] {
        assert_has(&text, &format!("F-2026-{i:04}"));
    }
    // 120 × (100.10 + 1.01 + 40) = 16 933.20
    assert_has(&text, "Total réclamé : 16\u{202f}933,20\u{a0}€");
    assert_has(&text, &format!("page {n}/{n}"));
    // The header is repeated on each page of the table.
    assert!(text.matches("Échéance").count() >= 2);
}

#[test]
fn characters_missing_from_the_font_do_not_fail() {
    let mut l = letter("fr");
    l.debtor.name = "Café 🍵 Ünïcode ŒUVRE".into();
    let text = text_of(&render_pdf(&l).unwrap());
    assert_has(&text, "Café ? Ünïcode ŒUVRE");
}

#[test]
fn invalid_letters_are_refused() {
    let mut l = letter("fr");
    l.invoices.clear();
    assert!(render_pdf(&l).unwrap_err().contains("invoice"));
    let mut l = letter("fr");
    l.deadline_days = 0;
    assert!(render_pdf(&l).is_err());
    let mut l = letter("fr");
    l.reference = " ".into();
    assert!(render_pdf(&l).is_err());
}

#[test]
fn rendering_is_deterministic() {
    let l = letter("fr");
    assert_eq!(render_pdf(&l).unwrap(), render_pdf(&l).unwrap());
}

#[test]
fn money_formats() {
    assert_eq!(money(Lang::Fr, "EUR", dec!(0)), "0,00\u{a0}€");
    assert_eq!(
        money(Lang::Fr, "EUR", dec!(999.995)),
        "1\u{202f}000,00\u{a0}€"
    );
    assert_eq!(
        money(Lang::Fr, "EUR", dec!(1234567.8)),
        "1\u{202f}234\u{202f}567,80\u{a0}€"
    );
    assert_eq!(money(Lang::Fr, "CHF", dec!(-12.5)), "-12,50\u{a0}CHF");
    assert_eq!(money(Lang::En, "EUR", dec!(1234.56)), "EUR\u{a0}1,234.56");
    assert_eq!(money(Lang::En, "EUR", dec!(123)), "EUR\u{a0}123.00");
    assert_eq!(
        money(Lang::En, "EUR", dec!(1234567.891)),
        "EUR\u{a0}1,234,567.89"
    );
}

#[test]
fn dates() {
    assert_eq!(long_date(Lang::Fr, d(2027, 3, 1)), "1er mars 2027");
    assert_eq!(long_date(Lang::Fr, d(2027, 8, 18)), "18 août 2027");
    assert_eq!(long_date(Lang::En, d(2027, 12, 2)), "2 December 2027");
    assert_eq!(short_date(Lang::Fr, d(2027, 2, 4)), "04/02/2027");
}

#[test]
fn file_name_is_safe() {
    let mut l = letter("fr");
    assert_eq!(file_name(&l), "MED-2027-0042.pdf");
    l.reference = "../MED 2027/0042 Éte".into();
    assert_eq!(file_name(&l), "MED_2027_0042_te.pdf");
    l.reference = "..//..".into();
    assert_eq!(file_name(&l), "mise-en-demeure.pdf");
    l.reference = "x".repeat(300);
    assert_eq!(file_name(&l).len(), 104);
    l.reference = "a:b*c?d\"e<f>g|h\\i".into();
    assert_eq!(file_name(&l), "a_b_c_d_e_f_g_h_i.pdf");
}

#[test]
fn a_consumer_is_claimed_legal_interest_not_commercial_penalties() {
    let mut l = letter("fr");
    l.consumer = true;
    l.invoices = vec![LetterInvoice {
        indemnity: Decimal::ZERO,
        ..invoice("F-2027-0007", dec!(1234.56), Decimal::ZERO)
    }];
    l.rate_text = String::new();
    let text = text_of(&render_pdf(&l).unwrap());
    assert_has(&text, "Mise en demeure de payer");
    assert_has(&text, "articles 1231-6 et 1344-1 du Code civil");
    assert_has(
        &text,
        "intérêts au taux légal à compter de la mise en demeure",
    );
    assert_has(&text, "Intérêts");
    assert_has(&text, "Total réclamé : 1 234,56 €");
    assert!(!text.contains("L441-10"), "{text}");
    assert!(!text.contains("D441-5"), "{text}");
    assert!(!text.contains("indemnité forfaitaire"), "{text}");
    assert!(!text.contains("Pénalités"), "{text}");

    // A second letter, after the first notice: the interest accrued is itemised.
    l.invoices[0].interest = dec!(2.75);
    l.locale = "en".into();
    let text = text_of(&render_pdf(&l).unwrap());
    assert_has(&text, "Articles 1231-6 and 1344-1 of the French Civil Code");
    assert_has(&text, "interest at the legal rate EUR 2.75");
    assert!(!text.contains("L441-10"), "{text}");
}
