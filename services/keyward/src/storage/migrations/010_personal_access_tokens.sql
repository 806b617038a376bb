-- Personal access tokens, per-realm protected settings and dual-control approvals (like IBM CSM's).

-- Protected realm settings other than the client-certificate ones (which keep
-- client_certificate_settings): key 'personal_access_tokens' {enabled,
-- maxExpirationDays}, key 'dual_control' {enabled}. No row = the defaults.
CREATE TABLE realm_settings (
  realm       text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  key         text NOT NULL,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (realm, key)
);

CREATE TABLE personal_access_tokens (
  id               text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
  realm            text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  user_id          text NOT NULL,        -- Keycloak user id: the authority the token carries
  username         text NOT NULL,
  name             text,
  token_hash       bytea NOT NULL CHECK (length(token_hash) = 32),  -- SHA-256 of the whole token; the token itself is never stored
  expires_in_days  int NOT NULL CHECK (expires_in_days >= 1),
  created_at       timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  last_used_at     timestamptz           -- written at most once a minute per token
);
CREATE INDEX personal_access_tokens_owner ON personal_access_tokens (realm, user_id);
CREATE INDEX personal_access_tokens_expiry ON personal_access_tokens (realm, expires_at);
CREATE INDEX personal_access_tokens_username ON personal_access_tokens (realm, username);

-- Dual control: a change proposed by one admin, applied when another approves it.
CREATE TABLE approvals (
  id           uuid PRIMARY KEY,
  realm        text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  kind         text NOT NULL,
  payload      jsonb NOT NULL,
  proposed_by  jsonb NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  decided_by   jsonb,
  decided_at   timestamptz,
  reason       text
);
-- At most one pending change per realm and kind.
CREATE UNIQUE INDEX approvals_one_pending ON approvals (realm, kind) WHERE status = 'pending';
CREATE INDEX approvals_realm_created ON approvals (realm, created_at DESC);
CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE status = 'pending';
