// One benchmark's report: its header (command, date, machine load), its text lines and its
// figures. A figure prints beside its goal (met or missed), its baseline from the same run and the
// previous committed figure of the same name (with the change), so a regression shows in the
// output. The text goes to bench/results/<name>.txt, the figures also to <name>.json, which the
// next run reads as "previous".
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/toolchain.mjs';

export interface Goal {
  /** `max`: the figure must be at most `value`; `min`: at least. */
  kind: 'max' | 'min';
  value: number;
}

export interface Figure {
  /** Stable name: the previous run's figure of the same name is printed beside it. */
  name: string;
  value: number;
  unit: string;
  goal?: Goal;
  /** The same measure of the reference in the same run (a bare handler, Consul's own GET, ...). */
  baseline?: { label: string; value: number };
}

interface SavedFigures {
  date: string;
  loadAverage: number[];
  figures: Record<string, { value: number; unit: string }>;
}

const resultsDir = () => join(repoRoot, 'bench', 'results');

const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const load = () => loadavg().map((l) => Number(l.toFixed(2)));

/** Whether `value` meets `goal`. */
export function meets(goal: Goal, value: number): boolean {
  return goal.kind === 'max' ? value <= goal.value : value >= goal.value;
}

/** One figure as a line: value, goal, baseline, previous. */
export function figureLine(f: Figure, previous?: { value: number; unit: string }): string {
  const parts = [`${f.name.padEnd(40)} ${`${fmt(f.value)} ${f.unit}`.padStart(14)}`];
  if (f.goal)
    parts.push(`goal ${f.goal.kind === 'max' ? '<=' : '>='} ${fmt(f.goal.value)} ${f.unit} (${meets(f.goal, f.value) ? 'met' : 'MISSED'})`);
  if (f.baseline) parts.push(`baseline ${f.baseline.label} ${fmt(f.baseline.value)} ${f.unit}`);
  // A figure the previous run could not measure (NaN, saved as null) has no previous value.
  if (previous && previous.unit === f.unit && Number.isFinite(previous.value)) {
    const change =
      previous.value === 0
        ? ''
        : ` (${f.value >= previous.value ? '+' : ''}${(((f.value - previous.value) / previous.value) * 100).toFixed(0)}%)`;
    parts.push(`previous ${fmt(previous.value)} ${f.unit}${change}`);
  } else parts.push('previous -');
  return parts.join('   ');
}

export class BenchReport {
  private readonly lines: string[] = [];
  private readonly figures: Record<string, { value: number; unit: string }> = {};
  private readonly previous: SavedFigures | undefined;
  private readonly loadAtStart = load();

  /** `name` names the result files; `command` is how to run it; `about` lines describe the set-up. */
  constructor(
    readonly name: string,
    o: { command: string; about?: string[] },
  ) {
    const prev = join(resultsDir(), `${name}.json`);
    this.previous = existsSync(prev) ? (JSON.parse(readFileSync(prev, 'utf8')) as SavedFigures) : undefined;
    this.line(`# ${name}`);
    this.line(`# command: ${o.command}    date: ${new Date().toISOString()}`);
    this.line(
      `# machine: ${cpus().length} cores, Node ${process.version}; 1/5/15-min load average at start ${this.loadAtStart.join(', ')}`,
    );
    if (this.previous) this.line(`# previous figures: run of ${this.previous.date} (load average ${this.previous.loadAverage.join(', ')})`);
    for (const a of o.about ?? []) this.line(`# ${a}`);
  }

  /** A line of text, printed at once. */
  line(text: string): void {
    console.log(text);
    this.lines.push(text);
  }

  /** A figure with its goal, baseline and the previous committed value. */
  figure(f: Figure): void {
    this.figures[f.name] = { value: f.value, unit: f.unit };
    this.line(figureLine(f, this.previous?.figures[f.name]));
  }

  /** Writes bench/results/<name>.txt and .json. */
  write(): void {
    const end = load();
    this.line(`# load average at end ${end.join(', ')}`);
    mkdirSync(resultsDir(), { recursive: true });
    writeFileSync(join(resultsDir(), `${this.name}.txt`), `${this.lines.join('\n')}\n`);
    const saved: SavedFigures = { date: new Date().toISOString(), loadAverage: this.loadAtStart, figures: this.figures };
    writeFileSync(join(resultsDir(), `${this.name}.json`), `${JSON.stringify(saved, null, 2)}\n`);
  }
}
