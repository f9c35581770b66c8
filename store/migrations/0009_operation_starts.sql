-- The start requests of operations whose workflow is not known to be started yet (a
-- transactional outbox): written in the transaction that records the operation, deleted once
-- Temporal has the workflow (lib/operation-relay.ts). A row holds what the start needs and nothing
-- secret: ids, the kind, the correlation id and the operation's parameters (contract/temporal.ts
-- OperationParams: a snapshot id, a Consul version, flags), the W3C trace context of the request
-- that recorded it; Temporal receives them encrypted by the payload codec. A relay starts only the
-- rows of its task queue. claimed_until: a relay is starting the workflow until then (its lease);
-- next_attempt_at: not before then (the lease, or the back-off after a failed start).
CREATE TABLE operation_starts (
  operation_id text PRIMARY KEY REFERENCES operations (operation_id) ON DELETE CASCADE,
  task_queue text NOT NULL CHECK (task_queue <> ''),
  workflow_id text NOT NULL,
  start jsonb NOT NULL,
  trace_context jsonb,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  claimed_until timestamptz,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operation_starts_due ON operation_starts (task_queue, next_attempt_at);
