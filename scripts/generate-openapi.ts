// Writes the ARM OpenAPI document generated from the proto contract (never edit it by hand):
//   npx tsx scripts/generate-openapi.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { OPENAPI_FILE, OPENAPI_PATH } from '../apps/api/src/openapi/document-file.js';
import { renderOpenApi } from '../apps/api/src/openapi/generate.js';

mkdirSync(dirname(OPENAPI_PATH), { recursive: true });
writeFileSync(OPENAPI_PATH, renderOpenApi());
console.log(`wrote ${OPENAPI_FILE}`);
