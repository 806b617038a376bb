-- Keyward schema, version 1. Forward-only: a later change is a new file.

CREATE TABLE realms (
  name           text PRIMARY KEY,
  display_name   text,
  default_roles  jsonb NOT NULL DEFAULT '[]',
  source         text NOT NULL CHECK (source IN ('api', 'config')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policies (
  realm       text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  name        text NOT NULL,
  document    jsonb NOT NULL,
  source      text NOT NULL CHECK (source IN ('api', 'config')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (realm, name)
);

-- Append-only, hash-chained audit trail (every security-relevant action). Rows are
-- inserted unsealed inside the transaction of the change they record, so the
-- hot path takes no global lock; one sealer at a time (advisory lock) links
-- them in seq order shortly after: hash = sha256(prev_hash || canonical row).
CREATE TABLE audit_events (
  seq        bigserial PRIMARY KEY,
  id         uuid NOT NULL UNIQUE,
  at         timestamptz NOT NULL,
  realm      text,
  actor      jsonb NOT NULL,
  action     text NOT NULL,
  target     text,
  details    jsonb NOT NULL DEFAULT '{}',
  prev_hash  text,
  hash       text
);
CREATE INDEX audit_events_unsealed ON audit_events (seq) WHERE hash IS NULL;
CREATE INDEX audit_events_realm_at ON audit_events (realm, at);
