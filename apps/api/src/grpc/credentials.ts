// Transport security of the gRPC server: TLS with the REST certificate, client certificates
// requested where ARM is trusted by certificate thumbprint, and no plaintext except on loopback.
import { ServerCredentials, experimental, type ServerUnaryCall } from '@grpc/grpc-js';
import { isLoopbackHost } from '../../../../lib/loopback.js';
import { rootCertificates } from 'node:tls';
import type { Credentials } from '../auth.js';

export interface GrpcTls {
  cert: string;
  key: string;
  /**
   * PEM CAs a client certificate must chain to before its thumbprint is even looked at
   * (grpc-js hands over only verified peer certificates); default: Node's public roots.
   */
  clientCa?: string;
}

/** Throws before anything is bound when gRPC would serve plaintext beyond this machine. */
export function requireTlsBeyondLoopback(host: string, tls: GrpcTls | undefined): void {
  if (tls || isLoopbackHost(host)) return;
  throw new Error(
    `refusing to serve gRPC without TLS on ${host}: HCS_API_HOST is not a loopback address, so set ` +
      'HCS_API_TLS_CERT_FILE and HCS_API_TLS_KEY_FILE (the certificate REST and gRPC serve) or bind to 127.0.0.1',
  );
}

/**
 * TLS with the server certificate; with `requestClientCertificates` the server also asks for a
 * client certificate without requiring one (users and operators come with bearer tokens).
 */
export function grpcServerCredentials(host: string, tls: GrpcTls | undefined, requestClientCertificates: boolean): ServerCredentials {
  requireTlsBeyondLoopback(host, tls);
  if (!tls) return ServerCredentials.createInsecure();
  const identity = { certificate: Buffer.from(tls.cert), privateKey: Buffer.from(tls.key) };
  if (!requestClientCertificates)
    return ServerCredentials.createSsl(null, [{ cert_chain: identity.certificate, private_key: identity.privateKey }]);
  // createSsl can only require client certificates (rejecting every caller without one); the
  // certificate-provider credentials ask for one and let callers without it in.
  const ca = { caCertificate: Buffer.from(tls.clientCa ?? rootCertificates.join('\n')) };
  // Listeners are told on the next tick: grpc-js registers its watcher only after subscribing.
  const provider: experimental.CertificateProvider = {
    addCaCertificateListener: (listener) => queueMicrotask(() => listener(ca)),
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener: (listener) => queueMicrotask(() => listener(identity)),
    removeIdentityCertificateListener: () => {},
  };
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/** The caller's verified TLS client certificate, in the form the authenticator takes (as REST passes it). */
export function peerCertificate(call: ServerUnaryCall<unknown, unknown>): Credentials['peerCertificate'] {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  return cert?.fingerprint ? { fingerprint: cert.fingerprint, fingerprint256: cert.fingerprint256 } : undefined;
}
