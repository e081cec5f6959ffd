//! Exact money: a `Decimal` amount tied to an ISO 4217 currency, never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Why an amount or a currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not three ASCII letters.
    #[error("`{0}` is not an ISO 4217 currency code (three letters, e.g. EUR)")]
    BadCurrency(String),
    /// An operation mixed two currencies.
    #[error("cannot combine {0} and {1} amounts")]
    CurrencyMismatch(Currency, Currency),
    /// The amount has more decimals than the currency has minor units.
    #[error("{amount} {currency} has more decimals than {currency} allows ({exponent})")]
    TooPrecise {
        /// The amount refused.
        amount: Decimal,
        /// Its currency.
        currency: Currency,
        /// The currency's number of decimals.
        exponent: u32,
    },
    /// The amount does not fit the storage range.
    #[error("{0} is out of range")]
    Overflow(Decimal),
}

/// An ISO 4217 currency code, upper case (`EUR`, `JPY`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Euro, the default of most of our users.
    pub const EUR: Currency = Currency(*b"EUR");

    /// Parses a code in any case (`eur`, `EUR`).
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.trim().as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::BadCurrency(code.to_string()));
        }
        let mut out = [0u8; 3];
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b.to_ascii_uppercase();
        }
        Ok(Currency(out))
    }

    /// The code as text.
    pub fn code(&self) -> &str {
        // The bytes were checked to be ASCII letters at construction.
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }

    /// Number of decimals of the minor unit, per ISO 4217 (JPY 0, EUR 2, KWD 3).
    ///
    /// Providers may count differently on the wire (Stripe sends ISK with two decimals); their
    /// connectors convert with their own table and hand over exact `Decimal`s.
    pub fn exponent(&self) -> u32 {
        match self.code() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "CLF" | "UYW" => 4,
            _ => 2,
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An exact amount in one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in major units (`1234.56` euros).
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in major units.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Money::new(Decimal::ZERO, currency)
    }

    /// From an integer count of minor units with the ISO exponent (`124800` EUR = 1248.00).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money::new(Decimal::new(minor, currency.exponent()), currency)
    }

    /// To an integer count of minor units with the ISO exponent; refuses to round.
    pub fn to_minor(&self) -> Result<i64, MoneyError> {
        let exponent = self.currency.exponent();
        let scaled = self
            .amount
            .checked_mul(Decimal::from(10i64.pow(exponent)))
            .ok_or(MoneyError::Overflow(self.amount))?;
        if scaled.fract() != Decimal::ZERO {
            return Err(MoneyError::TooPrecise {
                amount: self.amount,
                currency: self.currency,
                exponent,
            });
        }
        i64::try_from(scaled).map_err(|_| MoneyError::Overflow(self.amount))
    }

    /// The sum, if both are in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(Money::new(self.amount + other.amount, self.currency))
    }

    /// The difference, if both are in the same currency.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(Money::new(self.amount - other.amount, self.currency))
    }

    /// True when the amount is zero or less.
    pub fn is_settled(&self) -> bool {
        self.amount <= Decimal::ZERO
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut amount = self.amount;
        amount.rescale(self.currency.exponent().max(amount.scale()));
        write!(f, "{} {}", amount, self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        Currency::parse(c).unwrap()
    }

    #[test]
    fn currency_codes_are_normalised_and_checked() {
        assert_eq!(cur("eur").code(), "EUR");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(cur("EUR").exponent(), 2);
        assert_eq!(cur("JPY").exponent(), 0);
        assert_eq!(cur("KWD").exponent(), 3);
        assert_eq!(cur("ISK").exponent(), 0);
    }

    #[test]
    fn minor_units_round_trip_exactly() {
        let m = Money::from_minor(124800, Currency::EUR);
        assert_eq!(m.amount, Decimal::new(124800, 2));
        assert_eq!(m.to_minor().unwrap(), 124800);
        let jpy = Money::from_minor(185000, cur("JPY"));
        assert_eq!(jpy.amount, Decimal::from(185000));
        let kwd = Money::new(Decimal::new(5120, 3), cur("KWD"));
        assert_eq!(kwd.to_minor().unwrap(), 5120);
    }

    #[test]
    fn too_many_decimals_are_refused_not_rounded() {
        let m = Money::new(Decimal::new(12345, 3), Currency::EUR);
        assert!(matches!(m.to_minor(), Err(MoneyError::TooPrecise { .. })));
        // Trailing zeros are fine.
        let m = Money::new(Decimal::new(12340, 3), Currency::EUR);
        assert_eq!(m.to_minor().unwrap(), 1234);
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies() {
        let eur = Money::from_minor(100, Currency::EUR);
        let usd = Money::from_minor(100, cur("USD"));
        assert!(eur.checked_add(usd).is_err());
        assert_eq!(eur.checked_add(eur).unwrap().to_minor().unwrap(), 200);
        assert!(eur.checked_sub(eur).unwrap().is_settled());
    }

    #[test]
    fn display_pads_to_the_currency_exponent() {
        assert_eq!(
            Money::from_minor(500, Currency::EUR).to_string(),
            "5.00 EUR"
        );
        assert_eq!(
            Money::from_minor(185000, cur("JPY")).to_string(),
            "185000 JPY"
        );
    }
}
