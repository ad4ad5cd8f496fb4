// Tables owned by collector/ingest/. Append steps; see collector/store/migrations.ts.
export const INGEST_MIGRATIONS: readonly string[] = [];
