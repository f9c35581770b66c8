// The load generator of runPacedApart (paced-apart.ts), in a process of its own: runs runPaced
// with the options given as JSON in its first argument and prints the figures as JSON.
import { runPaced } from './http-load.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof runPaced>[0];
const f = await runPaced(options);
process.stdout.write(JSON.stringify({ seconds: f.seconds, non2xx: f.non2xx, errors: f.errors, sorted: Array.from(f.sorted) }));
