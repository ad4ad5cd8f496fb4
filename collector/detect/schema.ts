// Tables owned by collector/detect/. Append steps; see collector/store/migrations.ts.
export const DETECT_MIGRATIONS: readonly string[] = [];
