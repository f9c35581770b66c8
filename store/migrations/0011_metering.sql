-- Marketplace metering: what the worker reported for each cluster, dimension and hour (the hour's
-- start, UTC). One row per key, written only once the Marketplace answered for it: Accepted, or
-- Duplicate (an earlier call was accepted; its usageEventId and quantity are kept), or Expired
-- (never accepted and now more than 24 hours old), or Rejected (the Marketplace refused the event
-- for good). A key without a row is still to be sent. Kept after a cluster is deleted, as
-- cluster_usage is.
CREATE TABLE metering_events (
  resource_id text NOT NULL,
  dimension text NOT NULL,
  hour timestamptz NOT NULL,
  subscription_id text NOT NULL,
  plan_id text NOT NULL,
  quantity double precision NOT NULL,
  status text NOT NULL CHECK (status IN ('Accepted', 'Duplicate', 'Expired', 'Rejected')),
  usage_event_id text,
  detail text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_id, dimension, hour)
);
CREATE INDEX metering_events_hour ON metering_events (hour);
