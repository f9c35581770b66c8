// One bounded HTTP load run with autocannon, in this process, with every 2xx answer's latency
// kept exactly (autocannon's own histogram has 1 ms steps), so percentiles under 1 ms are figures.
import autocannon from 'autocannon';

export interface LoadRun {
  url: string;
  method: 'GET' | 'PUT';
  headers: Record<string, string>;
  connections: number;
  durationSeconds: number;
  /** Requests per second from all connections (autocannon overallRate); closed loop when absent. */
  rate?: number;
  /** A new path (and body) for each request, e.g. a new cluster for each PUT. */
  next?: () => { path: string; body?: string };
  /** Each answer's status code and body (e.g. to collect the operations a PUT accepted). */
  onResponse?: (status: number, body: string) => void;
}

export interface LoadFigures {
  /** 2xx answers per second over the run. */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** CPU time of this whole process (load generator included) per 2xx answer, in µs: less moved by a busy machine than req/s. */
  cpuUsPerRequest: number;
}

/** The p-th percentile (0-100) of sorted values; 0 for none. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function runLoad(o: LoadRun): Promise<LoadFigures> {
  let latencies = new Float64Array(1 << 16);
  let ok = 0;
  let done!: (r: autocannon.Result) => void;
  let failed!: (err: unknown) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  const options: autocannon.Options = {
    url: o.url,
    connections: o.connections,
    duration: o.durationSeconds,
    ...(o.rate ? { overallRate: o.rate, ignoreCoordinatedOmission: true } : {}),
    requests: [
      {
        method: o.method,
        headers: o.headers,
        ...(o.next
          ? {
              setupRequest: (req: autocannon.Request) => {
                const n = o.next!();
                return { ...req, path: n.path, ...(n.body !== undefined ? { body: n.body } : {}) };
              },
            }
          : {}),
        ...(o.onResponse ? { onResponse: (status: number, body: string) => o.onResponse!(status, body) } : {}),
      },
    ],
  };
  const cpuAtStart = process.cpuUsage();
  const instance = autocannon(options, (err: unknown, result: autocannon.Result) => (err ? failed(err) : done(result)));
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 200 || status > 299) return;
    if (ok === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[ok++] = ms;
  });
  const r = await finished;
  const cpu = process.cpuUsage(cpuAtStart);
  const sorted = latencies.subarray(0, ok).sort();
  return {
    rps: ok / r.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: ok ? sorted[ok - 1]! : 0,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    cpuUsPerRequest: ok ? (cpu.user + cpu.system) / ok : 0,
  };
}

/** One run as a text row. */
export function loadRow(label: string, f: LoadFigures): string {
  const ms = (v: number) => `${v.toFixed(2).padStart(7)} ms`;
  return `${label.padEnd(34)} ${f.rps.toFixed(0).padStart(6)} req/s   p50 ${ms(f.p50)}   p99 ${ms(f.p99)}   max ${ms(f.max)}   CPU ${f.cpuUsPerRequest.toFixed(0).padStart(4)} µs/req   2xx ${f.ok}, non-2xx ${f.non2xx}, errors ${f.errors}, timeouts ${f.timeouts}`;
}
