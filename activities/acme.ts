// Certificates for a cluster's public UI/API endpoint from an ACME CA by DNS-01 (Let's Encrypt in
// production, Pebble locally). The account key is made once and kept (Vault-transit encrypted by
// the caller's store); a certificate with more than 30 days left is kept as it is.
import acme from 'acme-client';
import { X509Certificate } from 'node:crypto';
import type { Agent } from 'node:https';

/** Where TXT records for DNS-01 go: Azure DNS in production, challtestsrv locally. */
export interface DnsProvider {
  setTxt(fqdn: string, value: string): Promise<void>;
  clearTxt(fqdn: string): Promise<void>;
}

/** Storage of the ACME account key and issued certificates, by name (encrypted at rest). */
export interface AcmeSecretStore {
  get(name: string): Promise<string | undefined>;
  put(name: string, value: string): Promise<void>;
}

export interface AcmeDeps {
  directoryUrl: string;
  contactEmail: string;
  dns: DnsProvider;
  secrets: AcmeSecretStore;
  /** An HTTPS agent that trusts the ACME server (Pebble's own CA locally). */
  httpsAgent?: Agent;
  /** Renew when fewer than this many days remain (default 30). */
  renewBeforeDays?: number;
}

export interface EndpointCertificate {
  certificatePem: string;
  privateKeyPem: string;
  notAfter: string;
  /** True when this call obtained a new certificate. */
  renewed: boolean;
}

const ACCOUNT_KEY = 'acme/account-key';

export class AcmeCertificates {
  constructor(private readonly d: AcmeDeps) {}

  private async client(): Promise<acme.Client> {
    if (this.d.httpsAgent) acme.axios.defaults.httpsAgent = this.d.httpsAgent;
    let accountKey = await this.d.secrets.get(ACCOUNT_KEY);
    if (!accountKey) {
      accountKey = (await acme.crypto.createPrivateEcdsaKey()).toString();
      await this.d.secrets.put(ACCOUNT_KEY, accountKey);
    }
    const client = new acme.Client({ directoryUrl: this.d.directoryUrl, accountKey });
    // Creating an account with an existing key returns that same account.
    await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${this.d.contactEmail}`] });
    return client;
  }

  /** The endpoint's certificate: the stored one while it has enough life left, else a new one. */
  async ensureCertificate(a: {
    domain: string;
    now: Date;
    /** A requested renewal: a certificate ordered before this time is replaced even with life left (a retry keeps the new one). */
    renewOrderedBefore?: Date;
  }): Promise<EndpointCertificate> {
    const name = `acme/certs/${a.domain}`;
    const stored = await this.d.secrets.get(name);
    const kept = stored && (JSON.parse(stored) as { certificatePem: string; privateKeyPem: string; orderedAt?: string });
    if (kept && !(a.renewOrderedBefore && Date.parse(kept.orderedAt ?? '1970-01-01T00:00:00Z') < a.renewOrderedBefore.getTime())) {
      const { certificatePem, privateKeyPem } = kept;
      const notAfter = new Date(new X509Certificate(certificatePem).validTo);
      const renewAt = notAfter.getTime() - (this.d.renewBeforeDays ?? 30) * 86_400_000;
      if (a.now.getTime() < renewAt) return { certificatePem, privateKeyPem, notAfter: notAfter.toISOString(), renewed: false };
    }
    const client = await this.client();
    const [key, csr] = await acme.crypto.createCsr(
      { commonName: a.domain, altNames: [a.domain] },
      await acme.crypto.createPrivateEcdsaKey(),
    );
    const certificatePem = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['dns-01'],
      // Our own pre-check would use this machine's resolver; the CA's validation is what counts.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, _challenge, keyAuthorization) =>
        this.d.dns.setTxt(`_acme-challenge.${authz.identifier.value}`, keyAuthorization),
      challengeRemoveFn: async (authz) => this.d.dns.clearTxt(`_acme-challenge.${authz.identifier.value}`),
    });
    const privateKeyPem = key.toString();
    await this.d.secrets.put(name, JSON.stringify({ certificatePem, privateKeyPem, orderedAt: a.now.toISOString() }));
    return { certificatePem, privateKeyPem, notAfter: new Date(new X509Certificate(certificatePem).validTo).toISOString(), renewed: true };
  }
}
