// The host-manager process on every Consul server VM (and on every twin instance locally).
import { ManagedIdentityCredential } from '@azure/identity';
import { startHostManager } from './agent.js';
import { containerBlobSource } from './blob-source.js';
import { readHostConfig } from './config.js';
import { createLogger } from '../../../lib/logger.js';

const config = readHostConfig();
// The control plane's one JSON log format, with the instance named on every line.
const logger = createLogger({ service: 'host-manager', level: config.logLevel ?? 'info' }).child({
  instance: config.instanceName,
});
const log = (m: string) => logger.info(m);
// The VM's user-assigned identity; in the local twin the same credential talks to the twin's
// managed-identity endpoint (IDENTITY_ENDPOINT), unmodified.
const credential = new ManagedIdentityCredential({ clientId: config.customData.identity.clientId });
const blobs = containerBlobSource({
  accountUrl: config.customData.blob.accountUrl,
  container: config.customData.blob.container,
  credential,
});
const manager = await startHostManager(config, blobs, log);
log(`status at ${manager.statusUrl}`);
const stop = async () => {
  await manager.stop();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
