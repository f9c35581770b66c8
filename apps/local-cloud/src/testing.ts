// Helpers for tests that run the twin in-process: a throwaway data folder, and the credential
// and client options that point the official Azure SDKs at the twin (its CA trusted through
// `tlsOptions`, never by turning verification off).
import { ClientSecretCredential } from '@azure/identity';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalCloud, type LocalCloudOptions, startLocalCloud } from './server.js';

export interface TestCloud {
  cloud: LocalCloud;
  dataDir: string;
  credential: ClientSecretCredential;
  /** Options for any @azure/arm-* client: endpoint, CA, quick retries. */
  clientOptions: { endpoint: string; tlsOptions: { ca: string }; retryOptions: { maxRetries: number } };
  /** Stops the twin and starts it again on the same data folder (same state, new port). */
  restart(): Promise<void>;
  /** Stops the twin and removes its data folder. */
  dispose(): Promise<void>;
}

export async function startTestCloud(options: Partial<LocalCloudOptions> = {}): Promise<TestCloud> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'local-cloud-'));
  // Retry-After 0 lets each test's own updateIntervalInMs pace the pollers.
  const start = () => startLocalCloud({ operationDelayMs: 100, retryAfterSeconds: 0, ...options, dataDir });
  const t = { dataDir } as TestCloud;
  const wire = (cloud: LocalCloud) => {
    t.cloud = cloud;
    t.credential = sdkCredential(cloud);
    t.clientOptions = { endpoint: cloud.url, tlsOptions: { ca: cloud.caCertPem }, retryOptions: { maxRetries: 0 } };
  };
  wire(await start());
  t.restart = async () => {
    await t.cloud.close();
    wire(await start());
  };
  t.dispose = async () => {
    await t.cloud.close();
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return t;
}

/** The control plane's service principal as @azure/identity sees it, with the twin as authority. */
export function sdkCredential(cloud: LocalCloud): ClientSecretCredential {
  return new ClientSecretCredential(cloud.tenantId, cloud.clientCredentials.clientId, cloud.clientCredentials.clientSecret, {
    authorityHost: cloud.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: cloud.caCertPem },
  });
}
