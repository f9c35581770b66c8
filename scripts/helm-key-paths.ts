// The key paths of a Helm values document ('global.tls.enabled'): every mapping key, dotted
// from the top, parents included. Lists and scalars are leaves, as a chart documents a list's
// items as a type, not as keys. scripts/consul-k8s-values-keys.ts lists the chart's with it and
// domain/helm-values.test.ts checks ours against that list.

/** Every key path of the values, sorted; a key with a dot in it is refused (its path would be ambiguous). */
export function helmKeyPaths(values: unknown): string[] {
  const paths: string[] = [];
  const walk = (node: unknown, prefix: string): void => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
    for (const [key, child] of Object.entries(node)) {
      if (key.includes('.')) throw new Error(`the key "${key}" under "${prefix || '(top)'}" has a dot; its path would be ambiguous`);
      const path = prefix ? `${prefix}.${key}` : key;
      paths.push(path);
      walk(child, path);
    }
  };
  walk(values, '');
  return paths.sort();
}

/** The key paths of the values that the documented list does not hold. */
export function undocumentedKeys(values: unknown, documented: ReadonlySet<string>): string[] {
  return helmKeyPaths(values).filter((p) => !documented.has(p));
}

/** A key list as the fixture holds it: one path a line, '#' comment lines and blank lines skipped. */
export function parseKeyList(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
  );
}
