//! The half-yearly rates table (`data/rates.csv`): ECB main refinancing rate on 1 January /
//! 1 July, the French B2B penalty rate (that rate + 10 points) and the two legal interest rates.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::LawError;

/// The table shipped with Relance, embedded at build time.
pub const EMBEDDED_RATES_CSV: &str = include_str!("../../data/rates.csv");

/// A calendar half-year: the unit every French late-payment rate is fixed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HalfYear {
    /// Calendar year.
    pub year: i32,
    /// `true` for July–December (S2), `false` for January–June (S1).
    pub second: bool,
}

impl HalfYear {
    /// The half-year a day falls in.
    pub fn of(date: NaiveDate) -> Self {
        HalfYear {
            year: date.year(),
            second: date.month() > 6,
        }
    }

    /// 1 January or 1 July.
    pub fn first_day(self) -> NaiveDate {
        let month = if self.second { 7 } else { 1 };
        NaiveDate::from_ymd_opt(self.year, month, 1).expect("1 January / 1 July exist")
    }

    /// 30 June or 31 December.
    pub fn last_day(self) -> NaiveDate {
        let (month, day) = if self.second { (12, 31) } else { (6, 30) };
        NaiveDate::from_ymd_opt(self.year, month, day).expect("30 June / 31 December exist")
    }
}

impl fmt::Display for HalfYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-S{}", self.year, if self.second { 2 } else { 1 })
    }
}

impl FromStr for HalfYear {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a half-year such as 2024-S1");
        let (year, half) = s.split_once("-S").ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        let second = match half {
            "1" => false,
            "2" => true,
            _ => return Err(bad()),
        };
        Ok(HalfYear { year, second })
    }
}

/// The rates of one half-year, in % a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRow {
    /// Which half-year.
    pub half_year: HalfYear,
    /// ECB main refinancing operations rate in force on 1 January / 1 July.
    pub ecb_mro: Decimal,
    /// Statutory B2B penalty rate, C. com. L441-10 II: `ecb_mro` + 10 points.
    pub b2b_penalty: Decimal,
    /// Taux de l'intérêt légal « pour tous les autres cas » (CMF L313-2): the rate of a
    /// creditor acting for business, so the one Relance's users apply, and the base of the
    /// 3 × floor on contract rates.
    pub legal_professional: Decimal,
    /// Taux de l'intérêt légal for a private-individual creditor (none before 2015).
    pub legal_consumer: Option<Decimal>,
}

/// Rows by half-year, parsed and checked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatesTable {
    rows: BTreeMap<HalfYear, RateRow>,
}

/// The columns read; others (`source`, `start`, `end`…) are checked or ignored.
const COLUMNS: [&str; 5] = [
    "period",
    "ecb_mro_rate",
    "fr_b2b_penalty_rate",
    "legal_rate_professional",
    "legal_rate_consumer",
];

impl RatesTable {
    /// The shipped table, parsed on first use.
    pub fn embedded() -> &'static RatesTable {
        static TABLE: OnceLock<RatesTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            RatesTable::parse(EMBEDDED_RATES_CSV)
                .expect("the shipped data/rates.csv is valid (checked by a unit test)")
        })
    }

    /// Reads an override table (same columns as `data/rates.csv`).
    pub fn from_path(path: &Path) -> Result<RatesTable, LawError> {
        let text = std::fs::read_to_string(path).map_err(|e| LawError::Rates {
            line: 0,
            message: format!("cannot read it: {e}"),
        })?;
        RatesTable::parse(&text)
    }

    /// Parses CSV text with a header row naming at least [`COLUMNS`]; every row is checked
    /// (`start`/`end` match the half-year when present, penalty rate = ECB rate + 10).
    pub fn parse(text: &str) -> Result<RatesTable, LawError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let err = |line: u64, message: String| LawError::Rates { line, message };
        let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
        let index = |name: &str| headers.iter().position(|h| h == name);
        let mut cols = [0usize; 5];
        for (slot, name) in cols.iter_mut().zip(COLUMNS) {
            *slot = index(name).ok_or_else(|| err(1, format!("no `{name}` column")))?;
        }
        let (start_col, end_col) = (index("start"), index("end"));
        let mut rows = BTreeMap::new();
        for record in reader.records() {
            let record =
                record.map_err(|e| err(e.position().map_or(0, |p| p.line()), e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(i).unwrap_or("");
            let half_year: HalfYear = field(cols[0]).parse().map_err(|m| err(line, m))?;
            let rate = |i: usize| -> Result<Option<Decimal>, LawError> {
                let text = field(cols[i]);
                if text.is_empty() {
                    return Ok(None);
                }
                Decimal::from_str(text)
                    .map(Some)
                    .map_err(|_| err(line, format!("`{}` is not a rate: `{text}`", COLUMNS[i])))
            };
            let required = |i: usize| {
                rate(i)?.ok_or_else(|| err(line, format!("{half_year}: `{}` is empty", COLUMNS[i])))
            };
            let row = RateRow {
                half_year,
                ecb_mro: required(1)?,
                b2b_penalty: required(2)?,
                legal_professional: required(3)?,
                legal_consumer: rate(4)?,
            };
            if row.b2b_penalty != row.ecb_mro + Decimal::TEN {
                return Err(err(
                    line,
                    format!(
                        "{half_year}: fr_b2b_penalty_rate {} is not ecb_mro_rate {} + 10 (C. com. L441-10 II)",
                        row.b2b_penalty, row.ecb_mro
                    ),
                ));
            }
            for (col, expected) in [
                (start_col, half_year.first_day()),
                (end_col, half_year.last_day()),
            ] {
                if let Some(c) = col
                    && !field(c).is_empty()
                    && field(c).parse::<NaiveDate>() != Ok(expected)
                {
                    return Err(err(
                        line,
                        format!("{half_year}: `{}` should be {expected}", field(c)),
                    ));
                }
            }
            if rows.insert(half_year, row).is_some() {
                return Err(err(line, format!("{half_year} appears twice")));
            }
        }
        if rows.is_empty() {
            return Err(err(1, "the table has no rows".into()));
        }
        Ok(RatesTable { rows })
    }

    /// The rates of the half-year `date` falls in, or [`LawError::MissingHalfYear`].
    pub fn for_date(&self, date: NaiveDate) -> Result<&RateRow, LawError> {
        let half_year = HalfYear::of(date);
        self.rows.get(&half_year).ok_or(LawError::MissingHalfYear {
            half_year,
            first: self.rows.keys().next().copied(),
            last: self.rows.keys().next_back().copied(),
        })
    }

    /// Every row, oldest first.
    pub fn rows(&self) -> impl Iterator<Item = &RateRow> {
        self.rows.values()
    }
}
