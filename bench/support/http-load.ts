// One bounded HTTP load run with autocannon, in this process, with every 2xx answer's latency
// kept exactly (autocannon's own histogram has 1 ms steps), so percentiles under 1 ms are figures.
import autocannon from 'autocannon';
import { Agent, request } from 'node:http';

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
  /** The run's length in seconds and its 2xx latencies, sorted (to merge runs: mergeRuns). */
  seconds: number;
  sorted: Float64Array;
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
  return figures(latencies.subarray(0, ok).sort(), {
    seconds: r.duration,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    cpuUs: cpu.user + cpu.system,
  });
}

/** One run as a text row. */
export function loadRow(label: string, f: LoadFigures): string {
  const ms = (v: number) => `${v.toFixed(2).padStart(7)} ms`;
  return `${label.padEnd(44)} ${f.rps.toFixed(0).padStart(6)} req/s   p50 ${ms(f.p50)}   p99 ${ms(f.p99)}   max ${ms(f.max)}   CPU ${f.cpuUsPerRequest.toFixed(0).padStart(4)} µs/req   2xx ${f.ok}, non-2xx ${f.non2xx}, errors ${f.errors}, timeouts ${f.timeouts}`;
}

/**
 * GETs at an even `rate` per second (open loop: request i is due at i/rate s, sent then whatever
 * the answers before it did), over keep-alive connections, each latency counted from when the
 * request was due, so a stall delays the figures of every request behind it (no coordinated
 * omission). What "p99 at 1,000 requests per second" means, unlike autocannon's overallRate,
 * which sends each second's share in a burst at the start of the second.
 */
export async function runPaced(o: {
  url: string;
  headers: Record<string, string>;
  rate: number;
  durationSeconds: number;
}): Promise<LoadFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round(o.rate * o.durationSeconds);
  const latencies = new Float64Array(total);
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let inFlight = 0;
  const cpuAtStart = process.cpuUsage();
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const finish = () => {
      if (sent === total && inFlight === 0) resolve();
    };
    const send = (due: number) => {
      inFlight++;
      const req = request(o.url, { agent, headers: o.headers }, (res) => {
        res.resume();
        res.on('end', () => {
          inFlight--;
          if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) latencies[ok++] = performance.now() - due;
          else non2xx++;
          finish();
        });
      });
      req.on('error', () => {
        inFlight--;
        errors++;
        finish();
      });
      req.end();
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + (sent * 1000) / o.rate <= now) send(start + (sent++ * 1000) / o.rate);
      if (sent < total) setTimeout(tick, Math.max(0, start + (sent * 1000) / o.rate - performance.now()));
      else finish();
    };
    tick();
  });
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  agent.destroy();
  return figures(latencies.subarray(0, ok).sort(), { seconds, non2xx, errors, timeouts: 0, cpuUs: cpu.user + cpu.system });
}

/**
 * `bursts` bursts of `size` requests sent at the same moment (each from a keep-alive connection
 * of its own, warmed first), the next burst `pauseMs` after the previous one's last answer: what
 * "p99 at 50 concurrent creates" means when the creates arrive together, unlike a closed loop,
 * where a new request follows each answer at once and the queue never drains. `next` gives each
 * request's path and body.
 */
export async function runBursts(o: {
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  size: number;
  bursts: number;
  pauseMs: number;
  next: () => { path: string; body?: string };
}): Promise<LoadFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.size });
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const one = (method: string, r: { path: string; body?: string }, record: boolean) =>
    new Promise<void>((resolve) => {
      const sentAt = performance.now();
      const req = request(new URL(r.path, o.url), { agent, method, headers: o.headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (!record) return resolve();
          if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - sentAt);
          else non2xx++;
          resolve();
        });
      });
      req.on('error', () => {
        if (record) errors++;
        resolve();
      });
      req.end(r.body);
    });
  // Open every connection first, so the bursts measure answers, not TCP handshakes.
  await Promise.all(Array.from({ length: o.size }, () => one('GET', { path: '/healthz' }, false)));
  const cpuAtStart = process.cpuUsage();
  const start = performance.now();
  for (let b = 0; b < o.bursts; b++) {
    await Promise.all(Array.from({ length: o.size }, () => one(o.method, o.next(), true)));
    if (b < o.bursts - 1) await new Promise((r) => setTimeout(r, o.pauseMs));
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  agent.destroy();
  return figures(Float64Array.from(latencies).sort(), { seconds, non2xx, errors, timeouts: 0, cpuUs: cpu.user + cpu.system });
}

/** A run's figures from its sorted 2xx latencies, its length, its failures and the CPU it took. */
export function figures(
  sorted: Float64Array,
  o: { seconds: number; non2xx: number; errors: number; timeouts: number; cpuUs: number },
): LoadFigures {
  const ok = sorted.length;
  return {
    rps: ok / o.seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: ok ? sorted[ok - 1]! : 0,
    ok,
    non2xx: o.non2xx,
    errors: o.errors,
    timeouts: o.timeouts,
    cpuUsPerRequest: ok ? o.cpuUs / ok : 0,
    seconds: o.seconds,
    sorted,
  };
}

/** Runs taken in turns with another target's (so a change of the machine's load falls on both) as one. */
export function mergeRuns(runs: LoadFigures[]): LoadFigures {
  const all = new Float64Array(runs.reduce((n, r) => n + r.sorted.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.sorted, at);
    at += r.sorted.length;
  }
  const sum = (f: (r: LoadFigures) => number) => runs.reduce((n, r) => n + f(r), 0);
  return figures(all.sort(), {
    seconds: sum((r) => r.seconds),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    cpuUs: sum((r) => r.cpuUsPerRequest * r.ok),
  });
}
