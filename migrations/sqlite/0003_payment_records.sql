-- Write-backs also record payments taken elsewhere (a payment link) on the platform where the
-- invoice lives: such a row has no reminder, and says what it is in `kind`.
CREATE TABLE writebacks_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    key           TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL DEFAULT 'activity',
    reminder_id   BIGINT REFERENCES reminders (id),
    connector_id  TEXT NOT NULL,
    invoice_id    BIGINT NOT NULL REFERENCES invoices (id),
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before    TEXT NOT NULL,
    lease_owner   TEXT,
    lease_until   TEXT,
    last_error    TEXT,
    done_at       TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
INSERT INTO writebacks_new (id, key, kind, reminder_id, connector_id, invoice_id, payload, status,
    attempts, not_before, lease_owner, lease_until, last_error, done_at, created_at, updated_at)
SELECT id, key, 'activity', reminder_id, connector_id, invoice_id, payload, status, attempts,
    not_before, lease_owner, lease_until, last_error, done_at, created_at, updated_at
FROM writebacks;
DROP TABLE writebacks;
ALTER TABLE writebacks_new RENAME TO writebacks;
CREATE INDEX writebacks_due ON writebacks (status, not_before);
CREATE INDEX writebacks_invoice ON writebacks (invoice_id);
