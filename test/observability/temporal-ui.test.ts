// Issue 14, item 7: the Temporal UI decodes our payloads. A Temporal dev server of this file's own
// runs its UI with the codec endpoint set to our API's /codec (--ui-codec-endpoint, the REST port
// chosen before the API starts, as `npm start` does); the API allows that UI's origin (CORS) and
// starts a real create (PUT, workflow createCluster; no worker runs it, its input is what the
// page shows). Headless Chromium (Debian's, driven by playwright-core) opens the workflow's page:
// - without a codec session the UI's call to /codec is refused (401) and the page shows only the
//   encrypted payload (encoding binary/encrypted), never the input;
// - an SRE signs in at /codec/session (the token becomes an HttpOnly cookie for /codec), turns on
//   "Include cross-origin credentials" in the UI's Codec Server settings, and the page shows the
//   decoded input (the cluster's resource id, the operation kind, the correlation id).
// The browser trusts the API's local certificate by its SPKI hash; a real SRE installs the CA.
import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApi, type RunningApi } from '../../apps/api/src/api.js';
import { sha256Hex } from '../../apps/api/src/auth.js';
import { startTemporal, type TemporalEndpoint } from '../../devstack/services/temporal.js';
import { freePort, Supervisor } from '../../devstack/supervisor.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';
import { httpCall } from '../../lib/http.js';
import { temporalOperationStarter, type OperationStarter } from '../../lib/operation-starter.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { openDatabase, type SqlDatabase } from '../../store/database.js';
import { migrate } from '../../store/migrate.js';
import { listOperations } from '../../store/operations.js';
import { putSubscription } from '../../store/subscriptions.js';
import { useScratchFolder } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const dir = useScratchFolder('hcs-temporal-ui-');
const sreToken = `hcsop_sre_${randomBytes(16).toString('hex')}`;
const UI_WAIT_MS = 60_000;
/** base64 of "binary/encrypted", as the UI shows an undecoded payload's metadata. */
const ENCRYPTED_B64 = Buffer.from('binary/encrypted').toString('base64');

let sup: Supervisor | undefined;
let temporal: TemporalEndpoint;
let db: SqlDatabase | undefined;
let starter: OperationStarter | undefined;
let api: RunningApi | undefined;
let spkiHash: string;
let workflowId: string;
let input: { resourceId: string; correlationId: string };

beforeAll(async () => {
  sup = new Supervisor({ stateDir: join(dir, 'supervisor') });
  // The API's port is chosen first, so the UI can be started with its codec endpoint.
  const restPort = await freePort();
  const codecEndpoint = `https://127.0.0.1:${restPort}/codec`;
  mkdirSync(join(dir, 'temporal'));
  temporal = await startTemporal(sup, { binary: stack.tools.temporal, dataDir: join(dir, 'temporal'), codecEndpoint });
  db = await openDatabase(stack.database);
  await migrate(db);
  const keys = parsePayloadKeys(`ui-1:${randomBytes(32).toString('base64')}`);
  const payloadCodec = new AesGcmPayloadCodec(keys);
  starter = await temporalOperationStarter({ temporal, payloadCodec, taskQueue: `temporal-ui-${randomUUID()}` });
  const tls = ensureDevCertificate(join(dir, 'tls'));
  const cert = readFileSync(tls.certFile, 'utf8');
  api = await startApi({
    db,
    starter,
    payloadCodec,
    sealer: new SecretBox(deriveSealingKeys(keys)),
    auth: {
      armCertificateThumbprints: [],
      jwtIssuers: [],
      operatorTokens: [{ name: 'sre', sha256: sha256Hex(sreToken), role: 'admin', subscriptions: '*' }],
    },
    catalogue: [{ version: stack.tools.consulVersions.at(-1)!, status: 'RECOMMENDED' }],
    logger: pino({ level: process.env.HCS_TEST_VERBOSE ? 'info' : 'silent' }),
    restPort,
    codecCorsOrigins: [new URL(temporal.uiUrl).origin],
    tls: { cert, key: readFileSync(tls.keyFile, 'utf8') },
  });
  spkiHash = createHash('sha256')
    .update(new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');

  const sub = randomUUID();
  await putSubscription(db, { subscriptionId: sub, state: 'Registered', tenantId: null, properties: {} });
  const path = `/subscriptions/${sub}/resourceGroups/rg-ui/providers/HCS.Consul/clusters/ui-decoded`;
  const put = await httpCall(`${api.restUrl}${path}?api-version=2026-11-01`, {
    method: 'PUT',
    ca: tls.caCertPem,
    headers: { authorization: `Bearer ${sreToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      location: 'westeurope',
      properties: { consulVersion: stack.tools.consulVersions.at(-1), network: { cidr: '10.44.0.0/16' } },
    }),
  });
  expect(put.status, put.body).toBe(201);
  const op = (await listOperations(db, path.toLowerCase()))[0]!;
  workflowId = op.workflowId;
  input = { resourceId: path, correlationId: op.correlationId! };
}, 180_000);

afterAll(async () => {
  await api?.close();
  await starter?.close();
  await db?.close();
  await sup?.stop();
});

/** Chromium on a fresh profile that trusts the API's certificate (by SPKI hash) and nothing else new. */
async function browser(name: string): Promise<BrowserContext> {
  const profile = join(dir, `chromium-${name}`);
  mkdirSync(join(profile, 'Default'), { recursive: true });
  // The UI (http://127.0.0.1:<ui>) and the API (https://127.0.0.1:<api>) are different sites by
  // scheme, so the codec cookie is a third-party cookie to the UI's page, which Chromium blocks
  // by default: this profile allows them, as the SRE's browser must for a codec session.
  writeFileSync(
    join(profile, 'Default', 'Preferences'),
    JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }),
  );
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    viewport: { width: 1280, height: 1600 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spkiHash}`,
    ],
  });
}

const workflowPage = () => `${temporal.uiUrl}/namespaces/${temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`;

/** The text of the workflow page's Input panel once it shows a payload (decoded or not). */
async function inputPanel(page: Page): Promise<string> {
  const panel = page.locator('[data-testid="input-and-result"]');
  await panel
    .getByText(/"(metadata|kind)"/)
    .first()
    .waitFor({ timeout: UI_WAIT_MS });
  return panel.innerText();
}

describe('the Temporal UI with our codec endpoint', () => {
  it('shows only the encrypted payload while the browser has no codec session', async () => {
    const ctx = await browser('anonymous');
    try {
      const page = await ctx.newPage();
      // The UI asks our codec (configured by --ui-codec-endpoint) and is refused: no credentials.
      const answer = page.waitForResponse((r) => r.url() === `${api!.restUrl}/codec/decode` && r.request().method() === 'POST', {
        timeout: UI_WAIT_MS,
      });
      await page.goto(workflowPage());
      expect((await answer).status()).toBe(401);
      await page.locator('[data-testid="data-encoder-status-error"]').waitFor({ timeout: UI_WAIT_MS });
      const text = await inputPanel(page);
      expect(text).toContain(ENCRYPTED_B64);
      expect(text).not.toContain(input.resourceId);
      expect(text).not.toContain(input.correlationId);
    } finally {
      await ctx.close();
    }
  });

  it('shows the decoded input to an SRE signed in at /codec/session with cross-origin credentials on', async () => {
    const ctx = await browser('sre');
    try {
      const page = await ctx.newPage();
      // The SRE signs in once at the API (the token becomes an HttpOnly cookie for /codec).
      await page.goto(`${api!.restUrl}/codec/session`);
      await page.fill('input[name=token]', sreToken);
      await page.click('button[type=submit]');
      await page.getByText('Signed in').waitFor({ timeout: UI_WAIT_MS });

      // In the UI's Codec Server settings: this browser's endpoint, with credentials.
      await page.goto(workflowPage());
      await page.locator('[data-testid^="data-encoder-status"]').click({ timeout: UI_WAIT_MS });
      await page.getByText('Use Cluster-level setting, where available.').first().click();
      // The settings drawer sits under the UI's sticky top bar: its controls are clicked in the page.
      const click = (l: ReturnType<Page['locator']>) => l.evaluate((el) => (el as HTMLElement).click());
      await click(page.getByRole('radio', { name: /Use my browser setting/ }));
      await page.getByPlaceholder('Paste your endpoint here').fill(`${api!.restUrl}/codec`);
      await click(page.getByLabel('Include cross-origin credentials'));
      await click(page.getByRole('button', { name: 'Apply' }));

      await page.goto(workflowPage());
      const text = await inputPanel(page);
      expect(text).toContain(input.resourceId);
      expect(text).toContain(input.correlationId);
      expect(text).toMatch(/"kind":\s*"create"/);
      expect(text).not.toContain(ENCRYPTED_B64);
      if (process.env.HCS_TEST_SCREENSHOT_DIR)
        await page.screenshot({ path: join(process.env.HCS_TEST_SCREENSHOT_DIR, 'temporal-ui-decoded.png'), fullPage: true });
    } finally {
      await ctx.close();
    }
  });
});
