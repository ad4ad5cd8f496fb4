// `npm run e2e:containers` (as root; podman, runc, debootstrap, auditd installed): Hello, Retail!
// built into real images and run as containers with the audit agent on the host. Bundles
// scripts/e2e-containers/main.ts with esbuild (like the demo) and runs it. `--no-build` reuses
// images from an earlier run. See docs/containers.md.
import { build } from 'esbuild';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, '.alastor', 'cache', `e2e-containers-${process.pid}.mjs`);
mkdirSync(dirname(outfile), { recursive: true });
await build({
  entryPoints: [join(root, 'scripts', 'e2e-containers', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['better-sqlite3'],
  logLevel: 'warning',
  plugins: [
    {
      name: 'example-scripts-external',
      setup(b) {
        b.onResolve({ filter: /examples\/hello-retail\/.*\.mjs$/ }, (a) => ({ path: join(a.resolveDir, a.path), external: true }));
      },
    },
  ],
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
  process.stderr.write(`e2e:containers: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
