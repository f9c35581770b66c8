// Per-cluster PKI and secret encryption in Vault (OpenBao locally). Every cluster gets its own
// PKI mount holding an intermediate CA signed by the control plane's root (a federation
// secondary's is signed by its primary's intermediate); server certificates are short-lived and
// issued from a role that allows only the cluster's server name and IPs. What a cluster trusts
// is its own CA (plus its primary's for a secondary), never the shared root: another cluster's
// certificate for the same server.<dc>.consul name is refused. Every call is idempotent: a
// retry never creates a second live CA.
import { X509Certificate } from 'node:crypto';
import type nodeVault from 'node-vault';
import { claim, CLUSTER_ID_TAG, type ClusterNamesOf, ownership } from './cluster-names.js';

type VaultClient = ReturnType<typeof nodeVault>;

export interface VaultPkiOptions {
  vault: VaultClient;
  /** Mount of the control plane's root CA. */
  rootMount: string;
  /** Transit mount and key that encrypt every secret the control plane stores. */
  transitMount: string;
  transitKey: string;
  /** Each cluster's PKI mount (named from its random id) and its id. */
  names: ClusterNamesOf;
}

export interface ClusterCa {
  mount: string;
  /** PEM: what the cluster's servers trust (clusterCaBundle); never the root. */
  caBundlePem: string;
  /** Fingerprint of the intermediate, to recognise the same CA across retries. */
  fingerprint256: string;
}

export interface IssuedCertificate {
  certificatePem: string;
  privateKeyPem: string;
  caBundlePem: string;
  serialNumber: string;
  notAfter: string;
}

const ROOT_ISSUER = 'hcs-root';
const CLUSTER_ISSUER = 'cluster-ca';
const SERVER_ROLE = 'server';

/** A cluster's PKI mount names its owner in its description: `hcs-cluster-id=<id>`. */
const MOUNT_OWNER = new RegExp(`^${CLUSTER_ID_TAG}=([0-9a-f]+)$`);

/** Renew when two thirds of the certificate's lifetime have passed (or it is already gone). */
export function needsRenewal(certificatePem: string | undefined, now: Date): boolean {
  if (!certificatePem) return true;
  const cert = new X509Certificate(certificatePem);
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return now.getTime() >= from + ((to - from) * 2) / 3;
}

export class VaultPki {
  constructor(private readonly o: VaultPkiOptions) {}

  private get vault(): VaultClient {
    return this.o.vault;
  }

  /** The control plane's root CA; created once, found afterwards. */
  async ensureRootCa(): Promise<string> {
    const existing = await this.issuerPem(this.o.rootMount, ROOT_ISSUER);
    if (existing) return existing;
    const res = (await this.vault.write(`${this.o.rootMount}/root/generate/internal`, {
      common_name: 'HCS Consul control plane root CA',
      issuer_name: ROOT_ISSUER,
      key_type: 'ec',
      key_bits: 256,
      ttl: '87600h',
    })) as { data: { certificate: string } };
    return res.data.certificate;
  }

  /** The cluster's PKI mount (named from its random id). */
  async clusterMount(clusterKey: string): Promise<string> {
    return (await this.o.names(clusterKey)).names.pkiMount;
  }

  /** The cluster id a mount's description names; null for a mount without one, undefined when there is no mount. */
  private async mountOwner(mount: string): Promise<string | null | undefined> {
    const mounts = (await this.vault.mounts()) as Record<string, { description?: string } | undefined>;
    const m = mounts[`${mount}/`];
    return m ? (MOUNT_OWNER.exec(m.description ?? '')?.[1] ?? null) : undefined;
  }

  /**
   * The cluster's CA: created on the first call, returned unchanged on every later one. A mount of
   * that name that belongs to another cluster is refused (DerivedNameOwnedByAnotherCluster). A
   * federation secondary's intermediate is signed by its primary's (`primaryClusterKey`), whose
   * certificate goes into the secondary's mount too, so the secondary's certificates carry the
   * chain up to it and the primary's servers, trusting only their own CA, verify them.
   */
  async ensureClusterCa(a: {
    clusterKey: string;
    datacenter: string;
    maxCertTtlHours: number;
    primaryClusterKey?: string | undefined;
    /** Further DNS names server certificates may carry (a public endpoint's name). */
    dnsNames?: string[];
  }): Promise<ClusterCa> {
    const { names, owner } = await this.o.names(a.clusterKey);
    const mount = names.pkiMount;
    const signer = await this.signerOf(a.primaryClusterKey);
    const description = `${CLUSTER_ID_TAG}=${owner.clusterId}`;
    const found = await this.mountOwner(mount);
    claim(`the PKI mount ${mount}`, found, owner);
    if (found === undefined) {
      await this.vault
        .mount({ mount_point: mount, type: 'pki', description, config: { max_lease_ttl: '87600h' } })
        .catch((err: unknown) => {
          // Another attempt mounted it first: fine, we continue with its mount (checked below).
          if (!/existing mount|path is already in use/i.test(String((err as Error).message))) throw err;
        });
      claim(`the PKI mount ${mount}`, await this.mountOwner(mount), owner);
    } else if (found === null) {
      // A mount without a mark under the cluster's name (made before ids) is its own: mark it.
      await this.vault.write(`sys/mounts/${mount}/tune`, { description });
    }
    let intermediate = await this.issuerPem(mount, CLUSTER_ISSUER);
    if (!intermediate) {
      const csr = (await this.vault.write(`${mount}/intermediate/generate/internal`, {
        common_name: `HCS Consul cluster CA ${a.datacenter}`,
        key_type: 'ec',
        key_bits: 256,
      })) as { data: { csr: string } };
      const signed = (await this.vault.write(`${signer.mount}/root/sign-intermediate`, {
        csr: csr.data.csr,
        common_name: `HCS Consul cluster CA ${a.datacenter}`,
        ttl: signer.ttl,
        issuer_ref: signer.issuer,
      })) as { data: { certificate: string } };
      const imported = (await this.vault.write(`${mount}/intermediate/set-signed`, { certificate: signed.data.certificate })) as {
        data: { imported_issuers: string[] };
      };
      const issuerId = imported.data.imported_issuers[0]!;
      await this.vault.write(`${mount}/issuer/${issuerId}`, { issuer_name: CLUSTER_ISSUER });
      await this.vault.write(`${mount}/config/issuers`, { default: issuerId });
      intermediate = signed.data.certificate;
    }
    // The primary's intermediate as a key-less issuer: Vault then builds the chain through it.
    // Importing a certificate the mount already holds changes nothing.
    if (a.primaryClusterKey) await this.vault.write(`${mount}/issuers/import/cert`, { pem_bundle: signer.pem });
    await this.vault.write(`${mount}/roles/${SERVER_ROLE}`, {
      issuer_ref: CLUSTER_ISSUER,
      allowed_domains: [`server.${a.datacenter}.consul`, 'localhost', ...(a.dnsNames ?? [])],
      allow_bare_domains: true,
      allow_subdomains: false,
      allow_localhost: true,
      allow_ip_sans: true,
      key_type: 'ec',
      key_bits: 256,
      max_ttl: `${a.maxCertTtlHours}h`,
      server_flag: true,
      client_flag: true,
    });
    return {
      mount,
      caBundlePem: await this.clusterCaBundle(a.clusterKey),
      fingerprint256: new X509Certificate(intermediate).fingerprint256,
    };
  }

  /** Where a cluster's intermediate is signed: the root, or a secondary's primary's intermediate. */
  private async signerOf(primaryClusterKey: string | undefined): Promise<{ mount: string; issuer: string; pem: string; ttl: string }> {
    if (!primaryClusterKey) return { mount: this.o.rootMount, issuer: ROOT_ISSUER, pem: await this.ensureRootCa(), ttl: '43800h' };
    const mount = await this.clusterMount(primaryClusterKey);
    const pem = await this.issuerPem(mount, CLUSTER_ISSUER);
    if (!pem) throw new Error(`the primary cluster ${primaryClusterKey} has no CA`);
    // Never beyond the primary's own certificate.
    const hoursLeft = Math.floor((Date.parse(new X509Certificate(pem).validTo) - Date.now()) / 3_600_000) - 1;
    return { mount, issuer: CLUSTER_ISSUER, pem, ttl: `${Math.min(43800, hoursLeft)}h` };
  }

  /**
   * What the cluster's servers and the control plane trust: its intermediate, then, for a
   * federation secondary, the primary's intermediate that signed it; never the root (Consul,
   * like Go's TLS, takes an intermediate in its CA file as a trust anchor). Read only, for the
   * many calls that just talk to the servers.
   */
  async clusterCaBundle(clusterKey: string): Promise<string> {
    const chain = (await this.issuerChain(await this.clusterMount(clusterKey))).filter((c) => !selfSigned(c));
    if (!chain.length) throw new Error(`cluster ${clusterKey} has no CA yet`);
    return `${chain.map((c) => c.trim()).join('\n')}\n`;
  }

  /** The cluster's own intermediate alone: what its client agents trust (they talk to its servers only). */
  async clusterIntermediate(clusterKey: string): Promise<string> {
    const pem = await this.issuerPem(await this.clusterMount(clusterKey), CLUSTER_ISSUER);
    if (!pem) throw new Error(`cluster ${clusterKey} has no CA yet`);
    return `${pem.trim()}\n`;
  }

  /** A server certificate for server.<datacenter>.consul, the server's addresses and any further names. */
  async issueServerCertificate(a: {
    clusterKey: string;
    datacenter: string;
    ipAddresses: string[];
    /** Further DNS names (the role must allow them: ensureClusterCa's dnsNames). */
    dnsNames?: string[];
    ttlHours: number;
  }): Promise<IssuedCertificate> {
    const mount = await this.clusterMount(a.clusterKey);
    const res = (await this.vault.write(`${mount}/issue/${SERVER_ROLE}`, {
      common_name: `server.${a.datacenter}.consul`,
      alt_names: ['localhost', ...(a.dnsNames ?? [])].join(','),
      ip_sans: a.ipAddresses.join(','),
      ttl: `${a.ttlHours}h`,
    })) as { data: { certificate: string; private_key: string; issuing_ca: string; ca_chain?: string[]; serial_number: string } };
    const cert = new X509Certificate(res.data.certificate);
    return {
      certificatePem: res.data.certificate,
      privateKeyPem: res.data.private_key,
      caBundlePem: `${(res.data.ca_chain ?? [res.data.issuing_ca]).map((c) => c.trim()).join('\n')}\n`,
      serialNumber: res.data.serial_number,
      notAfter: new Date(cert.validTo).toISOString(),
    };
  }

  /**
   * Revokes the cluster's intermediate where it was signed (the root, or a secondary's primary
   * while that still has its CA) so nothing it issued is trusted any more, and removes its mount
   * with all its keys. Safe to repeat. A mount of that name that belongs to another cluster is
   * left alone.
   */
  async destroyClusterCa(clusterKey: string, primaryClusterKey?: string): Promise<void> {
    const { names, owner } = await this.o.names(clusterKey);
    const mount = names.pkiMount;
    if (ownership(await this.mountOwner(mount), owner) !== 'ours') return;
    const intermediate = await this.issuerPem(mount, CLUSTER_ISSUER);
    const signerMount = primaryClusterKey ? await this.clusterMount(primaryClusterKey).catch(() => undefined) : this.o.rootMount;
    // A primary without its CA any more (deleted with the same subscription) revoked it at the root.
    const signerAlive = signerMount !== undefined && (await this.issuerPem(signerMount, primaryClusterKey ? CLUSTER_ISSUER : ROOT_ISSUER));
    if (intermediate && signerAlive) {
      const serial = new X509Certificate(intermediate).serialNumber.toLowerCase().match(/../g)!.join(':');
      await this.vault.write(`${signerMount}/revoke`, { serial_number: serial });
    }
    await this.vault.unmount({ mount_point: mount });
  }

  /** Encrypts a secret with the control plane's transit key (created on first use). */
  async encrypt(plaintext: string): Promise<string> {
    await this.ensureTransitKey();
    const res = (await this.vault.write(`${this.o.transitMount}/encrypt/${this.o.transitKey}`, {
      plaintext: Buffer.from(plaintext, 'utf8').toString('base64'),
    })) as { data: { ciphertext: string } };
    return res.data.ciphertext;
  }

  async decrypt(ciphertext: string): Promise<string> {
    const res = (await this.vault.write(`${this.o.transitMount}/decrypt/${this.o.transitKey}`, { ciphertext })) as {
      data: { plaintext: string };
    };
    return Buffer.from(res.data.plaintext, 'base64').toString('utf8');
  }

  /**
   * A fresh 256-bit data key from the transit engine: the plaintext to use now (never to be
   * stored) and the same key wrapped by the transit key (the only form that may be stored).
   */
  async dataKey(): Promise<{ plaintext: Buffer; wrapped: string }> {
    await this.ensureTransitKey();
    const res = (await this.vault.write(`${this.o.transitMount}/datakey/plaintext/${this.o.transitKey}`, {})) as {
      data: { plaintext: string; ciphertext: string };
    };
    return { plaintext: Buffer.from(res.data.plaintext, 'base64'), wrapped: res.data.ciphertext };
  }

  /** The raw bytes of a data key wrapped by `dataKey` (decrypt returns text, which would mangle them). */
  async unwrapDataKey(wrapped: string): Promise<Buffer> {
    const res = (await this.vault.write(`${this.o.transitMount}/decrypt/${this.o.transitKey}`, { ciphertext: wrapped })) as {
      data: { plaintext: string };
    };
    return Buffer.from(res.data.plaintext, 'base64');
  }

  private async ensureTransitKey(): Promise<void> {
    // Creating an existing key is a no-op in Vault's transit engine.
    await this.vault.write(`${this.o.transitMount}/keys/${this.o.transitKey}`, { type: 'aes256-gcm96' });
  }

  private async issuerPem(mount: string, name: string): Promise<string | undefined> {
    return (await this.issuer(mount, name))?.certificate;
  }

  /** The cluster issuer's chain as Vault built it from the mount's issuers: itself first. */
  private async issuerChain(mount: string): Promise<string[]> {
    const issuer = await this.issuer(mount, CLUSTER_ISSUER);
    if (!issuer) return [];
    return issuer.ca_chain?.length ? issuer.ca_chain : [issuer.certificate];
  }

  private async issuer(mount: string, name: string): Promise<{ certificate: string; ca_chain?: string[] } | undefined> {
    try {
      const res = (await this.vault.read(`${mount}/issuer/${name}`)) as { data: { certificate: string; ca_chain?: string[] } };
      return res.data;
    } catch (err) {
      if (
        (err as { response?: { statusCode?: number } }).response?.statusCode === 404 ||
        /unable to find|not found|no handler/i.test(String((err as Error).message))
      ) {
        return undefined;
      }
      throw err;
    }
  }
}

/** A root: issued by itself (the control plane's root CA is the only one in a chain). */
function selfSigned(pem: string): boolean {
  const c = new X509Certificate(pem);
  return c.checkIssued(c) && c.verify(c.publicKey);
}
