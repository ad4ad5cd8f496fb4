// The key vocabulary: what each event becomes, and that varying details (pids, ports the kernel
// picks, temp-file names) do not change a key while a change in behaviour does.
import { hostClass, keyOf, keysOf, pathClass, portClass, sockClass } from '../../collector/detect/keys';

const sys = (o: Record<string, unknown>) => ({ kind: 'syscall', success: true, exit: 0, pid: 10, ppid: 1, comm: 'node', exe: '/usr/bin/node', paths: [], ...o });

describe('object classes', () => {
  test('paths', () => {
    expect(pathClass('/tmp/x.js')).toBe('/tmp/*');
    expect(pathClass('/var/tmp/a')).toBe('/tmp/*');
    expect(pathClass('/dev/shm/a')).toBe('/tmp/*');
    expect(pathClass('/tmp/../etc/passwd')).toBe('/etc');
    expect(pathClass('/home/app/node_modules/x/index.js')).toBe('node_modules');
    expect(pathClass('/usr/lib/x86_64-linux-gnu/libc.so.6')).toBe('runtime');
    expect(pathClass('/lib64/ld-linux-x86-64.so.2')).toBe('runtime');
    expect(pathClass('/bin/sh')).toBe('runtime');
    expect(pathClass('/proc/self/status')).toBe('/proc');
    expect(pathClass('/dev/null')).toBe('/dev');
    expect(pathClass('/home/app/handler.js')).toBe('app');
    expect(pathClass('handler.js', '/srv/fn')).toBe('cwd');
    expect(pathClass('/srv/fn/data.json', '/srv/fn')).toBe('cwd');
    expect(pathClass('/srv/fnx/data.json', '/srv/fn')).toBe('other');
    expect(pathClass('handler.js')).toBe('relative');
    expect(pathClass('pipe:[1234]')).toBe('anon');
    expect(pathClass('/opt/x')).toBe('other');
  });

  test('hosts and ports', () => {
    expect(hostClass('127.0.0.1')).toBe('loopback');
    expect(hostClass('localhost')).toBe('loopback');
    expect(hostClass('::1')).toBe('loopback');
    expect(hostClass('[::1]')).toBe('loopback');
    expect(hostClass('::ffff:10.1.2.3')).toBe('private');
    expect(hostClass('10.0.0.8')).toBe('private');
    expect(hostClass('172.20.1.1')).toBe('private');
    expect(hostClass('172.32.1.1')).toBe('public');
    expect(hostClass('192.168.1.1')).toBe('private');
    expect(hostClass('fd00::1')).toBe('private');
    expect(hostClass('8.8.8.8')).toBe('public');
    expect(hostClass('2001:db8::1')).toBe('public');
    expect(hostClass('0.0.0.0')).toBe('any');
    expect(hostClass('evil.example')).toBe('name');
    expect([53, 80, 443, 22, 8080, 54321, 0, undefined, '8080'].map(portClass)).toEqual(['dns', 'http', 'https', 'system', 'registered', 'dynamic', 'none', 'none', 'registered']);
    expect(sockClass({ family: 'inet', address: '93.184.216.34', port: 443 })).toBe('net:public:https');
    expect(sockClass({ family: 'AF_INET6', address: '::1', port: 50000 })).toBe('net:loopback:dynamic');
    expect(sockClass({ family: 'unix', path: '/run/x.sock' })).toBe('unix');
    expect(sockClass({ family: 'netlink' })).toBe('netlink');
  });
});

describe('keys per event kind', () => {
  test('invocation boundaries and status class', () => {
    expect(keyOf({ kind: 'invocation.start' })).toBe('invocation.start');
    expect(keyOf({ kind: 'invocation.end', status: 200 })).toBe('invocation.end:2xx');
    expect(keyOf({ kind: 'invocation.end', status: 502 })).toBe('invocation.end:5xx');
  });

  test('outgoing calls: callee by name, anything else by host and port class', () => {
    expect(keyOf({ kind: 'http.out', host: '127.0.0.1', port: 41234, callee: 'get-price' })).toBe('invoke:get-price');
    expect(keyOf({ kind: 'http.out', host: '127.0.0.1', port: 41234, url: 'http://127.0.0.1:41234/x' })).toBe('http.out:loopback:registered');
    expect(keyOf({ kind: 'http.out', host: 'api.stripe.com', url: 'https://api.stripe.com/v1' })).toBe('http.out:name:https');
  });

  test('application events', () => {
    expect(keyOf({ kind: 'app.module', path: '/tmp/payload.js', external: true })).toBe('app.module:external:/tmp/*');
    expect(keyOf({ kind: 'app.module', path: '/home/app/node_modules/a/b.js', external: false })).toBe('app.module:image');
    expect(keyOf({ kind: 'app.file', op: 'write', path: '/tmp/payload.js' })).toBe('app.file:write:/tmp/*');
    expect(keyOf({ kind: 'app.spawn', command: '/bin/sh', argv: ['-c', 'x'] })).toBe('app.spawn:sh');
    expect(keyOf({ kind: 'app.spawn', command: 'curl -s http://x' })).toBe('app.spawn:curl');
  });

  test('syscalls: name, object class, outcome', () => {
    expect(keyOf(sys({ syscall: 'openat', paths: [{ name: '/tmp/', nametype: 'PARENT' }, { name: '/tmp/a1b2.js', nametype: 'CREATE' }] }))).toBe('sys:openat:/tmp/*:ok');
    expect(keyOf(sys({ syscall: 'openat', success: false, exit: -2, paths: [{ name: 'x.json', nametype: 'UNKNOWN' }], cwd: '/srv/fn' }))).toBe('sys:openat:cwd:fail');
    expect(keyOf(sys({ syscall: 'connect', sockaddr: { family: 'inet', address: '203.0.113.9', port: 8443 } }))).toBe('sys:connect:net:public:registered:ok');
    expect(keyOf(sys({ syscall: 'connect', sockaddr: { family: 'unix', path: '/var/run/nscd/socket' } }))).toBe('sys:connect:unix:ok');
    expect(keyOf(sys({ syscall: 'execve', exe: '/usr/bin/curl', paths: [{ name: '/usr/bin/curl', nametype: 'NORMAL' }] }))).toBe('sys:execve:runtime:curl:ok');
    // A program outside the image is classed by place only: names cannot grow the vocabulary.
    expect(keyOf(sys({ syscall: 'execve', exe: '/tmp/x9f3', paths: [{ name: '/tmp/x9f3', nametype: 'NORMAL' }] }))).toBe('sys:execve:/tmp/*:ok');
    expect(keyOf(sys({ syscall: 'clone' }))).toBe('sys:clone:-:ok');
  });

  test('varying details do not change a key', () => {
    const a = keyOf(sys({ syscall: 'connect', pid: 1, sockaddr: { family: 'inet', address: '127.0.0.1', port: 50001 } }));
    const b = keyOf(sys({ syscall: 'connect', pid: 99, sockaddr: { family: 'inet', address: '127.0.0.2', port: 61000 } }));
    expect(a).toBe(b);
    expect(keyOf({ kind: 'app.file', op: 'write', path: '/tmp/a' })).toBe(keyOf({ kind: 'app.file', op: 'write', path: '/tmp/b/c' }));
  });

  test('events outside behaviour give no key; unknown kinds still do', () => {
    expect(keyOf({ kind: 'instance.start' })).toBeNull();
    expect(keyOf({ kind: 'source.stats' })).toBeNull();
    expect(keyOf({ kind: 'app.dns' })).toBe('kind:app.dns');
  });

  test('a call seen by both the proxy and the instrumentation is one key', () => {
    const span = '00f067aa0ba902b7';
    const r = keysOf([
      { id: 'e1', kind: 'invocation.start' },
      { id: 'e2', kind: 'http.out', callee: 'publish', spanId: span, source: 'instrumentation' },
      { id: 'e3', kind: 'http.out', callee: 'publish', spanId: span, source: 'proxy' },
      { id: 'e4', kind: 'source.stats' },
      { id: 'e5', kind: 'invocation.end', status: 200 },
    ]);
    expect(r.keys).toEqual(['invocation.start', 'invoke:publish', 'invocation.end:2xx']);
    expect(r.events).toEqual(['e1', 'e2', 'e5']);
  });
});
