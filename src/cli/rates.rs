//! `relance rates`: the late-payment rates table (shipped, or `--rates-file`), whether today's
//! half-year is covered, and `relance rates update`, which reads the ECB main refinancing rate
//! from the ECB Data Portal and writes the missing half-years to a rates file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use relance_core::Clock;
use rust_decimal::Decimal;

use crate::law::{HalfYear, RateRow, RatesTable};

/// The ECB series of the main refinancing operations rate (fixed rate, level).
pub const ECB_MRO_URL: &str =
    "https://data-api.ecb.europa.eu/service/data/FM/B.U2.EUR.4F.KR.MRR_FX.LEV?format=csvdata";

/// `relance rates`.
#[derive(Debug, Args)]
pub struct RatesArgs {
    /// A rates table overriding the shipped one (same columns as data/rates.csv).
    #[arg(long, global = true)]
    pub rates_file: Option<PathBuf>,
    /// Output format of the listing.
    #[arg(long, value_enum, default_value_t = super::Format::Text)]
    pub format: super::Format,
    /// Update instead of listing.
    #[command(subcommand)]
    pub action: Option<RatesCommand>,
}

/// `relance rates update`.
#[derive(Debug, Subcommand)]
pub enum RatesCommand {
    /// Add the half-years missing up to today: the ECB rate in force on 1 January / 1 July from
    /// the ECB Data Portal, the legal interest rates (published by arrêté in the Journal
    /// officiel, no machine source) from the options.
    Update {
        /// Where to write the completed table (default: --rates-file, else ./rates.csv).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The ECB series to read (CSV).
        #[arg(long, default_value = ECB_MRO_URL)]
        ecb_url: String,
        /// Taux de l'intérêt légal « autres cas » of the new half-year, % (its arrêté).
        #[arg(long)]
        legal_professional: Option<Decimal>,
        /// Taux de l'intérêt légal for private creditors of the new half-year, %.
        #[arg(long)]
        legal_consumer: Option<Decimal>,
    },
}

/// Runs `relance rates`.
pub fn run(args: &RatesArgs, clock: Arc<dyn Clock>) -> ExitCode {
    let table = match &args.rates_file {
        Some(p) => match RatesTable::from_path(p) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("relance: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => RatesTable::embedded().clone(),
    };
    let today = clock.now().date_naive();
    match &args.action {
        None => list(&table, today, args.format),
        Some(RatesCommand::Update {
            out,
            ecb_url,
            legal_professional,
            legal_consumer,
        }) => {
            let out = out
                .clone()
                .or_else(|| args.rates_file.clone())
                .unwrap_or_else(|| PathBuf::from("rates.csv"));
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("relance: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(update(
                &table,
                today,
                &out,
                ecb_url,
                *legal_professional,
                *legal_consumer,
                clock,
            ))
        }
    }
}

fn list(table: &RatesTable, today: NaiveDate, format: super::Format) -> ExitCode {
    let current = HalfYear::of(today);
    let covered = table.for_date(today).is_ok();
    if format == super::Format::Json {
        let rows: Vec<serde_json::Value> = table
            .rows()
            .map(|r| {
                serde_json::json!({
                    "period": r.half_year.to_string(),
                    "ecb_mro_rate": r.ecb_mro.to_string(),
                    "fr_b2b_penalty_rate": r.b2b_penalty.to_string(),
                    "legal_rate_professional": r.legal_professional.to_string(),
                    "legal_rate_consumer": r.legal_consumer.map(|d| d.to_string()),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"today": today, "current": current.to_string(), "covered": covered, "rows": rows})
        );
    } else {
        println!("Half-year  ECB MRO  B2B penalty  Legal (pro)  Legal (private)");
        for r in table.rows() {
            println!(
                "{:<9}  {:>7}  {:>11}  {:>11}  {:>15}",
                r.half_year.to_string(),
                r.ecb_mro,
                r.b2b_penalty,
                r.legal_professional,
                r.legal_consumer
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into())
            );
        }
        if covered {
            println!("\nToday's half-year ({current}) is covered.");
        } else {
            println!(
                "\nToday's half-year ({current}) is MISSING: late-payment figures cannot be computed for delays running into it. Run `relance rates update --legal-professional … --legal-consumer …` once its legal rate is published."
            );
        }
    }
    if covered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The ECB rate in force on `day` from the series' CSV (`TIME_PERIOD`, `OBS_VALUE` columns;
/// the last observation on or before the day).
pub fn rate_in_force(csv_text: &str, day: NaiveDate) -> Result<Option<Decimal>, String> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("the ECB answer has no {name} column"))
    };
    let (t, v) = (col("TIME_PERIOD")?, col("OBS_VALUE")?);
    let mut best: Option<(NaiveDate, Decimal)> = None;
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let (Some(ts), Some(vs)) = (record.get(t), record.get(v)) else {
            continue;
        };
        let Ok(date) = NaiveDate::from_str(ts.get(..10).unwrap_or(ts)) else {
            continue;
        };
        let Ok(value) = Decimal::from_str(vs.trim()) else {
            continue;
        };
        if date <= day && best.is_none_or(|(d, _)| date >= d) {
            best = Some((date, value));
        }
    }
    Ok(best.map(|(_, v)| v.normalize()))
}

async fn update(
    table: &RatesTable,
    today: NaiveDate,
    out: &std::path::Path,
    url: &str,
    legal_professional: Option<Decimal>,
    legal_consumer: Option<Decimal>,
    clock: Arc<dyn Clock>,
) -> ExitCode {
    let last = table.rows().last().map(|r| r.half_year);
    let mut missing = Vec::new();
    let mut h = last.map(next).unwrap_or(HalfYear::of(today));
    while h.first_day() <= today {
        missing.push(h);
        h = next(h);
    }
    if missing.is_empty() {
        println!(
            "The table already covers today's half-year ({}).",
            HalfYear::of(today)
        );
        return ExitCode::SUCCESS;
    }
    let http = match relance_core::http::HttpClient::new(
        relance_core::http::HttpConfig::new("ecb", 5),
        clock,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("relance: {e}");
            return ExitCode::FAILURE;
        }
    };
    let response = match http.send("ECB rates", |c| c.get(url)).await {
        Ok(r) if r.is_success() => r,
        Ok(r) => {
            eprintln!("relance: the ECB Data Portal answered {}", r.status);
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("relance: cannot reach the ECB Data Portal: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let mut rows: Vec<RateRow> = table.rows().cloned().collect();
    for h in &missing {
        let ecb = match rate_in_force(&text, h.first_day()) {
            Ok(Some(r)) => r,
            Ok(None) => {
                eprintln!(
                    "relance: the ECB series has no rate in force on {}",
                    h.first_day()
                );
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("relance: unreadable ECB answer: {e}");
                return ExitCode::FAILURE;
            }
        };
        let Some(pro) = legal_professional else {
            eprintln!(
                "relance: {h}: ECB rate in force on {} is {ecb} % (penalty rate {} %); the legal interest rate of {h} is published by arrêté in the Journal officiel: pass --legal-professional (and --legal-consumer) to add the row",
                h.first_day(),
                ecb + Decimal::TEN
            );
            return ExitCode::from(2);
        };
        println!(
            "{h}: ECB rate {ecb} % in force on {} → penalty rate {} %",
            h.first_day(),
            ecb + Decimal::TEN
        );
        rows.push(RateRow {
            half_year: *h,
            ecb_mro: ecb,
            b2b_penalty: ecb + Decimal::TEN,
            legal_professional: pro,
            legal_consumer,
        });
    }
    let mut csv = String::from(
        "period,start,end,ecb_mro_rate,fr_b2b_penalty_rate,legal_rate_professional,legal_rate_consumer,source\n",
    );
    for r in &rows {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.half_year,
            r.half_year.first_day(),
            r.half_year.last_day(),
            r.ecb_mro,
            r.b2b_penalty,
            r.legal_professional,
            r.legal_consumer.map(|d| d.to_string()).unwrap_or_default(),
            if missing.contains(&r.half_year) {
                "relance rates update (ECB Data Portal; legal rate given)"
            } else {
                ""
            }
        ));
    }
    if let Err(e) = RatesTable::parse(&csv) {
        eprintln!("relance: the completed table does not check: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::write(out, csv) {
        eprintln!("relance: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!(
        "Wrote {} ({} half-year(s) added); point late_payment.rates_file at it.",
        out.display(),
        missing.len()
    );
    ExitCode::SUCCESS
}

fn next(h: HalfYear) -> HalfYear {
    HalfYear::of(h.last_day() + chrono::TimeDelta::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_in_force_on_a_day() {
        let csv = "KEY,FREQ,TIME_PERIOD,OBS_VALUE\n\
                   FM.B,B,2025-04-23,2.40\nFM.B,B,2025-06-11,2.15\nFM.B,B,2026-09-16,1.90\n";
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            rate_in_force(csv, d("2026-07-01")).unwrap(),
            Some(Decimal::new(215, 2))
        );
        assert_eq!(
            rate_in_force(csv, d("2027-01-01")).unwrap(),
            Some(Decimal::new(19, 1))
        );
        assert_eq!(rate_in_force(csv, d("2020-01-01")).unwrap(), None);
        assert!(rate_in_force("a,b\n1,2\n", d("2026-07-01")).is_err());
    }
}
