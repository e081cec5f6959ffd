-- Relance schema (SQLite). Money is stored exactly as BIGINT minor units with the
-- currency's ISO 4217 exponent; times are RFC 3339 text (UTC), due dates YYYY-MM-DD text.

CREATE TABLE customers (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id      TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    name              TEXT NOT NULL,
    emails            TEXT NOT NULL DEFAULT '',
    phone             TEXT,
    locale            TEXT,
    time_zone         TEXT,
    excluded          BOOLEAN NOT NULL DEFAULT FALSE,
    paused_until      DATE,
    source_updated_at TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (connector_id, external_id)
);

CREATE TABLE invoices (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id      TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    customer_id       BIGINT NOT NULL REFERENCES customers (id),
    number            TEXT NOT NULL,
    issued_on         DATE,
    due_on            DATE,
    currency          TEXT NOT NULL,
    total_minor       BIGINT NOT NULL,
    balance_minor     BIGINT NOT NULL,
    status            TEXT NOT NULL,
    chase             BOOLEAN NOT NULL,
    email             TEXT,
    payment_url       TEXT,
    paid_at           TEXT,
    deleted           BOOLEAN NOT NULL DEFAULT FALSE,
    paused_until      DATE,
    pause_reason      TEXT,
    source_updated_at TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (connector_id, external_id)
);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE INDEX invoices_status_due ON invoices (status, due_on);

CREATE TABLE payments (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id        TEXT NOT NULL,
    external_id         TEXT NOT NULL,
    invoice_external_id TEXT NOT NULL,
    invoice_id          BIGINT REFERENCES invoices (id),
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    paid_at             TEXT NOT NULL,
    method              TEXT,
    created_at          TEXT NOT NULL,
    UNIQUE (connector_id, external_id)
);
CREATE INDEX payments_invoice ON payments (invoice_id);

-- The outbox and the audit trail: one row per (invoice, step), never two.
CREATE TABLE reminders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    key           TEXT NOT NULL UNIQUE,
    invoice_id    BIGINT REFERENCES invoices (id),
    customer_id   BIGINT NOT NULL REFERENCES customers (id),
    step          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    template      TEXT NOT NULL,
    automatic     BOOLEAN NOT NULL,
    variant       TEXT,
    segment       TEXT,
    status        TEXT NOT NULL,
    reason        TEXT,
    planned_on    DATE NOT NULL,
    not_before    TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_until   TEXT,
    message_id    TEXT NOT NULL,
    recipients    TEXT,
    amount_minor  BIGINT,
    currency      TEXT,
    last_error    TEXT,
    sent_at       TEXT,
    outcome       TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX reminders_due ON reminders (status, not_before);
CREATE INDEX reminders_invoice ON reminders (invoice_id);

-- Write-backs to the source platform: their own outbox, retried until done.
CREATE TABLE writebacks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    key           TEXT NOT NULL UNIQUE,
    reminder_id   BIGINT NOT NULL REFERENCES reminders (id),
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
CREATE INDEX writebacks_due ON writebacks (status, not_before);
CREATE INDEX writebacks_invoice ON writebacks (invoice_id);

CREATE TABLE sync_state (
    connector_id    TEXT PRIMARY KEY,
    cursor          TEXT,
    last_attempt_at TEXT,
    last_success_at TEXT,
    last_error      TEXT,
    items_synced    BIGINT NOT NULL DEFAULT 0,
    requests        BIGINT NOT NULL DEFAULT 0
);

-- Provider events (webhooks and polled feeds), de-duplicated by id; also the inbox of
-- objects to fetch afresh when an event only names them.
CREATE TABLE webhook_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id  TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    source        TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    refetch       TEXT,
    processed_at  TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    UNIQUE (connector_id, event_id)
);
CREATE INDEX webhook_events_inbox ON webhook_events (processed_at) WHERE processed_at IS NULL;
