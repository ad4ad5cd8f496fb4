// Entry point of the provenance graph as ingest and the CLI use it. Until it lands, a no-op.
import type { DB } from '../store/open';

/** Extends the derived graph with every event stored since the last call; cheap when nothing is new. */
export function updateGraph(_db: DB): { events: number } {
  return { events: 0 };
}
