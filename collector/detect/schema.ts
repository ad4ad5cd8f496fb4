// Tables owned by collector/detect/. Append steps; see collector/store/migrations.ts.
export const DETECT_MIGRATIONS: readonly string[] = [
  // One row per trained model file; the newest row of a function is the one scan uses. The
  // file's sha256 is kept so a scan can refuse a model that was swapped after training.
  `
  CREATE TABLE detect_models (
    id            INTEGER PRIMARY KEY,
    function      TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    sha256        TEXT    NOT NULL,
    trained_at_us INTEGER NOT NULL,
    invocations   INTEGER NOT NULL,
    vocab         INTEGER NOT NULL,
    epochs        INTEGER NOT NULL,
    seed          INTEGER NOT NULL,
    loss          REAL    NOT NULL,
    train_ms      INTEGER NOT NULL
  );
  CREATE INDEX detect_models_function ON detect_models(function, id);

  -- Every unexpected key a scan found; expected is the JSON array of the model's top-g keys.
  CREATE TABLE detect_detections (
    id         INTEGER PRIMARY KEY,
    scan_at_us INTEGER NOT NULL,
    model_id   INTEGER NOT NULL REFERENCES detect_models(id),
    invocation TEXT    NOT NULL,
    function   TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    expected   TEXT    NOT NULL,
    event      TEXT
  );
  CREATE INDEX detect_detections_invocation ON detect_detections(invocation);
  CREATE INDEX detect_detections_scan ON detect_detections(scan_at_us);
  `,
];
