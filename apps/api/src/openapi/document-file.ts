// Where the generated OpenAPI document lives: written by scripts/generate-openapi.ts, served by
// the REST server at /openapi.json. Its own small module, so the server does not load the generator.
import { fileURLToPath } from 'node:url';
import { PROVIDER_NAMESPACE } from '../../../../domain/resource-id.js';
import { API_VERSION } from '../api-version.js';

/** Repository-relative path of the generated document. */
export const OPENAPI_FILE = `gen/openapi/${PROVIDER_NAMESPACE.toLowerCase().replace('.', '-')}-${API_VERSION}.json`;

/** Absolute path of the generated document in this checkout. */
export const OPENAPI_PATH = fileURLToPath(new URL(`../../../../${OPENAPI_FILE}`, import.meta.url));
