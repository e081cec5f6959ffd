-- One message per customer: the reminders sent together with another one (the lead, whose
-- key they name) instead of on their own.
ALTER TABLE reminders ADD COLUMN group_key TEXT;
CREATE INDEX reminders_group ON reminders (group_key);
