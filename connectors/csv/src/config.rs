//! The `kind: csv` section of `relance.yaml`.

use std::path::PathBuf;

use serde::Deserialize;

/// An exported invoices file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    /// The file; a relative path is taken from the configuration file's folder.
    pub path: PathBuf,
    /// Currency of rows that name none (ISO 4217).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Field separator; guessed from the header line (`,` or `;`) when absent.
    #[serde(default)]
    pub delimiter: Option<char>,
}

fn default_currency() -> String {
    "EUR".to_string()
}
