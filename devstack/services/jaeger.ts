// Jaeger (v2, the OpenTelemetry-collector-based `jaeger` binary) as the trace collector and
// query service: OTLP/gRPC in, spans kept in memory, the query HTTP API (and UI) out, every
// listener on loopback and a free port. Its own telemetry (metrics, self-tracing) is off, so it
// opens no port it was not given.
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { expectStatus } from '../../lib/http.js';
import { freePort, type Supervisor } from '../supervisor.js';

export interface JaegerEndpoints {
  /** Where our processes send spans: OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over gRPC). */
  otlpGrpcEndpoint: string;
  /** The query service: its HTTP API (`/api/services`, `/api/traces?service=...`) and UI. */
  queryUrl: string;
}

export interface StartJaegerOptions {
  binary: string;
  /** Folder for its configuration file. */
  dataDir: string;
  /** Traces kept in memory (oldest dropped first); default 50,000. */
  maxTraces?: number;
}

/** The collector configuration Jaeger v2 reads (`jaeger --config file`). */
export function jaegerConfig(p: { otlpGrpcPort: number; queryHttpPort: number; queryGrpcPort: number; maxTraces: number }): object {
  const loopback = (port: number) => `127.0.0.1:${port}`;
  return {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query'],
      pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] } },
      telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
    },
    extensions: {
      jaeger_storage: { backends: { memstore: { memory: { max_traces: p.maxTraces } } } },
      jaeger_query: {
        storage: { traces: 'memstore' },
        enable_tracing: false,
        http: { endpoint: loopback(p.queryHttpPort) },
        grpc: { endpoint: loopback(p.queryGrpcPort) },
      },
    },
    receivers: { otlp: { protocols: { grpc: { endpoint: loopback(p.otlpGrpcPort) } } } },
    processors: { batch: {} },
    exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
  };
}

export async function startJaeger(sup: Supervisor, options: StartJaegerOptions): Promise<JaegerEndpoints> {
  mkdirSync(options.dataDir, { recursive: true });
  const configFile = join(options.dataDir, 'jaeger.yaml');
  return sup.startOnFreePorts(async () => {
    const [otlpGrpcPort, queryHttpPort, queryGrpcPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      configFile,
      stringify(jaegerConfig({ otlpGrpcPort, queryHttpPort, queryGrpcPort, maxTraces: options.maxTraces ?? 50_000 })),
    );
    const queryUrl = `http://127.0.0.1:${queryHttpPort}`;
    return {
      value: { otlpGrpcEndpoint: `http://127.0.0.1:${otlpGrpcPort}`, queryUrl },
      spec: {
        name: 'jaeger',
        command: options.binary,
        args: ['--config', configFile],
        // Ready when the query API answers and the OTLP receiver (started after the extensions) listens.
        probe: async () => {
          await expectStatus(`${queryUrl}/api/services`, [200]);
          await listening(otlpGrpcPort);
        },
      },
    };
  });
}

function listening(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}
