// Where the CLI sends its requests and for which subscription and resource group: each from a
// flag, else its environment variable (commander reads both), else the configuration file
// `config.yaml` in the user's configuration folder ($HCS_CONFIG_DIR, $XDG_CONFIG_HOME/hcs or
// ~/.config/hcs).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { usageError } from './errors.js';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The root command's options, merged with each command's own (commander's optsWithGlobals). */
export interface GlobalOptions {
  endpoint?: string;
  caFile?: string;
  tokenFile?: string;
  subscription?: string;
  resourceGroup?: string;
  output: OutputFormat;
  progress: boolean;
}

/** What config.yaml may hold. */
const FILE_KEYS = ['endpoint', 'caFile', 'subscription', 'resourceGroup'] as const;
type FileSettings = Partial<Record<(typeof FILE_KEYS)[number], string>>;

export function configDir(env: NodeJS.ProcessEnv): string {
  if (env.HCS_CONFIG_DIR) return env.HCS_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'hcs');
}

/** config.yaml of the configuration folder; none is no settings. Unknown keys are refused by name. */
export function readConfigFile(dir: string): FileSettings {
  const file = join(dir, 'config.yaml');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw usageError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw usageError(`${file} must be a mapping of ${FILE_KEYS.join(', ')}`);
  const out: FileSettings = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!(FILE_KEYS as readonly string[]).includes(key)) throw usageError(`${file}: unknown key "${key}" (known: ${FILE_KEYS.join(', ')})`);
    if (typeof value !== 'string') throw usageError(`${file}: ${key} must be a string`);
    out[key as keyof FileSettings] = value;
  }
  return out;
}

export interface Settings {
  endpoint: URL;
  /** PEM CA bundle to trust instead of the system's (self-hosted or local control planes). */
  ca?: string;
  caFile?: string;
  subscription?: string;
  resourceGroup?: string;
}

/** The settings for a request: flags and variables first, then config.yaml. */
export function resolveSettings(opts: GlobalOptions, file: FileSettings): Settings {
  const endpointText = opts.endpoint ?? file.endpoint;
  if (!endpointText) throw usageError('no API endpoint: give --endpoint URL, set HCS_ENDPOINT, or put endpoint in config.yaml');
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw usageError(`--endpoint must be an https:// or http:// URL; got "${endpointText.slice(0, 80)}"`);
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') throw usageError(`--endpoint must be an https:// or http:// URL`);
  if (endpoint.username || endpoint.password) throw usageError('--endpoint must not carry credentials; use --token-file or HCS_TOKEN');
  const caFile = opts.caFile ?? file.caFile;
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw usageError(`the CA file ${caFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const subscription = opts.subscription ?? file.subscription;
  const resourceGroup = opts.resourceGroup ?? file.resourceGroup;
  return {
    endpoint,
    ...(ca ? { ca, caFile } : {}),
    ...(subscription ? { subscription } : {}),
    ...(resourceGroup ? { resourceGroup } : {}),
  };
}
