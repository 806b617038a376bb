-- Periodic work (audit sealing, CRL refresh, token and approval sweeps) runs
-- on one replica at a time: each task on the holder of its lease, which the
-- holder renews while it lives. A replica that dies or stalls stops renewing,
-- and another takes the task over once the lease has expired. Times are the
-- database's, so the replicas' clocks do not matter.
CREATE TABLE leader_leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now()
);
