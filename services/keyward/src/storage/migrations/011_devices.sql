-- Device onboarding (IBM SKLM's pending client certificates): certificates pushed by devices wait
-- as pending until a keyward-admin accepts them into the realm's trust store
-- (which creates a Keycloak client for the device) or rejects them.

CREATE TABLE pending_device_certificates (
  id               uuid PRIMARY KEY,        -- rendered as CERTIFICATE-<id>
  realm            text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  fingerprint      text NOT NULL,           -- SHA-256 of the DER, hex
  certificate_pem  text NOT NULL,
  subject          text NOT NULL,
  subject_rfc2253  text NOT NULL,           -- what Keycloak's X.509 client authenticator compares
  issuer           text NOT NULL,
  serial           text NOT NULL,
  not_before       timestamptz NOT NULL,
  not_after        timestamptz NOT NULL,
  first_seen       timestamptz NOT NULL,
  last_seen        timestamptz NOT NULL,
  source_address   text NOT NULL,
  via              text NOT NULL CHECK (via IN ('tls', 'upload')),
  UNIQUE (realm, fingerprint)
);
CREATE INDEX pending_device_certificates_realm ON pending_device_certificates (realm, first_seen);

-- The trust store: a certificate is pinned by its fingerprint to one device client.
CREATE TABLE trusted_device_certificates (
  realm               text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  alias               text NOT NULL CHECK (alias = lower(alias)),
  id                  uuid NOT NULL UNIQUE, -- the uuid it had while pending
  fingerprint         text NOT NULL UNIQUE,
  certificate_pem     text NOT NULL,
  subject             text NOT NULL,
  subject_rfc2253     text NOT NULL,
  issuer              text NOT NULL,
  serial              text NOT NULL,
  not_before          timestamptz NOT NULL,
  not_after           timestamptz NOT NULL,
  keycloak_client_id  text NOT NULL,        -- Keycloak's internal id of the device client (stable across renames)
  client_id           text NOT NULL,        -- its clientId when accepted (renames update it)
  service_account_id  text NOT NULL,
  device_group        text,
  device_role         text,
  accepted_at         timestamptz NOT NULL,
  accepted_by         jsonb NOT NULL,
  PRIMARY KEY (realm, alias)
);

-- Rejected certificates are not queued again before `until`.
CREATE TABLE rejected_device_certificates (
  realm        text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  fingerprint  text NOT NULL,
  until        timestamptz NOT NULL,
  PRIMARY KEY (realm, fingerprint)
);
