// The cluster's infrastructure through Terraform: apply (servers and where they are) and
// destroy (everything, with the state). Inputs are references and plain facts; the module's
// provider variables come from the worker's configuration and never hold secrets.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { CLUSTER_ID_TAG } from './cluster-names.js';
import { whileHeartbeating } from './polling.js';
import type { ResourceGroups } from './resource-groups.js';
import type { TerraformApplyResult, TerraformRunInput } from './terraform.js';

export interface InfrastructureDeps {
  terraform: {
    terraformApply(input: TerraformRunInput): Promise<TerraformApplyResult>;
    terraformDestroy(input: TerraformRunInput & { deleteState?: boolean }): Promise<unknown>;
  };
  infrastructure: {
    /** Folder holding the Terraform modules; rootSubdir is the root module inside it. */
    moduleDir: string;
    rootSubdir: string;
    /** Provider and platform variables of the root module (endpoints, identities; never secrets). */
    variables: Record<string, unknown>;
  };
  /** The cluster's infrastructure resource group, for a destroy Terraform cannot finish. */
  resourceGroups: ResourceGroups;
}

/** The root module's run input for `plan` with `serverCount` servers. */
export function terraformInput(
  infrastructure: InfrastructureDeps['infrastructure'],
  plan: ClusterPlan,
  serverCount: number,
): TerraformRunInput {
  return {
    state: plan.terraformState,
    owner: plan.owner,
    moduleDir: infrastructure.moduleDir,
    rootSubdir: infrastructure.rootSubdir,
    variables: {
      ...infrastructure.variables,
      cluster_name: plan.name,
      location: plan.location,
      resource_group_name: plan.infraResourceGroup,
      consul_version: plan.consulVersion,
      server_count: serverCount,
      vnet_cidr: plan.cidr,
      datacenter: plan.datacenter,
      public_endpoint: plan.publicEndpoint,
      blob_container: plan.container,
      cluster_id: plan.owner.clusterId,
    },
  };
}

/** What an apply reports: the servers, and the public endpoint's address (null for a private cluster). */
export interface AppliedInfrastructure {
  servers: ServerInfo[];
  publicIpAddress: string | null;
}

export function createInfrastructureActivities({ terraform, infrastructure, resourceGroups }: InfrastructureDeps) {
  return {
    /** Terraform plan/apply of the cluster's servers; returns where they are and the public endpoint's address. */
    async applyInfrastructure(a: { plan: ClusterPlan; serverCount: number }): Promise<AppliedInfrastructure> {
      const result = await whileHeartbeating(() => terraform.terraformApply(terraformInput(infrastructure, a.plan, a.serverCount)));
      const servers = (result.outputs.servers ?? []) as Array<{
        index: number;
        name: string;
        zone: string;
        private_address: string | null;
      }>;
      const pending = servers.filter((s) => !s.private_address).map((s) => s.name);
      if (pending.length) throw workerFailure('ServerAddressesPending', `no address reported yet for ${pending.join(', ')}`);
      const publicIpAddress = (result.outputs.public_ip_address ?? null) as string | null;
      if (a.plan.publicEndpoint && !publicIpAddress)
        throw workerFailure('ServerAddressesPending', 'the public endpoint has no address yet');
      return {
        servers: servers.map((s) => ({ index: s.index, name: s.name, zone: s.zone, address: s.private_address! })),
        publicIpAddress: a.plan.publicEndpoint ? publicIpAddress : null,
      };
    },

    /**
     * Deletes everything Terraform made for the cluster, and its state. An apply cancelled or
     * killed while a PUT was in flight can leave a resource in the cloud that the state lacks (a
     * server's scale set in the cluster's subnet, say); Terraform's destroy then fails for good
     * because a resource it must delete is in use. Then the cluster's own resource group (the
     * module creates it, tagged with the cluster's id) is deleted with everything in it, and the
     * destroy runs again: it finds those resources gone and deletes the rest (the role
     * assignment outside the group) and the state. A group without the cluster's id is left alone.
     */
    async destroyInfrastructure(a: { plan: ClusterPlan }): Promise<void> {
      const input = { ...terraformInput(infrastructure, a.plan, a.plan.serverCount), deleteState: true };
      await whileHeartbeating(async () => {
        try {
          await terraform.terraformDestroy(input);
          return;
        } catch (err) {
          if (!resourceInUse(err)) throw err;
          const group = a.plan.infraResourceGroup;
          const tags = await resourceGroups.tags(group);
          if (tags?.[CLUSTER_ID_TAG] !== a.plan.owner.clusterId) throw err;
          Context.current().log.warn(
            'terraform destroy: a resource it must delete is in use by one its state lacks; deleting the resource group',
            { resourceGroup: group },
          );
          await resourceGroups.delete(group);
        }
        await terraform.terraformDestroy(input);
      });
    },
  };
}

/**
 * A Terraform failure because Azure refused to delete a resource another one still uses (its
 * error codes: InUseSubnetCannotBeDeleted, NicInUse, PublicIPAddressInUseCannotBeDeleted, ...).
 */
export function resourceInUse(err: unknown): boolean {
  if (!(err instanceof ApplicationFailure) || err.type !== 'TerraformFailed') return false;
  // The whole output rides on the error in the process that ran terraform (the details hold its tail).
  const output = (err as { output?: unknown }).output;
  return [err.message, output, ...(err.details ?? [])].some((t) => typeof t === 'string' && /InUse/.test(t));
}
