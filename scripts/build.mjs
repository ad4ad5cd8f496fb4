// Bundles the two entry points with esbuild. fwatchdog must be one self-contained file (it is
// COPY'd into function images with no node_modules); alastor keeps better-sqlite3 external
// because a native addon cannot be bundled, and pg because its connection thread requires it by
// path (collector/store/pg/sync.ts).
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
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

// The graph's HTML export inlines Cytoscape.js so the page needs no network (collector/export/html.ts).
const cytoscapeText = readFileSync(join(root, 'node_modules/cytoscape/dist/cytoscape.min.js'), 'utf8');

await Promise.all([
  build({ ...common, entryPoints: ['watchdog/main.ts'], outfile: 'dist/fwatchdog.js' }),
  build({ ...common, entryPoints: ['cli/main.ts'], outfile: 'dist/alastor.js', external: ['better-sqlite3', 'pg'],
    define: { __ALASTOR_CYTOSCAPE__: JSON.stringify(cytoscapeText) } }),
]);
for (const f of ['dist/fwatchdog.js', 'dist/alastor.js']) chmodSync(join(root, f), 0o755);
