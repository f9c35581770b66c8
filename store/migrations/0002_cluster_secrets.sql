-- Secret material of each cluster (gossip key, ACL tokens, ACME keys and certificates) and of the
-- control plane itself (the ACME account key, scope 'control-plane'). Values are never stored in
-- plaintext: either Vault transit ciphertext (read by the worker only) or sealed with the control
-- plane's own key ring for the few documents the API hands to customers (client configuration,
-- a rotated root token). The CHECK makes a plaintext insert fail instead of leak.
CREATE TABLE cluster_secrets (
  scope text NOT NULL,
  name text NOT NULL,
  ciphertext text NOT NULL CHECK (ciphertext LIKE 'vault:v%:%' OR ciphertext LIKE 'hcsbox:v1:%'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, name)
);

-- Where each cluster's servers are (written by the lifecycle workflows after Terraform; no secrets).
ALTER TABLE clusters ADD COLUMN servers jsonb NOT NULL DEFAULT '[]'::jsonb;
