// How the API and the worker reach Temporal: address, namespace, TLS (server CA, client
// certificate for mutual TLS, server name) and an API key. Workflow payloads are encrypted by the
// payload codec, but the connection also carries workflow ids, search attributes and the power
// to start, signal and cancel any cluster's workflows: off loopback it must be TLS.
import { isLoopbackHost } from './loopback.js';

export interface TemporalTlsConfig {
  /** PEM of the CA that signed Temporal's server certificate; the system CAs when absent. */
  serverRootCaPem?: string;
  /** Client certificate and key (PEM) for mutual TLS. */
  clientCertPem?: string;
  clientKeyPem?: string;
  /** The name in Temporal's certificate, when it differs from the address's host. */
  serverName?: string;
}

export interface TemporalConnectionConfig {
  address: string;
  namespace: string;
  tls?: TemporalTlsConfig;
  /** Temporal Cloud style API key, sent as a bearer token (needs TLS). */
  apiKey?: string;
}

/** The host part of host:port (IPv6 in brackets). */
export function hostOf(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}

/**
 * Refuses settings that would send control-plane traffic in the clear or half-configure mutual
 * TLS. The message names the setting to change.
 */
export function checkTemporalConnection(c: TemporalConnectionConfig): void {
  if (!c.tls && !isLoopbackHost(hostOf(c.address)))
    throw new Error(
      `Temporal at ${c.address} is not on loopback: configure TLS (HCS_TEMPORAL_TLS_CA_FILE and, for mutual TLS, HCS_TEMPORAL_TLS_CERT_FILE and HCS_TEMPORAL_TLS_KEY_FILE) - plaintext is allowed on loopback only`,
    );
  if (c.tls && !!c.tls.clientCertPem !== !!c.tls.clientKeyPem)
    throw new Error('Temporal mutual TLS needs both HCS_TEMPORAL_TLS_CERT_FILE and HCS_TEMPORAL_TLS_KEY_FILE');
  if (c.apiKey && !c.tls) throw new Error('HCS_TEMPORAL_API_KEY needs TLS: an API key is never sent in the clear');
}

/** Options for @temporalio/client's Connection.connect and @temporalio/worker's NativeConnection.connect. */
export function temporalConnectOptions(c: TemporalConnectionConfig): {
  address: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
  apiKey?: string;
} {
  checkTemporalConnection(c);
  if (!c.tls) return { address: c.address };
  const t = c.tls;
  return {
    address: c.address,
    tls: {
      ...(t.serverName ? { serverNameOverride: t.serverName } : {}),
      ...(t.serverRootCaPem ? { serverRootCACertificate: Buffer.from(t.serverRootCaPem) } : {}),
      ...(t.clientCertPem && t.clientKeyPem
        ? { clientCertPair: { crt: Buffer.from(t.clientCertPem), key: Buffer.from(t.clientKeyPem) } }
        : {}),
    },
    ...(c.apiKey ? { apiKey: c.apiKey } : {}),
  };
}
