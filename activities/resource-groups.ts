// The cluster's infrastructure resource group through Resource Manager (@azure/arm-resources; the
// ARM twin locally): read its tags, delete it with everything in it. The destroy path uses it
// when Terraform cannot finish (infrastructure.ts).
import type { ResourceManagementClient } from '@azure/arm-resources';

export interface ResourceGroups {
  /** The group's tags ({} for none); undefined when the group does not exist. */
  tags(name: string): Promise<Record<string, string> | undefined>;
  /** Deletes the group and every resource in it; resolves once Azure reports it gone. */
  delete(name: string): Promise<void>;
}

/** How often the SDK polls the deletion (Azure's own Retry-After wins when given). */
const POLL_MS = 1_000;

export function armResourceGroups(client: ResourceManagementClient): ResourceGroups {
  return {
    async tags(name) {
      try {
        return (await client.resourceGroups.get(name)).tags ?? {};
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw err;
      }
    },
    async delete(name) {
      await client.resourceGroups.beginDeleteAndWait(name, { updateIntervalInMs: POLL_MS });
    },
  };
}
