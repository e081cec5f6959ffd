//! The factory from configuration to connectors: the only place that names provider crates.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono_tz::Tz;
use relance_core::auth::CredentialStore;
use relance_core::http::HttpConfig;
use relance_core::{Clock, Connector, ConnectorError};
use relance_csv::CsvConnector;
use relance_quickbooks::QuickBooksConnector;
use relance_salesforce::SalesforceConnector;
use relance_stripe::StripeConnector;

use crate::config::{ConnectorEntry, ConnectorSettings};

/// Builds the connector an entry describes.
pub fn build(
    entry: &ConnectorEntry,
    company_timezone: Tz,
    clock: Arc<dyn Clock>,
    credentials: Arc<dyn CredentialStore>,
    tune: impl FnOnce(&mut HttpConfig),
) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(match &entry.settings {
        ConnectorSettings::Stripe(c) => Arc::new(StripeConnector::new(
            &entry.id,
            c.clone(),
            company_timezone,
            clock,
            tune,
        )?),
        ConnectorSettings::Csv(c) => Arc::new(CsvConnector::new(&entry.id, c)?),
        ConnectorSettings::Salesforce(c) => Arc::new(SalesforceConnector::new(
            &entry.id,
            c.clone(),
            credentials,
            clock,
            tune,
        )?),
        ConnectorSettings::QuickBooks(c) => Arc::new(QuickBooksConnector::new(
            &entry.id,
            c.clone(),
            credentials,
            company_timezone,
            clock,
            tune,
        )?),
    })
}

/// The configured connectors, by id.
#[derive(Clone, Default)]
pub struct Connectors(BTreeMap<String, Arc<dyn Connector>>);

impl Connectors {
    /// Builds every entry.
    pub fn from_config(
        entries: &[ConnectorEntry],
        company_timezone: Tz,
        clock: Arc<dyn Clock>,
        credentials: Arc<dyn CredentialStore>,
    ) -> Result<Self, ConnectorError> {
        let mut map = BTreeMap::new();
        for e in entries {
            map.insert(
                e.id.clone(),
                build(
                    e,
                    company_timezone,
                    clock.clone(),
                    credentials.clone(),
                    |_| {},
                )?,
            );
        }
        Ok(Connectors(map))
    }

    /// From already built connectors (tests, benches).
    pub fn from_list(list: Vec<Arc<dyn Connector>>) -> Self {
        Connectors(list.into_iter().map(|c| (c.id().to_string(), c)).collect())
    }

    /// The connector `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Connector>> {
        self.0.get(id)
    }

    /// All of them, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Connector>> {
        self.0.values()
    }
}
