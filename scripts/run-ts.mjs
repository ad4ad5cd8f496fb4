// Runs a TypeScript script entry (one exporting `main(argv)`) by bundling it with esbuild first:
// the demo and the container run use the collector's graph and the local stack directly, and
// those are TypeScript. One bundle per run, so two runs (a test and a person) never collide.
import { build } from 'esbuild';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function runTs(entry, name, argv) {
  const outfile = join(root, '.alastor', 'cache', `${name}-${process.pid}.mjs`);
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(root, entry)],
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
    await main(argv);
    process.exit(0);
  } catch (e) {
    rmSync(outfile, { force: true });
    process.stderr.write(`${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.ALASTOR_DEBUG) console.error(e);
    process.exit(1);
  }
}
