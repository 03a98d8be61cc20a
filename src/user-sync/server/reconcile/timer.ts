/** Time in the database, and the longest single call (each call is one statement). */
export function databaseTimer() {
  const totals = { databaseMs: 0, longestMs: 0 };
  const timed = async <T>(work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const elapsed = performance.now() - started;
      totals.databaseMs += elapsed;
      totals.longestMs = Math.max(totals.longestMs, elapsed);
    }
  };
  return { totals, timed };
}

export type DatabaseTimer = ReturnType<typeof databaseTimer>;
