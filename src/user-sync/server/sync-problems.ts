/**
 * `user.sync`'s view of configuration problems (a rejected key, another Clerk instance's API):
 * what this process saw, what any instance recorded in PostgreSQL, and the proofs that clear them.
 */
import { proveInstance, sessionKeyIdOf } from "./clerk/instance";
import type { UserSyncDatabase } from "./database";
import { UserSyncError } from "./errors";
import type { ConfigProblem, ConfigProblemCode, UserSyncLogEntry } from "./events";
import { createConfigProblemStore, isConfigProblemCode } from "./operations/config-problems";
import type { UserSyncTables } from "./schema";

/** How often a process that knows of no problem looks for problems other instances recorded. */
const recordedProblemsCheckMs = 30_000;

export function createSyncProblems(options: {
  db: () => Promise<UserSyncDatabase>;
  table: UserSyncTables["userSyncConfigProblems"];
  log: (entry: UserSyncLogEntry) => void;
  /** The Backend API's signing key ids (`GET /v1/jwks`, outside the budget). */
  jwksKeyIds: () => Promise<string[]>;
}) {
  const recordedProblems = createConfigProblemStore({ db: options.db, table: options.table });
  // Not on a process's first syncs: one look per 30 s is enough, and a fresh process's first sync keeps its round trips.
  let nextRecordedProblemsCheckAtMs = Date.now() + recordedProblemsCheckMs;
  const problems = new Map<ConfigProblemCode, ConfigProblem>();
  const loggedProblems = new Set<ConfigProblemCode>();

  return {
    /** A configuration problem: logged once per process, recorded in PostgreSQL at every sighting. */
    async note(error: unknown): Promise<void> {
      if (!(error instanceof UserSyncError) || !isConfigProblemCode(error.code)) return;
      if (!problems.has(error.code)) problems.set(error.code, { code: error.code, message: error.message, firstSeenAt: new Date() });
      // The record is for the health view; failing to write it must not change the answer.
      await recordedProblems.record(error.code, error.message).catch(() => undefined);
      if (loggedProblems.has(error.code)) return;
      loggedProblems.add(error.code);
      try {
        options.log({ level: "error", event: "config_problem", code: error.code, message: error.message });
      } catch {
        // A broken logger must not change the answer.
      }
    },

    /**
     * Clerk accepted the key and answered for the caller. Problems recorded by any instance are
     * cleared by a fresh instance proof: made here at once when this process saw a problem itself,
     * else at most every 30 s per process (the first 30 s after start), and only when some are
     * recorded. So after a fix the health view turns healthy with the next syncs, not at the next
     * deletion. A proof that fails here changes nothing.
     */
    async afterClerkAnswered(sessionToken: string | null, proof: { startedAtMs: number } | null): Promise<void> {
      const sawProblems = problems.size > 0;
      problems.delete("CLERK_KEY_REJECTED");
      if (!proof) {
        const nowMs = Date.now();
        if (!sawProblems && nowMs < nextRecordedProblemsCheckAtMs) return;
        nextRecordedProblemsCheckAtMs = nowMs + recordedProblemsCheckMs;
        const recorded = await recordedProblems.list().catch(() => []);
        if (recorded.length === 0 && problems.size === 0) return;
        const startedAtMs = Date.now();
        try {
          await proveInstance(options.jwksKeyIds, sessionKeyIdOf(sessionToken));
        } catch {
          return;
        }
        proof = { startedAtMs };
      }
      problems.delete("CLERK_INSTANCE_MISMATCH");
      await recordedProblems.clearSeenBefore(Date.now() - proof.startedAtMs).catch(() => undefined);
    },

    /** Misconfigurations this process saw since start and has not seen disproven. */
    seen: (): ConfigProblem[] => [...problems.values()].map((problem) => ({ ...problem })),
    /** Misconfigurations any instance recorded and no later proof cleared. */
    recorded: () => recordedProblems.list(),
  };
}
