// The `x-ms-examples` of the OpenAPI document: one JSON file per example in examples/, in the
// layout of ARM's specification repository (operationId, title, parameters by name, responses by
// status code with body and headers). The generator references each file from its operation;
// examples.test.ts validates every one against the document and requires one per operation.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPENAPI_PATH } from './document-file.js';

/** Absolute path of the examples folder. */
export const EXAMPLES_DIR = fileURLToPath(new URL('./examples/', import.meta.url));

export interface ExampleFile {
  /** Absolute path. */
  file: string;
  /** The file's path relative to the document, as its `$ref` names it. */
  ref: string;
  operationId: string;
  title: string;
  parameters: Record<string, unknown>;
  responses: Record<string, { body?: unknown; headers?: Record<string, string> }>;
}

/**
 * Every example, sorted by file name. A file is named `<operationId>.json` or
 * `<operationId>.<variant>.json` and says its operationId and title; anything else throws.
 */
export function loadExamples(dir = EXAMPLES_DIR): ExampleFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const file = join(dir, name);
      const json = JSON.parse(readFileSync(file, 'utf8')) as Partial<ExampleFile>;
      const { operationId, title, parameters, responses } = json;
      if (typeof operationId !== 'string' || typeof title !== 'string' || !parameters || !responses) {
        throw new Error(`example ${name}: needs operationId, title, parameters and responses`);
      }
      if (name.split('.')[0] !== operationId)
        throw new Error(`example ${name}: the file name must start with its operationId ${operationId}`);
      const ref = `./${relative(join(OPENAPI_PATH, '..'), file).split(sep).join('/')}`;
      return { file, ref, operationId, title, parameters, responses };
    });
}

/** The `x-ms-examples` value of each operation: title -> { $ref }. */
export function examplesByOperation(examples: ExampleFile[] = loadExamples()): Map<string, Record<string, { $ref: string }>> {
  const out = new Map<string, Record<string, { $ref: string }>>();
  for (const e of examples) {
    const refs = out.get(e.operationId) ?? {};
    if (refs[e.title] !== undefined) throw new Error(`two examples of ${e.operationId} are titled "${e.title}"`);
    refs[e.title] = { $ref: e.ref };
    out.set(e.operationId, refs);
  }
  return out;
}
