'use strict';
// The callee of the attribution benchmark (scripts/bench-attribution.mjs): ab-main calls it through
// the gateway route with the request's id in the path and the body. Its invocation's caller link
// (collector/graph/calls.ts) must name the ab-main invocation of the same id, and its own file act
// (/tmp/ab/<id>.c) must go to its own invocation while other calls are in flight beside it.
const fsp = require('node:fs/promises');
const path = require('node:path');

const ID = /^ab-[0-9a-f]{6,16}-c\d{2}-r\d{4}$/;
const DIR = /^\/[A-Za-z0-9._/-]+$/;
const pause = (ms) => new Promise((r) => setTimeout(r, Math.max(0, Number(ms) || 0)));

module.exports = async (event, context) => {
  const { id, dir, wait } = event.body || {};
  if (!ID.test(String(id)) || !DIR.test(String(dir))) return context.status(400).fail('bad plan: id, dir');
  // The id in the path is the one the bench maps this invocation by; the body must agree.
  if (!event.path.endsWith(`/${id}`)) return context.status(400).fail(`path ${event.path} does not name ${id}`);
  const file = path.join(dir, `${id}.c`);
  await fsp.writeFile(file, `${id}\n`);
  await pause(wait);
  const back = await fsp.readFile(file, 'utf8');
  if (back !== `${id}\n`) throw new Error(`read back ${JSON.stringify(back)} from ${file}`);
  return context.status(200).succeed({ id, pid: process.pid });
};
