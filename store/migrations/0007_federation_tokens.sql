-- Federation tokens a primary cluster handed out (createFederationToken). Only the token's id and
-- what the API checks are stored, never the token itself (it is sealed by the API's key and
-- shown once). A token is used at most once: the create transaction of the secondary sets
-- consumed_at with a conditional UPDATE, so two concurrent creates cannot both use it.
CREATE TABLE federation_tokens (
  token_id text PRIMARY KEY,
  -- Lower-cased resource id of the primary cluster (clusters.resource_id).
  primary_key text NOT NULL,
  -- The tenant of the primary's subscription when the token was issued (null when unknown).
  issued_to_tenant text,
  issued_by text NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  -- Lower-cased resource id of the secondary created with it.
  consumed_by text,
  revoked_at timestamptz
);
CREATE INDEX federation_tokens_by_primary ON federation_tokens (primary_key, issued_at DESC);
