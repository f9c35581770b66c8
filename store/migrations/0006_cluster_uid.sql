-- Every cluster's random id: 128 bits as 32 lower-case hex digits, made when the record is first
-- written and never changed. Every name the control plane derives for the cluster in shared
-- namespaces (DNS label, infrastructure resource group, PKI mount, Blob container, Terraform
-- state) comes from it, and every cloud resource carries it (tag hcs-cluster-id), so no cluster
-- can be steered onto another's names. upsertCluster supplies the id; the default (gen_random_uuid, 122
-- random bits) covers rows written by other means.
ALTER TABLE clusters ADD COLUMN cluster_uid text;
UPDATE clusters SET cluster_uid = replace(gen_random_uuid()::text, '-', '') WHERE cluster_uid IS NULL;
ALTER TABLE clusters ALTER COLUMN cluster_uid SET DEFAULT replace(gen_random_uuid()::text, '-', '');
ALTER TABLE clusters ALTER COLUMN cluster_uid SET NOT NULL;
ALTER TABLE clusters ADD CONSTRAINT clusters_uid_shape CHECK (cluster_uid ~ '^[0-9a-f]{32}$');
CREATE UNIQUE INDEX clusters_by_uid ON clusters (cluster_uid);

-- Clusters that existed before keep the names they were built with (derived from their resource
-- id), so their infrastructure, state, container and CA are found again; their resources get the
-- id as a tag on the next apply. New rows take the default: names from cluster_uid.
ALTER TABLE clusters ADD COLUMN names_from_key boolean NOT NULL DEFAULT true;
ALTER TABLE clusters ALTER COLUMN names_from_key SET DEFAULT false;
