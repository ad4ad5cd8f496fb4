// `npm run demo [-- --json]`: bundles the demo (scripts/demo/main.ts, which uses the collector's
// graph and the local stack directly) with esbuild, then runs it. See scripts/demo/main.ts.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// One bundle per run, so two demos (say, a test and a person) never overwrite each other's.
const outfile = join(root, '.alastor', 'cache', `demo-${process.pid}.mjs`);
await build({
  entryPoints: [join(root, 'scripts', 'demo', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['better-sqlite3'],
  logLevel: 'warning',
  // The example's own scripts (attacker, load) stay separate files: they find their neighbours
  // (payload.js) from their own location.
  plugins: [
    {
      name: 'example-scripts-external',
      setup(b) {
        b.onResolve({ filter: /examples\/hello-retail\/.*\.mjs$/ }, (a) => ({ path: join(a.resolveDir, a.path), external: true }));
      },
    },
  ],
  // The TypeScript parts are CommonJS-minded (__dirname, require.resolve): give the ESM bundle both.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);",
  },
});
try {
  const { main } = await import(outfile);
  rmSync(outfile, { force: true });
  await main(process.argv.slice(2));
  process.exit(0);
} catch (e) {
  rmSync(outfile, { force: true });
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  if (process.env.ALASTOR_DEBUG) console.error(e);
  process.exit(1);
}
