//! CSV rows → normalised invoices and customers. Pure: text in, changes and row errors out.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use relance_core::{Change, Currency, Customer, CustomerHint, Invoice, InvoiceStatus, Money};
use rust_decimal::Decimal;

/// The columns Relance reads, each with the header names it accepts (case-insensitive).
const COLUMNS: &[(&str, &[&str])] = &[
    ("id", &["id", "invoice_id", "external_id"]),
    (
        "number",
        &["number", "invoice", "invoice_number", "numero", "no"],
    ),
    ("customer", &["customer", "customer_name", "client", "name"]),
    ("customer_id", &["customer_id", "client_id"]),
    ("email", &["email", "customer_email", "e-mail"]),
    ("phone", &["phone", "telephone"]),
    ("locale", &["locale", "language", "langue"]),
    ("total", &["total", "amount", "montant"]),
    ("balance", &["balance", "amount_due", "remaining", "solde"]),
    ("currency", &["currency", "devise"]),
    (
        "issued_on",
        &["issued_on", "issue_date", "date", "invoice_date"],
    ),
    ("due_on", &["due_on", "due_date", "due", "echeance"]),
    ("status", &["status", "statut"]),
    ("paid_on", &["paid_on", "paid_at", "payment_date"]),
    ("payment_url", &["payment_url", "payment_link", "url"]),
    ("address", &["address", "adresse", "billing_address"]),
    ("customer_kind", &["customer_kind", "kind", "type_client"]),
];

const REQUIRED: &[&str] = &["number", "customer", "total"];

/// The result of reading a file: changes for the good rows, one message per bad row.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Customers then invoices.
    pub changes: Vec<Change>,
    /// `line N: what is wrong`, for rows that were skipped.
    pub errors: Vec<String>,
    /// Rows read (good and bad).
    pub rows: usize,
}

/// Guesses the separator from the header line: `;` (French spreadsheets) or `,`.
pub fn guess_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    }
}

/// A date as `YYYY-MM-DD` or `DD/MM/YYYY`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .ok()
}

/// An amount as `1234.56`, `1234,56`, `1 234,56` or `1,234.56`; never through a float.
pub fn parse_amount(s: &str) -> Option<Decimal> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}' && *c != '€')
        .collect();
    let normalised = match (cleaned.rfind(','), cleaned.rfind('.')) {
        // Both: the last one is the decimal separator, the other groups thousands.
        (Some(c), Some(d)) if c > d => cleaned.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => cleaned.replace(',', ""),
        (Some(_), None) => cleaned.replace(',', "."),
        _ => cleaned,
    };
    normalised.parse::<Decimal>().ok()
}

fn parse_status(s: &str) -> Option<InvoiceStatus> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "open" | "unpaid" | "sent" | "overdue" | "partial" | "partially_paid" => {
            Some(InvoiceStatus::Open)
        }
        other => InvoiceStatus::parse(other),
    }
}

struct Columns(HashMap<&'static str, usize>);

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Self, String> {
        let mut found = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = name
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase();
            if let Some((key, _)) = COLUMNS
                .iter()
                .find(|(_, names)| names.contains(&name.as_str()))
            {
                found.entry(*key).or_insert(i);
            }
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|c| !found.contains_key(c))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "header line: missing column(s) {} (found: {})",
                missing.join(", "),
                header.iter().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(Columns(found))
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, key: &str) -> Option<&'r str> {
        self.0
            .get(key)
            .and_then(|&i| record.get(i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// Reads a whole file. `updated_at` stamps every invoice (the file's modification time).
pub fn parse(
    text: &str,
    delimiter: u8,
    default_currency: Currency,
    updated_at: DateTime<Utc>,
) -> Parsed {
    let mut out = Parsed::default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let columns = match reader
        .headers()
        .map_err(|e| e.to_string())
        .and_then(Columns::from_header)
    {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let mut customers: HashMap<String, Customer> = HashMap::new();
    let mut invoices = Vec::new();
    for record in reader.records() {
        out.rows += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                out.errors.push(format!("line {line}: {e}; row skipped"));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        match row(&columns, &record, default_currency, updated_at) {
            Ok((customer, invoice)) => {
                customers
                    .entry(customer.external_id.clone())
                    .and_modify(|c| {
                        for e in &customer.emails {
                            if !c.emails.contains(e) {
                                c.emails.push(e.clone());
                            }
                        }
                    })
                    .or_insert(customer);
                invoices.push(invoice);
            }
            Err(e) => out.errors.push(format!("line {line}: {e}; row skipped")),
        }
    }
    let mut customers: Vec<Customer> = customers.into_values().collect();
    customers.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    out.changes
        .extend(customers.into_iter().map(Change::Customer));
    out.changes
        .extend(invoices.into_iter().map(Change::Invoice));
    out
}

fn row(
    columns: &Columns,
    record: &csv::StringRecord,
    default_currency: Currency,
    updated_at: DateTime<Utc>,
) -> Result<(Customer, Invoice), String> {
    let field = |k: &str| columns.get(record, k);
    let number = field("number")
        .ok_or("invoice number is empty")?
        .to_string();
    let customer_name = field("customer").ok_or("customer is empty")?.to_string();
    let currency = match field("currency") {
        Some(c) => Currency::parse(c).map_err(|e| e.to_string())?,
        None => default_currency,
    };
    let amount = |k: &str, label: &str| -> Result<Option<Money>, String> {
        field(k)
            .map(|s| {
                parse_amount(s)
                    .map(|d| Money::new(d, currency))
                    .ok_or_else(|| format!("{label} `{s}` is not an amount"))
            })
            .transpose()
    };
    let date = |k: &str, label: &str| -> Result<Option<NaiveDate>, String> {
        field(k)
            .map(|s| {
                parse_date(s).ok_or_else(|| {
                    format!("{label} `{s}` is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
                })
            })
            .transpose()
    };
    let total = amount("total", "total")?.ok_or("total is empty")?;
    let status = match field("status") {
        Some(s) => parse_status(s).ok_or_else(|| {
            format!("status `{s}` is not one of open, paid, void, draft, uncollectible")
        })?,
        None => InvoiceStatus::Open,
    };
    let balance = match (amount("balance", "balance")?, status) {
        (_, InvoiceStatus::Paid | InvoiceStatus::Void) => Money::zero(currency),
        (Some(b), _) => b,
        (None, _) => total,
    };
    let issued_on = date("issued_on", "issue date")?;
    let due_on = date("due_on", "due date")?;
    let paid_on = date("paid_on", "payment date")?;
    let email = field("email").map(str::to_string);
    if let Some(e) = &email
        && !e.contains('@')
    {
        return Err(format!("e-mail `{e}` is not an address"));
    }
    let customer_id = field("customer_id").unwrap_or(&customer_name).to_string();
    let customer = Customer {
        external_id: customer_id.clone(),
        name: customer_name.clone(),
        emails: email.iter().cloned().collect(),
        phone: field("phone").map(str::to_string),
        locale: field("locale").map(str::to_string),
        time_zone: None,
        source_updated_at: Some(updated_at),
        address: field("address").map(str::to_string),
        consumer: match field("customer_kind").map(|k| k.to_ascii_lowercase()) {
            None => None,
            Some(k) if k == "b2c" || k == "consumer" || k == "particulier" => Some(true),
            Some(k) if k == "b2b" || k == "business" || k == "professionnel" => Some(false),
            Some(k) => return Err(format!("customer_kind `{k}`: expected b2b or b2c")),
        },
    };
    let invoice = Invoice {
        external_id: field("id").unwrap_or(&number).to_string(),
        number,
        customer_external_id: customer_id,
        customer_hint: Some(CustomerHint {
            name: Some(customer_name),
            email: email.clone(),
            phone: None,
        }),
        issued_on,
        due_on,
        total,
        balance,
        status,
        chase: true,
        email,
        payment_url: field("payment_url").map(str::to_string),
        paid_at: paid_on.map(|d| d.and_time(NaiveTime::MIN).and_utc()),
        source_updated_at: updated_at,
    };
    Ok((customer, invoice))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-11-25T10:00:00Z".parse().unwrap()
    }

    fn customers(p: &Parsed) -> Vec<&Customer> {
        p.changes
            .iter()
            .filter_map(|c| match c {
                Change::Customer(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn invoices(p: &Parsed) -> Vec<&Invoice> {
        p.changes
            .iter()
            .filter_map(|c| match c {
                Change::Invoice(i) => Some(i),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn amounts_in_every_common_spelling() {
        let d = |s: &str| parse_amount(s).map(|d| d.to_string());
        assert_eq!(d("1234.56").as_deref(), Some("1234.56"));
        assert_eq!(d("1234,56").as_deref(), Some("1234.56"));
        assert_eq!(d("1 234,56 €").as_deref(), Some("1234.56"));
        assert_eq!(d("1.234,56").as_deref(), Some("1234.56"));
        assert_eq!(d("1,234.56").as_deref(), Some("1234.56"));
        assert_eq!(d("12"), Some("12".into()));
        assert_eq!(d("abc"), None);
        assert_eq!(d(""), None);
    }

    #[test]
    fn dates_iso_and_french() {
        assert_eq!(
            parse_date("2027-01-15"),
            NaiveDate::from_ymd_opt(2027, 1, 15)
        );
        assert_eq!(
            parse_date("15/01/2027"),
            NaiveDate::from_ymd_opt(2027, 1, 15)
        );
        assert_eq!(parse_date("2027-13-01"), None);
    }

    #[test]
    fn good_rows_imported_bad_rows_reported_with_line_numbers() {
        let text = "number,customer,email,total,balance,currency,issued_on,due_on,status\n\
                    F-1,Brasserie du Port,compta@brasserie.example,1248.00,1248.00,EUR,2026-10-10,2026-11-09,open\n\
                    F-2,Kobayashi,kb@example.jp,185000,,JPY,2026-11-01,2026-12-01,\n\
                    F-3,Broken,x@example.com,abc,,EUR,2026-11-01,2026-12-01,open\n\
                    F-4,Late,l@example.com,10,10,EUR,2026-11-01,2026-13-45,open\n\
                    F-5,Paid Co,p@example.com,99.90,99.90,EUR,2026-11-01,2026-12-01,paid\n";
        let p = parse(text, b',', Currency::EUR, at());
        assert_eq!(p.rows, 5);
        assert_eq!(p.errors.len(), 2, "{:?}", p.errors);
        assert!(
            p.errors[0].starts_with("line 4:") && p.errors[0].contains("`abc`"),
            "{}",
            p.errors[0]
        );
        assert!(
            p.errors[1].starts_with("line 5:") && p.errors[1].contains("due date"),
            "{}",
            p.errors[1]
        );
        let inv = invoices(&p);
        assert_eq!(inv.len(), 3);
        assert_eq!(inv[0].balance.to_string(), "1248.00 EUR");
        assert_eq!(inv[1].total.to_string(), "185000 JPY");
        assert_eq!(inv[1].balance, inv[1].total);
        assert_eq!(inv[2].status, InvoiceStatus::Paid);
        assert!(inv[2].balance.is_settled());
    }

    #[test]
    fn semicolons_and_french_headers() {
        let text = "Numero;Client;E-mail;Montant;Echeance;Devise\nF-9;Atelier;a@b.fr;1 234,56;15/01/2027;EUR\n";
        assert_eq!(guess_delimiter(text), b';');
        let p = parse(text, b';', Currency::EUR, at());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let inv = invoices(&p);
        assert_eq!(inv[0].total.to_string(), "1234.56 EUR");
        assert_eq!(inv[0].due_on, NaiveDate::from_ymd_opt(2027, 1, 15));
    }

    #[test]
    fn missing_required_column_is_one_clear_error() {
        let p = parse("number,email\nF-1,a@b.c\n", b',', Currency::EUR, at());
        assert!(p.changes.is_empty());
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].contains("customer, total"), "{}", p.errors[0]);
    }

    #[test]
    fn one_customer_per_name_with_all_their_emails() {
        let text = "number,customer,email,total\nF-1,A,a@x.fr,1\nF-2,A,b@x.fr,2\n";
        let p = parse(text, b',', Currency::EUR, at());
        let customers = customers(&p);
        assert_eq!(customers.len(), 1);
        assert_eq!(customers[0].emails, vec!["a@x.fr", "b@x.fr"]);
    }

    #[test]
    fn address_and_customer_kind_columns() {
        let text = "number,customer,total,adresse,type_client\n\
                    F-1,A,1,\"4 quai des Bateliers, 67000 Strasbourg\",particulier\n\
                    F-2,B,1,,B2B\n\
                    F-3,C,1,,\n\
                    F-4,D,1,,maybe\n";
        let p = parse(text, b',', Currency::EUR, at());
        let customers = customers(&p);
        assert_eq!(customers.len(), 3, "{:?}", p.errors);
        assert_eq!(
            customers[0].address.as_deref(),
            Some("4 quai des Bateliers, 67000 Strasbourg")
        );
        assert_eq!(customers[0].consumer, Some(true));
        assert_eq!(customers[1].consumer, Some(false));
        assert_eq!(
            (customers[2].address.as_ref(), customers[2].consumer),
            (None, None)
        );
        assert_eq!(p.errors.len(), 1);
        assert!(
            p.errors[0].starts_with("line 5:") && p.errors[0].contains("`maybe`"),
            "{}",
            p.errors[0]
        );
    }
}
