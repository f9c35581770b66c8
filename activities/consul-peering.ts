// Consul's cluster peering API on one server (Consul 1.14 and later): the acceptor side makes a
// token (POST /v1/peering/token), the dialer establishes with it (POST /v1/peering/establish);
// peerings are listed and deleted by name. Peering traffic runs on the servers' gRPC TLS port.
import { ConsulAdmin, consulRequest } from './consul-admin.js';

export interface Peering {
  Name: string;
  /** PENDING, ESTABLISHING, ACTIVE, FAILING, DELETING, TERMINATED or UNDEFINED. */
  State: string;
}

export class ConsulPeering extends ConsulAdmin {
  private async peeringCall(token: string, path: string, o: { method?: string; body?: unknown } = {}) {
    return consulRequest(this.endpoint, path, { ...o, token });
  }

  /** A token another cluster establishes a peering named `peerName` with (a new one replaces an unused one). */
  async generateToken(token: string, peerName: string): Promise<string> {
    const res = await this.peeringCall(token, '/v1/peering/token', { method: 'POST', body: { PeerName: peerName } });
    if (res.status !== 200) throw new Error(`peering token for ${peerName} refused (${res.status}): ${res.body.trim()}`);
    return (JSON.parse(res.body) as { PeeringToken: string }).PeeringToken;
  }

  /** Establishes the peering `peerName` with a token the other cluster made. */
  async establish(token: string, peerName: string, peeringToken: string): Promise<void> {
    const res = await this.peeringCall(token, '/v1/peering/establish', {
      method: 'POST',
      body: { PeerName: peerName, PeeringToken: peeringToken },
    });
    if (res.status !== 200) throw new PeeringRefused(peerName, res.status, res.body.trim());
  }

  /** The peering of that name, undefined when there is none. */
  async get(token: string, peerName: string): Promise<Peering | undefined> {
    const res = await this.peeringCall(token, `/v1/peering/${encodeURIComponent(peerName)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`reading peering ${peerName} failed (${res.status}): ${res.body.trim()}`);
    return JSON.parse(res.body) as Peering;
  }

  async list(token: string): Promise<Peering[]> {
    const res = await this.peeringCall(token, '/v1/peerings');
    if (res.status !== 200) throw new Error(`listing peerings failed (${res.status}): ${res.body.trim()}`);
    return (JSON.parse(res.body) as Peering[] | null) ?? [];
  }

  /** Starts deleting the peering (Consul tells the peer, then forgets it); gone already is fine. */
  async delete(token: string, peerName: string): Promise<void> {
    const res = await this.peeringCall(token, `/v1/peering/${encodeURIComponent(peerName)}`, { method: 'DELETE' });
    if (res.status !== 200 && res.status !== 404)
      throw new Error(`deleting peering ${peerName} failed (${res.status}): ${res.body.trim()}`);
  }
}

/** Consul refused to establish: a token that is invalid, expired, used, or for this cluster itself. */
export class PeeringRefused extends Error {
  override name = 'PeeringRefused';
  constructor(
    readonly peerName: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`Consul refused to establish the peering '${peerName}' (${status}): ${detail}`);
  }
}
