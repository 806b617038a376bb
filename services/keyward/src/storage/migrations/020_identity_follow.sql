-- Certificates follow identity: a certificate whose requester is deleted or
-- disabled in Keycloak, or whose cross-realm grant is revoked, is revoked or
-- put on hold (RFC 5280 certificateHold) as its policy says.

-- Where the synchronisation stands in each realm's Keycloak admin events: the
-- time of the last event processed (Keycloak's milliseconds) and the ids of the
-- events processed at exactly that time, so that a restart reads from that
-- time again and skips those ids: nothing missed, nothing repeated.
CREATE TABLE identity_sync_cursors (
  realm       text PRIMARY KEY,
  event_time  bigint NOT NULL,
  event_ids   text[] NOT NULL DEFAULT '{}',
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A held certificate (status 'revoked', reason certificateHold) released from
-- hold is valid again; when, for the removeFromCRL entry of delta CRLs.
ALTER TABLE certificates ADD COLUMN IF NOT EXISTS released_at timestamptz;
-- Who put a certificate on hold: 'identity' when Keyward did because its requester was disabled in Keycloak (Keyward
-- releases only those when the requester is enabled again), NULL for a hold asked for through the API.
ALTER TABLE certificates ADD COLUMN IF NOT EXISTS hold_source text;

-- Requesters of certificates that are still in force (valid or held), read by
-- each synchronisation: by the requester's home realm and id.
CREATE INDEX IF NOT EXISTS certificates_requester_in_force ON certificates ((requester->>'realm'), (requester->>'id'))
  WHERE status = 'valid' OR revocation_reason = 'certificateHold';

-- The delta CRL of each CA (RFC 5280 §5.2.4): the complete CRL it is based on
-- (its number and DER, whose entries the delta is computed against) and the
-- last delta signed. Delta and complete CRLs share one numbering.
CREATE TABLE delta_crls (
  ca_id            uuid PRIMARY KEY REFERENCES cas(id),
  base_crl_number  bigint NOT NULL,
  base_this_update timestamptz NOT NULL,
  base_der         bytea NOT NULL,
  crl_number       bigint NOT NULL,
  this_update      timestamptz NOT NULL,
  next_update      timestamptz NOT NULL,
  der              bytea NOT NULL,
  -- the number of the newest complete CRL when this delta was signed: a newer one means the state changed
  latest_crl_number bigint NOT NULL
);
