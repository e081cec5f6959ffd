//! The computation: simple interest, actual days / 365, split at each half-year boundary and
//! each payment date, rounded to the cent once at the end.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{
    CustomerKind, LateFeeInput, LateFeeResult, LawError, Payment, Period, RateBasis, RateRow,
    RatesTable, round_cents,
};

/// Year basis of every source found (Bpifrance: « … × nombre de jours de retard / 365 »),
/// leap years included.
const DAYS_IN_YEAR: i64 = 365;

/// Late-payment interest and indemnity owed on one invoice at `input.at`.
///
/// Conventions (README, "Late-payment interest"): B2B interest runs from the day after the
/// due date, B2C interest from the day after the formal notice (never before the day after
/// the due date); the last day is `at` or the payment date, inclusive, so a payment lowers the
/// balance from the next day; each day bears the rate of its half-year; payments after `at` are
/// ignored; the exact sum is rounded half-up to the cent once.
pub fn compute(rates: &RatesTable, input: &LateFeeInput) -> Result<LateFeeResult, LawError> {
    validate(input)?;
    let mut notes = Vec::new();
    let mut payments = input.payments.clone();
    payments.sort_by_key(|p| p.date);
    let (counted, ignored): (Vec<Payment>, Vec<Payment>) =
        payments.into_iter().partition(|p| p.date <= input.at);
    for p in &ignored {
        notes.push(format!(
            "payment of {} on {} is after {} and is not counted",
            round_cents(p.amount),
            p.date,
            input.at
        ));
    }
    let paid: Decimal = counted.iter().map(|p| p.amount).sum();
    if paid > input.amount {
        return Err(LawError::Input(format!(
            "payments up to {} total {}, more than the invoice amount {}",
            input.at,
            round_cents(paid),
            round_cents(input.amount)
        )));
    }
    // Funds received on a day still leave that day's balance unpaid (the payment day counts).
    let owed_on = |day: NaiveDate| -> Decimal {
        input.amount
            - counted
                .iter()
                .filter(|p| p.date < day)
                .map(|p| p.amount)
                .sum::<Decimal>()
    };

    let first_late_day = next_day(input.due)?;
    let late = input.at >= first_late_day && owed_on(first_late_day) > Decimal::ZERO;
    let days_late = if late {
        let mut running = Decimal::ZERO;
        let cleared = counted.iter().find_map(|p| {
            running += p.amount;
            (running >= input.amount).then_some(p.date)
        });
        let last = cleared.map_or(input.at, |d| d.min(input.at));
        (last - input.due).num_days()
    } else {
        notes.push(format!(
            "not late on {}: nothing was unpaid after the due date {}",
            input.at, input.due
        ));
        0
    };

    let start = match input.kind {
        CustomerKind::B2b => {
            if input.notice.is_some() {
                notes.push(
                    "formal notice ignored: B2B penalties run without any reminder (C. com. L441-10 II)"
                        .into(),
                );
            }
            Some(first_late_day)
        }
        CustomerKind::B2c => match input.notice {
            None => {
                notes.push(
                    "B2C: no interest without a formal notice (mise en demeure, C. civ. 1231-6 and 1344-1); give its date with --notice"
                        .into(),
                );
                None
            }
            Some(notice) => {
                if notice > input.at {
                    notes.push(format!(
                        "B2C: the formal notice of {notice} is after {}: no interest yet",
                        input.at
                    ));
                }
                Some(next_day(notice.max(input.due))?)
            }
        },
    };

    let mut periods = Vec::new();
    let mut numerators = Decimal::ZERO;
    let mut floor_noted = Vec::new();
    let mut next = start;
    while let Some(day) = next.filter(|d| *d <= input.at) {
        let balance = owed_on(day);
        if balance <= Decimal::ZERO {
            break;
        }
        let row = rates.for_date(day)?;
        let half_year = row.half_year;
        let mut to = input.at.min(half_year.last_day());
        if let Some(p) = counted.iter().find(|p| p.date >= day) {
            to = to.min(p.date);
        }
        let (rate, basis) = rate_for(row, input);
        if basis == RateBasis::Floor && !floor_noted.contains(&half_year) {
            floor_noted.push(half_year);
            notes.push(format!(
                "{half_year}: the contract rate {} % is below 3 × the legal rate ({} % × 3 = {} %) and is raised to that floor (C. com. L441-10 II); the article does not say what replaces such a rate, another reading applies the statutory rate ({} %)",
                input.contractual_rate.unwrap_or_default(),
                row.legal_professional,
                rate,
                row.b2b_penalty
            ));
        }
        let days = (to - day).num_days() + 1;
        let numerator = balance * rate * Decimal::from(days);
        numerators += numerator;
        periods.push(Period {
            from: day,
            to,
            days,
            rate,
            basis,
            half_year,
            balance,
            interest_exact: numerator / Decimal::from(100 * DAYS_IN_YEAR),
        });
        next = Some(next_day(to)?);
    }
    if input.kind == CustomerKind::B2c && !periods.is_empty() {
        notes.push(
            "B2C: taux de l'intérêt légal for a creditor acting for business (« tous les autres cas », CMF L313-2)"
                .into(),
        );
    }

    let interest = round_cents(numerators / Decimal::from(100 * DAYS_IN_YEAR));
    let indemnity = if late && input.kind == CustomerKind::B2b {
        round_cents(input.indemnity)
    } else {
        round_cents(Decimal::ZERO)
    };
    let balance = round_cents(input.amount - paid);
    Ok(LateFeeResult {
        principal: round_cents(input.amount),
        paid: round_cents(paid),
        balance,
        interest_from: periods.first().map(|p| p.from),
        periods,
        interest,
        indemnity,
        total: balance + interest + indemnity,
        days_late,
        ignored_payments: ignored,
        articles: articles(input),
        notes,
    })
}

fn validate(input: &LateFeeInput) -> Result<(), LawError> {
    let bad = |m: String| Err(LawError::Input(m));
    if input.amount <= Decimal::ZERO {
        return bad(format!("the amount must be positive, not {}", input.amount));
    }
    if let Some(p) = input.payments.iter().find(|p| p.amount <= Decimal::ZERO) {
        return bad(format!(
            "the payment on {} must be positive, not {}",
            p.date, p.amount
        ));
    }
    if input.indemnity < Decimal::ZERO {
        return bad(format!(
            "the indemnity cannot be negative ({})",
            input.indemnity
        ));
    }
    match (input.contractual_rate, input.kind) {
        (Some(r), _) if r < Decimal::ZERO => bad(format!("the rate cannot be negative ({r} %)")),
        (Some(_), CustomerKind::B2c) => bad(
            "a contract rate (--rate) applies to B2B only; B2C interest is the legal rate from the formal notice"
                .into(),
        ),
        _ => Ok(()),
    }
}

fn next_day(day: NaiveDate) -> Result<NaiveDate, LawError> {
    day.succ_opt()
        .ok_or_else(|| LawError::Input(format!("{day} is out of range")))
}

/// The rate of a day in `row`'s half-year, and where it comes from.
fn rate_for(row: &RateRow, input: &LateFeeInput) -> (Decimal, RateBasis) {
    match (input.kind, input.contractual_rate) {
        (CustomerKind::B2c, _) => (row.legal_professional, RateBasis::Legal),
        (CustomerKind::B2b, None) => (row.b2b_penalty, RateBasis::Statutory),
        (CustomerKind::B2b, Some(contract)) => {
            // The floor moves with the legal rate, so it is checked half-year by half-year.
            let floor = row.legal_professional * Decimal::from(3);
            if contract >= floor {
                (contract, RateBasis::Contractual)
            } else {
                (floor, RateBasis::Floor)
            }
        }
    }
}

fn articles(input: &LateFeeInput) -> Vec<&'static str> {
    match input.kind {
        CustomerKind::B2b => {
            let mut a = vec![
                "C. com. L441-10 II: late-payment penalties, due without reminder from the day after the due date; EUR 40 recovery indemnity",
                "C. com. D441-5: amount of the recovery indemnity (EUR 40)",
            ];
            if input.contractual_rate.is_some() {
                a.push("C. com. L441-10 II: a contract rate may not be below 3 × the legal rate");
                a.push("CMF L313-2: taux de l'intérêt légal");
            }
            a
        }
        CustomerKind::B2c => vec![
            "C. civ. 1231-6 and 1344-1: legal interest from the formal notice",
            "CMF L313-2: taux de l'intérêt légal",
        ],
    }
}
