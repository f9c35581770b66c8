// What every handler knows about the call besides its input, for both transports.
export type Role = 'reader' | 'operator' | 'admin';

export interface Caller {
  /** Who called: certificate thumbprint, token subject or operator token name. */
  subject: string;
  /** arm: Azure Resource Manager itself (certificate or ARM token); operator: our own tokens. */
  kind: 'arm' | 'user' | 'operator';
  role: Role;
  /** Subscriptions the caller may see; '*' for ARM and all-subscription operator tokens. */
  subscriptions: '*' | string[];
  /** The application (appid or azp claim) a JWT was issued to; recorded in the audit log. */
  applicationId?: string;
  /** A user token with the HCS.SRE app role (our own engineers: workflow payloads). */
  sre?: boolean;
}

export interface RequestContext {
  requestId: string;
  correlationId: string;
  caller: Caller;
  /** The JSON body exactly as received (REST) or the message as JSON (gRPC), for precise validation. */
  rawBody?: unknown;
  /** ARM's x-ms-arm-resource-system-data header, parsed. */
  systemData?: Record<string, string>;
  /** Base URL (scheme://host) for Location / Azure-AsyncOperation / nextLink URLs. */
  baseUrl: string;
  apiVersion: string;
}
