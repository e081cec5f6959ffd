-- Payment plans: an invoice paid in instalments. While the plan holds, each instalment gets its
-- reminder instead of the ladder; a missed instalment ends the plan and the ladder resumes.
CREATE TABLE payment_plans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id  BIGINT NOT NULL REFERENCES invoices (id),
    status      TEXT NOT NULL,
    who         TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    ended_at    TEXT,
    reason      TEXT
);
CREATE INDEX payment_plans_invoice ON payment_plans (invoice_id, status);
CREATE TABLE instalments (
    plan_id      BIGINT NOT NULL REFERENCES payment_plans (id),
    number       INTEGER NOT NULL,
    due_on       DATE NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (plan_id, number)
);
