-- An operation may be Scheduled: recorded and waiting (an upgrade waiting for its maintenance
-- window) without holding the one-operation lock. At most one per cluster.
CREATE UNIQUE INDEX operations_one_scheduled_per_resource ON operations (resource_id)
  WHERE status = 'Scheduled';
