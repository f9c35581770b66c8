// The manifest the control plane writes for each server (`<serverPrefix>manifest.json`): the
// Consul version to run and the files to place, each a blob and a path in the agent's folder.
// Its schema is contract/host-manifest.ts, the one the writer (activities/server-files.ts) uses.
import { isAbsolute, normalize } from 'node:path';
import { hostManifestSchema, type HostManifest } from '../../../contract/host-manifest.js';

export const manifestSchema = hostManifestSchema;
export type Manifest = HostManifest;

/** The manifest in `bytes`, or an error naming what is wrong with it. */
export function parseManifest(bytes: Buffer): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error('the manifest is not JSON');
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `the manifest is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** The agent's own records (the last-good set) live here; no manifest file may land in it. */
export const AGENT_STATE_DIR = 'state';

/** The file's path inside the agent's folder; refuses one that would leave it or touch the agent's records. */
export function safeRelativePath(path: string): string {
  const rel = normalize(path);
  if (isAbsolute(rel) || rel.startsWith('..')) throw new Error(`manifest path ${path} leaves the agent's folder`);
  if (rel === AGENT_STATE_DIR || rel.startsWith(`${AGENT_STATE_DIR}/`)) throw new Error(`manifest path ${path} is the agent's own state`);
  return rel;
}
