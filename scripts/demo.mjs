// `npm run demo [-- --json]`: the Hello, Retail! attack end to end. See scripts/demo/main.ts.
import { runTs } from './run-ts.mjs';

await runTs('scripts/demo/main.ts', 'demo', process.argv.slice(2));
