// The public surface of the domain rules. Pure: safe to import from Temporal workflows.
export * from './errors.js';
export * from './resource-id.js';
export * from './cidr.js';
export * from './versions.js';
export * from './maintenance-window.js';
export * from './placement.js';
export * from './cluster-spec.js';
export * from './cluster-patch.js';
export { clusterBodySchema, normalizeLocation, MAX_TAGS, MAX_TAG_NAME_LENGTH, MAX_TAG_VALUE_LENGTH } from './cluster-schema.js';
