// Tables owned by collector/graph/. Append steps; see collector/store/migrations.ts.
//
// The graph is derived data: every row here can be rebuilt from `events` (rebuildGraph). Nodes get
// an integer key so the edge indexes stay small; `id` is the readable, stable name used outside.
// Edges point from the dependent to its cause, as W3C PROV writes them (used: activity -> entity),
// so a backward trace follows src -> dst with time <= bound and a forward trace dst -> src.
export const GRAPH_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE graph_nodes (
    nid        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    label      TEXT    NOT NULL,
    time       INTEGER,
    instance   TEXT,
    invocation TEXT,
    attrs      TEXT    NOT NULL DEFAULT '{}'
  );
  CREATE INDEX graph_nodes_invocation ON graph_nodes(invocation);
  CREATE INDEX graph_nodes_kind ON graph_nodes(kind, label);

  CREATE TABLE graph_edges (
    eid       INTEGER PRIMARY KEY,
    src       INTEGER NOT NULL,
    dst       INTEGER NOT NULL,
    relation  TEXT    NOT NULL,
    time      INTEGER NOT NULL,
    evidence  TEXT    NOT NULL,
    trust     TEXT,
    attrs     TEXT,
    -- Set only on edges that later evidence may rewrite (the caller link of an invocation).
    key       TEXT,
    event_seq INTEGER
  );
  CREATE INDEX graph_edges_src_time ON graph_edges(src, time);
  CREATE INDEX graph_edges_dst_time ON graph_edges(dst, time);
  CREATE UNIQUE INDEX graph_edges_key ON graph_edges(key) WHERE key IS NOT NULL;

  -- Stitching state, so updateGraph can continue where it stopped.
  CREATE TABLE graph_state (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
  CREATE TABLE graph_invocations (
    invocation     TEXT PRIMARY KEY,
    function       TEXT NOT NULL,
    instance       TEXT NOT NULL,
    trace_id       TEXT,
    span_id        TEXT,
    parent_span_id TEXT,
    start_ts       INTEGER NOT NULL
  );
  CREATE INDEX graph_invocations_span ON graph_invocations(span_id);
  CREATE INDEX graph_invocations_parent ON graph_invocations(parent_span_id);
  CREATE INDEX graph_invocations_trace ON graph_invocations(trace_id);
  -- Outgoing calls to other functions as each recorder saw them (proxy = confirmed).
  CREATE TABLE graph_calls (
    span_id    TEXT NOT NULL,
    trace_id   TEXT,
    invocation TEXT,
    function   TEXT NOT NULL,
    callee     TEXT,
    source     TEXT NOT NULL,
    event_seq  INTEGER NOT NULL,
    answered_at INTEGER NOT NULL
  );
  CREATE INDEX graph_calls_span ON graph_calls(span_id);
  -- Current version of each path per instance, and the last version number per (instance, path, inode).
  CREATE TABLE graph_files (
    instance TEXT NOT NULL, path TEXT NOT NULL, inode INTEGER, version INTEGER NOT NULL, nid INTEGER NOT NULL,
    PRIMARY KEY (instance, path)
  );
  CREATE TABLE graph_file_counters (
    instance TEXT NOT NULL, path TEXT NOT NULL, inode INTEGER NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (instance, path, inode)
  );
  -- Live process per (instance, pid). born_in: the invocation whose process tree it belongs to.
  CREATE TABLE graph_procs (
    instance TEXT NOT NULL, pid INTEGER NOT NULL, nid INTEGER NOT NULL, born_in TEXT, execed INTEGER NOT NULL,
    PRIMARY KEY (instance, pid)
  );
  `,
  // Covering indexes for the walks: a step reads only the index, never the table's rows.
  `
  DROP INDEX graph_edges_src_time;
  DROP INDEX graph_edges_dst_time;
  CREATE INDEX graph_edges_src_time ON graph_edges(src, time, relation, dst, trust);
  CREATE INDEX graph_edges_dst_time ON graph_edges(dst, time, relation, src, trust);
  `,
  // How sure each recorder was about which invocation made a call (events/attribution.ts).
  `
  ALTER TABLE graph_calls ADD COLUMN level TEXT;
  ALTER TABLE graph_calls ADD COLUMN also_in TEXT;
  `,
  // A function's connections to its own egress proxy (from audit) and the calls the proxy recorded
  // (with the connecting pid), so each call's message is joined with the kernel's connect.
  `
  CREATE TABLE graph_proxy_socks (instance TEXT NOT NULL, pid INTEGER NOT NULL, ts INTEGER NOT NULL, nid INTEGER NOT NULL);
  CREATE INDEX graph_proxy_socks_pid ON graph_proxy_socks(instance, pid, ts);
  CREATE TABLE graph_proxy_msgs (instance TEXT NOT NULL, pid INTEGER NOT NULL, ts INTEGER NOT NULL, nid INTEGER NOT NULL);
  CREATE INDEX graph_proxy_msgs_pid ON graph_proxy_msgs(instance, pid, ts);
  `,
];
