// The twin's error vocabulary. Handlers throw CloudError; the router turns it into the ARM error
// body `{ error: { code, message, target } }` with `x-ms-error-code`, exactly once. The codes are
// the ones Azure itself answers with, so clients' error handling can be exercised against the twin.

export class CloudError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
  ) {
    super(message);
    this.name = 'CloudError';
  }

  toBody(): { error: { code: string; message: string; target?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.target ? { target: this.target } : {}) } };
  }
}

export const badRequest = (code: string, message: string, target?: string): CloudError => new CloudError(400, code, message, target);

export const resourceNotFound = (id: string): CloudError => {
  const { type, name, rg } = describeId(id);
  return new CloudError(
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
};

export const resourceGroupNotFound = (name: string): CloudError =>
  new CloudError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);

export const parentNotFound = (parentName: string): CloudError =>
  new CloudError(
    404,
    'ParentResourceNotFound',
    `Can not perform requested operation on nested resource. Parent resource '${parentName}' not found.`,
  );

export const conflict = (code: string, message: string): CloudError => new CloudError(409, code, message);

export const unauthenticated = (code: string, message: string): CloudError => new CloudError(401, code, message);

export const authorizationFailed = (principalId: string, action: string, scope: string): CloudError =>
  new CloudError(
    403,
    'AuthorizationFailed',
    `The client '${principalId}' with object id '${principalId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );

/** Provider type and names of a resource id, for messages. */
function describeId(id: string): { type: string; name: string; rg: string } {
  const parts = id.split('/').filter(Boolean);
  const rgIndex = parts.findIndex((p) => p.toLowerCase() === 'resourcegroups');
  const rg = rgIndex >= 0 ? (parts[rgIndex + 1] ?? '') : '';
  const p = parts.findIndex((x) => x.toLowerCase() === 'providers');
  if (p < 0) return { type: 'Microsoft.Resources/resourceGroups', name: rg, rg };
  const rest = parts.slice(p + 1);
  const ns = rest[0] ?? '';
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 1; i < rest.length; i += 2) {
    types.push(rest[i] ?? '');
    names.push(rest[i + 1] ?? '');
  }
  return { type: [ns, ...types].join('/'), name: names.join('/'), rg };
}
