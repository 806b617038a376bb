-- CA keys in a PKCS#11 token, and CA rotation.

-- A CA's key is either sealed in its row (key_blob) or generated inside a PKCS#11 token, of which the row keeps
-- only a reference (key_ref: {"store":"pkcs11","token":"<token label>","id":"<CKA_ID / CKA_LABEL>"}), never key material.
ALTER TABLE cas ALTER COLUMN key_blob DROP NOT NULL;
ALTER TABLE cas ADD COLUMN key_ref jsonb;
ALTER TABLE cas ADD CONSTRAINT cas_one_key CHECK ((key_blob IS NULL) <> (key_ref IS NULL));

-- Rotation: a rotated issuing CA is retiring (no longer issues, still signs CRLs and answers OCSP for its certificates)
-- until the last of its certificates expires, then retired. `active` stays true exactly for the state 'active'.
ALTER TABLE cas ADD COLUMN state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retiring', 'retired'));
UPDATE cas SET state = 'retired' WHERE NOT active;
ALTER TABLE cas ADD CONSTRAINT cas_state_active CHECK (active = (state = 'active'));
ALTER TABLE cas ADD COLUMN parent_id uuid REFERENCES cas(id);
ALTER TABLE cas ADD COLUMN rotated_at timestamptz;
ALTER TABLE cas ADD COLUMN retired_at timestamptz;
CREATE INDEX cas_realm_state ON cas (realm, kind, state);
