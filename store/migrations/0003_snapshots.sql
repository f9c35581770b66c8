-- What a stored snapshot needs besides its blob (blob_path is in 0001): the per-snapshot data
-- key, wrapped by Vault transit (the CHECK refuses anything but transit ciphertext, so a
-- plaintext key can never be stored), the SHA-256 of the Consul archive, and the last restore.
ALTER TABLE snapshots ADD COLUMN wrapped_key text CHECK (wrapped_key IS NULL OR wrapped_key LIKE 'vault:v%:%');
ALTER TABLE snapshots ADD COLUMN sha256 text;
ALTER TABLE snapshots ADD COLUMN restored_at timestamptz;
