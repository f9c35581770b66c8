// How the worker reaches the Marketplace Metering Service: HCS_METERING (JSON, fields below;
// secrets as files) read at start-up. A client secret (a service principal, or the twin locally)
// when clientSecretFile is given, else DefaultAzureCredential (the worker's managed or workload
// identity). Without HCS_METERING the worker meters nothing.
import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  MARKETPLACE_API_AUDIENCE,
  meteringClient,
  PUBLIC_METERING_ENDPOINT,
  type MeteringApi,
} from '../../../activities/metering-client.js';
import { readSecretFile } from '../../../lib/secret-file.js';
import { setting } from '../../../lib/settings.js';

export const meteringConfigSchema = z
  .object({
    endpoint: setting(z.string().url().default(PUBLIC_METERING_ENDPOINT), 'Marketplace Metering Service endpoint (the twin locally)'),
    audience: setting(z.string().min(1).default(MARKETPLACE_API_AUDIENCE), "token audience: the Marketplace API's application id"),
    tenantId: setting(z.string().min(1).optional(), "the publisher's tenant (needed with clientSecretFile)"),
    clientId: setting(
      z.string().min(1).optional(),
      "client id: of the publisher's service principal (with clientSecretFile) or of the worker's user-assigned managed identity",
    ),
    clientSecretFile: setting(
      z.string().min(1).optional(),
      'path of a file holding the client secret (owner-only mode); without it the worker uses DefaultAzureCredential',
      { secret: true },
    ),
    authorityHost: setting(z.string().url().optional(), 'Entra ID authority host for the client secret (the twin locally)'),
    caCertFile: setting(z.string().optional(), "CA to trust for the endpoint and the authority (the twin's own)"),
    intervalSeconds: setting(
      z.number().int().min(0).default(3600),
      'seconds between metering firings (five minutes past each hour by default); 0: no schedule, firings only by hand',
    ),
    concurrency: setting(z.number().int().min(1).max(32).default(4), 'usage batches (of up to 25 events) in flight at once'),
  })
  .strict();
export type MeteringConfig = z.input<typeof meteringConfigSchema>;
export type ParsedMeteringConfig = z.output<typeof meteringConfigSchema>;

/** Parses HCS_METERING; one error naming every bad field. */
export function parseMeteringConfig(json: string): ParsedMeteringConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('invalid HCS_METERING: is not valid JSON');
  }
  const parsed = meteringConfigSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(`invalid HCS_METERING: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  if (parsed.data.clientSecretFile && (!parsed.data.tenantId || !parsed.data.clientId))
    throw new Error('invalid HCS_METERING: clientSecretFile needs tenantId and clientId');
  return parsed.data;
}

/** The metering API client the configuration names. */
export function buildMeteringApi(c: ParsedMeteringConfig): MeteringApi {
  const ca = c.caCertFile ? readFileSync(c.caCertFile, 'utf8') : undefined;
  const credential = c.clientSecretFile
    ? new ClientSecretCredential(c.tenantId!, c.clientId!, readSecretFile('HCS_METERING clientSecretFile', c.clientSecretFile), {
        ...(c.authorityHost ? { authorityHost: c.authorityHost, disableInstanceDiscovery: true } : {}),
        ...(ca ? { tlsOptions: { ca } } : {}),
      })
    : new DefaultAzureCredential({
        ...(c.tenantId ? { tenantId: c.tenantId } : {}),
        ...(c.clientId ? { managedIdentityClientId: c.clientId } : {}),
      });
  return meteringClient({ endpoint: c.endpoint, credential, audience: c.audience, ...(ca ? { ca } : {}) });
}
