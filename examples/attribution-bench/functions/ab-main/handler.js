'use strict';
// The acting function of the attribution benchmark (scripts/bench-attribution.mjs).
//
// The bench sends a plan in the JSON body; this handler carries it out and does nothing else, so
// the bench knows every act of every request. Every act names the request's id (a file path, a
// URL, an argv, a per-request loopback address), which is how the bench finds the true request
// of each recorded act afterwards without trusting any recorder. The steps come in the order the
// plan gives, with awaits between them, so that concurrent requests interleave in the one upstream
// process that serves them all (http mode): that is what makes attribution hard.
//
// Steps (the plan shuffles them; bg is always last):
//   file    write /tmp/ab/<id>.w, wait, read it back
//   sink    fetch http://127.0.0.1:SINK/sink/<id>: fetch is routed through the egress proxy (HTTP_PROXY)
//   direct  node:http GET to the request's own loopback address 127.77.x.y:PORT/direct/<id>, no proxy
//   callee  POST to ab-callee through the gateway route (ALASTOR_GATEWAY_URL/function/ab-callee/<id>)
//   child   sh -c "echo <id> > /tmp/ab/<id>.s", awaited
//   plant   write planted-<id>.js into this function's own folder
//   load    require() a file an earlier request planted (named in the plan)
//   bg      a detached sh that sleeps past the response, writes /tmp/ab/<id>.bg and calls SINK/bg/<id>
const fsp = require('node:fs/promises');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');

const GATEWAY = (process.env.ALASTOR_GATEWAY_URL || process.env.gateway_url || '').replace(/\/$/, '');

// Everything below is interpolated into shell commands and paths: accept only the shapes the
// bench generates, so a malformed plan cannot run anything else.
const ID = /^ab-[0-9a-f]{6,16}-c\d{2}-r\d{4}$/;
const PLANTED = /^planted-ab-[0-9a-f]{6,16}-c\d{2}-r\d{4}\.js$/;
const DIR = /^\/[A-Za-z0-9._/-]+$/;
const SINK = /^http:\/\/127\.0\.0\.1:\d{1,5}$/;
const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

const pause = (ms) => new Promise((r) => setTimeout(r, Math.max(0, Number(ms) || 0)));

function run(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(child.pid) : reject(new Error(`${argv.join(' ')}: exit ${code}`))));
  });
}

function directGet(host, port, urlPath) {
  return new Promise((resolve, reject) => {
    // agent: false: a fresh connection per request, so each request's connect is its own syscall.
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: 10000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
  });
}

module.exports = async (event, context) => {
  const plan = event.body || {};
  const { id, dir, sink, direct, steps, waits = {}, load, bg } = plan;
  if (!ID.test(String(id)) || !DIR.test(String(dir)) || !SINK.test(String(sink))) return context.status(400).fail('bad plan: id, dir, sink');
  if (!direct || !LOOPBACK.test(String(direct.host)) || !Number.isInteger(direct.port)) return context.status(400).fail('bad plan: direct');
  if (load !== undefined && !PLANTED.test(String(load))) return context.status(400).fail('bad plan: load');
  if (!Array.isArray(steps)) return context.status(400).fail('bad plan: steps');

  const done = { id, pid: process.pid, steps: [] };
  for (const step of steps) {
    await pause(waits[step]);
    if (step === 'file') {
      const file = path.join(dir, `${id}.w`);
      await fsp.writeFile(file, `${id}\n`);
      await pause(waits.fileRead);
      const back = await fsp.readFile(file, 'utf8');
      if (back !== `${id}\n`) throw new Error(`read back ${JSON.stringify(back)} from ${file}`);
    } else if (step === 'sink') {
      const res = await fetch(`${sink}/sink/${id}?d=${Number(waits.sinkDelay) || 0}`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`sink: HTTP ${res.status}`);
    } else if (step === 'direct') {
      const status = await directGet(direct.host, direct.port, `/direct/${id}?d=${Number(waits.sinkDelay) || 0}`);
      if (status !== 200) throw new Error(`direct: HTTP ${status}`);
    } else if (step === 'callee') {
      const res = await fetch(`${GATEWAY}/function/ab-callee/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-call-id': id },
        body: JSON.stringify({ id, dir, wait: waits.callee }),
      });
      const answer = await res.text();
      if (res.status !== 200) throw new Error(`ab-callee: HTTP ${res.status}: ${answer.slice(0, 200)}`);
      done.calleePid = JSON.parse(answer).pid;
    } else if (step === 'child') {
      done.childPid = await run(['/bin/sh', '-c', `echo ${id} > ${dir}/${id}.s`]);
    } else if (step === 'plant') {
      await fsp.writeFile(path.join(__dirname, `planted-${id}.js`), `module.exports = () => '${id}';\n`);
    } else if (step === 'load') {
      if (!load) continue;
      // A module an earlier request planted in this function's folder: inside "the image" as the
      // template sees it, so only the kernel sees this read.
      done.loaded = require(path.join(__dirname, load))();
    } else if (step === 'bg') {
      // Acts after the response: a process born in this invocation that outlives it.
      const call = bg === 'node'
        ? `${process.execPath} -e "require('http').get('${sink}/bg/${id}', (r) => r.resume())"`
        : `curl -s -o /dev/null --max-time 5 ${sink}/bg/${id}`;
      const child = spawn('/bin/sh', ['-c', `sleep 0.3; echo ${id} > ${dir}/${id}.bg; ${call}`], { detached: true, stdio: 'ignore' });
      child.once('error', () => {});
      child.unref();
      done.bgPid = child.pid;
    } else {
      return context.status(400).fail(`bad plan: step ${step}`);
    }
    done.steps.push(step);
  }
  return context.status(200).succeed(done);
};
