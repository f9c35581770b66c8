-- The per-subscription reads of a create (the quota count and the address-range overlap rule)
-- compare lower(subscription_id): this index serves them, where clusters_by_subscription (on the
-- column as written) cannot and every create scanned the whole table.
CREATE INDEX clusters_by_subscription_key ON clusters (lower(subscription_id));
