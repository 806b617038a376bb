-- The audit chain is sealed by range: the sealer links every event
-- of a settled range of seqs and records the range in one seal row, instead
-- of rewriting each event with its hash. Events are written once and never
-- updated, which takes an UPDATE (a new row version and its index entries)
-- off the database's work per security-relevant change.
--
-- A range is settled when no transaction that could still commit an event in
-- it is running (audit_log.ts: the sealer reads the sequence, then waits for
-- the transactions holding a write lock on audit_events to end). That needs
-- every seq to be drawn when it is used, hence CACHE 1 (the default, stated).
--
-- Each seal lists its events' seqs (a rolled-back transaction leaves gaps) and
-- their SHA-256 chain values in order: an edited, inserted or deleted event
-- is named by verification. The chain starts at 'genesis'; the per-event hash
-- columns of the first releases (whose sealer could link a late-committing
-- event out of order) are dropped, and the first sealing after this migration
-- seals every event from the start.
ALTER SEQUENCE audit_events_seq_seq CACHE 1;
DROP INDEX audit_events_unsealed;
ALTER TABLE audit_events DROP COLUMN prev_hash, DROP COLUMN hash;

CREATE TABLE audit_seals (
  last_seq   bigint PRIMARY KEY,      -- every event with seq <= last_seq is sealed here or before
  first_seq  bigint NOT NULL,         -- the previous seal's last_seq + 1
  seqs       bigint[] NOT NULL,       -- the events of the range, in order
  hashes     bytea NOT NULL,          -- their chain values, 32 octets each, in the same order
  prev_hash  text NOT NULL,           -- the chain value before the range ('genesis' for the first)
  hash       text NOT NULL,           -- the chain value after its last event
  sealed_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (first_seq <= last_seq AND octet_length(hashes) = 32 * cardinality(seqs))
);
