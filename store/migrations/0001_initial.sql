-- The control plane's records. Secrets are never stored here in plaintext: columns that refer
-- to secret material hold Vault transit ciphertext or a reference (blob path), never the value.

-- ARM subscriptions and their lifecycle state (Registered, Warned, Suspended, Deleted, Unregistered).
CREATE TABLE subscriptions (
  subscription_id text PRIMARY KEY,
  state text NOT NULL,
  tenant_id text,
  properties jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per cluster resource; resource_id is the lower-cased ARM id (the lookup key),
-- display_id the id with the casing the customer last supplied.
CREATE TABLE clusters (
  resource_id text PRIMARY KEY,
  display_id text NOT NULL,
  subscription_id text NOT NULL,
  resource_group text NOT NULL,
  name text NOT NULL,
  location text NOT NULL,
  tags jsonb NOT NULL DEFAULT '{}'::jsonb,
  spec jsonb NOT NULL,
  status jsonb NOT NULL DEFAULT '{}'::jsonb,
  provisioning_state text NOT NULL,
  etag text NOT NULL,
  system_data jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clusters_by_subscription ON clusters (subscription_id, resource_id);

-- Long-running operations (ARM async operations), one Temporal workflow each.
CREATE TABLE operations (
  operation_id text PRIMARY KEY,
  resource_id text NOT NULL,
  subscription_id text NOT NULL,
  kind text NOT NULL,
  workflow_id text NOT NULL,
  status text NOT NULL,
  percent_complete integer NOT NULL DEFAULT 0,
  step text,
  error jsonb,
  location text NOT NULL,
  correlation_id text,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz
);
CREATE INDEX operations_by_resource ON operations (resource_id, started_at DESC);
-- At most one operation in flight per cluster (the one-operation-at-a-time invariant).
CREATE UNIQUE INDEX operations_one_active_per_resource ON operations (resource_id)
  WHERE status IN ('Accepted', 'Running', 'Canceling');

-- Snapshot metadata; the bytes live in Blob storage.
CREATE TABLE snapshots (
  snapshot_id text PRIMARY KEY,
  resource_id text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,
  state text NOT NULL,
  size_bytes bigint,
  consul_version text,
  blob_path text,
  requested_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX snapshots_by_resource ON snapshots (resource_id, requested_at DESC);

-- ARM notifications received (subscription lifecycle, managed applications), kept for audit
-- and for idempotent handling of redelivery.
CREATE TABLE notifications (
  notification_id text PRIMARY KEY,
  kind text NOT NULL,
  subscription_id text,
  body jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
