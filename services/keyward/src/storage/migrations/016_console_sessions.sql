-- Web console sessions (the backend-for-frontend): the browser holds only a
-- random 256-bit id in an HttpOnly cookie; this row holds the realm's tokens,
-- sealed under the key-encryption key (an envelope like the CA keys', bound to
-- the row by its id hash), and the two deadlines: idle and absolute.
CREATE TABLE console_sessions (
  id_hash          bytea PRIMARY KEY CHECK (length(id_hash) = 32),  -- SHA-256 of the cookie value; the value itself is never stored
  realm            text NOT NULL,        -- a managed realm, or master for operators
  subject          text NOT NULL,        -- Keycloak user id
  username         text NOT NULL,
  name             text,
  tokens           jsonb NOT NULL,       -- sealed {access, refresh, id}
  access_expires_at timestamptz NOT NULL,
  created_at       timestamptz NOT NULL,
  last_seen_at     timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  idle_expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (LEAST(expires_at, idle_expires_at));
CREATE INDEX console_sessions_user ON console_sessions (realm, subject);
