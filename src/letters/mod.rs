//! The formal notice to pay (mise en demeure de payer) as an A4 PDF, in French or English.
//!
//! [`render_pdf`] lays out a [`Letter`]: the creditor's letterhead (top left), the debtor's
//! address where a window envelope shows it (right), place and date, reference, the
//! registered-letter line, the object « Mise en demeure de payer », the legal wording
//! (C. com. L441-10 and D441-5, C. civ. 1344), the table of invoices with their late-payment
//! penalties and recovery indemnities (as computed by [`crate::law::compute`], passed in by the
//! caller), the total claimed, the deadline, the payment means and a signature block. The
//! invoice table and the text run onto as many pages as needed, the table header repeated on
//! each; every page carries a footer with the reference and "page i/n".
//!
//! The text is set in DejaVu Sans (regular and bold, `config/fonts/`, Bitstream Vera licence),
//! subset and embedded: no reliance on the PDF standard fonts. The output is deterministic (the
//! document date is the letter's date; no clock is read).
//!
//! Amounts: French style in `fr` (`1 234,56 €`, with U+202F NARROW NO-BREAK SPACE between
//! thousands and U+00A0 NO-BREAK SPACE before the currency), `EUR 1,234.56` in `en` (U+00A0
//! after the code). Money stays [`Decimal`]; only layout uses floats.

mod pdf;

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use pdf::{Font, Fonts, Op, PAGE_HEIGHT, PAGE_WIDTH};

/// A person or company: name and postal address, one line each (last line usually
/// `CP VILLE`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    /// Legal name.
    pub name: String,
    /// Address lines, in order.
    pub address_lines: Vec<String>,
}

/// One unpaid invoice as the letter shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterInvoice {
    /// Invoice number.
    pub number: String,
    /// Issue date, when known.
    pub issued_on: Option<NaiveDate>,
    /// Due date printed on the invoice.
    pub due_on: NaiveDate,
    /// Invoice amount, tax included.
    pub total: Decimal,
    /// Still unpaid at the date of the letter.
    pub balance: Decimal,
    /// Late-payment penalties to the date of the letter.
    pub interest: Decimal,
    /// Fixed recovery indemnity (EUR 40 in B2B, D441-5).
    pub indemnity: Decimal,
}

/// Everything the formal notice says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// `"fr"` or `"en"`; anything else is French.
    pub locale: String,
    /// The company sending the notice: legal name and address.
    pub creditor: Party,
    /// The creditor's SIREN, shown in the letterhead.
    pub creditor_siren: Option<String>,
    /// The creditor's contact e-mail, shown in the letterhead.
    pub creditor_email: String,
    /// The customer.
    pub debtor: Party,
    /// Date of the letter; penalties are computed to it and the deadline runs from it.
    pub date: NaiveDate,
    /// Place written before the date ("Strasbourg").
    pub place: Option<String>,
    /// Reference of the notice, e.g. `MED-2027-0042`; also the file name.
    pub reference: String,
    /// Sent as a lettre recommandée avec accusé de réception.
    pub registered: bool,
    /// ISO code, e.g. `EUR`.
    pub currency: String,
    /// The unpaid invoices (at least one).
    pub invoices: Vec<LetterInvoice>,
    /// The penalty rate as a phrase completing "au …" / "at …", e.g.
    /// `taux BCE + 10 points (12,15 %)`.
    pub rate_text: String,
    /// Days given to pay, counted from the date of the letter.
    pub deadline_days: u32,
    /// Link to pay online.
    pub payment_url: Option<String>,
    /// Bank details for a transfer, e.g. `IBAN FR76 … BIC …`.
    pub bank: Option<String>,
    /// The debtor is a consumer: no commercial-code penalties or indemnity; interest at the
    /// legal rate runs from a formal notice (C. civ. 1231-6, 1344-1).
    pub consumer: bool,
}

/// The language of the letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Fr,
    En,
}

impl Lang {
    fn of(letter: &Letter) -> Lang {
        if letter.locale.trim().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Fr
        }
    }
}

/// The sums the letter claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Totals {
    total: Decimal,
    balance: Decimal,
    interest: Decimal,
    indemnity: Decimal,
}

impl Totals {
    fn of(invoices: &[LetterInvoice]) -> Totals {
        invoices.iter().fold(Totals::default(), |t, i| Totals {
            total: t.total + i.total,
            balance: t.balance + i.balance,
            interest: t.interest + i.interest,
            indemnity: t.indemnity + i.indemnity,
        })
    }

    /// Balances + penalties + indemnities.
    fn claimed(&self) -> Decimal {
        self.balance + self.interest + self.indemnity
    }
}

/// The PDF file name for the letter: its reference with anything but ASCII letters, digits,
/// `-`, `_` and `.` replaced by `_` (runs collapsed, no leading dot), at most 100 characters,
/// then `.pdf`; `mise-en-demeure.pdf` when nothing is left.
pub fn file_name(letter: &Letter) -> String {
    let mut out = String::new();
    for c in letter.reference.trim().chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let out: String = out
        .trim_matches(|c| c == '_' || c == '.')
        .chars()
        .take(100)
        .collect();
    let out = out.trim_end_matches(['_', '.']);
    if out.is_empty() {
        "mise-en-demeure.pdf".to_string()
    } else {
        format!("{out}.pdf")
    }
}

/// Renders the letter as an A4 PDF with embedded fonts.
///
/// Errors: no invoice, a deadline of 0 days or past the calendar, an empty reference or
/// currency. Characters the font lacks are printed as `?`.
pub fn render_pdf(letter: &Letter) -> Result<Vec<u8>, String> {
    if letter.invoices.is_empty() {
        return Err("a formal notice needs at least one invoice".into());
    }
    if letter.deadline_days == 0 {
        return Err("the deadline must be at least one day".into());
    }
    if letter.reference.trim().is_empty() {
        return Err("the letter has no reference".into());
    }
    if letter.currency.trim().is_empty() {
        return Err("the letter has no currency".into());
    }
    let deadline = letter
        .date
        .checked_add_days(chrono::Days::new(u64::from(letter.deadline_days)))
        .ok_or("the deadline is past the calendar")?;
    let fonts = Fonts::load()?;
    let lang = Lang::of(letter);
    let mut layout = Layout::new(&fonts);
    compose(&mut layout, letter, lang, deadline);
    let pages = layout.finish(letter);
    let title = match lang {
        Lang::Fr => format!("Mise en demeure de payer — {}", letter.reference),
        Lang::En => format!("Formal notice to pay — {}", letter.reference),
    };
    pdf::write(&fonts, &pages, &title, letter.date)
}

// ---------------------------------------------------------------------------------------------
// Formatting

/// Rounds to the cent and formats in the letter's style.
fn money(lang: Lang, currency: &str, value: Decimal) -> String {
    let mut v = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(2);
    let negative = v.is_sign_negative() && !v.is_zero();
    let digits = v.abs().to_string();
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, "00"));
    let sep = match lang {
        Lang::Fr => '\u{202f}',
        Lang::En => ',',
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(sep);
        }
        grouped.push(c);
    }
    let sign = if negative { "-" } else { "" };
    let code = currency.trim();
    match lang {
        Lang::Fr => {
            let unit = if code.eq_ignore_ascii_case("EUR") {
                "€"
            } else {
                code
            };
            format!("{sign}{grouped},{frac}\u{a0}{unit}")
        }
        Lang::En => format!("{code}\u{a0}{sign}{grouped}.{frac}"),
    }
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "1er mars 2027", "15 mars 2027"; "15 March 2027".
fn long_date(lang: Lang, d: NaiveDate) -> String {
    let m = d.month0() as usize;
    match lang {
        Lang::Fr if d.day() == 1 => format!("1er {} {}", MONTHS_FR[m], d.year()),
        Lang::Fr => format!("{} {} {}", d.day(), MONTHS_FR[m], d.year()),
        Lang::En => format!("{} {} {}", d.day(), MONTHS_EN[m], d.year()),
    }
}

/// "15/03/2027"; "15 Mar 2027".
fn short_date(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::Fr => d.format("%d/%m/%Y").to_string(),
        Lang::En => format!(
            "{} {} {}",
            d.day(),
            &MONTHS_EN[d.month0() as usize][..3],
            d.year()
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Layout

const MARGIN_X: f32 = 56.69; // 20 mm
const TOP: f32 = PAGE_HEIGHT - 42.52; // 15 mm
const BOTTOM: f32 = 70.87; // 25 mm, above the footer
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN_X;
/// Left edge of the address window of a DL/C5 window envelope (110 mm from the left).
const WINDOW_X: f32 = 311.81;
/// Top of the address block (50 mm from the top).
const WINDOW_TOP: f32 = PAGE_HEIGHT - 141.73;
const WINDOW_WIDTH: f32 = PAGE_WIDTH - MARGIN_X - WINDOW_X;
const BODY: f32 = 9.5;
const LEADING: f32 = 12.5;
const TABLE: f32 = 8.0;
const ROW: f32 = 12.5;

/// Pages of drawing operations and a cursor (`y`, the top of the next line).
struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Layout {
            fonts,
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("one page at least").push(op);
    }

    /// Replaces characters the font lacks with `?`.
    fn clean(&self, text: &str) -> String {
        text.chars()
            .map(|c| match c {
                '\t' | '\n' | '\r' => ' ',
                c if self.fonts.has(c) => c,
                _ => '?',
            })
            .collect()
    }

    fn width(&self, font: Font, size: f32, text: &str) -> f32 {
        self.fonts.width(font, size, text)
    }

    fn text_at(&mut self, font: Font, size: f32, x: f32, y: f32, text: &str) {
        self.text_gray(font, size, x, y, 0.0, text);
    }

    fn text_gray(&mut self, font: Font, size: f32, x: f32, y: f32, gray: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        let text = self.clean(text);
        self.push(Op::Text {
            font,
            size,
            x,
            y,
            gray,
            text,
        });
    }

    /// Starts a new page when less than `height` is left; tells whether it did.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM {
            self.pages.push(Vec::new());
            self.y = TOP;
            true
        } else {
            false
        }
    }

    /// Splits `text` into lines no wider than `width` (words longer than a line are cut).
    fn wrap(&self, font: Font, size: f32, width: f32, text: &str) -> Vec<String> {
        let text = self.clean(text);
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if self.width(font, size, &candidate) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: cut it if it does not fit.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if self.width(font, size, &piece) > width && piece.chars().count() > 1 {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// A wrapped paragraph at the left margin, breaking pages between lines; returns each
    /// line's page index, baseline and width (for links).
    fn paragraph(&mut self, font: Font, size: f32, text: &str) -> Vec<(usize, f32, f32)> {
        let mut placed = Vec::new();
        for line in self.wrap(font, size, CONTENT_WIDTH, text) {
            self.ensure(LEADING);
            let baseline = self.y - size;
            let w = self.width(font, size, &line);
            self.text_at(font, size, MARGIN_X, baseline, &line);
            placed.push((self.pages.len() - 1, baseline, w));
            self.y -= LEADING;
        }
        placed
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    /// Footer on every page: creditor, reference, page i/n.
    fn finish(mut self, letter: &Letter) -> Vec<Vec<Op>> {
        let n = self.pages.len();
        for i in 0..n {
            let text = self.clean(&format!(
                "{} — {} — page {}/{n}",
                letter.creditor.name.trim(),
                letter.reference.trim(),
                i + 1
            ));
            let size = 7.5;
            let w = self.width(Font::Regular, size, &text);
            self.pages[i].push(Op::Line {
                x1: MARGIN_X,
                y1: 48.0,
                x2: PAGE_WIDTH - MARGIN_X,
                y2: 48.0,
                width: 0.3,
            });
            self.pages[i].push(Op::Text {
                font: Font::Regular,
                size,
                x: (PAGE_WIDTH - w) / 2.0,
                y: 36.0,
                gray: 0.35,
                text,
            });
        }
        self.pages
    }
}

/// The table's columns: title, width, right-aligned.
fn columns(lang: Lang) -> [(&'static str, f32, bool); 7] {
    let t = match lang {
        Lang::Fr => [
            "Facture",
            "Date",
            "Échéance",
            "Montant TTC",
            "Reste dû",
            "Pénalités",
            "Indemnité",
        ],
        Lang::En => [
            "Invoice",
            "Date",
            "Due date",
            "Amount",
            "Balance",
            "Interest",
            "Indemnity",
        ],
    };
    let w = [84.0, 54.0, 54.0, 73.0, 73.0, 73.0, 0.0];
    let used: f32 = w.iter().sum();
    [
        (t[0], w[0], false),
        (t[1], w[1], false),
        (t[2], w[2], false),
        (t[3], w[3], true),
        (t[4], w[4], true),
        (t[5], w[5], true),
        (t[6], CONTENT_WIDTH - used, true),
    ]
}

const PAD: f32 = 3.0;

/// One table row at the cursor; cells shrink (down to 5 pt) then cut to fit their column.
fn row(layout: &mut Layout, lang: Lang, cells: &[String; 7], font: Font, shade: Option<f32>) {
    let cols = columns(lang);
    let top = layout.y;
    if let Some(gray) = shade {
        layout.push(Op::Fill {
            x: MARGIN_X,
            y: top - ROW,
            w: CONTENT_WIDTH,
            h: ROW,
            gray,
        });
    }
    let baseline = top - ROW + 4.0;
    let mut x = MARGIN_X;
    for ((_, w, right), cell) in cols.iter().zip(cells) {
        let room = w - 2.0 * PAD;
        let mut size = TABLE;
        let mut text = layout.clean(cell);
        while layout.width(font, size, &text) > room && size > 5.0 {
            size -= 0.5;
        }
        while layout.width(font, size, &text) > room && text.chars().count() > 1 {
            text.pop();
            text.pop();
            text.push('…');
        }
        let tw = layout.width(font, size, &text);
        let tx = if *right { x + w - PAD - tw } else { x + PAD };
        layout.text_at(font, size, tx, baseline, &text);
        x += w;
    }
    layout.push(Op::Line {
        x1: MARGIN_X,
        y1: top - ROW,
        x2: MARGIN_X + CONTENT_WIDTH,
        y2: top - ROW,
        width: 0.4,
    });
    layout.y -= ROW;
}

fn header_row(layout: &mut Layout, lang: Lang, consumer: bool) {
    let mut cells = columns(lang).map(|(t, _, _)| t.to_string());
    if consumer && lang == Lang::Fr {
        // Legal interest, not the commercial code's penalties.
        cells[5] = "Intérêts".into();
    }
    row(layout, lang, &cells, Font::Bold, Some(0.9));
}

fn invoice_table(layout: &mut Layout, letter: &Letter, lang: Lang, totals: &Totals) {
    let cur = &letter.currency;
    layout.ensure(3.0 * ROW);
    header_row(layout, lang, letter.consumer);
    for inv in &letter.invoices {
        if layout.ensure(ROW) {
            header_row(layout, lang, letter.consumer);
        }
        let cells = [
            inv.number.clone(),
            inv.issued_on
                .map_or_else(|| "—".to_string(), |d| short_date(lang, d)),
            short_date(lang, inv.due_on),
            money(lang, cur, inv.total),
            money(lang, cur, inv.balance),
            money(lang, cur, inv.interest),
            money(lang, cur, inv.indemnity),
        ];
        row(layout, lang, &cells, Font::Regular, None);
    }
    if layout.ensure(ROW) {
        header_row(layout, lang, letter.consumer);
    }
    let cells = [
        "Total".to_string(),
        String::new(),
        String::new(),
        money(lang, cur, totals.total),
        money(lang, cur, totals.balance),
        money(lang, cur, totals.interest),
        money(lang, cur, totals.indemnity),
    ];
    row(layout, lang, &cells, Font::Bold, Some(0.95));
}

/// Letterhead, addresses, date, reference and object: the first page's top.
fn head(layout: &mut Layout, letter: &Letter, lang: Lang) {
    // Creditor, top left, kept left of the address window.
    let head_width = WINDOW_X - MARGIN_X - 12.0;
    let mut y = TOP;
    for line in layout.wrap(Font::Bold, 12.0, head_width, &letter.creditor.name) {
        layout.text_at(Font::Bold, 12.0, MARGIN_X, y - 12.0, &line);
        y -= 15.0;
    }
    let mut details: Vec<String> = letter.creditor.address_lines.clone();
    if let Some(siren) = letter
        .creditor_siren
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        details.push(format!("SIREN {}", siren.trim()));
    }
    if !letter.creditor_email.trim().is_empty() {
        details.push(letter.creditor_email.trim().to_string());
    }
    for detail in details {
        for line in layout.wrap(Font::Regular, 9.0, head_width, &detail) {
            layout.text_at(Font::Regular, 9.0, MARGIN_X, y - 9.0, &line);
            y -= 11.5;
        }
    }
    let head_bottom = y;

    // Debtor, in the window.
    let mut y = WINDOW_TOP;
    for line in layout.wrap(Font::Bold, BODY, WINDOW_WIDTH, &letter.debtor.name) {
        layout.text_at(Font::Bold, BODY, WINDOW_X, y - BODY, &line);
        y -= LEADING;
    }
    for address in &letter.debtor.address_lines {
        for line in layout.wrap(Font::Regular, BODY, WINDOW_WIDTH, address) {
            layout.text_at(Font::Regular, BODY, WINDOW_X, y - BODY, &line);
            y -= LEADING;
        }
    }
    let window_bottom = y;

    // Place and date, under the window.
    let mut y = head_bottom.min(window_bottom) - 22.0;
    let date = long_date(lang, letter.date);
    let dated = match (lang, letter.place.as_deref().map(str::trim)) {
        (Lang::Fr, Some(p)) if !p.is_empty() => format!("{p}, le {date}"),
        (Lang::Fr, _) => format!("Le {date}"),
        (Lang::En, Some(p)) if !p.is_empty() => format!("{p}, {date}"),
        (Lang::En, _) => date,
    };
    for line in layout.wrap(Font::Regular, BODY, WINDOW_WIDTH, &dated) {
        layout.text_at(Font::Regular, BODY, WINDOW_X, y - BODY, &line);
        y -= LEADING;
    }
    layout.y = y - 14.0;

    let (ref_label, registered, object) = match lang {
        Lang::Fr => (
            "Réf. : ",
            "Lettre recommandée avec accusé de réception",
            "Objet : Mise en demeure de payer",
        ),
        Lang::En => (
            "Ref.: ",
            "Registered letter with acknowledgement of receipt",
            "Subject: Formal notice to pay (mise en demeure de payer)",
        ),
    };
    layout.paragraph(
        Font::Regular,
        BODY,
        &format!("{ref_label}{}", letter.reference.trim()),
    );
    if letter.registered {
        layout.paragraph(Font::Bold, BODY, registered);
    }
    layout.paragraph(Font::Bold, BODY, object);
    layout.gap(10.0);
}

/// The claim of a letter to a consumer: the sum due, and interest at the legal rate from the
/// formal notice (C. civ. 1231-6 and 1344-1) instead of the commercial code's penalties.
#[allow(clippy::too_many_arguments)]
fn consumer_claim(
    layout: &mut Layout,
    lang: Lang,
    claimed: &str,
    balance: &str,
    interest: &str,
    days: u32,
    deadline: &str,
    accrued: Decimal,
) {
    let (law, demand) = match lang {
        Lang::Fr => (
            "En application des articles 1231-6 et 1344-1 du Code civil, la somme due porte \
             intérêts au taux légal à compter de la mise en demeure de payer, jusqu'au complet \
             paiement.",
            if accrued.is_zero() {
                format!(
                    "En conséquence, nous vous mettons en demeure de nous régler la somme de \
                     {claimed} sous {days} jours à compter de la date de la présente lettre, \
                     soit au plus tard le {deadline}."
                )
            } else {
                format!(
                    "En conséquence, nous vous mettons en demeure de nous régler la somme de \
                     {claimed} (reste dû {balance}, intérêts au taux légal {interest}) sous \
                     {days} jours à compter de la date de la présente lettre, soit au plus tard \
                     le {deadline}."
                )
            },
        ),
        Lang::En => (
            "Under Articles 1231-6 and 1344-1 of the French Civil Code (Code civil), the sum \
             due bears interest at the legal rate from the formal notice to pay until payment \
             in full.",
            if accrued.is_zero() {
                format!(
                    "We therefore give you formal notice to pay us the sum of {claimed} within \
                     {days} days of the date of this letter, that is by {deadline} at the \
                     latest."
                )
            } else {
                format!(
                    "We therefore give you formal notice to pay us the sum of {claimed} \
                     (balance {balance}, interest at the legal rate {interest}) within {days} \
                     days of the date of this letter, that is by {deadline} at the latest."
                )
            },
        ),
    };
    layout.paragraph(Font::Regular, BODY, law);
    layout.gap(6.0);
    layout.paragraph(Font::Bold, BODY, &demand);
    layout.gap(5.0);
    let total = match lang {
        Lang::Fr => format!("Total réclamé : {claimed}"),
        Lang::En => format!("Total claimed: {claimed}"),
    };
    layout.paragraph(Font::Bold, BODY, &total);
    layout.gap(5.0);
}

/// The whole letter.
fn compose(layout: &mut Layout, letter: &Letter, lang: Lang, deadline: NaiveDate) {
    let totals = Totals::of(&letter.invoices);
    let cur = &letter.currency;
    let claimed = money(lang, cur, totals.claimed());
    let deadline = long_date(lang, deadline);
    let days = letter.deadline_days;
    let rate = letter.rate_text.trim();
    let several = letter.invoices.len() > 1;

    head(layout, letter, lang);

    let p = |layout: &mut Layout, text: &str| {
        layout.paragraph(Font::Regular, BODY, text);
        layout.gap(4.0);
    };

    match lang {
        Lang::Fr => {
            p(layout, "Madame, Monsieur,");
            p(
                layout,
                if several {
                    "Sauf erreur ou omission de notre part, les factures ci-dessous, arrivées à \
                     échéance, restent impayées à ce jour :"
                } else {
                    "Sauf erreur ou omission de notre part, la facture ci-dessous, arrivée à \
                     échéance, reste impayée à ce jour :"
                },
            );
        }
        Lang::En => {
            p(layout, "Dear Sir or Madam,");
            p(
                layout,
                if several {
                    "Unless we are mistaken, the following invoices are past due and remain \
                     unpaid to date:"
                } else {
                    "Unless we are mistaken, the following invoice is past due and remains \
                     unpaid to date:"
                },
            );
        }
    }
    invoice_table(layout, letter, lang, &totals);
    layout.gap(12.0);

    let rate_clause_fr = if rate.is_empty() {
        String::new()
    } else {
        format!(" au {rate}")
    };
    let rate_clause_en = if rate.is_empty() {
        String::new()
    } else {
        format!(" at {rate}")
    };
    let balance = money(lang, cur, totals.balance);
    let interest = money(lang, cur, totals.interest);
    let indemnity = money(lang, cur, totals.indemnity);
    if letter.consumer {
        consumer_claim(
            layout,
            lang,
            &claimed,
            &balance,
            &interest,
            days,
            &deadline,
            totals.interest,
        );
    } else {
        match lang {
            Lang::Fr => {
                p(
                    layout,
                    &format!(
                        "En application de l'article L441-10 du Code de commerce, les sommes dues \
                     portent de plein droit, dès le lendemain de leur date d'échéance et sans \
                     qu'un rappel soit nécessaire, des pénalités de retard{rate_clause_fr}. Les \
                     pénalités indiquées sont arrêtées à la date de la présente lettre et \
                     continuent de courir jusqu'au complet paiement. Tout retard de paiement rend \
                     en outre exigible, pour chaque facture, l'indemnité forfaitaire pour frais \
                     de recouvrement prévue aux articles L441-10 et D441-5 du Code de commerce."
                    ),
                );
                layout.gap(2.0);
                layout.paragraph(
                    Font::Bold,
                    BODY,
                    &format!(
                        "En conséquence, nous vous mettons en demeure de nous régler la somme de \
                     {claimed} (reste dû {balance}, pénalités de retard {interest}, indemnités \
                     forfaitaires {indemnity}) sous {days} jours à compter de la date de la \
                     présente lettre, soit au plus tard le {deadline}."
                    ),
                );
                layout.gap(5.0);
                layout.paragraph(Font::Bold, BODY, &format!("Total réclamé : {claimed}"));
                layout.gap(5.0);
            }
            Lang::En => {
                p(
                    layout,
                    &format!(
                        "Under Article L441-10 of the French Commercial Code (Code de commerce), \
                     late-payment penalties{rate_clause_en} accrue by operation of law from the \
                     day after each due date, without any reminder being required. The \
                     penalties shown are computed to the date of this letter and continue to \
                     accrue until payment in full. Each invoice paid late also gives rise to the \
                     fixed recovery indemnity provided for by Articles L441-10 and D441-5 of the \
                     French Commercial Code."
                    ),
                );
                layout.gap(2.0);
                layout.paragraph(
                    Font::Bold,
                    BODY,
                    &format!(
                        "We therefore give you formal notice to pay us the sum of {claimed} \
                     (balance {balance}, late-payment penalties {interest}, fixed indemnities \
                     {indemnity}) within {days} days of the date of this letter, that is by \
                     {deadline} at the latest."
                    ),
                );
                layout.gap(5.0);
                layout.paragraph(Font::Bold, BODY, &format!("Total claimed: {claimed}"));
                layout.gap(5.0);
            }
        }
    }

    // Payment means.
    let url = letter
        .payment_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let bank = letter
        .bank
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty());
    if let Some(url) = url {
        p(
            layout,
            match lang {
                Lang::Fr => "Vous pouvez régler en ligne à l'adresse suivante :",
                Lang::En => "You can pay online at:",
            },
        );
        layout.gap(-4.0);
        // Clickable where each line was drawn (a long link may wrap, even across pages).
        for (page, baseline, w) in layout.paragraph(Font::Regular, BODY, url) {
            layout.pages[page].push(Op::Link {
                x: MARGIN_X,
                y: baseline - 3.0,
                w,
                h: BODY + 3.0,
                url: url.to_string(),
            });
        }
        layout.gap(5.0);
    }
    if let Some(bank) = bank {
        p(
            layout,
            &match lang {
                Lang::Fr => format!("Par virement : {bank}"),
                Lang::En => format!("By bank transfer: {bank}"),
            },
        );
    }
    if url.is_some() || bank.is_some() {
        p(
            layout,
            &match lang {
                Lang::Fr => format!(
                    "Merci de rappeler la référence {} avec votre règlement.",
                    letter.reference.trim()
                ),
                Lang::En => format!(
                    "Please quote the reference {} with your payment.",
                    letter.reference.trim()
                ),
            },
        );
    }

    match lang {
        Lang::Fr => {
            p(
                layout,
                "À défaut de règlement dans ce délai, nous engagerons sans autre avis une \
                 procédure de recouvrement judiciaire (injonction de payer ou autre), dont les \
                 frais seront mis à votre charge.",
            );
            p(
                layout,
                "La présente lettre vaut mise en demeure au sens de l'article 1344 du Code civil.",
            );
            p(
                layout,
                "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations \
                 distinguées.",
            );
        }
        Lang::En => {
            p(
                layout,
                "Failing payment within this period, we will, without further notice, start \
                 judicial recovery proceedings (injonction de payer or other), the costs of \
                 which will be charged to you.",
            );
            p(
                layout,
                "This letter constitutes a formal notice (mise en demeure) within the meaning of \
                 Article 1344 of the French Civil Code (Code civil).",
            );
            p(layout, "Yours faithfully,");
        }
    }

    // Signature block, right column, kept in one piece.
    let for_word = match lang {
        Lang::Fr => "Pour",
        Lang::En => "For",
    };
    let lines = layout.wrap(
        Font::Regular,
        BODY,
        WINDOW_WIDTH,
        &format!("{for_word} {}", letter.creditor.name.trim()),
    );
    layout.gap(6.0);
    layout.ensure(LEADING * lines.len() as f32 + 36.0);
    for line in lines {
        let baseline = layout.y - BODY;
        layout.text_at(Font::Regular, BODY, WINDOW_X, baseline, &line);
        layout.y -= LEADING;
    }
    layout.gap(36.0);
}

#[cfg(test)]
mod tests;
