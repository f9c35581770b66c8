// Entry point of the `hcs` command (apps/cli/bin/hcs.mjs loads it): runs the command line and
// exits with its code. Ctrl-C while waiting leaves the operation running on the server.
import { run } from './program.js';

process.once('SIGINT', () => {
  if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n');
  process.stderr.write('interrupted: the operation goes on in the control plane (hcs operation list shows it)\n');
  process.exit(130);
});

process.exitCode = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
