// The cluster activities as the worker registers them: every step of creating, scaling,
// upgrading and deleting a cluster, each from the module of the system it touches, each module
// seeing only its own narrow dependencies. Every step is idempotent (re-running it after a crash
// converges to the same state and creates nothing twice). They take and return references and
// plain facts only (resource keys, server addresses, counts): secrets are generated, encrypted
// and read inside the worker and never travel through workflow history.
import type { SqlDatabase } from '../store/database.js';
import type { ClusterBlobs } from './cluster-blobs.js';
import type { ConsulAdmin, ConsulEndpoint } from './consul-admin.js';
import type { TerraformActivities } from './terraform.js';
import type { VaultPki } from './vault-pki.js';
import { createAclActivities, type AclDeps } from './acls.js';
import { createCertificateScheduleActivities, type CertificateScheduleDeps } from './certificate-schedule.js';
import { createClientConfigActivities, type ClientConfigDeps } from './client-config.js';
import { createClusterPkiActivities, type ClusterPkiDeps } from './cluster-pki.js';
import { createClusterRecordActivities, type ClusterRecordDeps } from './cluster-record.js';
import { createClusterSecretsActivities, type ClusterSecretsDeps } from './cluster-secrets.js';
import { createConsulHealthActivities, type ConsulHealthDeps } from './consul-health.js';
import { createConsulLeadershipActivities, type ConsulLeadershipDeps } from './consul-leadership.js';
import { createEndpointActivities, type EndpointDeps } from './endpoint.js';
import { acmeRoots, createEndpointCertificateActivities, publicEndpointTrust } from './endpoint-certificate.js';
import { createFederationActivities, type FederationDeps } from './federation.js';
import { federationPrimaries } from './federation-primary.js';
import { createInfrastructureActivities, type InfrastructureDeps } from './infrastructure.js';
import { ConsulPeering } from './consul-peering.js';
import { createPeeringActivities, type PeeringDeps } from './peering.js';
import { secretReader } from './secrets.js';
import { createServerComputeActivities, type ServerComputeDeps } from './server-compute.js';
import { createServerFilesActivities, type ServerFilesDeps } from './server-files.js';
import { createServedCertificateActivities, type ServedCertificateDeps } from './served-certificates.js';

/**
 * What the modules get that the composition makes itself: the secret reader, the primary lookup,
 * the transit cipher, the trust for public endpoints.
 */
type Derived = 'secrets' | 'primaries' | 'cipher' | 'endpointTrust';

/**
 * Everything the cluster activities need: the intersection of the modules' own interfaces (each
 * module sees only its part), less what is derived here. `pki` also serves as the transit cipher.
 */
export type ClusterActivitiesDeps = Omit<
  ClusterRecordDeps &
    ClusterSecretsDeps &
    ClientConfigDeps &
    ClusterPkiDeps &
    ServerFilesDeps &
    ServedCertificateDeps &
    InfrastructureDeps &
    ConsulHealthDeps &
    ConsulLeadershipDeps &
    AclDeps &
    FederationDeps &
    EndpointDeps &
    CertificateScheduleDeps &
    ServerComputeDeps &
    Omit<PeeringDeps, 'consulAdmin'>,
  Derived
> & {
  pki: { encrypt(plaintext: string): Promise<string>; decrypt(ciphertext: string): Promise<string> };
};

export function createClusterActivities(deps: ClusterActivitiesDeps) {
  const d = {
    ...deps,
    secrets: secretReader({ db: deps.db, cipher: deps.pki }),
    primaries: federationPrimaries(deps.db),
    cipher: deps.pki,
    endpointTrust: publicEndpointTrust({ ...deps, acmeRootsPem: acmeRoots(deps.acme) }),
  };
  return {
    ...createClusterRecordActivities(d),
    ...createClusterSecretsActivities(d),
    ...createClusterPkiActivities(d),
    ...createServerFilesActivities(d),
    ...createServedCertificateActivities(d),
    ...createClientConfigActivities(d),
    ...createInfrastructureActivities(d),
    ...createConsulHealthActivities(d),
    ...createConsulLeadershipActivities(d),
    ...createAclActivities(d),
    ...createFederationActivities(d),
    ...createEndpointActivities(d),
    ...createEndpointCertificateActivities(d),
    ...createCertificateScheduleActivities(d),
    ...createServerComputeActivities(d),
    // Peering speaks to the same servers through the peering client (a ConsulAdmin with the peering calls).
    ...createPeeringActivities({ ...d, consulAdmin: (endpoint) => new ConsulPeering(endpoint) }),
  };
}

/**
 * What the worker holds and hands every activity factory (cluster and snapshot activities): the
 * cluster activities' deps as the real clients (the snapshot activities use more of them: the
 * store's transactions, Vault's data keys), and Terraform with its start-up sweep.
 */
export type LifecycleDeps = ClusterActivitiesDeps & {
  db: SqlDatabase;
  pki: VaultPki;
  blobs: ClusterBlobs;
  terraform: TerraformActivities;
  /** The real Consul client, which serves every module's narrower view of it. */
  consulAdmin: (endpoint: ConsulEndpoint) => ConsulAdmin;
};

/** The cluster activities' types, for the workflows' proxyActivities (import type only). */
export type ClusterActivities = ReturnType<typeof createClusterActivities>;
