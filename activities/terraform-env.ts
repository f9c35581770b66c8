// The environment terraform (and every provider and provisioner it starts) runs with: built from
// an allow-list, never the worker's whole environment. The worker holds the OpenBao token, the
// payload keys, the store's database URL and storage keys; terraform needs none of them, and
// whatever a child process sees, a provider bug, a crash dump or a debug log can leak. So it gets
// what any program needs, the proxy and CA settings, the managed-identity settings the azapi
// provider authenticates with, what its state backend needs, and the driver's explicit extras.

/** Where the state lives (defined here, beside the environment each backend needs; terraform.ts re-exports it). */
export type TerraformBackend =
  | { kind: 'pg'; connStr: string }
  /** State files in a folder (the embedded single-machine default, where no PostgreSQL runs). */
  | { kind: 'local'; dir: string }
  | { kind: 'azurerm'; storageAccountName: string; containerName: string; resourceGroupName: string; useAzureAd: true };

/** Passed through from the worker's environment whatever the backend (when set there). */
export const PASSED_THROUGH = [
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'LC_ALL',
  'TZ',
  // Proxies (Go reads both spellings).
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  // The CAs Go's TLS trusts (the azapi provider's connections to Resource Manager).
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'TF_PLUGIN_CACHE_DIR',
  // The azapi provider's managed identity (App Service protocol) and AKS workload identity.
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'MSI_ENDPOINT',
  'MSI_SECRET',
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_AUTHORITY_HOST',
  'AZURE_FEDERATED_TOKEN_FILE',
] as const;

/**
 * What the azurerm backend authenticates with (Azure AD only: the block sets use_azuread_auth, so
 * the storage account's shared key, ARM_ACCESS_KEY, and SAS tokens are never passed).
 */
export const AZURERM_BACKEND = [
  'ARM_CLIENT_ID',
  'ARM_CLIENT_SECRET',
  'ARM_CLIENT_CERTIFICATE_PATH',
  'ARM_CLIENT_CERTIFICATE_PASSWORD',
  'ARM_TENANT_ID',
  'ARM_SUBSCRIPTION_ID',
  'ARM_ENVIRONMENT',
  'ARM_METADATA_HOSTNAME',
  'ARM_USE_MSI',
  'ARM_MSI_ENDPOINT',
  'ARM_USE_OIDC',
  'ARM_OIDC_TOKEN',
  'ARM_OIDC_TOKEN_FILE_PATH',
  'ARM_OIDC_REQUEST_TOKEN',
  'ARM_OIDC_REQUEST_URL',
  'ARM_USE_AKS_WORKLOAD_IDENTITY',
] as const;

export interface TerraformEnvInput {
  backend: TerraformBackend;
  cliConfigFile: string;
  /** The driver's explicit extras (the twin's CA file, the client secret as TF_VAR_client_secret). */
  extra?: Record<string, string>;
  /** The worker's environment (process.env), read only for the names allowed above. */
  from: NodeJS.ProcessEnv;
}

/** The whole environment of a terraform run. */
export function terraformEnvironment(o: TerraformEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  const pass = (names: readonly string[]) => {
    for (const name of names) {
      const value = o.from[name];
      if (value !== undefined) env[name] = value;
    }
  };
  pass(PASSED_THROUGH);
  // The pg backend takes its connection string from PG_CONN_STR: not on a command line, not in
  // the backend block (terraform copies that into .terraform/ and into every saved plan).
  if (o.backend.kind === 'pg') env.PG_CONN_STR = o.backend.connStr;
  if (o.backend.kind === 'azurerm') pass(AZURERM_BACKEND);
  return {
    ...env,
    ...o.extra,
    TF_CLI_CONFIG_FILE: o.cliConfigFile,
    TF_IN_AUTOMATION: '1',
    CHECKPOINT_DISABLE: '1',
  };
}
