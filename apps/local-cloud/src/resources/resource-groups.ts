// Microsoft.Resources/resourceGroups: PUT and GET are synchronous as in Azure; DELETE is
// asynchronous (202 + Location only, as ARM answers it) and takes everything in the group with it,
// stopping the scale sets' instance processes first.
import { RESOURCE_GROUP_TYPE, type ResourceRef, resourceGroupIdOf } from '../arm-path.js';
import {
  type ArmContext,
  type ArmReply,
  bodyObject,
  checkLocation,
  checkTags,
  type ResourceView,
  type Services,
  systemData,
} from '../context.js';
import { badRequest, CloudError, conflict, resourceGroupNotFound } from '../errors.js';
import type { ResourceRecord } from '../state.js';

const NAME = /^[-\w._()]{1,90}$/;

export const RESOURCE_GROUP_DELETE = 'resourceGroup.delete';

export class ResourceGroups {
  constructor(
    private readonly s: Services,
    /** Removes what lives in the group (stopping instance processes) before the records go. */
    private readonly emptyGroup: (groupId: string) => Promise<void>,
  ) {
    s.operations.register(RESOURCE_GROUP_DELETE, async (op) => {
      await this.emptyGroup(op.resourceId);
      for (const r of s.store.under(op.resourceId)) delete s.store.state.resources[r.id.toLowerCase()];
      s.store.delete(op.resourceId);
    });
  }

  list(subscriptionId: string): ResourceView[] {
    const prefix = `/subscriptions/${subscriptionId}/resourcegroups/`.toLowerCase();
    return Object.entries(this.s.store.state.resources)
      .filter(([k, r]) => k.startsWith(prefix) && r.type === RESOURCE_GROUP_TYPE)
      .map(([, r]) => ({ ...r }));
  }

  /** The group's name in its stored casing (ids are built with it). */
  storedName(ref: ResourceRef): string {
    return this.s.store.get(resourceGroupIdOf(ref.subscriptionId, ref.resourceGroup))?.name ?? ref.resourceGroup;
  }

  async handle(subscriptionId: string, name: string, ctx: ArmContext): Promise<ArmReply> {
    const existing = this.s.store.get(resourceGroupIdOf(subscriptionId, name));
    switch (ctx.method) {
      case 'HEAD':
        return { status: existing ? 204 : 404 };
      case 'GET':
        if (!existing) throw resourceGroupNotFound(name);
        return { status: 200, body: { ...existing } };
      case 'PUT':
        return this.#put(subscriptionId, name, existing, ctx);
      case 'PATCH': {
        if (!existing) throw resourceGroupNotFound(name);
        const tags = checkTags(bodyObject(ctx));
        if (tags) existing.tags = tags;
        existing.systemData = systemData(ctx.principal, existing);
        this.s.store.save();
        return { status: 200, body: { ...existing } };
      }
      case 'DELETE': {
        if (!existing) throw resourceGroupNotFound(name);
        existing.properties.provisioningState = 'Deleting';
        this.s.store.save();
        const op = this.s.operations.start({
          kind: RESOURCE_GROUP_DELETE,
          subscriptionId,
          namespace: 'Microsoft.Resources',
          location: existing.location ?? 'global',
          resourceId: existing.id,
          startedBy: ctx.principal.objectId,
        });
        return {
          status: 202,
          headers: { Location: this.s.operations.resultUrl(op, ctx.baseUrl, ctx.apiVersion), ...this.s.operations.pollHeaders },
        };
      }
      default:
        throw new CloudError(405, 'MethodNotAllowed', `The requested method ${ctx.method} is not allowed on a resource group.`);
    }
  }

  #put(subscriptionId: string, name: string, existing: ResourceRecord | undefined, ctx: ArmContext): ArmReply {
    if (!NAME.test(name) || name.endsWith('.')) {
      throw badRequest(
        'InvalidResourceGroupName',
        `The resource group name '${name}' is invalid: use up to 90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'.`,
      );
    }
    if (existing?.properties.provisioningState === 'Deleting') {
      throw conflict(
        'ResourceGroupBeingDeleted',
        `The resource group '${existing.name}' is in deprovisioning state and cannot perform this operation.`,
      );
    }
    const body = bodyObject(ctx);
    const location = checkLocation(body, existing, name);
    const tags = checkTags(body);
    const record: ResourceRecord = {
      id: resourceGroupIdOf(subscriptionId, name),
      name,
      type: RESOURCE_GROUP_TYPE,
      location,
      ...(tags ? { tags } : {}),
      ...(typeof body.managedBy === 'string' ? { managedBy: body.managedBy } : {}),
      properties: { provisioningState: 'Succeeded' },
    };
    record.systemData = systemData(ctx.principal, existing);
    this.s.store.put(record);
    return { status: existing ? 200 : 201, body: { ...record } };
  }
}
