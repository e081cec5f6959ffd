-- Pauses decided by people (a dispute, a promise to pay, a customer paused), with who, when
-- and why; the reason of a customer's pause.
ALTER TABLE customers ADD COLUMN pause_reason TEXT;
CREATE TABLE interventions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    who          TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    BIGINT NOT NULL,
    until        DATE,
    reason       TEXT
);
CREATE INDEX interventions_target ON interventions (target_kind, target_id);
