-- Version 3: analytics of one person (a member's own figures) and compliance (did this
-- person use this deployed skill in the period?) read the rollup by user, skill and day.
CREATE INDEX IF NOT EXISTS usage_daily_by_user ON usage_daily (tenant_id, user_id, skill_id, day);
