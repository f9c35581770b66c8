// Log lines captured in memory: a destination for lib/logger.ts createLogger whose JSON lines
// are parsed as they arrive, for tests that look for a field on a process's lines.
import { Writable } from 'node:stream';

export type LogLine = Record<string, unknown> & { level?: string; msg?: string; service?: string };

export interface CapturedLogs {
  destination: Writable;
  lines: LogLine[];
  /** Every line as written, for tests that look for a string anywhere (a secret that must not be there). */
  text(): string;
}

export function captureLogLines(): CapturedLogs {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString('utf8');
      raw.push(text);
      for (const l of text.split('\n').filter(Boolean)) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { destination, lines, text: () => raw.join('') };
}
