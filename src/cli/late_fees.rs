//! `relance late-fees`: the French late-payment calculator. Standalone: it reads no
//! configuration and opens no database, only the rates table (embedded or `--rates-file`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use chrono::NaiveDate;
use clap::ValueEnum;
use rust_decimal::Decimal;
use serde::Serialize;

use super::Format;
use crate::law::{
    self, CustomerKind, LateFeeInput, LateFeeResult, Payment, Period, RateBasis, RatesTable,
    round_cents,
};

/// `--customer-kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// A professional: penalties from the day after the due date, EUR 40 indemnity.
    B2b,
    /// A consumer: legal interest from the formal notice only.
    B2c,
}

/// Arguments of `relance late-fees`.
#[derive(Debug, clap::Args)]
pub struct LateFeesArgs {
    /// Invoice amount, tax included (e.g. 1234.56).
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    pub amount: Decimal,
    /// Due date on the invoice (YYYY-MM-DD); interest runs from the next day.
    #[arg(long)]
    pub due: NaiveDate,
    /// Compute up to this day, inclusive (YYYY-MM-DD).
    #[arg(long)]
    pub at: NaiveDate,
    /// A payment received, DATE=AMOUNT (e.g. 2024-02-01=500.00); repeat for each.
    #[arg(long = "payment", value_name = "DATE=AMOUNT", value_parser = parse_payment)]
    pub payments: Vec<Payment>,
    /// Professional (b2b) or consumer (b2c) customer.
    #[arg(long, value_enum, default_value_t = KindArg::B2b)]
    pub customer_kind: KindArg,
    /// Date of the formal notice (mise en demeure): starts interest for B2C.
    #[arg(long)]
    pub notice: Option<NaiveDate>,
    /// Contract rate in % a year (B2B); never below 3 × the legal interest rate.
    #[arg(long, value_name = "PERCENT", value_parser = parse_rate)]
    pub rate: Option<Decimal>,
    /// Rates table to use instead of the shipped one (same columns as data/rates.csv).
    #[arg(long, value_name = "PATH")]
    pub rates_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_amount(s: &str) -> Result<Decimal, String> {
    let a = Decimal::from_str(s.trim())
        .map_err(|_| format!("`{s}` is not an amount such as 1234.56"))?;
    if a.scale() > 2 {
        return Err(format!(
            "`{s}`: amounts are in euros and cents (2 decimals at most)"
        ));
    }
    if a <= Decimal::ZERO {
        return Err(format!("`{s}`: the amount must be positive"));
    }
    Ok(a)
}

fn parse_payment(s: &str) -> Result<Payment, String> {
    let (date, amount) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not DATE=AMOUNT such as 2024-02-01=500.00"))?;
    let date = date
        .trim()
        .parse::<NaiveDate>()
        .map_err(|_| format!("`{date}` is not a date such as 2024-02-01"))?;
    Ok(Payment {
        date,
        amount: parse_amount(amount)?,
    })
}

fn parse_rate(s: &str) -> Result<Decimal, String> {
    let r = Decimal::from_str(s.trim().trim_end_matches('%'))
        .map_err(|_| format!("`{s}` is not a rate in % a year such as 12.5"))?;
    if r < Decimal::ZERO {
        return Err(format!("`{s}`: the rate cannot be negative"));
    }
    Ok(r)
}

/// Runs the command: 0 on success, 2 with a message on stderr when it cannot compute.
pub fn run(args: &LateFeesArgs) -> ExitCode {
    let loaded;
    let rates = match &args.rates_file {
        None => RatesTable::embedded(),
        Some(path) => match RatesTable::from_path(path) {
            Ok(t) => {
                loaded = t;
                &loaded
            }
            Err(e) => {
                eprintln!("relance late-fees: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let input = LateFeeInput {
        payments: args.payments.clone(),
        kind: match args.customer_kind {
            KindArg::B2b => CustomerKind::B2b,
            KindArg::B2c => CustomerKind::B2c,
        },
        notice: args.notice,
        contractual_rate: args.rate,
        ..LateFeeInput::new(args.amount, args.due, args.at)
    };
    match law::compute(rates, &input) {
        Ok(result) => match args.format {
            Format::Text => {
                print_text(&input, &result);
                ExitCode::SUCCESS
            }
            Format::Json => print_json(&input, &result),
        },
        Err(e) => {
            eprintln!("relance late-fees: {e}");
            ExitCode::from(2)
        }
    }
}

/// A rate as a decimal string with at least 2 decimals: `14.50`, `15.21`, `12.125`.
fn rate_text(rate: Decimal) -> String {
    let mut r = rate.normalize();
    if r.scale() < 2 {
        r.rescale(2);
    }
    r.to_string()
}

fn basis_text(basis: RateBasis) -> &'static str {
    match basis {
        RateBasis::Statutory => "ECB rate + 10 points",
        RateBasis::Contractual => "contract rate",
        RateBasis::Floor => "floor: 3 × legal rate",
        RateBasis::Legal => "legal interest rate",
    }
}

const DAY_COUNT: &str = "actual/365";
const ROUNDING: &str = "exact sum of all periods, rounded once to the cent, half-up";

fn print_text(input: &LateFeeInput, r: &LateFeeResult) {
    let kind = match input.kind {
        CustomerKind::B2b => "B2B (professional customer)",
        CustomerKind::B2c => "B2C (consumer)",
    };
    println!("Late-payment interest, {kind}");
    println!(
        "  Invoice amount (TTC)   {} EUR, due {}",
        r.principal, input.due
    );
    if let Some(rate) = input.contractual_rate {
        println!("  Contract rate          {} % a year", rate_text(rate));
    }
    if let Some(n) = input.notice {
        println!("  Formal notice          {n}");
    }
    let mut payments = input.payments.clone();
    payments.sort_by_key(|p| p.date);
    for (i, p) in payments.iter().enumerate() {
        let label = if i == 0 { "Payments" } else { "" };
        let ignored = if p.date > input.at {
            "  (after --at: not counted)"
        } else {
            ""
        };
        println!(
            "  {label:<22} {}  {} EUR{ignored}",
            p.date,
            round_cents(p.amount)
        );
    }
    println!(
        "  Computed up to         {} inclusive: {} day(s) late",
        input.at, r.days_late
    );
    println!();
    if r.periods.is_empty() {
        println!("  No period bears interest.");
    } else {
        println!(
            "  {:<10}  {:<10}  {:>5}  {:>7}  {:>12}  {:>10}  Rate basis",
            "From", "To", "Days", "Rate %", "Balance", "Interest"
        );
        for p in &r.periods {
            println!(
                "  {}  {}  {:>5}  {:>7}  {:>12}  {:>10}  {} ({})",
                p.from,
                p.to,
                p.days,
                rate_text(p.rate),
                round_cents(p.balance),
                round_cents(p.interest_exact),
                basis_text(p.basis),
                p.half_year
            );
        }
    }
    println!();
    let line = |label: &str, value: Decimal| println!("  {label:<34} {value:>12} EUR");
    line("Interest", r.interest);
    line("Recovery indemnity", r.indemnity);
    line(&format!("Balance still owed on {}", input.at), r.balance);
    line("Total", r.total);
    println!();
    println!("  Day count: {DAY_COUNT}. Rounding: {ROUNDING}.");
    println!("  A payment lowers the balance from the day after it is received.");
    println!("  Total = balance still owed + interest + indemnity.");
    if !r.notes.is_empty() {
        println!();
        println!("Notes:");
        for n in &r.notes {
            println!("  - {n}");
        }
    }
    println!();
    println!("Legal basis:");
    for a in &r.articles {
        println!("  - {a}");
    }
}

#[derive(Serialize)]
struct JsonPeriod {
    from: NaiveDate,
    to: NaiveDate,
    days: i64,
    rate: String,
    balance: String,
    interest: String,
    basis: RateBasis,
    half_year: String,
}

#[derive(Serialize)]
struct JsonPayment {
    date: NaiveDate,
    amount: String,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    principal: String,
    periods: Vec<JsonPeriod>,
    interest: String,
    indemnity: String,
    total: String,
    paid: String,
    balance: String,
    currency: &'static str,
    customer_kind: CustomerKind,
    due: NaiveDate,
    at: NaiveDate,
    notice: Option<NaiveDate>,
    contractual_rate: Option<String>,
    days_late: i64,
    interest_from: Option<NaiveDate>,
    ignored_payments: Vec<JsonPayment>,
    day_count: &'static str,
    rounding: &'static str,
    articles: &'a [&'static str],
    notes: &'a [String],
}

fn json_period(p: &Period) -> JsonPeriod {
    JsonPeriod {
        from: p.from,
        to: p.to,
        days: p.days,
        rate: rate_text(p.rate),
        balance: round_cents(p.balance).to_string(),
        interest: round_cents(p.interest_exact).to_string(),
        basis: p.basis,
        half_year: p.half_year.to_string(),
    }
}

fn print_json(input: &LateFeeInput, r: &LateFeeResult) -> ExitCode {
    let report = JsonReport {
        principal: r.principal.to_string(),
        periods: r.periods.iter().map(json_period).collect(),
        interest: r.interest.to_string(),
        indemnity: r.indemnity.to_string(),
        total: r.total.to_string(),
        paid: r.paid.to_string(),
        balance: r.balance.to_string(),
        currency: "EUR",
        customer_kind: input.kind,
        due: input.due,
        at: input.at,
        notice: input.notice,
        contractual_rate: input.contractual_rate.map(rate_text),
        days_late: r.days_late,
        interest_from: r.interest_from,
        ignored_payments: r
            .ignored_payments
            .iter()
            .map(|p| JsonPayment {
                date: p.date,
                amount: round_cents(p.amount).to_string(),
            })
            .collect(),
        day_count: DAY_COUNT,
        rounding: ROUNDING,
        articles: &r.articles,
        notes: &r.notes,
    };
    match serde_json::to_string_pretty(&report) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("relance late-fees: cannot write JSON: {e}");
            ExitCode::FAILURE
        }
    }
}
