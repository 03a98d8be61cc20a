import { getTableName } from "drizzle-orm";
import { text, type PgTableFn } from "drizzle-orm/pg-core";

/** The final name a base table name gets from the host's table function (a prefix, pgTableCreator's naming): for index and key names. */
export type FinalName = (base: string) => string;

export const finalNameOf =
  <TSchema extends string | undefined>(table: PgTableFn<TSchema>): FinalName =>
  (base) =>
    getTableName(table(base, { probe: text("probe") }));
