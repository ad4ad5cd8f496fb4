// DeepLog anomaly detection over invocations: what the CLI and other components use.
export { keyOf, keysOf, pathClass, hostClass, portClass, sockClass, type KeySequence, type KeyedEvent } from './keys';
export { DeepLogModel, DEFAULT_HYPER, END, type Hyper, type Anomaly } from './model';
export { loadSequences, byFunction } from './sequences';
export { trainStore, defaultModelDir, DEFAULT_MIN_INVOCATIONS, type Trained, type Skipped } from './train';
export { scanStore, loadModels, type Detection, type DetectedKey, type ScanResult } from './scan';
export { stderrProgress, silentProgress, type Progress } from './progress';
