-- An operator may stop managing a realm (DELETE /v1/realms/{realm}), for
-- example after it was deleted in Keycloak's console. Its CA, certificates,
-- policies and audit history stay: the row is marked, not deleted, and a later
-- PUT /v1/realms/{realm} manages it again with all of it.
ALTER TABLE realms ADD COLUMN unmanaged_at timestamptz;
