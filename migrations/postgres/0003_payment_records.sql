-- Write-backs also record payments taken elsewhere (a payment link) on the platform where the
-- invoice lives: such a row has no reminder, and says what it is in `kind`.
ALTER TABLE writebacks ALTER COLUMN reminder_id DROP NOT NULL;
ALTER TABLE writebacks ADD COLUMN kind TEXT NOT NULL DEFAULT 'activity';
