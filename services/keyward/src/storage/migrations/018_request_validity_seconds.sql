-- Certificate requests may ask for a validity in hours and minutes (an ISO
-- 8601 duration such as PT1H), not only in whole days: the exact length is
-- kept in seconds. validity_days stays, rounded up, for readers of old rows.
ALTER TABLE certificate_requests ADD COLUMN IF NOT EXISTS validity_seconds integer;
