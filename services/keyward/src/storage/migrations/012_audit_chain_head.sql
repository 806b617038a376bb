-- The audit chain follows the order of sealing, not of seq (issue 6): a seq is
-- drawn when an event is inserted, but the event becomes visible when its
-- transaction commits, so a lower seq can be sealed after a higher one. The
-- sealer links each new event to the chain's head, kept here, and moves it.
-- An installation sealed before this migration keeps its chain: the head is
-- the hash the earlier sealer linked to (that of the highest sealed seq).
CREATE TABLE audit_chain_head (
  id         boolean PRIMARY KEY DEFAULT true CHECK (id),
  hash       text NOT NULL,
  sealed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_chain_head (hash)
SELECT coalesce((SELECT hash FROM audit_events WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1), 'genesis');
