// `npm run snapshot:decrypt -- --in <file> --key-file <file> --out <file>` (see decrypt.ts).
import { CommandError, decryptFile, parseDecryptArgs } from './decrypt.js';

try {
  const args = parseDecryptArgs(process.argv.slice(2));
  const bytes = await decryptFile(args);
  process.stdout.write(`decrypted ${args.in} to ${args.out} (${bytes} bytes)\n`);
} catch (err) {
  process.stderr.write(`snapshot-decrypt: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof CommandError ? err.exitCode : 1);
}
