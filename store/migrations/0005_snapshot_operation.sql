-- The operation that took each snapshot, so an operation's result can name its snapshot.
ALTER TABLE snapshots ADD COLUMN operation_id text;
CREATE INDEX snapshots_by_operation ON snapshots (operation_id) WHERE operation_id IS NOT NULL;
