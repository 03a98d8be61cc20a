/**
 * Configuration problems seen at run time by any app instance (a Backend API of another Clerk
 * instance, a rejected secret key), kept in PostgreSQL (`user_sync_config_problems`) so every
 * instance's health view shows them. A later successful proof, on any instance, clears the
 * sightings made before it; an instance still misconfigured records its problem again at its next
 * failing call. Messages name settings, never values.
 */
import { sql, type SQL } from "drizzle-orm";

import { executeRows, type UserSyncDatabase } from "../database";
import type { ConfigProblem, ConfigProblemCode } from "../events";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";

const maxListedProblems = 20;

export function isConfigProblemCode(code: string): code is ConfigProblemCode {
  return code === "CLERK_INSTANCE_MISMATCH" || code === "CLERK_KEY_REJECTED";
}

export function createConfigProblemStore(options: { db: () => Promise<UserSyncDatabase>; table?: UserSyncTables["userSyncConfigProblems"] }) {
  const table = options.table ?? defaultUserSyncTables.userSyncConfigProblems;

  const execute = <T>(statement: SQL) => executeRows<T>(options.db, statement);

  return {
    /** Records a sighting now (database clock): the first one's time is kept, the last one's updated. */
    async record(code: ConfigProblemCode, message: string): Promise<void> {
      await execute(sql`
        insert into ${table} as p (code, message, first_seen_at, last_seen_at) values (${code}, ${message}, now(), now())
        on conflict (code) do update set message = excluded.message, last_seen_at = excluded.last_seen_at`);
    },
    /**
     * A proof succeeded that took `proofMs` until now: clears the sightings made before it
     * started (a sighting during the proof, by another instance, stays). Answers the codes cleared.
     */
    async clearSeenBefore(proofMs: number): Promise<ConfigProblemCode[]> {
      const rows = await execute<{ code: ConfigProblemCode }>(sql`
        delete from ${table} where last_seen_at < now() - (${Math.max(0, proofMs)}::float8 * interval '1 millisecond') returning code`);
      return rows.map((row) => row.code);
    },
    /**
     * Every recorded problem, in code order (a handful of codes exist; the bound keeps the
     * statement parameterised, which postgres.js needs to send it on the extended protocol).
     */
    async list(): Promise<Required<ConfigProblem>[]> {
      const rows = await execute<{ code: ConfigProblemCode; message: string; first_seen_at: Date | string; last_seen_at: Date | string }>(sql`
        select code, message, first_seen_at, last_seen_at from ${table} order by code limit ${maxListedProblems}::int`);
      return rows.map((row) => ({ code: row.code, message: row.message, firstSeenAt: new Date(row.first_seen_at), lastSeenAt: new Date(row.last_seen_at) }));
    },
  };
}

export type ConfigProblemStore = ReturnType<typeof createConfigProblemStore>;
