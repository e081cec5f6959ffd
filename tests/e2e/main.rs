//! End-to-end tests: real SQLite and PostgreSQL, a real SMTP server, a fake Stripe built from
//! Stripe's documented shapes, the real binary where the CLI contract matters.

mod cli;
mod common;
mod crash;
mod email;
mod ladder;
mod late_fees;
mod quickbooks;
mod salesforce;
mod simulation;
mod store;
mod stripe_sync;
mod tasks;
mod webhooks;
