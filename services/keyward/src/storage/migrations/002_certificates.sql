-- Certificate authorities, certificates, requests, end entities, revocation state.

CREATE TABLE cas (
  id              uuid PRIMARY KEY,
  realm           text REFERENCES realms(name) ON DELETE RESTRICT,  -- NULL: the installation's root; set: a parent imported for that realm
  kind            text NOT NULL CHECK (kind IN ('root', 'issuing')),
  subject         text NOT NULL,
  certificate_pem text NOT NULL,
  chain_pem       text NOT NULL DEFAULT '',                        -- parents above this CA
  key_blob        jsonb NOT NULL,                                  -- envelope-encrypted private key
  key_type        text NOT NULL,
  not_after       timestamptz NOT NULL,
  imported        boolean NOT NULL DEFAULT false,
  active          boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- One active root (installation-wide, or imported for a realm), one active issuing CA per realm;
-- concurrent creation loses with 23505.
CREATE UNIQUE INDEX cas_one_active_root ON cas (coalesce(realm, '')) WHERE active AND kind = 'root';
CREATE UNIQUE INDEX cas_one_active_issuing ON cas (realm) WHERE active AND kind = 'issuing';

CREATE TABLE end_entities (
  realm       text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  name        text NOT NULL,
  subject     jsonb NOT NULL,          -- ordered [{type, value}]
  sans        jsonb NOT NULL,          -- {dns:[], ip:[], uri:[], email:[]}
  policy      text NOT NULL,
  created_by  jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (realm, name)
);

CREATE TABLE certificate_requests (
  id             uuid PRIMARY KEY,
  realm          text NOT NULL REFERENCES realms(name) ON DELETE CASCADE,
  status         text NOT NULL CHECK (status IN ('pending', 'issued', 'rejected')),
  csr_pem        text NOT NULL,
  policy         text NOT NULL,
  validity_days  int NOT NULL,
  end_entity     text,
  subject        text NOT NULL,
  sans           jsonb NOT NULL,
  requester      jsonb NOT NULL,       -- {kind, realm, id, name}
  decided_by     jsonb,
  reason         text,
  serial         text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  decided_at     timestamptz
);
CREATE INDEX certificate_requests_realm_status ON certificate_requests (realm, status, created_at);

CREATE TABLE certificates (
  serial             text PRIMARY KEY,       -- lowercase hex, unique across replicas (126 random bits)
  realm              text NOT NULL REFERENCES realms(name) ON DELETE RESTRICT,
  ca_id              uuid NOT NULL REFERENCES cas(id),
  subject            text NOT NULL,
  sans               jsonb NOT NULL,         -- ["dns:a.example", "ip:10.0.0.1", ...]
  policy             text NOT NULL,
  end_entity         text,
  request_id         uuid REFERENCES certificate_requests(id),
  requester          jsonb NOT NULL,
  requester_key      text NOT NULL,          -- "<realm>/<subject id>": who may revoke its own
  key_type           text NOT NULL,
  not_before         timestamptz NOT NULL,
  not_after          timestamptz NOT NULL,
  status             text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
  revoked_at         timestamptz,
  revocation_reason  text,
  der                bytea NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificates_realm_created ON certificates (realm, created_at DESC);
CREATE INDEX certificates_realm_not_after ON certificates (realm, not_after);
CREATE INDEX certificates_revoked ON certificates (ca_id, revoked_at) WHERE status = 'revoked';
CREATE INDEX certificates_end_entity ON certificates (realm, end_entity) WHERE end_entity IS NOT NULL;

-- CRL numbers only grow (RFC 5280 §5.2.3): one row per issuing CA, bumped in the transaction that signs.
CREATE TABLE crls (
  ca_id        uuid PRIMARY KEY REFERENCES cas(id),
  crl_number   bigint NOT NULL,
  this_update  timestamptz NOT NULL,
  next_update  timestamptz NOT NULL,
  der          bytea NOT NULL,
  revocations  bigint NOT NULL            -- count of revoked serials it lists (staleness check)
);
