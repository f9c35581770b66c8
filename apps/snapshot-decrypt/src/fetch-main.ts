// `npm run snapshot:fetch -- --account-url <url> --container <name> --blob <name> --out <file>` (see fetch.ts).
import { CommandError } from './decrypt.js';
import { fetchBlob, parseFetchArgs } from './fetch.js';

try {
  const args = parseFetchArgs(process.argv.slice(2));
  const bytes = await fetchBlob(args);
  process.stdout.write(`fetched ${args.container}/${args.blob} to ${args.out} (${bytes} bytes)\n`);
} catch (err) {
  process.stderr.write(`snapshot-fetch: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof CommandError ? err.exitCode : 1);
}
