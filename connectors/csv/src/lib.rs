//! CSV connector: invoices from an exported file (number, customer, e-mail, amounts, dates,
//! currency, status), re-read whenever its contents change. A bad row is reported with its
//! line number and skipped; the other rows are imported.

pub mod config;
pub mod map;

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use relance_core::{
    Capabilities, Connector, ConnectorError, Currency, InboundEvent, Pull, PullRequest,
};
use sha2::{Digest, Sha256};

pub use config::CsvConfig;

/// One exported file.
pub struct CsvConnector {
    id: String,
    path: PathBuf,
    currency: Currency,
    delimiter: Option<u8>,
}

impl CsvConnector {
    /// Builds the connector `id`; `path` must already be resolved against the config folder.
    pub fn new(id: &str, config: &CsvConfig) -> Result<Self, ConnectorError> {
        let currency = Currency::parse(&config.currency)
            .map_err(|e| ConnectorError::Invalid(format!("{id}: currency: {e}")))?;
        let delimiter = match config.delimiter {
            Some(c) if c.is_ascii() => Some(c as u8),
            Some(c) => {
                return Err(ConnectorError::Invalid(format!(
                    "{id}: delimiter `{c}` must be a single ASCII character"
                )));
            }
            None => None,
        };
        Ok(CsvConnector {
            id: id.to_string(),
            path: config.path.clone(),
            currency,
            delimiter,
        })
    }
}

#[async_trait]
impl Connector for CsvConnector {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "csv"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn pull(&self, request: PullRequest) -> Result<Pull, ConnectorError> {
        let shown = self.path.display();
        let read_error = |e: std::io::Error| {
            ConnectorError::Invalid(format!("{}: cannot read {shown}: {e}", self.id))
        };
        let bytes = tokio::fs::read(&self.path).await.map_err(read_error)?;
        let modified = tokio::fs::metadata(&self.path)
            .await
            .and_then(|m| m.modified())
            .map_err(read_error)?;
        let hash = hex::encode(Sha256::digest(&bytes));
        let mut pull = Pull {
            phase: "file",
            cursor: Some(hash.clone()),
            ..Pull::default()
        };
        if request.cursor.as_deref() == Some(hash.as_str()) && !request.full {
            return Ok(pull);
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            ConnectorError::Invalid(format!(
                "{}: {shown} is not UTF-8 text (export it as CSV UTF-8)",
                self.id
            ))
        })?;
        let delimiter = self
            .delimiter
            .unwrap_or_else(|| map::guess_delimiter(&text));
        let parsed = map::parse(
            &text,
            delimiter,
            self.currency,
            DateTime::<Utc>::from(modified),
        );
        pull.warnings = parsed
            .errors
            .into_iter()
            .map(|e| format!("{}: {shown} {e}", self.id))
            .collect();
        // The file is the whole book: an invoice no longer in it is no longer to chase.
        pull.listing = relance_core::Listing::Starts;
        pull.events.push(InboundEvent {
            kind: "csv.file".into(),
            changes: parsed.changes,
            ..InboundEvent::default()
        });
        Ok(pull)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(path: PathBuf) -> CsvConnector {
        CsvConnector::new(
            "legacy",
            &CsvConfig {
                path,
                currency: "EUR".into(),
                delimiter: None,
            },
        )
        .unwrap()
    }

    fn request(cursor: Option<String>) -> PullRequest {
        PullRequest {
            cursor,
            full: false,
            now: "2026-11-25T10:00:00Z".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn unchanged_file_is_not_read_twice_and_a_change_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("invoices.csv");
        std::fs::write(&path, "number,customer,total\nF-1,A,10\n").unwrap();
        let c = connector(path.clone());
        let first = c.pull(request(None)).await.unwrap();
        assert_eq!(first.events[0].changes.len(), 2);
        assert!(!first.more);
        let again = c.pull(request(first.cursor.clone())).await.unwrap();
        assert!(again.events.is_empty());
        std::fs::write(&path, "number,customer,total\nF-1,A,10\nF-2,A,20\n").unwrap();
        let changed = c.pull(request(first.cursor)).await.unwrap();
        assert_eq!(changed.events[0].changes.len(), 3);
    }

    #[tokio::test]
    async fn missing_file_is_a_clear_error() {
        let c = connector(PathBuf::from("/nonexistent/invoices.csv"));
        let e = c.pull(request(None)).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("legacy: cannot read /nonexistent/invoices.csv"),
            "{e}"
        );
    }
}
