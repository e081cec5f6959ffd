-- What went out: the subject and the text of each message sent, for the audit trail and the
-- hand-off dossier (a court or a collection agency asks what the debtor was told).
ALTER TABLE reminders ADD COLUMN subject TEXT;
ALTER TABLE reminders ADD COLUMN body TEXT;
