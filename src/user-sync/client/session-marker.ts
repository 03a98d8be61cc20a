/**
 * A per-Clerk-session marker in localStorage: "this session has synced". It is shared by
 * every tab of the browser and survives reloads, so each session syncs once. Storage may be
 * unavailable (private modes, quotas): then the in-memory guard alone applies.
 */
const prefix = "clerk-user-sync:v1:";
const keepMs = 30 * 24 * 60 * 60 * 1000;

export function markerKey(sessionId: string) {
  return prefix + sessionId;
}

export function hasSessionMarker(sessionId: string): boolean {
  try {
    return window.localStorage.getItem(markerKey(sessionId)) !== null;
  } catch {
    return false;
  }
}

export function writeSessionMarker(sessionId: string, nowMs = Date.now()) {
  try {
    const storage = window.localStorage;
    storage.setItem(markerKey(sessionId), String(nowMs));
    for (let i = storage.length - 1; i >= 0; i--) {
      const key = storage.key(i);
      if (!key?.startsWith(prefix)) continue;
      const writtenAtMs = Number(storage.getItem(key));
      if (!(nowMs - writtenAtMs < keepMs)) storage.removeItem(key);
    }
  } catch {
    // Unavailable storage only costs a re-sync on reload.
  }
}

export function clearSessionMarker(sessionId: string) {
  try {
    window.localStorage.removeItem(markerKey(sessionId));
  } catch {
    // See writeSessionMarker.
  }
}
