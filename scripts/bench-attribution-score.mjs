// Scoring of the attribution benchmark (scripts/bench-attribution.mjs): reads the collector's store
// after the run and judges every recorded act against what the generator knows.
//
// Ground truth never comes from a recorder. It comes from names the generator chose: every act of
// request <id> names <id> (file /tmp/ab/<id>.w, URL /sink/<id>, argv of the shells, the request's
// own loopback address for the direct call), plus the pids the handler reported for the processes
// it spawned (for their children that name nothing, e.g. `sleep 0.3`: their ppid is such a pid).
// The planted module is the one object two requests touch: its create belongs to the planter,
// every other open of it to the loader the plan named.
//
// The recorders' verdicts are read from the events as they are on the wire (events/attribution.ts):
// `invocation` + `attribution` (exact | corroborated | claimed | guess) + `alsoIn`. Events from
// producers that do not label yet: a named invocation with alsoIn is a guess; without, it counts as
// exact but is tallied as unlabelled, except an http.out whose own `evidence` says claimed (an
// OpenTelemetry span), which is a claim. A wrong invocation at any level above guess is the one
// thing that must never happen; each one is returned in full in `wrong`, never folded into a rate.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * What the collector says of each call the function reported itself: `alastor events` joins it
 * with the egress proxy's record or the kernel's connect (collector/query/corroborate.ts). The
 * bench reads the product's own answer rather than judging the join itself. Map event id -> that
 * `corroboration` object.
 */
export function corroborationsOf(dbFile, cli) {
  const out = execFileSync(process.execPath, [cli, 'events', '--db', dbFile, '--kind', 'http.out', '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const m = new Map();
  for (const e of JSON.parse(out)) if (e.corroboration) m.set(e.id, e.corroboration);
  return m;
}

export const LEVELS = ['exact', 'corroborated', 'claimed', 'guess'];
const STRONG = new Set(['exact', 'corroborated']);
const MAIN = 'ab-main';
const CLONES = new Set(['clone', 'clone3', 'fork', 'vfork']);
/**
 * The acts the rates are computed over (see expectedActs): per request, the spawns (the upstream's
 * clone) and execs, the opens and creates of its files, its connects, its outgoing calls as each
 * recorder saw them. Every other event of the requests' processes (exit_group, a shell's vfork,
 * opens of /dev/null, curl's failed connects to nscd) is scored too, apart, so a wrong one still
 * counts against "wrong above guess" without those many small events swamping the rates.
 */
export const CORE_ACTS = new Set([
  's.clone', 's.exec', 's.create', 'bg.clone', 'bg.exec', 'sleep.exec', 'bg.create', 'bgcall.exec', 'bgcall.connect',
  'w.create', 'w.read', 'c.create', 'c.read', 'plant.create', 'plant.read', 'direct.connect',
  'sink.proxy', 'sink.otlp', 'direct.proxy', 'direct.otlp', 'call.proxy', 'call.otlp', 'bg.proxy', 'bg.otlp',
]);
const CALLEE = 'ab-callee';

/** Which code decided the attribution of an event, for the report of a wrong one. */
function producerOf(ev) {
  if (ev.kind === 'syscall') return 'audit tailer (watchdog/audit)';
  if (ev.kind === 'http.out' && ev.source === 'proxy') return 'egress proxy (watchdog/provenance/egress.ts + call-owner.ts)';
  if (ev.kind.startsWith('app.')) return 'template app span (function-templates/template/node-alastor/alastor-otel.js, mapped by collector/ingest/otlp.ts)';
  if (ev.kind === 'http.out') return 'template OpenTelemetry span (function-templates/template/node-alastor/alastor-otel.js, mapped by collector/ingest/otlp.ts)';
  return ev.kind;
}

/**
 * The level an event gives its invocation, and whether the producer said so itself. A call the
 * function reported is worth what the collector's join makes of it (`corr`, see corroborationsOf):
 * corroborated when the proxy or the kernel names the same invocation firmly, else a claim.
 */
export function levelOf(ev, corr) {
  if (!ev.invocation) return { level: 'unattributed', labelled: true };
  if (corr && ev.kind === 'http.out') return { level: corr.attribution === 'corroborated' ? 'corroborated' : 'claimed', labelled: true, raw: `${corr.attribution} by ${corr.by}` };
  if (ev.attribution !== undefined) {
    // An unknown label is read as a firm one: a producer's new word must not hide an error.
    return { level: LEVELS.includes(ev.attribution) ? ev.attribution : 'exact', labelled: LEVELS.includes(ev.attribution), raw: ev.attribution };
  }
  if (ev.alsoIn?.length) return { level: 'guess', labelled: false };
  if (ev.kind === 'http.out' && ev.evidence === 'claimed') return { level: 'claimed', labelled: false };
  // app.* events come only from the template's own spans: the function's word by construction.
  if (ev.kind.startsWith('app.')) return { level: 'claimed', labelled: false };
  return { level: 'exact', labelled: false };
}

/**
 * What kind of act an event is, from the generator's point of view (the keys `expected` uses).
 * `create` tells a file's creation (the PATH record's nametype CREATE, or `write` from the open's
 * flags) from a later open of it.
 */
function actKey(ev, ctx) {
  if (ev.kind === 'app.file') return `app.file ${ev.op}`;
  if (ev.kind === 'app.spawn' || ev.kind === 'app.module') return ev.kind;
  if (ev.kind === 'http.out') {
    const src = ev.source === 'proxy' ? 'proxy' : 'otlp';
    let p = '';
    try {
      p = new URL(ev.url).pathname;
    } catch {
      p = ev.url;
    }
    if (ev.callee || p.startsWith('/function/')) return `call.${src}`;
    if (p.startsWith('/sink/')) return `sink.${src}`;
    if (p.startsWith('/direct/')) return `direct.${src}`;
    if (p.startsWith('/bg/')) return `bg.${src}`;
    return `http.${src}`;
  }
  const sc = ev.syscall;
  if (CLONES.has(sc) && ev.pid === ctx.upstreamPid.get(ev.function)) {
    const born = ctx.spawnedPid.entry(ev.exit, ev.ts);
    if (born) return `${born.what === 'bg' ? 'bg' : 's'}.clone`;
  }
  const text = [...(ev.argv ?? []), ev.proctitle ?? ''].join(' ');
  if (sc === 'execve' || sc === 'execveat') {
    const prog = String(ev.argv?.[0] ?? ev.exe ?? '').split('/').pop();
    if (prog === 'sleep') return 'sleep.exec';
    if (prog === 'curl' || (prog === 'node' && text.includes('/bg/'))) return 'bgcall.exec';
    if (prog === 'sh' && text.includes('sleep ')) return 'bg.exec';
    if (prog === 'sh' && /\.s\b/.test(text)) return 's.exec';
    return `exec:${prog}`;
  }
  if (sc === 'connect' && ev.sockaddr) {
    if (ctx.directByAddr.has(`${ev.sockaddr.address}:${ev.sockaddr.port}`)) return 'direct.connect';
    // curl's failed AF_UNIX connects to nscd are its acts too, but not the call: kept apart.
    if (/\/bg\//.test(text) && ev.sockaddr.family?.startsWith('inet')) return 'bgcall.connect';
    return 'connect';
  }
  if (/^(open|openat|openat2|creat)$/.test(sc)) {
    for (const p of ev.paths ?? []) {
      // A write open: the PATH record's CREATE, or the open's own flags where the producer sends them.
      const created = p.nametype === 'CREATE' || ev.write === true;
      const m = /(?:\.(w|s|bg|c)|(planted-[^/]+\.js))$/.exec(p.name);
      if (!m) continue;
      if (m[2]) return created ? 'plant.create' : 'plant.read';
      const what = m[1];
      if (what === 'w' || what === 'c') return `${what}.${created ? 'create' : 'read'}`;
      return `${what}.create`; // .s and .bg are written by the shell's redirection only
    }
    return 'open';
  }
  return sc;
}

/**
 * The true (function, request id) of an event, or undefined when it names none of ours.
 * `conflict` is set when the names disagree among themselves or with the reported pids: then the
 * bench itself does not know, and says so rather than scoring.
 */
function truthOf(ev, ctx) {
  const names = [];
  if (ev.kind === 'http.out') names.push(ev.url ?? '');
  else if (ev.kind.startsWith('app.')) names.push(ev.path ?? '', ev.target ?? '', ev.command ?? '', ...(ev.argv ?? []));
  else {
    for (const p of ev.paths ?? []) names.push(p.name ?? '');
    names.push(...(ev.argv ?? []), ev.proctitle ?? '');
  }
  const ids = new Set();
  let planted;
  for (const n of names) {
    for (const m of n.matchAll(ctx.idPattern)) ids.add(m[0]);
    const pm = /planted-(ab-[0-9a-f]+-c\d{2}-r\d{4})\.js/.exec(n);
    if (pm) planted = pm[1];
  }
  if (ev.kind === 'syscall' && ev.sockaddr?.address) {
    const rid = ctx.directByAddr.get(`${ev.sockaddr.address}:${ev.sockaddr.port}`);
    if (rid) ids.add(rid);
  }
  let rid;
  let how = 'name';
  if (planted && ev.kind !== 'http.out') {
    // Only the planter creates it; any other open is the load the plan gave a later request.
    const created = ev.kind === 'app.file'
      ? ev.op === 'create' || ev.op === 'write'
      : ev.write === true || (ev.paths ?? []).some((p) => p.nametype === 'CREATE' && p.name.includes(`planted-${planted}.js`));
    const loader = ctx.loaderOf.get(planted);
    if (created) rid = planted;
    else if (loader) {
      rid = loader;
      how = 'plan (loader of the planted file)';
    } else return { conflict: `an open of planted-${planted}.js that no planned load explains` };
    ids.delete(planted);
    if (ids.size && !(ids.size === 1 && ids.has(rid))) return { conflict: `names ${[...ids].join(', ')} beside planted-${planted}.js` };
  } else if (ids.size > 1) {
    return { conflict: `names several requests: ${[...ids].join(', ')}` };
  } else if (ids.size === 1) {
    rid = [...ids][0];
  }
  if (ev.kind === 'syscall' && !rid && CLONES.has(ev.syscall) && ev.pid === ctx.upstreamPid.get(ev.function)) {
    // The upstream forking a child the handler reported: the spawn itself, an act of that request
    // that only time can place (the upstream serves every request).
    const born = ctx.spawnedPid.entry(ev.exit, ev.ts);
    if (born) return { rid: born.rid, fn: ev.function, how: `clone result ${ev.exit} the handler reported` };
  }
  if (ev.kind === 'syscall') {
    const byPid = ctx.spawnedPid.get(ev.pid, ev.ts);
    if (byPid === null) return rid ? { rid, fn: ev.function, how } : undefined; // a reused pid: names only
    if (rid && byPid && byPid !== rid) return { conflict: `names ${rid} but pid ${ev.pid} was spawned by ${byPid}` };
    if (!rid && byPid) {
      rid = byPid;
      how = 'pid the handler reported';
    }
    if (!rid && ev.pid !== ctx.upstreamPid.get(ev.function)) {
      const byParent = ctx.spawnedPid.get(ev.ppid, ev.ts);
      if (byParent) {
        rid = byParent;
        how = `parent pid ${ev.ppid} the handler reported`;
      }
    }
  }
  return rid ? { rid, fn: ev.function, how } : undefined;
}

const pct = (a, b) => (b ? (100 * a) / b : null);

function emptyTally() {
  return {
    acts: 0,
    correct: { exact: 0, corroborated: 0, claimed: 0 },
    unlabelled: { exact: 0, claimed: 0 },
    wrongAboveGuess: 0,
    guess: { all: 0, right: 0 },
    unattributed: 0,
    missing: 0,
    byAct: {},
  };
}

/**
 * Scores one run.
 *   dbFile    the collector's SQLite store
 *   manifest  what the generator did (bench-attribution.mjs writes it): requests with their plans
 *             and answers, the planted files, the sink's hits, whether audit was on
 */
export function score(dbFile, manifest, corroborations = new Map()) {
  const Database = require('better-sqlite3');
  const db = new Database(dbFile, { fileMustExist: true });
  try {
    return scoreDb(db, manifest, corroborations);
  } finally {
    db.close();
  }
}

function scoreDb(db, manifest, corroborations) {
  const idPattern = new RegExp(`ab-${manifest.run}-c\\d{2}-r\\d{4}`, 'g');
  const requests = new Map(manifest.requests.map((r) => [r.id, r]));
  const phaseOf = (rid) => requests.get(rid)?.phase;
  const directByAddr = new Map(manifest.requests.map((r) => [`${r.plan.direct.host}:${r.plan.direct.port}`, r.id]));
  const loaderOf = new Map();
  for (const r of manifest.requests) if (r.plan.load) loaderOf.set(/planted-(.+)\.js$/.exec(r.plan.load)[1], r.id);
  // Pids of processes the handlers spawned (sh children, background shells), each valid only
  // around its request (from the send to 15 s after the answer: the background shell lives ~0.4 s
  // past it). pid_max can be small (32768 here) and the machine is shared, so a pid can come back;
  // two requests claiming one pid at the same moment make it useless (null): then only names decide.
  const spawned = new Map();
  for (const r of manifest.requests) {
    for (const [pid, what] of [[r.answer?.childPid, 'child'], [r.answer?.bgPid, 'bg']]) {
      if (!pid) continue;
      if (!spawned.has(pid)) spawned.set(pid, []);
      spawned.get(pid).push({ rid: r.id, what, from: (r.sentAt - 1000) * 1000, to: (r.doneAt + 15000) * 1000 });
    }
  }
  const spawnedPid = {
    get(pid, tsUs) {
      return this.entry(pid, tsUs)?.rid ?? (this.entry(pid, tsUs) === null ? null : undefined);
    },
    entry(pid, tsUs) {
      const live = (spawned.get(pid) ?? []).filter((x) => x.from <= tsUs && tsUs <= x.to);
      if (live.length > 1) return null;
      return live[0];
    },
  };
  const upstreamPid = new Map();
  for (const r of manifest.requests) {
    if (r.answer?.pid) upstreamPid.set(MAIN, r.answer.pid);
    if (r.answer?.calleePid) upstreamPid.set(CALLEE, r.answer.calleePid);
  }
  const ctx = { idPattern, directByAddr, loaderOf, spawnedPid, upstreamPid };

  // Invocations -> the request they served, from the id in the path (the bench puts it there) or X-Call-Id.
  const inv = new Map();
  const invOf = new Map(); // `${fn}|${rid}` -> [invocation]
  const rowsOf = (sql, ...a) => db.prepare(sql).all(...a);
  for (const row of rowsOf(`SELECT invocation, function, body FROM events WHERE kind = 'invocation.start'`)) {
    const e = JSON.parse(row.body);
    const m = `${e.path ?? ''} ${e.callId ?? ''}`.match(idPattern);
    const rid = m ? m[0] : undefined;
    inv.set(e.invocation, { fn: e.function, rid, start: e.ts, seq: e.seq, instance: e.instance });
    if (rid) {
      const k = `${e.function}|${rid}`;
      if (!invOf.has(k)) invOf.set(k, []);
      invOf.get(k).push(e.invocation);
    }
  }
  for (const row of rowsOf(`SELECT invocation, body FROM events WHERE kind = 'invocation.end'`)) {
    const e = JSON.parse(row.body);
    const i = inv.get(e.invocation);
    if (i) i.end = e.ts;
  }
  const describeInv = (id) => {
    if (!id) return '(none)';
    const i = inv.get(id);
    if (!i) return `${id} (no invocation.start in the store)`;
    return `${id} = ${i.fn} ${i.rid ?? '(no request id)'}`;
  };
  const sameRequest = (id, truth) => {
    const i = id && inv.get(id);
    return !!i && i.fn === truth.fn && i.rid === truth.rid;
  };

  const phases = new Map();
  const tallyOf = (phase) => {
    if (!phases.has(phase)) phases.set(phase, { ...emptyTally(), other: emptyTally(), callers: { calls: 0, confirmed: 0, claimed: 0, wrong: 0, guessRight: 0, guessWrong: 0, flagged: 0, unlinked: 0, missing: 0 } });
    return phases.get(phase);
  };
  for (const c of manifest.concurrency) tallyOf(c);
  const wrong = [];
  const inconsistent = [];
  const conflicts = [];
  const unnamed = {};
  const found = new Map(); // `${rid}|${key}` -> count
  const byActAll = {};
  const bump = (o, key, field) => {
    o[key] ??= { acts: 0, strong: 0, claimed: 0, wrong: 0, guessRight: 0, guessWrong: 0, unattributed: 0 };
    o[key].acts++;
    o[key][field]++;
  };

  // app.* (the template's own spans: files written, spawns, modules) are records of the same acts
  // from inside the function; they are scored with the other events (not in the rates).
  const stmt = db.prepare(`SELECT seq, kind, function, body FROM events WHERE kind IN ('syscall', 'http.out', 'app.file', 'app.spawn', 'app.module') AND function IN (?, ?) ORDER BY seq`);
  for (const row of stmt.iterate(MAIN, CALLEE)) {
    const ev = JSON.parse(row.body);
    const truth = truthOf(ev, ctx);
    const key = actKey(ev, ctx);
    if (!truth) {
      unnamed[`${ev.kind}:${key}`] = (unnamed[`${ev.kind}:${key}`] ?? 0) + 1;
      continue;
    }
    if (truth.conflict) {
      conflicts.push({ event: ev.id, kind: ev.kind, key, conflict: truth.conflict });
      continue;
    }
    const phase = phaseOf(truth.rid);
    if (phase === undefined) {
      conflicts.push({ event: ev.id, kind: ev.kind, key, conflict: `names ${truth.rid}, which the generator never sent` });
      continue;
    }
    found.set(`${truth.rid}|${key}`, (found.get(`${truth.rid}|${key}`) ?? 0) + 1);
    const core = CORE_ACTS.has(key);
    const t = core ? tallyOf(phase) : tallyOf(phase).other;
    t.acts++;
    const { level, labelled, raw } = levelOf(ev, corroborations.get(ev.id));
    // A firm label with candidates beside it, or a guess with none, is a producer contradicting
    // itself: scored by its label (the stricter reading for a firm one), and counted.
    if ((ev.alsoIn?.length && ev.attribution && ev.attribution !== 'guess') || (ev.attribution === 'guess' && !ev.alsoIn?.length)) {
      inconsistent.push({ event: ev.id, act: key, attribution: ev.attribution, alsoIn: ev.alsoIn ?? [] });
    }
    let field;
    if (level === 'unattributed') {
      t.unattributed++;
      field = 'unattributed';
    } else if (level === 'guess') {
      // A guess is allowed to name the wrong invocation, as long as the right one is a candidate.
      const cands = [ev.invocation, ...(ev.alsoIn ?? [])];
      t.guess.all++;
      const right = cands.some((c) => sameRequest(c, truth));
      if (right) t.guess.right++;
      field = right ? 'guessRight' : 'guessWrong';
    } else if (sameRequest(ev.invocation, truth)) {
      t.correct[level]++;
      if (!labelled) t.unlabelled[level]++;
      field = STRONG.has(level) ? 'strong' : 'claimed';
    } else {
      t.wrongAboveGuess++;
      field = 'wrong';
      const right = invOf.get(`${truth.fn}|${truth.rid}`) ?? [];
      const named = inv.get(ev.invocation);
      const rel = (i) => (i ? `[${((i.start - ev.ts) / 1000).toFixed(1)} ms, ${i.end !== undefined ? `${((i.end - ev.ts) / 1000).toFixed(1)} ms` : 'open'}]` : '');
      wrong.push({
        phase,
        act: key,
        core,
        producer: producerOf(ev),
        level: labelled ? level : `${level} (unlabelled)`,
        label: raw,
        basis: ev.basis,
        event: ev.id,
        ts: ev.ts,
        truth: { request: truth.rid, function: truth.fn, how: truth.how, invocations: right },
        named: describeInv(ev.invocation),
        alsoIn: (ev.alsoIn ?? []).map(describeInv),
        // Windows relative to the act: [start - act, end - act] in ms; the true one should contain 0.
        windows: { named: rel(named), truth: right.map((r) => rel(inv.get(r))).join(' ') },
        contradiction: ev.contradiction,
        what:
          ev.kind === 'syscall'
            ? { syscall: ev.syscall, pid: ev.pid, ppid: ev.ppid, comm: ev.comm, exit: ev.exit, paths: (ev.paths ?? []).map((p) => `${p.name} (${p.nametype})`), sockaddr: ev.sockaddr, argv: ev.argv, proctitle: ev.proctitle }
            : { source: ev.source, url: ev.url, callee: ev.callee, pid: ev.pid, lineage: ev.lineage, claimedInvocation: ev.claimedInvocation, spanId: ev.spanId },
      });
    }
    bump(tallyOf(phase).byAct, key, field);
    bump(byActAll, key, field);
  }

  // Acts the generator knows happened but no event records. Only for steps the handler reported
  // done (a failed request's plan may not have run), and only what the recorders are meant to see.
  const missingList = [];
  for (const r of manifest.requests) {
    if (!r.answer) continue;
    for (const key of expectedActs(r, manifest)) {
      if (!found.has(`${key.rid ?? r.id}|${key.act}`)) {
        tallyOf(r.phase).missing++;
        missingList.push({ phase: r.phase, request: key.rid ?? r.id, act: key.act });
      }
    }
  }

  // Caller links: every call ab-main made to ab-callee must come out as a confirmed link from the
  // callee's invocation to the caller's (graph_invocations / the invocation node's callerTrust).
  const node = db.prepare(`SELECT attrs FROM graph_nodes WHERE id = ?`);
  const edgesOf = db.prepare(`SELECT n.id FROM graph_edges e JOIN graph_nodes n ON n.nid = e.dst WHERE e.key = ? OR e.key LIKE ?`);
  const callerList = [];
  for (const r of manifest.requests) {
    if (!r.answer?.steps?.includes('callee')) continue;
    const t = tallyOf(r.phase).callers;
    t.calls++;
    const callees = invOf.get(`${CALLEE}|${r.id}`) ?? [];
    if (!callees.length) {
      t.missing++;
      callerList.push({ phase: r.phase, request: r.id, verdict: 'missing', detail: 'no ab-callee invocation for it in the store' });
      continue;
    }
    const callee = callees[0];
    const attrs = JSON.parse(node.get(`inv:${callee}`)?.attrs ?? '{}');
    const truth = { fn: MAIN, rid: r.id };
    const right = attrs.caller && sameRequest(attrs.caller, truth);
    let verdict;
    if (attrs.callerTrust === 'confirmed' || attrs.callerTrust === 'claimed') verdict = right ? attrs.callerTrust : 'wrong';
    else if (attrs.callerTrust === 'guess') {
      // A guessed link is one wasInformedBy edge per candidate (keys caller:<inv> and caller:<inv>:altN).
      const cands = edgesOf.all(`caller:${callee}`, `caller:${callee}:alt%`).map((e) => e.id.replace(/^inv:/, ''));
      verdict = cands.some((c) => sameRequest(c, truth)) ? 'guessRight' : 'guessWrong';
    } else if (attrs.callerTrust === 'flagged') verdict = 'flagged';
    else verdict = attrs.callerTrust ? 'wrong' : 'unlinked'; // an unknown trust word is read as a firm one
    t[verdict]++;
    if (verdict !== 'confirmed') {
      const item = { phase: r.phase, request: r.id, verdict, callee, trust: attrs.callerTrust, caller: describeInv(attrs.caller), flagged: attrs.flagged, callees: callees.length };
      callerList.push(item);
      if (verdict === 'wrong') {
        wrong.push({
          phase: r.phase, act: 'caller link', producer: 'collector graph (collector/graph/calls.ts) from the call as the egress proxy / OpenTelemetry recorded it',
          level: attrs.callerTrust, truth: { request: r.id, function: MAIN, invocations: invOf.get(`${MAIN}|${r.id}`) ?? [] },
          named: describeInv(attrs.caller), callee: describeInv(callee),
        });
      }
    }
  }

  // What producers say they lost: losses explain missing acts.
  const losses = {};
  for (const row of rowsOf(`SELECT body FROM events WHERE kind = 'source.stats' AND function IN (?, ?)`, MAIN, CALLEE)) {
    const e = JSON.parse(row.body);
    for (const [k, v] of Object.entries(e.counters ?? {})) if (/lost|drop|garbage|incomplete|oversize|bad/i.test(k) && v) losses[k] = (losses[k] ?? 0) + v;
  }

  const out = [];
  for (const c of manifest.concurrency) {
    const t = phases.get(c);
    const strong = t.correct.exact + t.correct.corroborated;
    // The same rate without the OpenTelemetry spans' records (*.otlp), which are claims unless a
    // producer corroborates them: shows how much of the gap is theirs.
    const spans = Object.entries(t.byAct).filter(([k]) => k.endsWith('.otlp') && CORE_ACTS.has(k));
    const spanActs = spans.reduce((a, [, x]) => a + x.acts, 0);
    const spanStrong = spans.reduce((a, [, x]) => a + x.strong, 0);
    out.push({
      concurrency: c,
      requests: manifest.requests.filter((r) => r.phase === c).length,
      requestsOk: manifest.requests.filter((r) => r.phase === c && r.ok).length,
      ...t,
      strongCorrectPct: pct(strong, t.acts),
      strongWithoutSpansPct: pct(strong - spanStrong, t.acts - spanActs),
      callers: { ...t.callers, confirmedPct: pct(t.callers.confirmed, t.callers.calls) },
    });
  }
  return { phases: out, byAct: byActAll, wrong, inconsistent, conflicts, missing: missingList, callers: callerList, unnamed, losses, invocations: inv.size };
}

/** The acts each completed step must leave in the store, as act keys (see actKey). */
export function expectedActs(r, manifest) {
  const steps = new Set(r.answer.steps ?? []);
  const audit = manifest.audit;
  const acts = [];
  const add = (act, on = true, rid) => on && acts.push({ act, rid });
  if (steps.has('file')) {
    add('w.create', audit);
    add('w.read', audit);
  }
  if (steps.has('sink')) {
    add('sink.proxy');
    add('sink.otlp');
  }
  if (steps.has('direct')) {
    add('direct.connect', audit);
    add('direct.otlp');
  }
  if (steps.has('callee')) {
    add('call.proxy');
    add('call.otlp');
    add('c.create', audit);
    add('c.read', audit);
  }
  if (steps.has('child')) {
    add('s.clone', audit);
    add('s.exec', audit);
    add('s.create', audit);
  }
  if (steps.has('plant')) add('plant.create', audit);
  // Reads are audited only under the read directories (/tmp by default): the stack's folder is there.
  if (steps.has('load')) add('plant.read', audit && manifest.plantedReadAudited);
  if (steps.has('bg') && manifest.bgDone?.includes(r.id)) {
    add('bg.clone', audit);
    add('bg.exec', audit);
    add('sleep.exec', audit);
    add('bg.create', audit);
    add('bgcall.exec', audit);
    add('bgcall.connect', audit);
    add('bg.proxy', manifest.bgViaProxy?.includes(r.id));
  }
  return acts;
}
