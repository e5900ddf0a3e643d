#!/usr/bin/env node
// Launcher for the mediaflow CLI (cli/main.ts). tsx is a runtime dependency, so this works from a
// clean clone after `npm install`: register tsx's ESM loader in this process, then load the CLI.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
