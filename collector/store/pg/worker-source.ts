// The thread that owns the PostgreSQL connection. It is plain JavaScript run with `eval` so the
// same code serves the bundled CLI and the TypeScript tests (no second entry file to ship); `pg`
// is required by the path the caller resolved. Each request is answered on the port, then the
// shared counter is bumped so the caller, blocked in Atomics.wait, wakes and reads the answer.
export const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const { port, shared, url, appName } = workerData;
const state = new Int32Array(shared);
// Numbers as numbers, as SQLite gives them: int8 (ids, microsecond times, counts) and numeric
// (sum() over int8) fit a double for every value a store holds.
const types = {
  getTypeParser(oid, format) {
    if (oid === 20 || oid === 1700) return (v) => (v === null ? null : Number(v));
    return pg.types.getTypeParser(oid, format);
  },
};
const client = new pg.Client({ connectionString: url, types, keepAlive: true, connectionTimeoutMillis: 10000, application_name: appName });
let broken = null;
client.on('error', (e) => { broken = e; });
const ready = client.connect();
function answer(m) {
  port.postMessage(m);
  Atomics.add(state, 0, 1);
  Atomics.notify(state, 0);
}
port.on('message', async (m) => {
  try {
    await ready;
    if (broken) throw broken;
    if (m.t === 'query') {
      const r = await client.query({ text: m.sql, values: m.params, rowMode: m.raw ? 'array' : undefined });
      answer({ id: m.id, ok: true, rows: r.rows, count: r.rowCount ?? 0 });
    } else if (m.t === 'exec') {
      await client.query(m.sql);
      answer({ id: m.id, ok: true, rows: [], count: 0 });
    } else if (m.t === 'close') {
      await client.end();
      answer({ id: m.id, ok: true, rows: [], count: 0 });
      return;
    }
  } catch (e) {
    answer({ id: m.id, ok: false, error: String((e && e.message) || e), code: e && e.code });
  }
});
`;
