export declare const repoRoot: string;
export declare function loadPins(): unknown;
export declare function cacheRoot(): string;
export interface TerraformPaths {
  mirrorDir: string;
  cliConfigFile: string;
  providerSource: string;
  providerVersion: string;
}
export interface ToolPaths {
  temporal: string;
  bao: string;
  terraform: string;
  grpcurl: string;
  /** The production Temporal server (go.temporal.io/server cmd/server) and its SQL schema tool. */
  temporalServer: string;
  temporalSqlTool: string;
  prometheus: string;
  promtool: string;
  jaeger: string;
  /** Consul binaries by release version, e.g. { "1.22.7": "/…/consul" }. */
  consul: Record<string, string>;
  /** Built Consul versions, oldest first. */
  consulVersions: string[];
  terraformConfig: TerraformPaths;
  pebble: string;
  challtestsrv: string;
  /** Debian's binaries, found on PATH. */
  haproxy: string;
  chromium: string;
}
export declare function toolPaths(): ToolPaths;
export declare function terraformPaths(): TerraformPaths;
export declare function compareVersions(a: string, b: string): number;
