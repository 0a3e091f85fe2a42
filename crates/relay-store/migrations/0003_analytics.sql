-- Version 3: analytics of one person (a member's own figures, compliance per install) read the
-- rollup by user and day.
CREATE INDEX IF NOT EXISTS usage_daily_by_user ON usage_daily (tenant_id, user_id, day);
