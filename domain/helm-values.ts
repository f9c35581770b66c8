// The consul-k8s Helm values a customer's Kubernetes cluster installs to use a managed cluster as
// its external servers, for the consul-k8s 1.x chart with Consul Dataplane (no client agents):
// connect-inject only, the servers reached by the cluster's DNS name over HTTPS and gRPC with TLS,
// the CA and the bootstrap token read from Kubernetes secrets (referenced by name, never inlined).
// Built with the yaml library; domain/helm-values.test.ts checks every key against the chart's.
import { Document } from 'yaml';

/** The Kubernetes secrets the values reference; the customer creates them before installing. */
export const HELM_SECRETS = {
  /** The cluster's CA bundle (listClientConfig's caBundlePem). */
  caCert: { secretName: 'consul-ca-cert', secretKey: 'tls.crt' },
  /** A root token's secret id (createRootToken). */
  bootstrapToken: { secretName: 'consul-bootstrap-token', secretKey: 'token' },
} as const;

export interface HelmValuesInput {
  datacenter: string;
  /** The cluster's DNS name: it resolves to every server, so it follows scaling and replacement. */
  host: string;
  httpsPort: number;
  grpcTlsPort: number;
  /** The name the servers' certificates carry. */
  tlsServerName: string;
  /**
   * A public endpoint: HTTPS presents the ACME certificate, which chains to the public roots the
   * consul-k8s images carry (not to the CA secret, which gRPC still uses).
   */
  useSystemRoots?: boolean;
}

/** The values as a plain object. */
export function helmValues(a: HelmValuesInput) {
  return {
    global: {
      // Every component off unless turned on below.
      enabled: false,
      name: 'consul',
      datacenter: a.datacenter,
      tls: { enabled: true, caCert: { ...HELM_SECRETS.caCert } },
      acls: { manageSystemACLs: true, bootstrapToken: { ...HELM_SECRETS.bootstrapToken } },
    },
    externalServers: {
      enabled: true,
      hosts: [a.host],
      httpsPort: a.httpsPort,
      grpcPort: a.grpcTlsPort,
      tlsServerName: a.tlsServerName,
      ...(a.useSystemRoots ? { useSystemRoots: true } : {}),
    },
    server: { enabled: false },
    // Consul Dataplane: sidecars talk to the servers directly, no client agents.
    client: { enabled: false },
    connectInject: { enabled: true },
  };
}

/** The values file, with comments on the secrets to create and the one value only the customer knows. */
export function helmValuesYaml(a: HelmValuesInput): string {
  const doc = new Document(helmValues(a));
  doc.commentBefore = [
    ` consul-k8s Helm values (chart 1.x, Consul Dataplane) for the managed datacenter ${a.datacenter}.`,
    ' Create the secrets first, in the release namespace:',
    `   kubectl create secret generic ${HELM_SECRETS.caCert.secretName} --from-file=${HELM_SECRETS.caCert.secretKey}=ca.pem  # caBundlePem of listClientConfig`,
    `   kubectl create secret generic ${HELM_SECRETS.bootstrapToken.secretName} --from-literal=${HELM_SECRETS.bootstrapToken.secretKey}=<secretId of createRootToken>`,
    ' and set externalServers.k8sAuthMethodHost to your Kubernetes API server address (reachable from the servers).',
  ].join('\n');
  return doc.toString();
}
