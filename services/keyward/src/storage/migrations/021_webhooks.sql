-- Lifecycle webhooks, expiry notices and the certificate counts behind the expiry metrics.

-- The transactional outbox: an event row is written in the transaction of the change it reports
-- (events/outbox.ts recordEvent), so a rolled-back change leaves no event. The delivery worker (one
-- replica, the holder of the webhook-delivery lease) fans each row out to the realm's matching webhooks.
CREATE TABLE event_outbox (
  seq         bigserial PRIMARY KEY,
  id          uuid NOT NULL UNIQUE,          -- the CloudEvents id
  type        text NOT NULL,                 -- certificate.issued, …
  realm       text NOT NULL,
  subject     text,                          -- a serial, a request id, …
  data        jsonb NOT NULL,
  at          timestamptz NOT NULL,
  fanned_out  boolean NOT NULL DEFAULT false
);
CREATE INDEX event_outbox_pending ON event_outbox (seq) WHERE NOT fanned_out;

CREATE TABLE webhooks (
  realm       text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  name        text NOT NULL,
  url         text NOT NULL,
  events      text[] NOT NULL,
  secret      jsonb NOT NULL,                -- whsec_… sealed under the key-encryption key
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (realm, name)
);

-- One message per webhook and event; its id is the webhook-id header, the same on every attempt
-- (Standard Webhooks), and its body the same bytes.
CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY,
  realm            text NOT NULL,
  webhook          text NOT NULL,
  event_id         uuid NOT NULL,
  event_type       text NOT NULL,
  body             text NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         int NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  last_status_code int,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  FOREIGN KEY (realm, webhook) REFERENCES webhooks (realm, name) ON DELETE CASCADE,
  UNIQUE (realm, webhook, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (realm, webhook, created_at DESC, id);

CREATE TABLE webhook_attempts (
  delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt      int NOT NULL,
  at           timestamptz NOT NULL,
  status_code  int,
  error        text,
  duration_ms  int NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);

-- certificate.expiring is sent once per certificate and threshold (days).
CREATE TABLE certificate_expiry_notices (
  serial          text NOT NULL REFERENCES certificates (serial) ON DELETE CASCADE,
  threshold_days  int NOT NULL,
  at              timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (serial, threshold_days)
);

-- Valid certificates by expiry: the expiry sweep's range, the exact counts of the metrics' partial
-- days, and the earliest expiry — an index-only range scan.
CREATE INDEX certificates_valid_expiry ON certificates (not_after) INCLUDE (realm, policy) WHERE status = 'valid';
-- sort=notAfter in the search: pages in (not_after, serial) order (supersedes (realm, not_after), which
-- expiringBefore used).
CREATE INDEX certificates_realm_not_after_serial ON certificates (realm, not_after, serial);
DROP INDEX IF EXISTS certificates_realm_not_after;

-- The expiry metrics read counts, not certificates: how many certificates of each realm, policy and
-- status expire on each (UTC) day. Statement-level triggers append signed deltas (no row is updated on the
-- issuance path, so concurrent issuances never wait for each other); the delivery leader folds them
-- into certificate_counts every few seconds. A reader sums both.
CREATE TABLE certificate_counts (
  realm        text NOT NULL,
  policy       text NOT NULL,
  status       text NOT NULL,
  expiry_bucket  timestamptz NOT NULL,
  n            bigint NOT NULL,
  PRIMARY KEY (realm, policy, status, expiry_bucket)
);
CREATE TABLE certificate_count_deltas (
  realm        text NOT NULL,
  policy       text NOT NULL,
  status       text NOT NULL,
  expiry_bucket  timestamptz NOT NULL,
  n            bigint NOT NULL
);

CREATE FUNCTION keyward_expiry_bucket(t timestamptz) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT date_bin('1 day', t, timestamptz '2000-01-01 00:00:00+00') $$;

CREATE FUNCTION keyward_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO certificate_count_deltas (realm, policy, status, expiry_bucket, n)
    SELECT realm, policy, status, keyward_expiry_bucket(not_after), count(*) FROM inserted GROUP BY 1, 2, 3, 4;
  RETURN NULL;
END $$;

CREATE FUNCTION keyward_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO certificate_count_deltas (realm, policy, status, expiry_bucket, n)
    SELECT realm, policy, status, keyward_expiry_bucket(not_after), -count(*) FROM deleted GROUP BY 1, 2, 3, 4;
  RETURN NULL;
END $$;

CREATE FUNCTION keyward_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO certificate_count_deltas (realm, policy, status, expiry_bucket, n)
    SELECT realm, policy, status, h, sum(n) FROM (
      SELECT realm, policy, status, keyward_expiry_bucket(not_after) AS h, -1 AS n FROM deleted
      UNION ALL
      SELECT realm, policy, status, keyward_expiry_bucket(not_after), 1 FROM inserted
    ) d GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
  RETURN NULL;
END $$;

CREATE TRIGGER certificates_count_insert AFTER INSERT ON certificates
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION keyward_count_inserted();
CREATE TRIGGER certificates_count_delete AFTER DELETE ON certificates
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION keyward_count_deleted();
CREATE TRIGGER certificates_count_update AFTER UPDATE ON certificates
  REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION keyward_count_updated();

-- The certificates stored before this migration, counted once.
INSERT INTO certificate_counts (realm, policy, status, expiry_bucket, n)
  SELECT realm, policy, status, keyward_expiry_bucket(not_after), count(*) FROM certificates GROUP BY 1, 2, 3, 4;
