import path from "node:path";

import { recreateDatabase } from "./support/database";
import { databaseUrl } from "./support/settings";

/** A fresh e2e database, migrated from `drizzle/` with drizzle's postgres-js migrator. */
export default async function globalSetup() {
  await recreateDatabase(databaseUrl, path.resolve("drizzle"));
}
