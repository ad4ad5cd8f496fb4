// Checks invocations against their function's newest model and records what fell outside top-g.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DB } from '../store/open';
import { nowUs } from '../../events/time';
import { DeepLogModel } from './model';
import { loadSequences } from './sequences';

export interface DetectedKey {
  position: number;
  key: string;
  expected: string[];
  /** Id of the event the key came from (absent for a missing end). */
  event?: string;
}

export interface Detection {
  invocation: string;
  function: string;
  keys: DetectedKey[];
}

export interface ScanOptions {
  function?: string;
  since?: number;
  until?: number;
  /** Override the models' g or probability floor for this scan. */
  topG?: number;
  minProb?: number;
  /** Write detections to detect_detections (default true). */
  record?: boolean;
}

export interface ScanResult {
  detections: Detection[];
  scanned: number;
  /** Functions with invocations but no trained model. */
  untrained: string[];
  ms: number;
}

interface ModelRow {
  id: number;
  function: string;
  path: string;
  sha256: string;
}

/** The newest model of each function, loaded and checked against the digest taken at training. */
export function loadModels(db: DB): Map<string, { id: number; model: DeepLogModel }> {
  const rows = db
    .prepare<[], ModelRow>(`SELECT m.id, m.function, m.path, m.sha256 FROM detect_models m
                            WHERE m.id = (SELECT max(id) FROM detect_models WHERE function = m.function)`)
    .all();
  const out = new Map<string, { id: number; model: DeepLogModel }>();
  for (const r of rows) {
    let text: string;
    try {
      text = readFileSync(r.path, 'utf8');
    } catch (e) {
      throw new Error(`model of function "${r.function}" is missing (${r.path}: ${(e as NodeJS.ErrnoException).code}); run alastor detect train again`);
    }
    const sha = createHash('sha256').update(text).digest('hex');
    if (sha !== r.sha256) throw new Error(`model of function "${r.function}" changed since training (${r.path}: sha256 ${sha.slice(0, 12)}, trained ${r.sha256.slice(0, 12)})`);
    out.set(r.function, { id: r.id, model: DeepLogModel.parse(text, r.path) });
  }
  return out;
}

export function scanStore(db: DB, opts: ScanOptions = {}): ScanResult {
  const t0 = process.hrtime.bigint();
  const models = loadModels(db);
  if (models.size === 0) throw new Error('no trained models in this store; run alastor detect train first');
  for (const { model } of models.values()) {
    if (opts.topG !== undefined || opts.minProb !== undefined) model.setDetection({ topG: opts.topG, minProb: opts.minProb });
  }
  const seqs = loadSequences(db, { function: opts.function, since: opts.since, until: opts.until });
  const untrained = new Set<string>();
  const detections: Detection[] = [];
  const modelOf = new Map<Detection, number>();
  let scanned = 0;
  for (const s of seqs) {
    const m = models.get(s.function);
    if (!m) {
      untrained.add(s.function);
      continue;
    }
    scanned++;
    const anomalies = m.model.check(s.keys);
    if (anomalies.length === 0) continue;
    const d: Detection = {
      invocation: s.invocation,
      function: s.function,
      keys: anomalies.map((a) => ({ position: a.position, key: a.key, expected: a.expected, ...(a.position < s.events.length ? { event: s.events[a.position] } : {}) })),
    };
    detections.push(d);
    modelOf.set(d, m.id);
  }
  if (opts.record ?? true) {
    const at = nowUs();
    const ins = db.prepare(`INSERT INTO detect_detections (scan_at_us, model_id, invocation, function, position, key, expected, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    db.transaction(() => {
      for (const d of detections) {
        for (const k of d.keys) ins.run(at, modelOf.get(d), d.invocation, d.function, k.position, k.key, JSON.stringify(k.expected), k.event ?? null);
      }
    })();
  }
  return { detections, scanned, untrained: [...untrained].sort(), ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}
