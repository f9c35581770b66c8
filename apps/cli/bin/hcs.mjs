#!/usr/bin/env node
// The `hcs` command (package.json "bin"): runs the CLI's TypeScript source through tsx's loader,
// as the repository runs its other tools (npm run snapshot:decrypt), from wherever it is called.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
