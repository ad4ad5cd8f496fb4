'use strict';
// Calls to other functions, always through the gateway (see ../functions/shared-note.md). One copy
// for every Node function: stack.yml's configuration.copy puts this folder into each build at
// function/common/, as faas-cli does, so a handler requires ./common/lib.
const GATEWAY = (process.env.ALASTOR_GATEWAY_URL || process.env.gateway_url || 'http://gateway.openfaas:8080').replace(/\/$/, '');

async function call(fn, path, { method = 'GET', body } = {}) {
  const res = await fetch(`${GATEWAY}/function/${fn}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`${fn}${path}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : undefined;
}

/** The key-value store's tables: table(name).get(key), .all(), .put(key, value), .append(value). */
const table = (name) => ({
  get: (key) => call('kv-store', `/tables/${name}/${encodeURIComponent(key)}`),
  all: () => call('kv-store', `/tables/${name}`),
  put: (key, value) => call('kv-store', `/tables/${name}/${encodeURIComponent(key)}`, { method: 'PUT', body: value }),
  append: (value) => call('kv-store', `/tables/${name}`, { method: 'POST', body: value }),
});

module.exports = { GATEWAY, call, table };
