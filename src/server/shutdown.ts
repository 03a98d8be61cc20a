/**
 * Work the server must finish before its process ends (the user sync's buffered telemetry), run
 * by the SIGTERM/SIGINT handling in src/instrumentation.ts. The tasks live on `globalThis`:
 * Next evaluates a module once per bundle (route handlers, instrumentation), and each module
 * instance registers its own.
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
