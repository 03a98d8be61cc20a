/**
 * A per-Clerk-session marker in localStorage: "this session has synced". It is shared by
 * every tab of the browser and survives reloads, so each session syncs once. Storage may be
 * unavailable (private modes, quotas): then the in-memory guard alone applies, and a reload
 * only costs a re-sync.
 */
const prefix = "clerk-user-sync:v1:";
const keepMs = 30 * 24 * 60 * 60 * 1000;

export const markerKey = (sessionId: string) => prefix + sessionId;

/** `work(localStorage)`, or undefined when storage is unavailable. */
function withStorage<T>(work: (storage: Storage) => T): T | undefined {
  try {
    return work(window.localStorage);
  } catch {
    return undefined;
  }
}

export const hasSessionMarker = (sessionId: string) => withStorage((storage) => storage.getItem(markerKey(sessionId)) !== null) === true;

export const clearSessionMarker = (sessionId: string) => withStorage((storage) => storage.removeItem(markerKey(sessionId)));

/** Marks the session synced, and drops other sessions' markers older than `keepMs`. */
export const writeSessionMarker = (sessionId: string, nowMs = Date.now()) =>
  withStorage((storage) => {
    storage.setItem(markerKey(sessionId), String(nowMs));
    for (let i = storage.length - 1; i >= 0; i--) {
      const key = storage.key(i);
      if (key?.startsWith(prefix) && !(nowMs - Number(storage.getItem(key)) < keepMs)) storage.removeItem(key);
    }
  });
