// Copies of Azure common-types (resource-management v5) shapes the document needs, kept local so
// the generated document is self-contained (no $ref into a checkout of azure-rest-api-specs).
// Deviations from common-types are marked. Our own ARM decisions live in arm-table.ts.
type Json = Record<string, unknown>;

export const stringEnum = (name: string, description: string, values: string[]): Json => ({
  type: 'string',
  description,
  enum: values,
  'x-ms-enum': { name, modelAsString: true },
});

/**
 * Global parameters. Deviations: subscriptionId has no `format: uuid` (LintDiff GuidUsage flags
 * it outside common-types), and subscriptionId/api-version say `x-ms-parameter-location:
 * client` (LintDiff XmsParameterLocation asks local global parameters to say where they go).
 */
export const COMMON_PARAMETERS: Record<string, Json> = {
  SubscriptionIdParameter: {
    name: 'subscriptionId',
    in: 'path',
    required: true,
    type: 'string',
    description: 'The ID of the target subscription. The value must be an UUID.',
    'x-ms-parameter-location': 'client',
  },
  ResourceGroupNameParameter: {
    name: 'resourceGroupName',
    in: 'path',
    required: true,
    type: 'string',
    pattern: '^[-\\w\\._\\(\\)]+$',
    minLength: 1,
    maxLength: 90,
    description: 'The name of the resource group. The name is case insensitive.',
    'x-ms-parameter-location': 'method',
  },
  ApiVersionParameter: {
    name: 'api-version',
    in: 'query',
    required: true,
    type: 'string',
    minLength: 1,
    description: 'The API version to use for this operation.',
    'x-ms-parameter-location': 'client',
  },
  LocationParameter: {
    name: 'location',
    in: 'path',
    required: true,
    type: 'string',
    minLength: 1,
    description: 'The name of the Azure region.',
    'x-ms-parameter-location': 'method',
  },
  OperationIdParameter: {
    name: 'operationId',
    in: 'path',
    required: true,
    type: 'string',
    minLength: 1,
    description: 'The ID of an ongoing async operation.',
    'x-ms-parameter-location': 'method',
  },
};

export const COMMON_DEFINITIONS: Record<string, Json> = {
  CreatedByType: stringEnum('createdByType', 'The type of identity that created or modified the resource.', [
    'User',
    'Application',
    'ManagedIdentity',
    'Key',
  ]),
  ErrorResponse: {
    type: 'object',
    title: 'Error response',
    description: 'Common error response for all Azure Resource Manager APIs to return error details for failed operations.',
    properties: { error: { $ref: '#/definitions/ErrorDetail', description: 'The error object.' } },
  },
  // The Operations API (common-types v5 Operation, OperationDisplay, OperationListResult).
  Operation: {
    type: 'object',
    title: 'REST API Operation',
    description: 'Details of a REST API operation, returned from the Resource Provider Operations API',
    properties: {
      name: {
        type: 'string',
        readOnly: true,
        description:
          'The name of the operation, as per Resource-Based Access Control (RBAC). Examples: "Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/capture/action"',
      },
      isDataAction: {
        type: 'boolean',
        readOnly: true,
        description:
          'Whether the operation applies to data-plane. This is "true" for data-plane operations and "false" for ARM/control-plane operations.',
      },
      display: { $ref: '#/definitions/OperationDisplay', description: 'Localized display information for this particular operation.' },
      origin: {
        ...stringEnum(
          'Origin',
          'The intended executor of the operation; as in Resource Based Access Control (RBAC) and audit logs UX. Default value is "user,system"',
          ['user', 'system', 'user,system'],
        ),
        readOnly: true,
      },
      actionType: {
        ...stringEnum('ActionType', 'Enum. Indicates the action type. "Internal" refers to actions that are for internal only APIs.', [
          'Internal',
        ]),
        readOnly: true,
      },
    },
  },
  OperationDisplay: {
    type: 'object',
    description: 'Localized display information for an operation.',
    properties: {
      provider: { type: 'string', readOnly: true, description: 'The localized friendly form of the resource provider name.' },
      resource: {
        type: 'string',
        readOnly: true,
        description: 'The localized friendly name of the resource type related to this operation.',
      },
      operation: { type: 'string', readOnly: true, description: 'The concise, localized friendly name for the operation.' },
      description: {
        type: 'string',
        readOnly: true,
        description: 'The short, localized friendly description of the operation; suitable for tool tips and detailed views.',
      },
    },
  },
  OperationListResult: {
    type: 'object',
    description:
      'A list of REST API operations supported by an Azure Resource Provider. It contains an URL link to get the next set of results.',
    properties: {
      value: {
        type: 'array',
        readOnly: true,
        items: { $ref: '#/definitions/Operation' },
        'x-ms-identifiers': ['name'],
        description: 'List of operations supported by the resource provider',
      },
      nextLink: {
        type: 'string',
        format: 'uri',
        readOnly: true,
        description: 'URL to get the next set of operation list results (if there are any).',
      },
    },
  },
};

export const SECURITY_DEFINITIONS: Json = {
  azure_auth: {
    type: 'oauth2',
    authorizationUrl: 'https://login.microsoftonline.com/common/oauth2/authorize',
    flow: 'implicit',
    description: 'Azure Active Directory OAuth2 Flow.',
    scopes: { user_impersonation: 'impersonate your user account' },
  },
};
