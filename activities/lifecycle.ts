// Transitional: the lifecycle activities are split into per-system modules composed in
// activities/cluster-activities.ts. Only the names the snapshot activities still import from
// here remain; this file goes once they import them from their homes.
export { SECRET } from '../contract/secret-names.js';
export { CONSUL_HTTPS_PORT } from '../domain/consul-config.js';
export type { LifecycleDeps } from './cluster-activities.js';
