// The destroy's fallback, as logic (terraform and Resource Manager as recorders): a destroy that
// fails because a resource is in use deletes the cluster's own resource group and destroys again;
// any other failure, or a group without the cluster's id, changes nothing and fails as it came.
// (test/lifecycle/delete-orphaned-resources.test.ts runs it for real: terraform, the ARM twin.)
import { MockActivityEnvironment } from '@temporalio/testing';
import { expect, it } from 'vitest';
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan } from '../domain/cluster-plan.js';
import { CLUSTER_ID_TAG } from './cluster-names.js';
import { createInfrastructureActivities, resourceInUse } from './infrastructure.js';

const plan: ClusterPlan = {
  resourceKey: '/subscriptions/s/resourcegroups/rg/providers/hcs.consul/clusters/c1',
  name: 'c1',
  location: 'westeurope',
  datacenter: 'dc1',
  serverCount: 1,
  consulVersion: '1.22.7',
  cidr: '10.0.0.0/16',
  publicEndpoint: false,
  owner: { clusterId: 'id-c1' },
  infraResourceGroup: 'hcs-c1-id',
  fqdn: 'c1.example.test',
  container: 'c1-id',
  terraformState: 'c1-id',
};

const inUse = () =>
  Object.assign(workerFailure('TerraformFailed', 'terraform destroy failed (exit 1)', 'Error: deleting Resource'), {
    output: 'ERROR CODE: InUseSubnetCannotBeDeleted\nSubnet default is in use by .../virtualMachineScaleSets/c1-server-0',
  });

/** The activities over recorders: `destroys` fail in turn with the given errors (then succeed). */
function world(o: { destroys: Error[]; tags?: Record<string, string> }) {
  const calls: string[] = [];
  const failures = [...o.destroys];
  const activities = createInfrastructureActivities({
    terraform: {
      terraformApply: () => Promise.reject(new Error('not used')),
      terraformDestroy: async (input) => {
        calls.push(`destroy ${input.state} deleteState=${String(input.deleteState)}`);
        const next = failures.shift();
        if (next) throw next;
        return 'destroyed';
      },
    },
    infrastructure: { moduleDir: '/m', rootSubdir: 'root', variables: {} },
    resourceGroups: {
      tags: async (name) => (calls.push(`tags ${name}`), o.tags),
      delete: async (name) => void calls.push(`delete group ${name}`),
    },
  });
  const run = () => new MockActivityEnvironment().run((a: { plan: ClusterPlan }) => activities.destroyInfrastructure(a), { plan });
  return { calls, run };
}

it('a resource in use: the cluster-tagged group is deleted and the destroy runs again', async () => {
  const w = world({ destroys: [inUse()], tags: { [CLUSTER_ID_TAG]: 'id-c1', 'hcs-cluster': 'c1' } });
  await w.run();
  expect(w.calls).toEqual(['destroy c1-id deleteState=true', 'tags hcs-c1-id', 'delete group hcs-c1-id', 'destroy c1-id deleteState=true']);
});

it('a group of another cluster, a group without the tag or no group: nothing deleted, the failure stands', async () => {
  const cases: Array<Record<string, string> | undefined> = [{ [CLUSTER_ID_TAG]: 'id-other' }, {}, undefined];
  for (const tags of cases) {
    const failure = inUse();
    const w = world({ destroys: [failure], tags });
    await expect(w.run()).rejects.toMatchObject({ type: 'TerraformFailed', message: failure.message });
    expect(w.calls).toEqual(['destroy c1-id deleteState=true', 'tags hcs-c1-id']);
  }
});

it('any other failure fails as it came, without touching the group', async () => {
  const w = world({ destroys: [workerFailure('TerraformFailed', 'terraform destroy failed (exit 1)', 'Error: 403 AuthorizationFailed')] });
  await expect(w.run()).rejects.toMatchObject({ type: 'TerraformFailed' });
  expect(w.calls).toEqual(['destroy c1-id deleteState=true']);
});

it('a second destroy that fails again reports its own failure', async () => {
  const w = world({ destroys: [inUse(), inUse()], tags: { [CLUSTER_ID_TAG]: 'id-c1' } });
  await expect(w.run()).rejects.toMatchObject({ type: 'TerraformFailed' });
  expect(w.calls.filter((c) => c.startsWith('delete group'))).toHaveLength(1);
});

it('tells an in-use refusal from the rest by its Azure code, in the tail or the whole output', () => {
  expect(resourceInUse(inUse())).toBe(true);
  expect(resourceInUse(workerFailure('TerraformFailed', 'terraform destroy failed (exit 1)', 'ERROR CODE: NicInUse'))).toBe(true);
  expect(resourceInUse(workerFailure('TerraformFailed', 'terraform destroy failed (exit 1)', 'ERROR CODE: Conflict'))).toBe(false);
  expect(resourceInUse(new Error('InUseSubnetCannotBeDeleted'))).toBe(false);
  expect(resourceInUse(workerFailure('TerraformStateLocked', 'locked', 'InUse'))).toBe(false);
});
