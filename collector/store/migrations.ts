// Schema migrations per component, each applied in order and recorded in schema_version. A
// component appends steps to its own list (in its own schema.ts); never edit a step that has
// shipped, since stores in the field already ran it.
import { INGEST_MIGRATIONS } from '../ingest/schema';
import { GRAPH_MIGRATIONS } from '../graph/schema';
import { DETECT_MIGRATIONS } from '../detect/schema';

export const EVENTS_MIGRATIONS: readonly string[] = [
  // Raw events, append-only. `body` is the exact JSON text received (the batch MAC covers it).
  `
  CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    ts         INTEGER NOT NULL,
    instance   TEXT    NOT NULL,
    function   TEXT    NOT NULL,
    invocation TEXT,
    source     TEXT    NOT NULL,
    batch_seq  INTEGER,
    body       TEXT    NOT NULL
  );
  CREATE INDEX events_invocation ON events(invocation, ts);
  CREATE INDEX events_kind_ts    ON events(kind, ts);
  CREATE INDEX events_instance   ON events(instance, ts);
  CREATE INDEX events_source     ON events(source, batch_seq);

  CREATE TABLE batches (
    source      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    prev        TEXT    NOT NULL,
    mac         TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    received_us INTEGER NOT NULL,
    PRIMARY KEY (source, seq)
  );

  -- What ingest saw go wrong per source: gaps, chain breaks, bad MACs. Kept, never fixed up.
  CREATE TABLE integrity (
    id      INTEGER PRIMARY KEY,
    source  TEXT    NOT NULL,
    seq     INTEGER,
    problem TEXT    NOT NULL,
    detail  TEXT    NOT NULL,
    at_us   INTEGER NOT NULL
  );
  `,
  // A batch's events occupy one range of rowids (one writer stores them back to back), so
  // batches record that range and verify reads by it. That replaces the (source, batch_seq)
  // index, one B-tree fewer to update for every event at ingest. Existing batches get their
  // range from the index before it goes.
  `
  ALTER TABLE batches ADD COLUMN first_event INTEGER;
  ALTER TABLE batches ADD COLUMN last_event INTEGER;
  UPDATE batches SET
    first_event = (SELECT min(e.seq) FROM events e WHERE e.source = batches.source AND e.batch_seq = batches.seq),
    last_event  = (SELECT max(e.seq) FROM events e WHERE e.source = batches.source AND e.batch_seq = batches.seq);
  DROP INDEX events_source;
  `,
];

/** Order matters: later components may reference earlier components' tables. */
export const COMPONENTS: ReadonlyArray<[string, readonly string[]]> = [
  ['events', EVENTS_MIGRATIONS],
  ['ingest', INGEST_MIGRATIONS],
  ['graph', GRAPH_MIGRATIONS],
  ['detect', DETECT_MIGRATIONS],
];
