-- Metering: how many servers each cluster ran, and when. One row per period with a constant
-- server count; the open period has ended_at NULL. Kept after a cluster is deleted: these are the
-- provider's billing records, not the customer's resources.
CREATE TABLE cluster_usage (
  resource_id text NOT NULL,
  subscription_id text NOT NULL,
  server_count integer NOT NULL CHECK (server_count > 0),
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  PRIMARY KEY (resource_id, started_at)
);
-- At most one open period per cluster.
CREATE UNIQUE INDEX cluster_usage_open ON cluster_usage (resource_id) WHERE ended_at IS NULL;
