-- An operation may be Scheduled: recorded and waiting without holding the one-operation lock
-- (an upgrade waiting for its maintenance window; a delete waiting for the operations it
-- cancelled to end). At most one scheduled upgrade per cluster; deletes have their own rule
-- (store/delete-queue.ts: one unfinished delete per cluster).
CREATE UNIQUE INDEX operations_one_scheduled_per_resource ON operations (resource_id)
  WHERE status = 'Scheduled' AND kind <> 'delete';
