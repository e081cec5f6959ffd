//! End-to-end tests: real SQLite and PostgreSQL, a real SMTP server, a fake Stripe built from
//! Stripe's documented shapes, the real binary where the CLI contract matters.

mod common;
mod email;
mod stripe_sync;
mod webhooks;
