// The cluster's infrastructure through Terraform: apply (servers and where they are) and
// destroy (everything, with the state). Inputs are references and plain facts; the module's
// provider variables come from the worker's configuration and never hold secrets.
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { whileHeartbeating } from './polling.js';
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

export function createInfrastructureActivities({ terraform, infrastructure }: InfrastructureDeps) {
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

    /** Deletes everything Terraform made for the cluster, and its state. */
    async destroyInfrastructure(a: { plan: ClusterPlan }): Promise<void> {
      await whileHeartbeating(() =>
        terraform.terraformDestroy({ ...terraformInput(infrastructure, a.plan, a.plan.serverCount), deleteState: true }),
      );
    },
  };
}
