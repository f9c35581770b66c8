// The top of a V8 CPU profile (node --cpu-prof): self time by function and by where the code
// lives (a package under node_modules, one of our files, Node's internals), as shares of the
// busy time (idle excluded), plus the inclusive time of functions whose name matches a filter.
// Run: npx tsx bench/support/cpu-profile.ts <file.cpuprofile> [top] [inclusive-filter]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: `pkg:<name>` for node_modules, the repository path for ours, else the URL's kind. */
export function placeOf(url: string): string {
  if (!url) return '(native/VM)';
  if (url.startsWith('node:')) return 'node-internal';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `pkg:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const m = /\/(apps|lib|store|domain|contract|bench|devstack|activities|workflows)\/.*$/.exec(url);
  return m ? m[0].slice(1) : url;
}

export function summarize(profile: Profile, top = 25, filter?: RegExp): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const name = (n: ProfileNode) => n.callFrame.functionName || '(anonymous)';
  let busy = 0;
  let idle = 0;
  const fn = new Map<string, number>();
  const place = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    if (name(n) === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const where = placeOf(n.callFrame.url);
    const key = `${name(n)}  ${where}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    place.set(where, (place.get(where) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const rows = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  const out = [
    `busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
    'self time by place:',
    ...rows(place, top),
    'self time by function:',
    ...rows(fn, top),
  ];
  if (filter) {
    // Inclusive time: a sample counts for every distinct matching frame on its stack.
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const incl = new Map<string, number>();
    for (const [id, us] of self) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const n = byId.get(cur)!;
        const key = `${name(n)}  ${placeOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
        if (filter.test(key) && !seen.has(key)) {
          seen.add(key);
          incl.set(key, (incl.get(key) ?? 0) + us);
        }
      }
    }
    out.push(`inclusive time of functions matching ${filter.source}:`, ...rows(incl, top));
  }
  return out.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [file, top, filter] = process.argv.slice(2);
  if (!file) {
    console.error('usage: tsx bench/support/cpu-profile.ts <file.cpuprofile> [top] [inclusive-filter]');
    process.exit(2);
  }
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25), filter ? new RegExp(filter) : undefined));
}
