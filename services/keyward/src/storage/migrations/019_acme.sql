-- ACME (RFC 8555) per realm: replay nonces shared by every replica, external
-- account binding keys of API clients, accounts, orders, authorizations and
-- challenges. Certificates themselves stay in `certificates`; the ACME account
-- and order that asked for one are recorded in its requester.

CREATE TABLE acme_nonces (
  nonce       text PRIMARY KEY,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX acme_nonces_expiry ON acme_nonces (expires_at);

-- External account binding keys (RFC 8555 §7.3.4). The HMAC key must be kept
-- to verify a binding: it is sealed under the key-encryption key.
CREATE TABLE acme_eab_keys (
  kid            text PRIMARY KEY,
  realm          text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,  -- the directory's realm
  client_realm   text NOT NULL,                                            -- the API client's home realm
  client_id      text NOT NULL,
  client_subject text NOT NULL,                                            -- its service-account user id
  hmac_sealed    jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  used_at        timestamptz,
  account_id     text,
  revoked_at     timestamptz
);
CREATE INDEX acme_eab_keys_client ON acme_eab_keys (realm, client_realm, client_id, created_at);

CREATE TABLE acme_accounts (
  id             text PRIMARY KEY,
  realm          text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  thumbprint     text NOT NULL,                                            -- RFC 7638 SHA-256 of the account key
  jwk            jsonb NOT NULL,
  status         text NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
  contact        jsonb NOT NULL DEFAULT '[]',
  eab_kid        text NOT NULL REFERENCES acme_eab_keys(kid),
  client_realm   text NOT NULL,
  client_id      text NOT NULL,
  client_subject text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX acme_accounts_key ON acme_accounts (realm, thumbprint);

CREATE TABLE acme_orders (
  id             text PRIMARY KEY,
  realm          text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  account_id     text NOT NULL REFERENCES acme_accounts(id) ON DELETE CASCADE,
  policy         text,                                                     -- NULL: the API client's default policy
  status         text NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
  identifiers    jsonb NOT NULL,
  not_before     timestamptz,
  not_after      timestamptz,
  expires_at     timestamptz NOT NULL,
  error          jsonb,
  request_id     uuid,
  serial         text,
  replaces       text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX acme_orders_account ON acme_orders (account_id, created_at);

CREATE TABLE acme_authorizations (
  id          text PRIMARY KEY,
  order_id    text NOT NULL REFERENCES acme_orders(id) ON DELETE CASCADE,
  account_id  text NOT NULL,
  realm       text NOT NULL,
  identifier  jsonb NOT NULL,
  wildcard    boolean NOT NULL DEFAULT false,
  status      text NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX acme_authorizations_order ON acme_authorizations (order_id);

CREATE TABLE acme_challenges (
  id            text PRIMARY KEY,
  authz_id      text NOT NULL REFERENCES acme_authorizations(id) ON DELETE CASCADE,
  type          text NOT NULL,
  token         text NOT NULL,
  status        text NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated_at  timestamptz,
  error         jsonb
);
CREATE INDEX acme_challenges_authz ON acme_challenges (authz_id);
