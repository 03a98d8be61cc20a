/**
 * Work the server must finish before its process ends (the user sync's buffered telemetry),
 * registered with `onShutdown` and run on SIGTERM/SIGINT (src/instrumentation.ts). The tasks live
 * on `globalThis`: Next evaluates a module once per bundle (route handlers, instrumentation), and
 * each module instance registers its own.
 */
const registry = Symbol.for("clerk-user-sync-host.shutdown-tasks");

type Registry = { [registry]?: Set<() => Promise<unknown>> };

function tasks(): Set<() => Promise<unknown>> {
  return ((globalThis as Registry)[registry] ??= new Set());
}

export function onShutdown(task: () => Promise<unknown>) {
  tasks().add(task);
}

/** Runs every registered task at once; resolves when all settled or after `timeoutMs`. */
export async function runShutdownTasks(timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.allSettled([...tasks()].map((task) => task())), deadline]);
  clearTimeout(timer);
}

/**
 * On each signal, runs the shutdown tasks (at most 5 s) first, then whatever handled the signal
 * before (`next start` registers its graceful close before it loads instrumentation); with no
 * handler (signals handled elsewhere, NEXT_MANUAL_SIG_HANDLE), the signal's default action: the
 * process ends.
 */
export function finishShutdownWorkFirst(signals: NodeJS.Signals[]) {
  for (const signal of signals) {
    const previous = process.listeners(signal);
    process.removeAllListeners(signal);
    process.once(signal, () => {
      void runShutdownTasks(5_000).finally(() => {
        if (previous.length === 0) {
          process.kill(process.pid, signal);
          return;
        }
        for (const listener of previous) listener(signal);
      });
    });
  }
}
