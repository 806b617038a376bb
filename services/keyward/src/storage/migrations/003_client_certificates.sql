-- Automation credentials: users' client certificates (as IBM CSM offers them), trusted client CAs.

ALTER TABLE cas DROP CONSTRAINT cas_kind_check;
ALTER TABLE cas ADD CONSTRAINT cas_kind_check CHECK (kind IN ('root', 'issuing', 'client_auth'));
-- The client-authentication CA of a realm is kept apart from its issuing CA.
CREATE UNIQUE INDEX cas_one_active_client_auth ON cas (realm) WHERE active AND kind = 'client_auth';

CREATE TABLE client_certificate_settings (
  realm                 text PRIMARY KEY REFERENCES realms(name) ON DELETE CASCADE,
  enabled               boolean NOT NULL,
  max_expiration_days   int NOT NULL CHECK (max_expiration_days BETWEEN 1 AND 3650),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE client_certificates (
  id               uuid PRIMARY KEY,
  realm            text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  user_id          text NOT NULL,           -- Keycloak user id: the authority the certificate carries
  username         text NOT NULL,
  name             text,
  serial           text NOT NULL UNIQUE,
  ca_id            uuid NOT NULL REFERENCES cas(id),
  fingerprint      text NOT NULL UNIQUE,    -- SHA-256 of the DER, hex
  mode             text NOT NULL CHECK (mode IN ('generated', 'csr')),
  certificate_pem  text NOT NULL,
  key_blob         jsonb,                   -- generated mode: the private key, sealed like CA keys, for re-download
  expires_in_days  int NOT NULL,
  created_at       timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  revoked_at       timestamptz
);
CREATE INDEX client_certificates_owner ON client_certificates (realm, user_id);

CREATE TABLE trusted_client_cas (
  realm            text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  name             text NOT NULL,
  certificate_pem  text NOT NULL,
  subject          text NOT NULL,
  fingerprint      text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (realm, name)
);
