// A real Prometheus (built from its Go module by set-up) scraping the jobs it is given, on a
// loopback port, with its TSDB in the caller's folder. Used by the metrics test; alert rule files
// can be loaded with it too. The configuration is written as YAML from the jobs, so every target,
// TLS file and token file is the caller's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Supervisor } from '../supervisor.js';

export interface ScrapeJob {
  name: string;
  /** host:port of each target. */
  targets: string[];
  scheme?: 'http' | 'https';
  /** The CA that signed the targets' certificates (https). */
  caFile?: string;
  /** A file holding the bearer token Prometheus sends (kept out of the configuration itself). */
  bearerTokenFile?: string;
}

export interface StartPrometheusOptions {
  binary: string;
  dataDir: string;
  jobs: ScrapeJob[];
  /** Default 1 s: tests wait for scrapes. */
  scrapeIntervalSeconds?: number;
  ruleFiles?: string[];
}

export interface PrometheusSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusEndpoint {
  url: string;
  /** An instant query through the HTTP API (/api/v1/query); the vector's samples. */
  query(expr: string): Promise<PrometheusSample[]>;
}

export function prometheusConfig(o: Pick<StartPrometheusOptions, 'jobs' | 'scrapeIntervalSeconds' | 'ruleFiles'>): string {
  const interval = `${o.scrapeIntervalSeconds ?? 1}s`;
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    ...(o.ruleFiles?.length ? { rule_files: o.ruleFiles } : {}),
    scrape_configs: o.jobs.map((j) => ({
      job_name: j.name,
      scheme: j.scheme ?? 'http',
      ...(j.caFile ? { tls_config: { ca_file: j.caFile } } : {}),
      ...(j.bearerTokenFile ? { authorization: { type: 'Bearer', credentials_file: j.bearerTokenFile } } : {}),
      static_configs: [{ targets: j.targets }],
    })),
  });
}

export async function startPrometheus(sup: Supervisor, o: StartPrometheusOptions): Promise<PrometheusEndpoint> {
  const configFile = join(o.dataDir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig(o));
  const url = await sup.startOnFreePorts(async (take) => {
    const port = await take('prometheus');
    const url = `http://127.0.0.1:${port}`;
    return {
      value: url,
      spec: {
        name: 'prometheus',
        command: o.binary,
        args: [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(o.dataDir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        probe: async () => {
          const res = await fetch(`${url}/-/ready`);
          if (res.status !== 200) throw new Error(`Prometheus answers ${res.status}`);
        },
      },
    };
  });
  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== 'success' || !body.data) throw new Error(`Prometheus refused ${expr}: ${body.error ?? res.status}`);
      if (body.data.resultType !== 'vector') throw new Error(`${expr} is a ${body.data.resultType}, not an instant vector`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
  };
}
