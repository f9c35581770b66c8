// Fleet simulation, benchmark only (bench/fleet-scale.ts; never used by the product): a few real
// Consul dev agents that serve the snapshot and certificate work of many simulated clusters.
// Each agent stands for the one server of every simulated cluster assigned to it: the server's
// recorded address is the agent's label (127.77.0.<k>, which nothing listens on); the simulation
// worker's Consul client factory sends that address's HTTPS API to the agent (fleet-sim-worker.ts).
// Each agent has a Blob container of its own that its clusters share, holding the one server's
// manifest and a valid certificate for that address, so certificate checks find nothing due.
import type { BlobServiceClient } from '@azure/storage-blob';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_PATH, manifestBlobName } from '../../contract/host-manifest.js';
import { serverPrefix } from '../../activities/cluster-blobs.js';
import { startDevConsul } from '../../devstack/services/dev-consul.js';
import type { Supervisor } from '../../devstack/supervisor.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';

export interface SimAgent {
  index: number;
  /** The address the simulated clusters record for their server. */
  label: string;
  /** The agent's real HTTPS API. */
  url: string;
  caPem: string;
  /** Its management token: every simulated cluster of this agent stores it as its snapshot token. */
  token: string;
  /** The Blob container the agent's clusters share. */
  container: string;
}

export const simAgentLabel = (k: number) => `127.77.0.${k + 1}`;
export const simAgentContainer = (k: number) => `fleetsim-agent-${k}`;

/** Starts `count` dev agents and prepares their containers. */
export async function startSimAgents(o: {
  sup: Supervisor;
  consulBinary: string;
  dir: string;
  count: number;
  blobs: BlobServiceClient;
}): Promise<SimAgent[]> {
  const agents: SimAgent[] = [];
  for (let k = 0; k < o.count; k++) {
    const e = await startDevConsul(o.sup, { name: `fleetsim-consul-${k}`, binary: o.consulBinary, dir: join(o.dir, `agent-${k}`) });
    const label = simAgentLabel(k);
    const container = simAgentContainer(k);
    await publishServerCertificate(o.blobs, container, label, join(o.dir, `agent-${k}`, 'published-tls'));
    agents.push({ index: k, label, url: e.url, caPem: e.caPem, token: e.token, container });
  }
  return agents;
}

/** Server 0's manifest, certificate and key in the container, the way publishing leaves them. */
async function publishServerCertificate(blobs: BlobServiceClient, name: string, address: string, dir: string): Promise<void> {
  const container = blobs.getContainerClient(name);
  await container.createIfNotExists();
  const cert = ensureDevCertificate(dir, [address]);
  const prefix = serverPrefix(0);
  const files = {
    certBlob: `${prefix}tls/server-sim.pem`,
    keyBlob: `${prefix}tls/server-sim.key`,
  };
  const put = (blob: string, content: string) => container.getBlockBlobClient(blob).upload(content, Buffer.byteLength(content));
  await put(files.certBlob, readFileSync(cert.certFile, 'utf8'));
  await put(files.keyBlob, readFileSync(cert.keyFile, 'utf8'));
  await put(
    manifestBlobName(prefix),
    JSON.stringify({
      consulVersion: 'sim',
      generation: 1,
      files: [
        { blob: files.certBlob, path: MANIFEST_PATH.serverCert },
        { blob: files.keyBlob, path: MANIFEST_PATH.serverKey },
      ],
    }),
  );
}
