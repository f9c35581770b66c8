// Writes the ARM OpenAPI document generated from the proto contract (never edit it by hand):
//   npx tsx scripts/generate-openapi.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OPENAPI_FILE, renderOpenApi } from '../apps/api/src/openapi/generate.js';
import { repoRoot } from './toolchain.mjs';

const target = join(repoRoot, OPENAPI_FILE);
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, renderOpenApi());
console.log(`wrote ${OPENAPI_FILE}`);
