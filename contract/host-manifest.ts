// The manifest the control plane writes for each server (`<serverPrefix>manifest.json`) and
// host-manager reads: the Consul version to run and the files to place, each a blob and a path
// in the agent's folder. One schema for the writer (activities/server-files.ts) and the reader
// (apps/host-manager/src/manifest.ts).
import { z } from 'zod';

export const hostManifestSchema = z.object({
  consulVersion: z.string(),
  /** Increases with every change the control plane makes; reported in the status. */
  generation: z.number().int().min(0),
  files: z.array(z.object({ blob: z.string().min(1), path: z.string().min(1) })),
});
export type HostManifest = z.infer<typeof hostManifestSchema>;

/** The blob name of a server's manifest under its prefix. */
export const manifestBlobName = (serverPrefix: string) => `${serverPrefix}manifest.json`;

/** Where host-manager places each published file in the agent's folder. */
export const MANIFEST_PATH = {
  ca: 'tls/ca.pem',
  serverCert: 'tls/server.pem',
  serverKey: 'tls/server.key',
  /** A public endpoint's ACME certificate (full chain) and key, served on the HTTPS listener only. */
  httpsCert: 'tls/https.pem',
  httpsKey: 'tls/https.key',
  consulConfig: 'config/10-cluster.json',
} as const;
