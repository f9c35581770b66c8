// The local Azure Resource Manager twin: composition root. Builds the state store, token
// service, operation tracker, instance fleet and the resource handlers, mounts them on one
// HTTPS fastify server with its own CA, and starts the instances recorded in the state again.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDevCertificate } from '../../../lib/dev-tls.js';
import { Fleet } from './compute/fleet.js';
import { instanceHandlers } from './compute/instances.js';
import { commandRunner, type InstanceRunner } from './compute/runner.js';
import { ComputeRuntime } from './compute/runtime.js';
import { scaleSetHandler, subnetUser } from './compute/scale-sets.js';
import { VMSS_TYPE } from './compute/views.js';
import type { Services } from './context.js';
import { CloudError } from './errors.js';
import { FaultInjector, registerFaultInjection } from './faults.js';
import { registerInstanceFaults } from './instance-faults.js';
import { registerIdentityRoutes } from './identity-routes.js';
import { MeteringService } from './metering.js';
import { registerMeteringRoutes } from './metering-routes.js';
import { Operations } from './operations.js';
import { Authorizer } from './rbac.js';
import { dnsHandlers } from './resources/dns.js';
import { identityHandler } from './resources/identities.js';
import { loadBalancers } from './resources/load-balancers.js';
import { publicIpHandler } from './resources/public-ips.js';
import { poolMembers } from './load-balancing/backends.js';
import { LoadBalancerRuntime } from './load-balancing/runtime.js';
import { networkHandlers } from './resources/network.js';
import { ResourceGroups } from './resources/resource-groups.js';
import { RoleAssignments } from './resources/role-assignments.js';
import { header, registerArmRoutes } from './router.js';
import { StateStore } from './state.js';
import { TokenService } from './tokens.js';

export type { InstanceProcess, InstanceRunner, InstanceSpec } from './compute/runner.js';

export interface InstanceCommand {
  command: string;
  args?: string[];
  env?: Record<string, string>;
}

export interface LocalCloudOptions {
  /** State file, TLS material, signing key, credentials and the instances' folders. */
  dataDir: string;
  /** Default 127.0.0.1 and a free port. */
  host?: string;
  port?: number;
  /** How instances become processes; default: `instanceCommand` through the command runner. */
  instanceRunner?: InstanceRunner;
  /** The program every instance runs (host-manager in the dev stack); default: an idle node process. */
  instanceCommand?: InstanceCommand;
  /** Minimum time an operation stays InProgress (default 300 ms). */
  operationDelayMs?: number;
  /** Retry-After sent to pollers, in seconds (default 1). */
  retryAfterSeconds?: number;
  /**
   * retry-after-ms sent to pollers beside Retry-After (default 100; 0: none). The twin's
   * operations take a fixed fraction of a second (operationDelayMs), so a client polling by the
   * second would wait most of that second for nothing on every resource it creates.
   */
  pollAfterMs?: number;
  /** Test-only: mount the fault-injection admin API (faults.ts). Never set in production. */
  faultInjection?: boolean;
  onEvent?: (message: string) => void;
}

export interface LocalCloud {
  /** Base URL of the ARM endpoint and of the token authority (`authorityHost`). */
  url: string;
  caCertPem: string;
  caCertFile: string;
  tenantId: string;
  /** The subscription to use; any well-formed subscription id is served. */
  subscriptionId: string;
  /** The control plane's service principal (allowed everything). */
  clientCredentials: { clientId: string; clientSecret: string };
  /**
   * The same principal through the App Service managed-identity protocol: set IDENTITY_ENDPOINT
   * and IDENTITY_HEADER to these for clients that take `use_msi` (azapi) or ManagedIdentityCredential.
   */
  controlPlaneIdentity: { endpoint: string; header: string };
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const IDLE_INSTANCE: InstanceCommand = { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1 << 30)'] };

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const onEvent = options.onEvent ?? (() => {});
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const tls = ensureDevCertificate(join(options.dataDir, 'tls'), ['localhost', '127.0.0.1']);
  const store = new StateStore(join(options.dataDir, 'state.json'));
  const tokens = await TokenService.open(options.dataDir, store.state);
  const operations = new Operations(store, {
    delayMs: options.operationDelayMs ?? 300,
    retryAfterSeconds: options.retryAfterSeconds ?? 1,
    pollAfterMs: options.pollAfterMs ?? 100,
    onEvent,
  });
  const services: Services = { store, operations, authorizer: new Authorizer(store) };

  const command = options.instanceCommand ?? IDLE_INSTANCE;
  const runner = options.instanceRunner ?? commandRunner({ ...command, stateDir: options.dataDir });
  const fleet = new Fleet({ runner, onEvent });
  let url = '';
  // Instances trust the twin's CA and whatever the twin was told to trust (NODE_EXTRA_CA_CERTS),
  // such as the storage emulator's: as Azure VMs trust both ARM's and Storage's CAs.
  const trustFile = join(options.dataDir, 'instance-trust.pem');
  const extra =
    process.env.NODE_EXTRA_CA_CERTS && existsSync(process.env.NODE_EXTRA_CA_CERTS)
      ? readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8')
      : '';
  writeFileSync(trustFile, `${readFileSync(tls.caCertFile, 'utf8').trim()}\n${extra.trim()}\n`);
  const runtime = new ComputeRuntime({
    store,
    fleet,
    dataDir: options.dataDir,
    caFile: tls.caCertFile,
    trustFile,
    cloudUrl: () => url,
    onEvent,
  });

  // Load balancers forward real TCP from their public IPs' loopback addresses to the pool members.
  const lbRuntime = new LoadBalancerRuntime({ members: (poolId) => poolMembers(store, poolId), onEvent });
  const lbs = loadBalancers(services, lbRuntime, onEvent);

  const app = createApp({ cert: tls.certFile, key: tls.keyFile }, onEvent);
  if (options.faultInjection) {
    registerFaultInjection(app, { injector: new FaultInjector(), adminSecret: tokens.controlPlaneIdentityHeader });
    registerInstanceFaults(app, { runtime, fleet, adminSecret: tokens.controlPlaneIdentityHeader });
    onEvent('fault injection enabled (test-only admin API)');
  }
  registerArmRoutes(app, {
    ...services,
    tokens,
    handlers: [
      identityHandler(services),
      ...networkHandlers(services, { subnetUser: (id) => subnetUser(services, id) }),
      publicIpHandler(services, { usedBy: (id) => lbs.frontendUsing(id) }),
      ...lbs.handlers,
      ...dnsHandlers(services),
      scaleSetHandler(services, runtime),
      ...instanceHandlers(services, runtime),
    ],
    resourceGroups: new ResourceGroups(services, async (groupId) => {
      await lbs.removeIn(groupId);
      for (const vmss of store.under(groupId, VMSS_TYPE)) await runtime.removeScaleSet(vmss.id);
    }),
    roleAssignments: new RoleAssignments(services),
  });
  registerIdentityRoutes(app, { ...services, tokens, identityHeaders: runtime.identityHeaders });
  // The Marketplace Metering Service (its clock and outages controlled only with fault injection).
  registerMeteringRoutes(app, {
    service: new MeteringService(join(options.dataDir, 'metering.json')),
    tokens,
    ...(options.faultInjection ? { adminSecret: tokens.controlPlaneIdentityHeader } : {}),
  });

  try {
    await app.listen({ host, port: options.port ?? 0 });
    const address = app.server.address();
    if (!address || typeof address !== 'object') throw new Error('the server has no address');
    url = `https://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    // Instances recorded as running come back, then interrupted operations finish.
    await runtime.startAll();
    await lbs.restoreAll();
    operations.resume();
  } catch (err) {
    await app.close();
    await lbRuntime.close();
    await fleet.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    caCertPem: tls.caCertPem,
    caCertFile: tls.caCertFile,
    tenantId: store.state.tenantId,
    subscriptionId: store.state.subscriptionId,
    clientCredentials: { clientId: store.state.servicePrincipal.clientId, clientSecret: tokens.clientSecret },
    controlPlaneIdentity: { endpoint: `${url}/msi/token`, header: tokens.controlPlaneIdentityHeader },
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await operations.close();
        await lbRuntime.close();
        await fleet.close();
      })()),
  };
}

function createApp(tls: { cert: string; key: string }, onEvent: (m: string) => void): FastifyInstance {
  const app = Fastify({
    https: { cert: readFileSync(tls.cert, 'utf8'), key: readFileSync(tls.key, 'utf8') },
    bodyLimit: MAX_BODY_BYTES,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    logger: false,
    genReqId: () => randomUUID(),
  });

  // Empty bodies are normal on ARM POST actions (restart) even with a JSON content type.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (!text.trim()) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(
        new CloudError(
          400,
          'InvalidRequestContent',
          `The request content was invalid and could not be deserialized: ${(err as Error).message}`,
        ),
        undefined,
      );
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-ms-request-id', req.id);
    reply.header('x-ms-correlation-request-id', header(req, 'x-ms-correlation-request-id') ?? randomUUID());
    const clientRequestId = header(req, 'x-ms-client-request-id');
    if (clientRequestId && header(req, 'x-ms-return-client-request-id') === 'true') reply.header('x-ms-client-request-id', clientRequestId);
  });

  app.setErrorHandler(async (err: FastifyError | CloudError, req, reply) => {
    let e: CloudError;
    if (err instanceof CloudError) e = err;
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      e = new CloudError(413, 'RequestEntityTooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
    else if ((err.statusCode ?? 500) < 500) e = new CloudError(err.statusCode ?? 400, 'InvalidRequestContent', err.message);
    else {
      onEvent(`request ${req.id} ${req.method} ${req.url} failed: ${err.stack ?? err.message}`);
      e = new CloudError(500, 'InternalServerError', `The server failed to process the request; quote request id ${req.id}.`);
    }
    if (e.status === 401)
      reply.header(
        'WWW-Authenticate',
        `Bearer authorization_uri="https://${req.host}", error="invalid_token", error_description="${e.message}"`,
      );
    return reply.status(e.status).header('x-ms-error-code', e.code).send(e.toBody());
  });
  app.setNotFoundHandler(async (req) => {
    throw new CloudError(404, 'NotFound', `No API answers ${req.method} ${req.url.split('?')[0]}.`);
  });
  return app;
}
