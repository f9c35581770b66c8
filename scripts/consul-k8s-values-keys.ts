// Prints the key paths a consul-k8s Helm chart documents in its values.yaml, one a line, under a
// header naming the chart version: the list domain/helm-values.test.ts checks our values against.
//   npx tsx scripts/consul-k8s-values-keys.ts <values.yaml> <chart version> > test/fixtures/consul-k8s-values-keys.txt
// (values.yaml is charts/consul/values.yaml of github.com/hashicorp/consul-k8s at tag v<chart version>.)
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { helmKeyPaths } from './helm-key-paths.js';

const [valuesFile, chartVersion] = process.argv.slice(2);
if (!valuesFile || !chartVersion || !/^\d+\.\d+\.\d+$/.test(chartVersion)) {
  console.error('usage: npx tsx scripts/consul-k8s-values-keys.ts <values.yaml> <chart version, e.g. 1.9.11>');
  process.exit(2);
}
const values: unknown = parse(readFileSync(valuesFile, 'utf8'));
if (values === null || typeof values !== 'object' || !('externalServers' in values)) {
  console.error(`${valuesFile} does not look like the consul-k8s chart's values.yaml (no externalServers)`);
  process.exit(1);
}
const paths = helmKeyPaths(values);
process.stdout.write(
  [
    `# Key paths documented by the consul-k8s Helm chart ${chartVersion}: charts/consul/values.yaml of`,
    `# github.com/hashicorp/consul-k8s at tag v${chartVersion}. Mapping keys dotted from the top, parents`,
    '# included; lists and scalars are leaves. Generated, do not edit; regenerate with',
    `#   npx tsx scripts/consul-k8s-values-keys.ts <values.yaml> ${chartVersion} > test/fixtures/consul-k8s-values-keys.txt`,
    ...paths,
    '',
  ].join('\n'),
);
