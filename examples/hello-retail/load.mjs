// Normal Hello, Retail! traffic through the gateway (purchases, browsing, photos, new products),
// with the two-step attack optionally hidden in it: `one` after `oneAt` requests, `two` after
// `twoAt`, each an ordinary-looking purchase whose body carries the backdoor's fields.
//   node examples/hello-retail/load.mjs --gateway http://127.0.0.1:8080 [--requests 100] [--concurrency 2]
import { fileURLToPath } from 'node:url';

/** A small deterministic generator, so a run can be repeated. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

const USERS = Array.from({ length: 20 }, (_, i) => `u${String(i + 1).padStart(2, '0')}`);
const PRODUCTS = Array.from({ length: 12 }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);
const CATEGORIES = ['shoes', 'coats', 'bags', 'hats'];

function normalRequest(r, n) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const x = r();
  if (x < 0.5) return { fn: 'product-purchase', body: { id: pick(PRODUCTS), user: pick(USERS) } };
  if (x < 0.75) return { fn: 'catalog-api', query: `?category=${pick(CATEGORIES)}` };
  if (x < 0.85) return { fn: 'catalog-api', query: `?id=${pick(PRODUCTS)}` };
  if (x < 0.95) {
    const photo = Buffer.alloc(256 + Math.floor(r() * 2048), n % 251).toString('base64');
    return { fn: 'product-photos', body: { id: pick(PRODUCTS), photo } };
  }
  return { fn: 'catalog-builder', body: { id: `p${100 + n}`, name: `Seasonal item ${n}`, category: pick(CATEGORIES), price: Math.round(r() * 20000) / 100 } };
}

export async function send(gateway, req) {
  const started = Date.now();
  const res = await fetch(`${gateway}/function/${req.fn}${req.query ?? ''}`, {
    method: req.body ? 'POST' : 'GET',
    headers: req.body ? { 'content-type': 'application/json' } : {},
    body: req.body ? JSON.stringify(req.body) : undefined,
  });
  const text = await res.text();
  return { fn: req.fn, status: res.status, callId: res.headers.get('x-call-id') ?? undefined, at: started, ms: Date.now() - started, text };
}

/**
 * Sends `requests` normal requests (with `concurrency` in flight) and, when `attack` is given,
 * the two attack requests alone at their places. Resolves with counts and the attack requests.
 */
export async function runWorkload({ gateway, requests = 60, concurrency = 2, seed = 42, attack, user = 'u07', log = () => {} }) {
  const r = rng(seed);
  const statuses = {};
  const results = { sent: 0, failed: 0, statuses, attack: {} };
  let n = 0;
  const phase = async (count) => {
    const todo = Array.from({ length: count }, () => normalRequest(r, n++));
    await Promise.all(
      Array.from({ length: Math.max(1, concurrency) }, async () => {
        for (let req = todo.shift(); req; req = todo.shift()) {
          const out = await send(gateway, req).catch((e) => ({ fn: req.fn, status: 0, text: e.message }));
          results.sent++;
          statuses[out.status] = (statuses[out.status] ?? 0) + 1;
          if (out.status === 0 || out.status >= 500) results.failed++;
        }
      }),
    );
  };
  const attackRequest = async (step) => {
    const body = { id: 'p03', user, malicious: step, ...(step === 'one' ? { payloadUrl: attack.payloadUrl } : {}) };
    const out = await send(gateway, { fn: 'product-purchase', body });
    results.sent++;
    results.attack[step] = { callId: out.callId, status: out.status, at: out.at, body };
    log(`  attack step ${step}: purchase by ${user} (X-Call-Id ${out.callId}) -> HTTP ${out.status}`);
  };
  if (!attack) {
    await phase(requests);
    return results;
  }
  const oneAt = attack.oneAt ?? Math.floor(requests / 4);
  const twoAt = attack.twoAt ?? Math.floor((requests * 3) / 4);
  await phase(oneAt);
  await attackRequest('one');
  await phase(twoAt - oneAt);
  await attackRequest('two');
  await phase(requests - twoAt);
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const gateway = arg('gateway', 'http://127.0.0.1:8080');
  const out = await runWorkload({ gateway, requests: Number(arg('requests', 100)), concurrency: Number(arg('concurrency', 2)) });
  console.log(`sent ${out.sent} requests, ${out.failed} failed; statuses ${JSON.stringify(out.statuses)}`);
}
