-- Alerts: whether each threshold is currently crossed (per customer, or for the ledger), so
-- a crossing is told once and again only after the value fell back below.
CREATE TABLE alert_state (
    alert_id   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    crossings  INTEGER NOT NULL DEFAULT 0,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (alert_id, subject)
);
