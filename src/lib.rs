//! Relance: chases unpaid invoices from QuickBooks Online, Salesforce and Stripe.
//!
//! The flow of one invoice: connectors [`sync`] it into the [`store`], the pure [`policy`]
//! decides what is due, the [`planner`] writes it to the outbox, the [`dispatch`]er sends it
//! through a [`channels`] implementation, and [`writeback`] records it on the source platform.
//! [`daemon`] wires it all; [`server`] takes webhooks. [`law`] computes French late-payment
//! interest and the recovery indemnity (`relance late-fees`).

pub mod alerts;
pub mod calendar;
pub mod channels;
pub mod cli;
pub mod config;
pub mod connect;
pub mod connectors;
pub mod daemon;
pub mod dispatch;
pub mod escalation;
pub mod failpoint;
pub mod law;
pub mod letters;
pub mod planner;
pub mod policy;
pub mod server;
pub mod store;
pub mod sync;
pub mod templates;
pub mod writeback;
