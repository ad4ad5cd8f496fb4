// Entry point of the provenance layer. Until it lands, provenance is off.
import { noopObserver, type Observer } from '../observer';

export interface ProvenanceOptions {
  env: NodeJS.ProcessEnv;
  mode: string;
  fprocess: string;
  maxInflight: number;
  log: (line: string) => void;
}

/** Resolves before the function process is started, since processEnv must be known by then. */
export async function createObserver(_opts: ProvenanceOptions): Promise<Observer> {
  return noopObserver;
}
