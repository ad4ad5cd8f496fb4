// Tables owned by collector/graph/. Append steps; see collector/store/migrations.ts.
export const GRAPH_MIGRATIONS: readonly string[] = [];
