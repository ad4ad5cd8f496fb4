// `npm run e2e:containers` (as root; podman, runc, debootstrap, auditd installed): Hello, Retail!
// built into real images and run as containers with the audit agent on the host. `--no-build`
// reuses images from an earlier run. See scripts/e2e-containers/main.ts and docs/containers.md.
import { runTs } from './run-ts.mjs';

await runTs('scripts/e2e-containers/main.ts', 'e2e:containers', process.argv.slice(2));
