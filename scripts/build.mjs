// Bundles the two entry points with esbuild. fwatchdog must be one self-contained file (it is
// COPY'd into function images with no node_modules); alastor keeps better-sqlite3 external
// because a native addon cannot be bundled.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
  absWorkingDir: root,
};

await Promise.all([
  build({ ...common, entryPoints: ['watchdog/main.ts'], outfile: 'dist/fwatchdog.js' }),
  build({ ...common, entryPoints: ['cli/main.ts'], outfile: 'dist/alastor.js', external: ['better-sqlite3'] }),
]);
for (const f of ['dist/fwatchdog.js', 'dist/alastor.js']) chmodSync(join(root, f), 0o755);
