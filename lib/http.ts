// Small HTTP(S) helpers for readiness probes, Consul's API and local services whose TLS
// certificate comes from a CA of our own (global fetch cannot take a per-call CA on Node 20).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';

export interface HttpResult {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface HttpCallOptions {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  /**
   * PEM CA bundle to trust for https URLs, each certificate in it as a trust anchor: a cluster's
   * bundle is its intermediate CA alone, without the root (as Go's TLS and curl accept it).
   */
  ca?: string;
  /**
   * Further names the server's certificate may carry instead of the URL's host: a public
   * endpoint's server presents its ACME certificate (for the cluster's DNS name) when reached by
   * its address.
   */
  tlsNames?: string[];
  /** Client certificate and key (PEM) for mutual TLS. */
  clientCert?: { cert: string; key: string };
  timeoutInMs?: number;
}

export function httpCall(url: string, options: HttpCallOptions = {}): Promise<HttpResult> {
  const u = new URL(url);
  const make = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = make(
      u,
      {
        method: options.method ?? 'GET',
        // An explicit length: some servers (Consul) ignore chunked request bodies.
        headers: {
          ...(options.body !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(options.body)) }
            : {}),
          ...options.headers,
        },
        ...(options.ca ? { ca: options.ca, allowPartialTrustChain: true } : {}),
        ...(options.tlsNames?.length ? { checkServerIdentity: acceptingNames(options.tlsNames) } : {}),
        ...(options.clientCert ?? {}),
        timeout: options.timeoutInMs ?? 5_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}

/** A server identity check that accepts the host it was reached by or any of `names`. */
export function acceptingNames(names: string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const refused = checkServerIdentity(host, cert);
    if (!refused || names.some((name) => !checkServerIdentity(name, cert))) return undefined;
    return refused;
  };
}

/** Resolves when the URL answers with one of the accepted statuses; throws otherwise (for probes). */
export async function expectStatus(url: string, accepted: number[], options: HttpCallOptions = {}): Promise<HttpResult> {
  const res = await httpCall(url, options);
  if (!accepted.includes(res.status)) throw new Error(`${url} answered ${res.status}: ${res.body.slice(0, 200)}`);
  return res;
}
