//! Amounts and dates as a reader of each language expects them (fr: `1 234,56 €`,
//! `15 janvier 2027`; en: `€1,234.56`, `January 15, 2027`).

use chrono::{Datelike, NaiveDate};
use relance_core::Money;

/// The language part of a locale tag (`fr-FR` → `fr`).
pub fn language(locale: &str) -> String {
    locale
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        "CHF" => "CHF",
        _ => return None,
    })
}

fn group(digits: &str, sep: &str) -> String {
    let mut out = String::new();
    let n = digits.len();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

/// `1234.5 EUR` → `1 234,50 €` (fr) or `€1,234.50` (en). Exact: no float.
pub fn money(m: &Money, locale: &str) -> String {
    let mut amount = m.amount;
    amount.rescale(m.currency.exponent().max(amount.scale()));
    let negative = amount.is_sign_negative();
    let text = amount.abs().to_string();
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (text, None),
    };
    let code = m.currency.code();
    let sign = if negative { "-" } else { "" };
    if language(locale) == "fr" {
        let mut n = group(&int, " ");
        if let Some(f) = frac {
            n.push(',');
            n.push_str(&f);
        }
        format!("{sign}{n} {}", symbol(code).unwrap_or(code))
    } else {
        let mut n = group(&int, ",");
        if let Some(f) = frac {
            n.push('.');
            n.push_str(&f);
        }
        match symbol(code) {
            Some(s) if s.len() < 3 || s.chars().count() == 1 => format!("{sign}{s}{n}"),
            _ => format!("{sign}{code} {n}"),
        }
    }
}

const FR_MONTHS: [&str; 12] = [
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
const EN_MONTHS: [&str; 12] = [
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

/// `2027-01-15` → `15 janvier 2027` (fr, `1er` on the first) or `January 15, 2027` (en).
pub fn date(d: NaiveDate, locale: &str) -> String {
    let month = d.month0() as usize;
    if language(locale) == "fr" {
        let day = if d.day() == 1 {
            "1er".to_string()
        } else {
            d.day().to_string()
        };
        format!("{day} {} {}", FR_MONTHS[month], d.year())
    } else {
        format!("{} {}, {}", EN_MONTHS[month], d.day(), d.year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relance_core::Currency;
    use rust_decimal::Decimal;

    fn m(minor: i64, c: &str) -> Money {
        Money::from_minor(minor, Currency::parse(c).unwrap())
    }

    #[test]
    fn french_amounts() {
        assert_eq!(money(&m(123456, "EUR"), "fr"), "1 234,56 €");
        assert_eq!(money(&m(124800, "EUR"), "fr-FR"), "1 248,00 €");
        assert_eq!(money(&m(500, "EUR"), "fr"), "5,00 €");
        assert_eq!(money(&m(123456789, "EUR"), "fr"), "1 234 567,89 €");
        assert_eq!(money(&m(185000, "JPY"), "fr"), "185 000 ¥");
        assert_eq!(money(&m(5120, "KWD"), "fr"), "5,120 KWD");
        assert_eq!(money(&m(-1000, "EUR"), "fr"), "-10,00 €");
    }

    #[test]
    fn english_amounts() {
        assert_eq!(money(&m(123456, "EUR"), "en"), "€1,234.56");
        assert_eq!(money(&m(99, "USD"), "en-US"), "$0.99");
        assert_eq!(money(&m(185000, "JPY"), "en"), "¥185,000");
        assert_eq!(money(&m(100000, "CHF"), "en"), "CHF 1,000.00");
        assert_eq!(money(&m(100000, "SEK"), "en"), "SEK 1,000.00");
    }

    #[test]
    fn amounts_with_more_precision_keep_it() {
        let x = Money::new(Decimal::new(12345, 3), Currency::EUR);
        assert_eq!(money(&x, "fr"), "12,345 €");
    }

    #[test]
    fn dates() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(date(d("2027-01-15"), "fr"), "15 janvier 2027");
        assert_eq!(date(d("2027-08-01"), "fr"), "1er août 2027");
        assert_eq!(date(d("2027-01-15"), "en"), "January 15, 2027");
        assert_eq!(date(d("2027-12-01"), "de"), "December 1, 2027");
    }
}
