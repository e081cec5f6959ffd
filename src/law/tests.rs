//! Table cases, each worked out by hand from the shipped `data/rates.csv`.
//!
//! Notation: interest = Σ balance × rate × days / 36500 (rate in %, actual/365), rounded half-up
//! to the cent once. Days of a period = last − first + 1 (both inclusive).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("test decimal")
}

/// One invoice and what the law makes of it. Periods: (from, to, days, rate, balance).
struct Case {
    name: &'static str,
    amount: &'static str,
    due: &'static str,
    at: &'static str,
    payments: &'static [(&'static str, &'static str)],
    kind: CustomerKind,
    notice: Option<&'static str>,
    rate: Option<&'static str>,
    periods: &'static [(&'static str, &'static str, i64, &'static str, &'static str)],
    interest: &'static str,
    indemnity: &'static str,
    total: &'static str,
}

const B2B: Case = Case {
    name: "",
    amount: "1000.00",
    due: "",
    at: "",
    payments: &[],
    kind: CustomerKind::B2b,
    notice: None,
    rate: None,
    periods: &[],
    interest: "0.00",
    indemnity: "40.00",
    total: "",
};

const B2C: Case = Case {
    kind: CustomerKind::B2c,
    indemnity: "0.00",
    ..B2B
};

fn input(c: &Case) -> LateFeeInput {
    LateFeeInput {
        payments: c
            .payments
            .iter()
            .map(|(date, amount)| Payment {
                date: d(date),
                amount: dec(amount),
            })
            .collect(),
        kind: c.kind,
        notice: c.notice.map(d),
        contractual_rate: c.rate.map(dec),
        ..LateFeeInput::new(dec(c.amount), d(c.due), d(c.at))
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Les Echos / 2m-consulting example (law file §4): 15,000 TTC due 2018-04-15, paid
    // 2018-05-15, contract rate 15 % (2018-S1 floor 3 × 0.89 = 2.67, so 15 applies).
    // 16 Apr–15 May = 15 + 15 = 30 days: 15000 × 15 × 30 / 36500 = 184.9315 → 184.93.
    // Total = 0 owed + 184.93 + 40 = 224.93.
    Case { name: "les_echos_example", amount: "15000.00", due: "2018-04-15", at: "2018-05-15",
        payments: &[("2018-05-15", "15000.00")], rate: Some("15"),
        periods: &[("2018-04-16", "2018-05-15", 30, "15", "15000.00")],
        interest: "184.93", total: "224.93", ..B2B },
    // Law file worked figure: 5,000 due 2022-12-01, paid 2023-02-14. 2022-S2: 0.00 + 10 = 10.00;
    // 2023-S1: 2.50 + 10 = 12.50 (the 2.00 → 2.50 change of 21 Dec 2022 waits for 1 January).
    // 2–31 Dec = 30 days: 5000 × 10 × 30 / 36500 = 41.0959;
    // 1 Jan–14 Feb = 31 + 14 = 45 days: 5000 × 12.5 × 45 / 36500 = 77.0548; sum 118.1507 → 118.15.
    Case { name: "half_year_boundary_2022_2023", amount: "5000.00", due: "2022-12-01", at: "2023-03-01",
        payments: &[("2023-02-14", "5000.00")],
        periods: &[("2022-12-02", "2022-12-31", 30, "10.00", "5000.00"),
                   ("2023-01-01", "2023-02-14", 45, "12.50", "5000.00")],
        interest: "118.15", total: "158.15", ..B2B },
    // Law file worked figure: 3,600 due 2024-02-15, paid 2024-03-15: 16–29 Feb = 14 days
    // (29 Feb counts) + 1–15 Mar = 15 → 29 days at 14.50, over 365 even in 2024:
    // 3600 × 14.5 × 29 / 36500 = 41.4740 → 41.47 (the /366 reading would give 41.36).
    Case { name: "leap_day_counts_year_stays_365", amount: "3600.00", due: "2024-02-15", at: "2024-03-15",
        payments: &[("2024-03-15", "3600.00")],
        periods: &[("2024-02-16", "2024-03-15", 29, "14.50", "3600.00")],
        interest: "41.47", total: "81.47", ..B2B },
    // The example: 1,234.56 due 2024-01-15, 500 paid 2024-02-01, at 2024-03-01, 14.50.
    // 16 Jan–1 Feb = 16 + 1 = 17 days on 1234.56: 1234.56 × 14.5 × 17 / 36500 = 8.3375;
    // 2 Feb–1 Mar = 28 + 1 = 29 days on 734.56: 734.56 × 14.5 × 29 / 36500 = 8.4625;
    // sum 16.8000 → 16.80. Total = 734.56 + 16.80 + 40 = 791.36.
    Case { name: "partial_payment_lowers_balance_next_day", amount: "1234.56", due: "2024-01-15", at: "2024-03-01",
        payments: &[("2024-02-01", "500.00")],
        periods: &[("2024-01-16", "2024-02-01", 17, "14.50", "1234.56"),
                   ("2024-02-02", "2024-03-01", 29, "14.50", "734.56")],
        interest: "16.80", total: "791.36", ..B2B },
    // Over a year, four half-years: 10,000 due 2023-05-31, at 2024-08-15, nothing paid.
    // 1–30 Jun 2023: 30 d × 12.50 → 10000 × 12.5 × 30 = 3,750,000
    // 2023-S2: 184 d × 14.00 → 25,760,000;  2024-S1: 182 d × 14.50 → 26,390,000
    // 1 Jul–15 Aug 2024: 31 + 15 = 46 d × 14.25 → 6,555,000
    // Σ 62,455,000 / 36500 = 1711.0959 → 1711.10 (rounding each period would give
    // 102.74 + 705.75 + 723.01 + 179.59 = 1711.09: rounding is done once).
    Case { name: "delay_over_a_year_four_half_years", amount: "10000.00", due: "2023-05-31", at: "2024-08-15",
        periods: &[("2023-06-01", "2023-06-30", 30, "12.50", "10000.00"),
                   ("2023-07-01", "2023-12-31", 184, "14.00", "10000.00"),
                   ("2024-01-01", "2024-06-30", 182, "14.50", "10000.00"),
                   ("2024-07-01", "2024-08-15", 46, "14.25", "10000.00")],
        interest: "1711.10", total: "11751.10", ..B2B },
    // Full payment before --at: 2,000 due 2025-03-10, paid 2025-04-09, at 2025-06-30.
    // 11–31 Mar = 21 + 9 = 30 days at 13.15 (3.15 + 10): 2000 × 13.15 × 30 / 36500 = 21.6164
    // → 21.62; nothing runs after the payment. Total = 0 + 21.62 + 40 = 61.62.
    Case { name: "full_payment_before_at_stops_interest", amount: "2000.00", due: "2025-03-10", at: "2025-06-30",
        payments: &[("2025-04-09", "2000.00")],
        periods: &[("2025-03-11", "2025-04-09", 30, "13.15", "2000.00")],
        interest: "21.62", total: "61.62", ..B2B },
    // 400 of 1,000 paid on the due date 2025-09-30: interest only on 600 from 1 Oct.
    // 1–30 Oct = 30 days at 12.15: 600 × 12.15 × 30 / 36500 = 5.9918 → 5.99. 600 + 5.99 + 40.
    Case { name: "payment_on_due_date_lowers_base", amount: "1000.00", due: "2025-09-30", at: "2025-10-30",
        payments: &[("2025-09-30", "400.00")],
        periods: &[("2025-10-01", "2025-10-30", 30, "12.15", "600.00")],
        interest: "5.99", total: "645.99", ..B2B },
    // Paid in full on the due date: not late, no interest, no indemnity, nothing owed.
    Case { name: "paid_on_time_owes_nothing", due: "2025-09-30", at: "2025-10-30",
        payments: &[("2025-09-30", "1000.00")],
        indemnity: "0.00", total: "0.00", ..B2B },
    // --at on the due date: not late yet. Total = the balance, 1,000.
    Case { name: "not_late_on_due_date", due: "2025-10-15", at: "2025-10-15",
        indemnity: "0.00", total: "1000.00", ..B2B },
    // One day late: 16 Oct at 12.15: 1000 × 12.15 × 1 / 36500 = 0.3329 → 0.33, plus the full 40.
    Case { name: "one_day_late_full_indemnity", due: "2025-10-15", at: "2025-10-16",
        periods: &[("2025-10-16", "2025-10-16", 1, "12.15", "1000.00")],
        interest: "0.33", total: "1040.33", ..B2B },
    // Same with a --notice: ignored for B2B (no reminder needed), same figures.
    Case { name: "b2b_notice_is_ignored", due: "2025-10-15", at: "2025-10-16", notice: Some("2025-11-01"),
        periods: &[("2025-10-16", "2025-10-16", 1, "12.15", "1000.00")],
        interest: "0.33", total: "1040.33", ..B2B },
    // Contract 12.5 % in 2024-S1, under the floor 3 × 5.07 = 15.21 → raised to 15.21.
    // 1–30 Apr = 30 days: 1000 × 15.21 × 30 / 36500 = 12.5014 → 12.50.
    Case { name: "contract_rate_under_floor_raised", due: "2024-03-31", at: "2024-04-30", rate: Some("12.5"),
        periods: &[("2024-04-01", "2024-04-30", 30, "15.21", "1000.00")],
        interest: "12.50", total: "1052.50", ..B2B },
    // Contract 20 % ≥ 15.21: applies (no ceiling). 1000 × 20 × 30 / 36500 = 16.4384 → 16.44.
    Case { name: "contract_rate_above_floor_applies", due: "2024-03-31", at: "2024-04-30", rate: Some("20"),
        periods: &[("2024-04-01", "2024-04-30", 30, "20", "1000.00")],
        interest: "16.44", total: "1056.44", ..B2B },
    // Contract 12.5 % across 2024-S2 (floor 3 × 4.92 = 14.76 → raised) and 2025-S1 (floor
    // 3 × 3.71 = 11.13 → 12.5 applies). 4,000 due 2024-12-15, at 2025-01-31.
    // 16–31 Dec = 16 d: 4000 × 14.76 × 16 = 944,640; 1–31 Jan = 31 d: 4000 × 12.5 × 31 =
    // 1,550,000; Σ 2,494,640 / 36500 = 68.3463 → 68.35. Total 4000 + 68.35 + 40 = 4108.35.
    Case { name: "contract_rate_floor_checked_per_half_year", amount: "4000.00", due: "2024-12-15", at: "2025-01-31",
        rate: Some("12.5"),
        periods: &[("2024-12-16", "2024-12-31", 16, "14.76", "4000.00"),
                   ("2025-01-01", "2025-01-31", 31, "12.5", "4000.00")],
        interest: "68.35", total: "4108.35", ..B2B },
    // Contract 9 % in 2026-S1: below the statutory 12.15 but above the floor 3 × 2.62 = 7.86,
    // so 9 applies. 1 Feb–2 Mar 2026 = 28 + 2 = 30 d: 1000 × 9 × 30 / 36500 = 7.3973 → 7.40.
    Case { name: "contract_rate_below_statutory_above_floor", due: "2026-01-31", at: "2026-03-02", rate: Some("9"),
        periods: &[("2026-02-01", "2026-03-02", 30, "9", "1000.00")],
        interest: "7.40", total: "1047.40", ..B2B },
    // B2C without a formal notice: no interest, no indemnity; total = the balance.
    Case { name: "b2c_without_notice_no_interest", due: "2025-05-15", at: "2025-07-20",
        total: "1000.00", ..B2C },
    // B2C, notice 2025-06-10: interest from 11 Jun at the legal rate « autres cas ».
    // 11–30 Jun = 20 d at 3.71: 1500 × 3.71 × 20 = 111,300; 1–20 Jul = 20 d at 2.76:
    // 1500 × 2.76 × 20 = 82,800; Σ 194,100 / 36500 = 5.3178 → 5.32. No indemnity.
    Case { name: "b2c_notice_legal_rate_per_half_year", amount: "1500.00", due: "2025-05-15", at: "2025-07-20",
        notice: Some("2025-06-10"),
        periods: &[("2025-06-11", "2025-06-30", 20, "3.71", "1500.00"),
                   ("2025-07-01", "2025-07-20", 20, "2.76", "1500.00")],
        interest: "5.32", total: "1505.32", ..B2C },
    // B2C notice sent before the due date: interest still starts the day after the due date.
    // 1–30 Dec 2025 = 30 d at 2.76: 800 × 2.76 × 30 / 36500 = 1.8148 → 1.81.
    Case { name: "b2c_notice_before_due_waits_for_due", amount: "800.00", due: "2025-11-30", at: "2025-12-30",
        notice: Some("2025-11-20"),
        periods: &[("2025-12-01", "2025-12-30", 30, "2.76", "800.00")],
        interest: "1.81", total: "801.81", ..B2C },
    // B2C notice after --at: nothing yet.
    Case { name: "b2c_notice_after_at_no_interest", due: "2025-05-15", at: "2025-06-01",
        notice: Some("2025-06-10"), total: "1000.00", ..B2C },
    // B2C, notice 2026-02-01, 1,000 of 2,000 paid 2026-02-20, 2026-S1 legal rate 2.62.
    // 2–20 Feb = 19 d: 2000 × 2.62 × 19 = 99,560; 21 Feb–31 Mar = 8 + 31 = 39 d:
    // 1000 × 2.62 × 39 = 102,180; Σ 201,740 / 36500 = 5.5271 → 5.53. Total 1000 + 5.53.
    Case { name: "b2c_partial_payment_after_notice", amount: "2000.00", due: "2026-01-10", at: "2026-03-31",
        notice: Some("2026-02-01"), payments: &[("2026-02-20", "1000.00")],
        periods: &[("2026-02-02", "2026-02-20", 19, "2.62", "2000.00"),
                   ("2026-02-21", "2026-03-31", 39, "2.62", "1000.00")],
        interest: "5.53", total: "1005.53", ..B2C },
    // A payment after --at is ignored (reported in a note): 1 Feb–2 Mar 2025 = 30 d at 13.15:
    // 1000 × 13.15 × 30 / 36500 = 10.8082 → 10.81; the 1,000 still counts as owed.
    Case { name: "payment_after_at_ignored", due: "2025-01-31", at: "2025-03-02",
        payments: &[("2025-03-10", "1000.00")],
        periods: &[("2025-02-01", "2025-03-02", 30, "13.15", "1000.00")],
        interest: "10.81", total: "1050.81", ..B2B },
    // Exactly half a cent: 365 × 12.5 × 1 / 36500 = 0.125 → 0.13 half-up (banker's: 0.12).
    // Contract 12.5 in 2025-S1 (floor 11.13).
    Case { name: "half_cent_rounds_up", amount: "365.00", due: "2025-03-10", at: "2025-03-11", rate: Some("12.5"),
        periods: &[("2025-03-11", "2025-03-11", 1, "12.5", "365.00")],
        interest: "0.13", total: "405.13", ..B2B },
    // Payments given out of order: 3,000 due 2023-01-31 at 12.50, 500 on 15 Feb, 1,000 on 2 Mar.
    // 1–15 Feb = 15 d × 3000 = 562,500 (× 12.5); 16 Feb–2 Mar = 13 + 2 = 15 d × 2500 × 12.5 =
    // 468,750; 3–31 Mar = 29 d × 1500 × 12.5 = 543,750; Σ 1,575,000 / 36500 = 43.1507 → 43.15.
    Case { name: "payments_sorted_by_date", amount: "3000.00", due: "2023-01-31", at: "2023-03-31",
        payments: &[("2023-03-02", "1000.00"), ("2023-02-15", "500.00")],
        periods: &[("2023-02-01", "2023-02-15", 15, "12.50", "3000.00"),
                   ("2023-02-16", "2023-03-02", 15, "12.50", "2500.00"),
                   ("2023-03-03", "2023-03-31", 29, "12.50", "1500.00")],
        interest: "43.15", total: "1583.15", ..B2B },
    // 30 June at 14.50, 1–2 July at 14.25: 1000 × 14.5 × 1 + 1000 × 14.25 × 2 = 43,000;
    // / 36500 = 1.1781 → 1.18.
    Case { name: "split_on_30_june", due: "2024-06-29", at: "2024-07-02",
        periods: &[("2024-06-30", "2024-06-30", 1, "14.50", "1000.00"),
                   ("2024-07-01", "2024-07-02", 2, "14.25", "1000.00")],
        interest: "1.18", total: "1041.18", ..B2B },
    // The whole leap year 2024: S1 = 31+29+31+30+31+30 = 182 d at 14.50 → 2,639,000;
    // S2 = 184 d at 14.25 → 2,622,000; Σ 5,261,000 / 36500 = 144.1370 → 144.14 (366 days / 365).
    Case { name: "whole_leap_year", due: "2023-12-31", at: "2024-12-31",
        periods: &[("2024-01-01", "2024-06-30", 182, "14.50", "1000.00"),
                   ("2024-07-01", "2024-12-31", 184, "14.25", "1000.00")],
        interest: "144.14", total: "1184.14", ..B2B },
    // Paid in full before the half-year missing from the table: it is never needed.
    // 2–20 Jun 2026 = 19 d at 12.15: 2000 × 12.15 × 19 / 36500 = 12.6493 → 12.65.
    Case { name: "missing_half_year_not_needed_after_full_payment", amount: "2000.00", due: "2026-06-01", at: "2026-07-10",
        payments: &[("2026-06-20", "2000.00")],
        periods: &[("2026-06-02", "2026-06-20", 19, "12.15", "2000.00")],
        interest: "12.65", total: "52.65", ..B2B },
];

#[test]
fn table_cases_to_the_cent() {
    let rates = RatesTable::embedded();
    let mut failures = Vec::new();
    for c in CASES {
        let r = match compute(rates, &input(c)) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: error {e}", c.name));
                continue;
            }
        };
        let got: Vec<_> = r
            .periods
            .iter()
            .map(|p| (p.from, p.to, p.days, p.rate, p.balance))
            .collect();
        let want: Vec<_> = c
            .periods
            .iter()
            .map(|(f, t, n, rate, b)| (d(f), d(t), *n, dec(rate), dec(b)))
            .collect();
        if got != want {
            failures.push(format!("{}: periods {got:?}, expected {want:?}", c.name));
        }
        for (what, got, want) in [
            ("interest", r.interest, c.interest),
            ("indemnity", r.indemnity, c.indemnity),
            ("total", r.total, c.total),
        ] {
            if got.to_string() != want {
                failures.push(format!("{}: {what} {got}, expected {want}", c.name));
            }
        }
    }
    assert!(CASES.len() >= 20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn b2b(amount: &str, due: &str, at: &str) -> LateFeeInput {
    LateFeeInput::new(dec(amount), d(due), d(at))
}

#[test]
fn missing_half_year_is_an_error_naming_it() {
    // 2026-S2 is not in the shipped table (no ECB/legal rate known for 1 July 2026).
    let err = compute(
        RatesTable::embedded(),
        &b2b("1000", "2026-06-15", "2026-07-10"),
    )
    .unwrap_err();
    assert!(
        matches!(err, LawError::MissingHalfYear { half_year, .. } if half_year.to_string() == "2026-S2"),
        "{err:?}"
    );
    assert!(err.to_string().contains("2026-S2"), "{err}");
    // Before the table starts, too.
    let err = compute(
        RatesTable::embedded(),
        &b2b("1000", "2012-12-20", "2013-01-10"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("2012-S2"), "{err}");
}

#[test]
fn override_table_supplies_a_missing_half_year() {
    let csv = format!(
        "{}2026-S2,2026-07-01,2026-12-31,2.00,12.00,2.50,6.50,test row\n",
        EMBEDDED
    );
    let rates = RatesTable::parse(&csv).unwrap();
    // 16–30 Jun 2026: 15 d at 12.15 → 1000 × 12.15 × 15 = 182,250; 1–10 Jul: 10 d at 12.00
    // → 120,000; Σ 302,250 / 36500 = 8.2808 → 8.28.
    let r = compute(&rates, &b2b("1000", "2026-06-15", "2026-07-10")).unwrap();
    assert_eq!(r.interest.to_string(), "8.28");
}

const EMBEDDED: &str = rates::EMBEDDED_RATES_CSV;

#[test]
fn shipped_table_parses_and_holds_known_rates() {
    let rates = RatesTable::embedded();
    assert_eq!(rates.rows().count(), 27); // 2013-S1 … 2026-S1
    let row = rates.for_date(d("2024-09-18")).unwrap();
    // Not the 3.65 % of 18 Sept 2024: the rate in force on 1 July.
    assert_eq!(row.b2b_penalty, dec("14.25"));
    assert_eq!(row.legal_professional, dec("4.92"));
    assert_eq!(
        rates.for_date(d("2013-03-01")).unwrap().legal_consumer,
        None
    );
}

#[test]
fn table_rejects_a_penalty_rate_that_is_not_ecb_plus_ten() {
    let bad = EMBEDDED.replace(
        "2024-S2,2024-07-01,2024-12-31,4.25,14.25",
        "2024-S2,2024-07-01,2024-12-31,4.25,13.65",
    );
    let err = RatesTable::parse(&bad).unwrap_err();
    assert!(err.to_string().contains("2024-S2"), "{err}");
}

#[test]
fn table_rejects_duplicates_missing_columns_and_wrong_dates() {
    let dup = format!("{EMBEDDED}2024-S1,2024-01-01,2024-06-30,4.50,14.50,5.07,8.01,again\n");
    assert!(
        RatesTable::parse(&dup)
            .unwrap_err()
            .to_string()
            .contains("twice")
    );
    let no_col = "period,ecb_mro_rate\n2024-S1,4.50\n";
    assert!(
        RatesTable::parse(no_col)
            .unwrap_err()
            .to_string()
            .contains("fr_b2b_penalty_rate")
    );
    let wrong = "period,start,end,ecb_mro_rate,fr_b2b_penalty_rate,legal_rate_professional,legal_rate_consumer\n\
                 2024-S1,2024-01-01,2024-07-31,4.50,14.50,5.07,8.01\n";
    assert!(
        RatesTable::parse(wrong)
            .unwrap_err()
            .to_string()
            .contains("2024-06-30")
    );
}

#[test]
fn payments_above_the_amount_are_rejected() {
    let mut i = b2b("1000", "2025-01-31", "2025-03-02");
    i.payments = vec![
        Payment {
            date: d("2025-02-10"),
            amount: dec("600"),
        },
        Payment {
            date: d("2025-02-20"),
            amount: dec("600"),
        },
    ];
    let err = compute(RatesTable::embedded(), &i).unwrap_err();
    assert!(matches!(err, LawError::Input(_)), "{err:?}");
}

#[test]
fn b2c_rejects_a_contract_rate_and_bad_amounts() {
    let mut i = b2b("1000", "2025-01-31", "2025-03-02");
    i.kind = CustomerKind::B2c;
    i.contractual_rate = Some(dec("10"));
    assert!(compute(RatesTable::embedded(), &i).is_err());
    assert!(
        compute(
            RatesTable::embedded(),
            &b2b("0", "2025-01-31", "2025-03-02")
        )
        .is_err()
    );
}

#[test]
fn result_explains_itself() {
    let mut i = b2b("1000", "2024-03-31", "2024-04-30");
    i.contractual_rate = Some(dec("12.5"));
    i.payments = vec![Payment {
        date: d("2024-05-10"),
        amount: dec("1000"),
    }];
    let r = compute(RatesTable::embedded(), &i).unwrap();
    assert_eq!(r.days_late, 30);
    assert_eq!(r.interest_from, Some(d("2024-04-01")));
    assert_eq!(r.periods[0].basis, RateBasis::Floor);
    assert_eq!(r.ignored_payments.len(), 1);
    assert!(r.notes.iter().any(|n| n.contains("floor")), "{:?}", r.notes);
    assert!(r.articles.iter().any(|a| a.contains("L313-2")));

    let mut c = b2b("1000", "2025-05-15", "2025-07-20");
    c.kind = CustomerKind::B2c;
    let r = compute(RatesTable::embedded(), &c).unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("formal notice")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.days_late, 66);
}

#[test]
fn indemnity_is_an_input() {
    let mut i = b2b("1000", "2025-10-15", "2025-10-16");
    assert_eq!(i.indemnity, dec("40"));
    i.indemnity = dec("55");
    assert_eq!(
        compute(RatesTable::embedded(), &i)
            .unwrap()
            .indemnity
            .to_string(),
        "55.00"
    );
}

#[test]
fn half_year_of_and_display() {
    let h = HalfYear::of(d("2024-07-01"));
    assert_eq!(h.to_string(), "2024-S2");
    assert_eq!("2024-S2".parse::<HalfYear>(), Ok(h));
    assert_eq!(h.first_day(), d("2024-07-01"));
    assert_eq!(HalfYear::of(d("2024-06-30")).last_day(), d("2024-06-30"));
    assert!("2024-S3".parse::<HalfYear>().is_err());
}
