// Cluster peering through our API (Consul 1.14 and later). generatePeeringToken (accepting side)
// and establishPeering (dialing side) are operations like any action: operator role, the
// cluster provisioned, the one-operation rule. The peering token is a credential: the API seals
// the one it is given into the store in the operation's own transaction (the workflow input
// names only the peer), and the one the worker makes is read once through the operation result.
import { peeringTokenInputName, peeringTokenResultName, sealContext } from '../../../../contract/secret-names.js';
import { describeValue, detail, throwIfAny, type ErrorDetail } from '../../../../domain/errors.js';
import type { SecretBox } from '../../../../lib/secret-box.js';
import type { SqlDatabase } from '../../../../store/database.js';
import type { OperationRecord } from '../../../../store/operations.js';
import { putSecret } from '../../../../store/secrets.js';
import type { RequestContext } from '../context.js';
import { loadCluster, type ClusterPath } from './cluster-path.js';
import { requireRole } from './authorize.js';
import type { clusterHandlers } from './clusters.js';
import { takeSealedResult } from './sealed-result.js';

/** Consul's rule for peer names: a DNS label (we also require a leading letter). */
const PEER_NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function peerNameProblems(peerName: unknown): ErrorDetail[] {
  if (typeof peerName === 'string' && PEER_NAME.test(peerName)) return [];
  return [
    detail(
      'InvalidPeerName',
      `peerName must be 1 to 63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen; got ${describeValue(peerName)}`,
      'peerName',
    ),
  ];
}

/** A Consul peering token is base64 of a JSON document naming the peer's servers. */
function peeringTokenProblems(token: unknown): ErrorDetail[] {
  const refuse = (why: string) => [
    detail('InvalidPeeringToken', `peeringToken ${why}: give the token generatePeeringToken returned on the other cluster`, 'peeringToken'),
  ];
  if (typeof token !== 'string' || token === '') return refuse('is required');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    return refuse('is not a Consul peering token (not base64 of JSON)');
  }
  const d = doc as { ServerAddresses?: unknown; ServerName?: unknown } | null;
  if (
    !d ||
    typeof d !== 'object' ||
    !Array.isArray(d.ServerAddresses) ||
    d.ServerAddresses.length === 0 ||
    typeof d.ServerName !== 'string'
  )
    return refuse('is not a Consul peering token (it names no server addresses)');
  return [];
}

type StartAction = ReturnType<typeof clusterHandlers>['startAction'];

export function peeringHandlers(deps: { db: SqlDatabase; sealer: SecretBox; startAction: StartAction }) {
  /** Who may act and on what comes before what they sent: another tenant learns nothing from a 400. */
  async function authorize(req: ClusterPath, ctx: RequestContext): Promise<void> {
    requireRole(ctx, 'operator');
    await loadCluster(deps.db, ctx, req);
  }

  return {
    async generatePeeringToken(req: ClusterPath & { peerName?: unknown }, ctx: RequestContext) {
      await authorize(req, ctx);
      throwIfAny(peerNameProblems(req.peerName));
      const { operation } = await deps.startAction(req, ctx, 'peeringtoken', { params: { peerName: req.peerName as string } });
      return { operation };
    },

    async establishPeering(req: ClusterPath & { peerName?: unknown; peeringToken?: unknown }, ctx: RequestContext) {
      await authorize(req, ctx);
      throwIfAny([...peerNameProblems(req.peerName), ...peeringTokenProblems(req.peeringToken)]);
      const { operation } = await deps.startAction(req, ctx, 'peering', {
        params: { peerName: req.peerName as string },
        write: async (tx, cluster, operationId) => {
          const name = peeringTokenInputName(operationId);
          const sealed = deps.sealer.seal(JSON.stringify({ peeringToken: req.peeringToken }), sealContext(cluster.resourceKey, name));
          await putSecret(tx, cluster.resourceKey, name, sealed);
        },
      });
      return { operation };
    },

    /** The result of a finished generatePeeringToken operation: the token, once (sealed-result.ts). */
    peeringTokenResult(op: OperationRecord, ctx: RequestContext): Promise<{ peerName: string; peeringToken: string }> {
      return takeSealedResult(deps, op, ctx, {
        name: peeringTokenResultName(op.operationId),
        shown: 'a peering token',
        again: 'run generatePeeringToken again',
      });
    },
  };
}
