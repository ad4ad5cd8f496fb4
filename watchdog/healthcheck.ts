// `fwatchdog --run-healthcheck`: exit 0 when the lock file exists, 1 otherwise, for an exec
// health check such as Docker's HEALTHCHECK. Needs no other configuration.
import { lockPresent } from './lock';

export function runHealthcheck(): never {
  if (lockPresent()) process.exit(0);
  process.stderr.write('unable to find lock file.\n');
  process.exit(1);
}
