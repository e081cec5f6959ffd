//! The daemon: wires store, connectors, channels and templates from the configuration, runs
//! one full cycle (`run --once`) or runs forever (HTTP server, a sync loop per connector, a
//! worker loop that plans, dispatches and writes back) until SIGINT/SIGTERM.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use relance_core::Clock;
use secrecy::ExposeSecret;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channels::Channel;
use crate::channels::email::{EmailChannel, EmailSettings};
use crate::config::Config;
use crate::connectors::Connectors;
use crate::dispatch::{DispatchStats, Dispatcher};
use crate::planner::{self, Detail, PlanReport, PlanSettings};
use crate::policy::config::ChannelKind;
use crate::server::{self, AppState};
use crate::store::{Store, StoreError};
use crate::sync::{self, SyncError, SyncReport};
use crate::templates::Templates;
use crate::writeback::{self, WriteBackStats};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A connector could not be built.
    #[error(transparent)]
    Connector(#[from] relance_core::ConnectorError),
    /// Something else in the configuration.
    #[error("{0}")]
    Config(String),
    /// The HTTP server could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Address.
        addr: std::net::SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// The assembled application.
pub struct App {
    /// Configuration.
    pub config: Arc<Config>,
    /// Store.
    pub store: Store,
    /// Connectors.
    pub connectors: Connectors,
    /// Dispatcher.
    pub dispatcher: Arc<Dispatcher>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Lease owner id of this process.
    pub owner: String,
    /// Provider requests already added to the stored counts, per connector.
    counted: std::sync::Mutex<HashMap<String, u64>>,
}

/// What one cycle did.
#[derive(Debug)]
pub struct CycleReport {
    /// Per connector: the sync or its error.
    pub syncs: Vec<(String, Result<SyncReport, SyncError>)>,
    /// The day's plan.
    pub plan: PlanReport,
    /// New outbox rows.
    pub planned: u64,
    /// Dispatch.
    pub dispatch: DispatchStats,
    /// Write-back.
    pub writeback: WriteBackStats,
}

/// How long the worker waits after a webhook before planning again.
const CHANGE_SETTLE: Duration = Duration::from_secs(2);

fn owner_id() -> String {
    format!("{}-{:08x}", std::process::id(), rand::random::<u32>())
}

impl App {
    /// Connects, migrates and builds everything the configuration describes.
    pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<App, StartError> {
        let store = Store::connect(config.database.expose_secret()).await?;
        store.migrate().await?;
        let credentials = Arc::new(crate::store::DbCredentials::new(
            store.clone(),
            crate::store::SecretKey::from_config(config.secret_key.as_ref()),
        ));
        let connectors = Connectors::from_config(
            &config.connectors,
            config.company.timezone,
            clock.clone(),
            credentials,
        )?;
        let mut channels: HashMap<ChannelKind, Arc<dyn Channel>> = HashMap::new();
        if let Some(email) = &config.email {
            let mailbox = |s: &str| {
                s.parse::<Mailbox>()
                    .map_err(|e| StartError::Config(format!("channels.email: `{s}`: {e}")))
            };
            let settings = EmailSettings {
                from: mailbox(&email.from)?,
                reply_to: email.reply_to.as_deref().map(mailbox).transpose()?,
                test_recipient: email.test_recipient.as_deref().map(mailbox).transpose()?,
                timeout: email.timeout,
            };
            channels.insert(
                ChannelKind::Email,
                Arc::new(EmailChannel::new(email.target.clone(), settings)),
            );
        }
        let owner = owner_id();
        let dispatcher = Arc::new(Dispatcher {
            store: store.clone(),
            channels,
            templates: Arc::new(Templates::new(&config.templates)),
            connectors: connectors.clone(),
            policy: config.policy.clone(),
            company: config.company.clone(),
            settings: config.dispatch.clone(),
            clock: clock.clone(),
            owner: owner.clone(),
            late_payment: config.late_payment.clone(),
            rates: Arc::new(match &config.late_payment.rates_file {
                Some(path) => crate::law::RatesTable::from_path(path)
                    .map_err(|e| StartError::Config(format!("late_payment.rates_file: {e}")))?,
                None => crate::law::RatesTable::embedded().clone(),
            }),
        });
        Ok(App {
            config: Arc::new(config),
            store,
            connectors,
            dispatcher,
            clock,
            owner,
            counted: Default::default(),
        })
    }

    /// Domain of the `Message-ID`s: the sender's, else the company's.
    pub fn message_domain(&self) -> String {
        let from = self
            .config
            .email
            .as_ref()
            .map(|e| e.from.clone())
            .unwrap_or_else(|| self.config.company.email.clone());
        from.parse::<Mailbox>()
            .map(|m| m.email.domain().to_string())
            .unwrap_or_else(|_| "relance.invalid".into())
    }

    /// Adds the requests each connector made since the last call to its stored count.
    pub async fn count_requests(&self) -> Result<(), StoreError> {
        for c in self.connectors.iter() {
            let total = c.requests();
            let delta = {
                let mut counted = self.counted.lock().expect("not poisoned");
                let seen = counted.entry(c.id().to_string()).or_insert(0);
                let d = total.saturating_sub(*seen);
                *seen = total;
                d
            };
            if delta > 0 {
                self.store.add_requests(c.id(), delta).await?;
            }
        }
        Ok(())
    }

    /// Syncs every connector (or the one named); one failing does not stop the others.
    pub async fn sync_all(
        &self,
        only: Option<&str>,
        full: bool,
        progress: &mut (dyn FnMut(&str, &str, u32, usize) + Send),
    ) -> Vec<(String, Result<SyncReport, SyncError>)> {
        let mut out = Vec::new();
        for c in self.connectors.iter() {
            if only.is_some_and(|o| o != c.id()) {
                continue;
            }
            let id = c.id().to_string();
            let mut p = |phase: &str, pages: u32, items: usize| progress(&id, phase, pages, items);
            let r = sync::sync_connector(&self.store, c.as_ref(), &self.clock, full, &mut p).await;
            match &r {
                Ok(report) => tracing::info!(
                    connector = %id, pages = report.pages, requests = report.requests,
                    invoices = report.stats.invoices, customers = report.stats.customers,
                    "synced"
                ),
                Err(e) => tracing::error!(connector = %id, error = %e, "sync failed"),
            }
            out.push((id, r));
        }
        if let Err(e) = self.count_requests().await {
            tracing::warn!(error = %e, "could not count provider requests");
        }
        out
    }

    /// Plans today and writes what is due to the outbox.
    pub async fn plan_and_commit(&self) -> Result<(PlanReport, u64), StoreError> {
        let domain = self.message_domain();
        let settings = PlanSettings {
            policy: &self.config.policy,
            timezone: self.config.company.timezone,
            message_domain: &domain,
            calendar: &self.config.company.calendar,
        };
        let now = self.clock.now();
        let report = planner::plan(&self.store, settings, now, Detail::Actions).await?;
        let planned = planner::commit(&self.store, settings, &report, now).await?;
        Ok((report, planned))
    }

    /// Plans, dispatches and writes back once.
    pub async fn work(
        &self,
        cancel: &CancellationToken,
    ) -> Result<(PlanReport, u64, DispatchStats, WriteBackStats), StoreError> {
        // Objects webhooks named without carrying (QuickBooks notifications) are fetched
        // first, so a payment notified a moment ago stops what would be planned now.
        for c in self.connectors.iter() {
            sync::refetch(&self.store, c.as_ref(), &self.clock).await?;
        }
        let (plan, planned) = self.plan_and_commit().await?;
        let dispatch = self.dispatcher.run_once(cancel).await?;
        let wb =
            writeback::run_once(&self.store, &self.connectors, &self.clock, &self.owner).await?;
        self.count_requests().await?;
        let now = self.clock.now();
        let today = crate::planner::day_in(now, self.config.company.timezone);
        let channel = self
            .dispatcher
            .channels
            .get(&crate::policy::config::ChannelKind::Email)
            .map(|c| c.as_ref());
        crate::alerts::run(
            &self.store,
            &self.config.policy.alerts,
            channel,
            &self.config.company.name,
            &self.message_domain(),
            today,
            now,
        )
        .await?;
        Ok((plan, planned, dispatch, wb))
    }

    /// One full cycle: sync everything, then plan, send and write back.
    pub async fn cycle(&self, cancel: &CancellationToken) -> Result<CycleReport, StoreError> {
        let syncs = self.sync_all(None, false, &mut |_, _, _, _| {}).await;
        let (plan, planned, dispatch, writeback) = self.work(cancel).await?;
        Ok(CycleReport {
            syncs,
            plan,
            planned,
            dispatch,
            writeback,
        })
    }

    /// Runs until `cancel` fires: the HTTP server, a sync loop per connector and the worker.
    /// In-flight work is finished (or given back) before returning.
    pub async fn serve(self, cancel: CancellationToken) -> Result<(), StartError> {
        let app = Arc::new(self);
        let changed = Arc::new(Notify::new());
        let addr = app.config.server.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Listen { addr, source })?;
        tracing::info!(%addr, "listening");
        let state = AppState::new(
            app.store.clone(),
            app.connectors.clone(),
            app.clock.clone(),
            changed.clone(),
        );
        let server = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                axum::serve(listener, server::router(state))
                    .with_graceful_shutdown(cancel.cancelled_owned())
                    .await
            })
        };
        let mut tasks = Vec::new();
        for entry in &app.config.connectors {
            let (app, cancel, changed) = (app.clone(), cancel.clone(), changed.clone());
            let id = entry.id.clone();
            let every = entry.poll_interval;
            tasks.push(tokio::spawn(async move {
                loop {
                    let results = app.sync_all(Some(&id), false, &mut |_, _, _, _| {}).await;
                    if results.iter().any(|(_, r)| r.is_ok()) {
                        changed.notify_one();
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(every) => {}
                    }
                }
            }));
        }
        {
            let (app, cancel, changed) = (app.clone(), cancel.clone(), changed.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    match app.work(&cancel).await {
                        Ok((_, planned, d, w)) => {
                            if planned > 0
                                || d.sent + d.failed + d.retried + d.cancelled > 0
                                || w.done > 0
                            {
                                tracing::info!(
                                    planned,
                                    sent = d.sent,
                                    failed = d.failed,
                                    retried = d.retried,
                                    cancelled = d.cancelled,
                                    written_back = w.done,
                                    "worker round"
                                );
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "worker round failed"),
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(app.config.dispatch.interval) => {}
                        _ = changed.notified() => {
                            // A change arrived (a payment: a thank-you may be due). Let the
                            // rest of a burst land first: one planning round per burst.
                            tokio::select! {
                                _ = cancel.cancelled() => break,
                                _ = tokio::time::sleep(CHANGE_SETTLE) => {}
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let _ = server.await;
        app.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
