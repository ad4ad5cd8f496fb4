// The two-function world of the graph tests (test/graph/fixtures/fn.js): `front` calls `back` on
// every request through the local gateway, plants the payload on step one and runs it on step two.
// Both run under the real fwatchdog in http mode with provenance and audit on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../../cli/stack/gateway';
import { freePort, startWatchdog, type WatchdogHandle } from './watchdog';

export const GRAPH_FN = join(__dirname, '..', 'graph', 'fixtures', 'fn.js');

export interface GraphPair {
  gw: Gateway;
  wds: WatchdogHandle[];
  /** Closes the gateway and removes the spools; the watchdogs stop with stopAllWatchdogs(). */
  close(): Promise<void>;
}

export async function startGraphPair(o: { collectorUrl: string; token: string; payloadUrl: string; plantPath: string }): Promise<GraphPair> {
  const ports = { front: await freePort(), back: await freePort() };
  const gw = await startGateway({ port: await freePort(), host: '127.0.0.1', routes: Object.entries(ports).map(([name, port]) => ({ name, port })) });
  const wds: WatchdogHandle[] = [];
  const spools: string[] = [];
  for (const [name, port] of Object.entries(ports)) {
    const up = await freePort();
    const spool = mkdtempSync(join(tmpdir(), 'alastor-spool-'));
    spools.push(spool);
    wds.push(await startWatchdog({
      env: {
        mode: 'http', port: String(port), fprocess: `${process.execPath} ${GRAPH_FN}`, upstream_url: `http://127.0.0.1:${up}`, UPSTREAM_PORT: String(up),
        suppress_lock: 'true', ALASTOR_COLLECTOR_URL: o.collectorUrl, ALASTOR_TOKEN: o.token, ALASTOR_FUNCTION: name, ALASTOR_GATEWAY_URL: gw.url,
        ALASTOR_SPOOL_DIR: spool, ALASTOR_AUDIT: 'on', FN_ROLE: name,
        PAYLOAD_URL: o.payloadUrl, PLANT_PATH: o.plantPath,
      },
      timeoutMs: 30000,
    }));
  }
  return {
    gw,
    wds,
    close: async () => {
      await gw.close();
      for (const s of spools) rmSync(s, { recursive: true, force: true });
    },
  };
}
