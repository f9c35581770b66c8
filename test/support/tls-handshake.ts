// A TLS handshake with a Consul server as consul-k8s components make it from Helm values: the
// cluster's CA bundle as the only trust anchor (an intermediate, hence allowPartialTrustChain),
// the values' tlsServerName checked against the certificate, and for gRPC the ALPN protocol h2.
import { connect } from 'node:tls';

/** Resolves once the certificate verified for `servername`; rejects on any TLS or name error. */
export function tlsHandshake(a: {
  host: string;
  port: number;
  ca: string;
  servername: string;
  alpn?: string[];
}): Promise<{ authorized: boolean; alpnProtocol: string | false }> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: a.host,
        port: a.port,
        ca: a.ca,
        servername: a.servername,
        rejectUnauthorized: true,
        allowPartialTrustChain: true,
        ...(a.alpn ? { ALPNProtocols: a.alpn } : {}),
        timeout: 5_000,
      },
      () => {
        const result = { authorized: socket.authorized, alpnProtocol: socket.alpnProtocol ?? false };
        socket.end();
        resolve(result);
      },
    );
    socket.on('timeout', () => socket.destroy(new Error(`TLS handshake with ${a.host}:${a.port} timed out`)));
    socket.on('error', reject);
  });
}
