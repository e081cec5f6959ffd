//! Salesforce connector.

pub mod jwt;
pub mod limits;
pub mod outbound;
