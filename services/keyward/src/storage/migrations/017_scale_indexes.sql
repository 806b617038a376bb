-- Indexes for certificate search, the streamed CRL and the PAT admin view at a million certificates
-- (measured with `npm run bench -- --scale`; README "Benchmarks"). Each search filter of
-- GET /v1/realms/{realm}/certificates has an index that finds its rows without reading the realm's
-- other certificates; pages are read in the API's order (created_at DESC, serial) where the filter allows.

-- Subject substring search (subject ILIKE '%…%'): trigrams. pg_trgm ships with PostgreSQL and is a
-- trusted extension (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- No filter, and status=valid: the page order exactly, so a page reads its rows and no sort.
CREATE INDEX IF NOT EXISTS certificates_realm_created_serial ON certificates (realm, created_at DESC, serial);
DROP INDEX IF EXISTS certificates_realm_created;

-- status=revoked: the few revoked certificates in page order.
CREATE INDEX IF NOT EXISTS certificates_realm_revoked_created ON certificates (realm, created_at DESC, serial)
  WHERE status = 'revoked';

-- subject=…
CREATE INDEX IF NOT EXISTS certificates_subject_trgm ON certificates USING gin (subject gin_trgm_ops);

-- san=… (sans @> '["dns:…"]')
CREATE INDEX IF NOT EXISTS certificates_sans ON certificates USING gin (sans jsonb_path_ops);

-- requester=… (by name or by id)
CREATE INDEX IF NOT EXISTS certificates_requester_name ON certificates (realm, (requester->>'name'), created_at DESC);
CREATE INDEX IF NOT EXISTS certificates_requester_id ON certificates (realm, (requester->>'id'), created_at DESC);

-- policy=…
CREATE INDEX IF NOT EXISTS certificates_realm_policy_created ON certificates (realm, policy, created_at DESC, serial);

-- endEntity=…, in page order (supersedes (realm, end_entity))
CREATE INDEX IF NOT EXISTS certificates_end_entity_created ON certificates (realm, end_entity, created_at DESC, serial)
  WHERE end_entity IS NOT NULL;
DROP INDEX IF EXISTS certificates_end_entity;

-- The CRL's cursor reads the revoked list in CRL order, from the index alone (supersedes (ca_id, revoked_at),
-- whose scan fetched every revoked row from the table: 19,000 random page reads at a million certificates).
CREATE INDEX IF NOT EXISTS certificates_revoked_crl_order ON certificates (ca_id, revoked_at, serial) INCLUDE (revocation_reason)
  WHERE status = 'revoked';
DROP INDEX IF EXISTS certificates_revoked;

-- PAT admin view: each sort in its order with the id tiebreak (the opposite direction of createdAt and
-- lastUsedAt reads the same index backwards and sorts only ties).
CREATE INDEX IF NOT EXISTS personal_access_tokens_expiry_id ON personal_access_tokens (realm, expires_at, id);
DROP INDEX IF EXISTS personal_access_tokens_expiry;
CREATE INDEX IF NOT EXISTS personal_access_tokens_created ON personal_access_tokens (realm, created_at DESC, id);
CREATE INDEX IF NOT EXISTS personal_access_tokens_username_sort ON personal_access_tokens (realm, username, created_at, id);
DROP INDEX IF EXISTS personal_access_tokens_username;
CREATE INDEX IF NOT EXISTS personal_access_tokens_last_used ON personal_access_tokens (realm, last_used_at DESC NULLS LAST, id);
