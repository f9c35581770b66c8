// Temporal dev server (temporal server start-dev) on an SQLite file, with the search
// attributes every workflow of ours carries registered up front.
import { Connection } from '@temporalio/client';
import { join } from 'node:path';
import type { ProcessSpec, Supervisor } from '../supervisor.js';

/**
 * Custom search attributes (all Keyword) that control-plane workflows set; `CorrelationId` is
 * the request's x-ms-correlation-request-id (or a schedule firing's own id).
 */
export const SEARCH_ATTRIBUTES = ['ClusterId', 'SubscriptionId', 'ResourceGroup', 'Operation', 'CorrelationId'] as const;

export interface TemporalEndpoint {
  /** gRPC frontend, host:port. */
  address: string;
  namespace: string;
  uiUrl: string;
}

export interface StartTemporalOptions {
  binary: string;
  dataDir: string;
  namespace?: string;
  /** Codec endpoint the Web UI uses to decode encrypted payloads (set once the API exists). */
  codecEndpoint?: string;
}

export function startTemporal(sup: Supervisor, options: StartTemporalOptions): Promise<TemporalEndpoint> {
  return sup.startOnFreePorts(async (take) => {
    const [port, uiPort, httpPort, metricsPort] = [
      await take('temporal-grpc'),
      await take('temporal-ui'),
      await take('temporal-http'),
      await take('temporal-metrics'),
    ];
    return { spec: temporalSpec(options, { port, uiPort, httpPort, metricsPort }), value: endpoint(options, port, uiPort) };
  });
}

function endpoint(options: StartTemporalOptions, port: number, uiPort: number): TemporalEndpoint {
  return { address: `127.0.0.1:${port}`, namespace: options.namespace ?? 'default', uiUrl: `http://127.0.0.1:${uiPort}` };
}

function temporalSpec(
  options: StartTemporalOptions,
  { port, uiPort, httpPort, metricsPort }: { port: number; uiPort: number; httpPort: number; metricsPort: number },
): ProcessSpec {
  const { address, namespace } = endpoint(options, port, uiPort);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--http-port',
    String(httpPort),
    '--metrics-port',
    String(metricsPort),
    '--db-filename',
    join(options.dataDir, 'temporal.sqlite'),
    '--namespace',
    namespace,
    '--log-format',
    'json',
    '--log-level',
    'warn',
    ...SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    ...(options.codecEndpoint ? ['--ui-codec-endpoint', options.codecEndpoint] : []),
  ];
  return {
    name: 'temporal',
    command: options.binary,
    args,
    readyTimeoutMs: 90_000,
    probe: async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        // Ready means: the namespace answers and our search attributes are registered.
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = SEARCH_ATTRIBUTES.filter((n) => !customAttributes?.[n]);
        if (missing.length) throw new Error(`search attributes not registered yet: ${missing.join(', ')}`);
      } finally {
        await connection.close();
      }
    },
  };
}
