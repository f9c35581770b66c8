// How a long operation shows while the CLI waits: on a terminal, one progress bar (cli-progress)
// with the percent, the step and the status, redrawn in place; elsewhere (a pipe, a log file) one
// line each time the status, the step or the percent changes. Both go to stderr, so stdout holds
// only the answer.
import { Presets, SingleBar } from 'cli-progress';
import type { OperationView } from './api-types.js';

export interface ProgressSink {
  update(op: OperationView): void;
  /** Leaves the last state on screen and gives the cursor back. */
  stop(): void;
}

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export const NO_PROGRESS: ProgressSink = { update() {}, stop() {} };

export function progressSink(stream: ProgressStream, label: string): ProgressSink {
  return stream.isTTY ? barSink(stream, label) : lineSink(stream, label);
}

function barSink(stream: ProgressStream, label: string): ProgressSink {
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {step} | {status}`,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      // cli-progress types the stream as a NodeJS.WritableStream; a TTY stream is one.
      stream: stream as NodeJS.WritableStream,
      // Redraw on every update only: the CLI polls, there is nothing to animate between polls.
      fps: 10,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(op) {
      const payload = { step: op.properties.step ?? '-', status: op.status };
      const value = Math.max(0, Math.min(100, Math.round(op.percentComplete)));
      if (!started) {
        bar.start(100, value, payload);
        started = true;
      } else bar.update(value, payload);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

function lineSink(stream: ProgressStream, label: string): ProgressSink {
  let last = '';
  return {
    update(op) {
      const line = `${label}: ${op.status} ${Math.round(op.percentComplete)}%${op.properties.step ? ` ${op.properties.step}` : ''}`;
      if (line !== last) stream.write(`${line}\n`);
      last = line;
    },
    stop() {},
  };
}
