// The two SQL engines the store runs on; migrations branch on it where their DDL differs.
export type Engine = "sqlite" | "postgres";
