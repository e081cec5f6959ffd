//! French late-payment law as pure functions: the half-yearly rates table and the computation
//! of late-payment interest and the EUR 40 recovery indemnity for one invoice. No I/O, no clock:
//! every date is an input. Used by `relance late-fees`; the policy and the formal-notice letter
//! are meant to reuse [`compute`].
//!
//! Sources and the conventions chosen where the law is silent: README, "Late-payment interest".

mod interest;
pub mod rates;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

pub use interest::compute;
pub use rates::{HalfYear, RateRow, RatesTable};

/// Who owes the money: decides the rate, the start of interest and the indemnity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// A professional (C. com. L441-10): penalties from the day after the due date, no
    /// reminder needed, EUR 40 per invoice.
    B2b,
    /// A consumer (C. civ. 1231-6, 1344-1): legal interest from a formal notice only.
    B2c,
}

/// A payment received on a day (the day the funds were made available).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    /// Day the funds were received.
    pub date: NaiveDate,
    /// Amount (TTC), positive.
    pub amount: Decimal,
}

/// One invoice's facts, as of a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateFeeInput {
    /// Invoice amount, tax included (TTC), as issued.
    pub amount: Decimal,
    /// Due date printed on the invoice.
    pub due: NaiveDate,
    /// Interest is computed up to this day, inclusive.
    pub at: NaiveDate,
    /// Payments, in any order; those after `at` are ignored (and reported).
    pub payments: Vec<Payment>,
    /// B2B or B2C.
    pub kind: CustomerKind,
    /// Day of the formal notice (mise en demeure); only B2C uses it.
    pub notice: Option<NaiveDate>,
    /// Rate stipulated in the terms, % a year (B2B only); raised to 3 × the legal rate when
    /// below it.
    pub contractual_rate: Option<Decimal>,
    /// Fixed recovery indemnity per invoice (B2B): EUR 40 by D441-5.
    pub indemnity: Decimal,
}

/// The D441-5 amount of the recovery indemnity.
pub const DEFAULT_INDEMNITY: Decimal = Decimal::from_parts(40, 0, 0, false, 0);

impl LateFeeInput {
    /// A B2B invoice with no payment, no contract rate and the EUR 40 indemnity.
    pub fn new(amount: Decimal, due: NaiveDate, at: NaiveDate) -> Self {
        LateFeeInput {
            amount,
            due,
            at,
            payments: Vec::new(),
            kind: CustomerKind::B2b,
            notice: None,
            contractual_rate: None,
            indemnity: DEFAULT_INDEMNITY,
        }
    }
}

/// Where a period's rate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateBasis {
    /// ECB rate on 1 January / 1 July + 10 points (L441-10 II).
    Statutory,
    /// The contract rate, at or above the floor.
    Contractual,
    /// The contract rate was below 3 × the legal rate: raised to it (L441-10 II).
    Floor,
    /// Taux de l'intérêt légal (CMF L313-2), B2C after a formal notice.
    Legal,
}

/// Days at one rate on one balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// First day bearing interest.
    pub from: NaiveDate,
    /// Last day bearing interest (inclusive).
    pub to: NaiveDate,
    /// `to - from + 1`.
    pub days: i64,
    /// % a year.
    pub rate: Decimal,
    /// Where the rate comes from.
    pub basis: RateBasis,
    /// The half-year whose row gave the rate.
    pub half_year: HalfYear,
    /// Unpaid balance during the period.
    pub balance: Decimal,
    /// `balance × rate / 100 × days / 365`, not rounded.
    pub interest_exact: Decimal,
}

/// The computation, with everything needed to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateFeeResult {
    /// The invoice amount (TTC) as given.
    pub principal: Decimal,
    /// Payments counted (dated on or before `at`).
    pub paid: Decimal,
    /// Still owed at `at`: `principal - paid`.
    pub balance: Decimal,
    /// Periods bearing interest, in order.
    pub periods: Vec<Period>,
    /// Sum of the exact period interest, rounded once to the cent, half-up.
    pub interest: Decimal,
    /// Recovery indemnity due (0 when not late or B2C).
    pub indemnity: Decimal,
    /// `balance + interest + indemnity`.
    pub total: Decimal,
    /// Days between the due date and `at` (or the full payment, if earlier) the invoice was
    /// unpaid; 0 when paid on time.
    pub days_late: i64,
    /// First day bearing interest, if any.
    pub interest_from: Option<NaiveDate>,
    /// Payments dated after `at`, left out.
    pub ignored_payments: Vec<Payment>,
    /// Legal texts applied.
    pub articles: Vec<&'static str>,
    /// Why something is zero, what was ignored, what is a reading of the law.
    pub notes: Vec<String>,
}

/// Why a computation cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LawError {
    /// A day bearing interest falls in a half-year with no row: never guess a rate.
    #[error(
        "no late-payment rates for half-year {half_year}: the delay runs into it but the rates table {} has no row for it; add the row (ECB rate on {}, legal-rate arrêté) to a copy of data/rates.csv and pass it with --rates-file",
        range(*first, *last),
        half_year.first_day()
    )]
    MissingHalfYear {
        /// The half-year needed.
        half_year: HalfYear,
        /// First half-year in the table.
        first: Option<HalfYear>,
        /// Last half-year in the table.
        last: Option<HalfYear>,
    },
    /// The rates table could not be read.
    #[error("rates table{}: {message}", if *line == 0 { String::new() } else { format!(", line {line}") })]
    Rates {
        /// 1-based CSV line (0: not about a line).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The invoice facts are inconsistent.
    #[error("{0}")]
    Input(String),
}

fn range(first: Option<HalfYear>, last: Option<HalfYear>) -> String {
    match (first, last) {
        (Some(f), Some(l)) => format!("({f} to {l})"),
        _ => String::new(),
    }
}

/// Rounds to the cent, half away from zero (half-up for the positive amounts used here).
pub fn round_cents(value: Decimal) -> Decimal {
    let mut r =
        value.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

#[cfg(test)]
mod tests;
