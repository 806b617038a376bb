-- Idempotent requests (the Idempotency-Key header): a retry with the same key
-- and body gets the first answer back, whichever replica it reaches. The
-- first attempt reserves the serial it issues under, so that a retry after a
-- dropped connection finds the certificate even when the first attempt
-- committed but could not record its answer. Keys are kept for 24 hours.
CREATE TABLE idempotency_keys (
  scope         text NOT NULL,   -- the realm and the caller: keys are each caller's own
  key           text NOT NULL,
  request_hash  text NOT NULL,
  serial        text NOT NULL,
  status        int,             -- NULL while the first attempt runs
  response      jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
