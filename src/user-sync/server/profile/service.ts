/**
 * Profile edits from the app: Clerk first, then the mirror, never split-brain.
 *
 * - Validated before anything else (`profileInputSchema`, the avatar's size and magic bytes);
 *   the user id comes from the verified session only.
 * - Each user has Clerk's own per-user allowance (10 updates per 10 s), kept in PostgreSQL for
 *   every instance and taken before the shared Clerk budget: beyond it, or while Clerk's
 *   `Retry-After` for that user runs, an edit answers `CLERK_RATE_LIMITED` without calling Clerk.
 * - Clerk is written first, with one Backend API call: `PATCH /v1/users/{id}` (the SDK's
 *   `users.updateUser`) or `POST /v1/users/{id}/profile_image` (`users.updateUserProfileImage`),
 *   through the plugin's Backend API client, whose timeout aborts the request. A refusal (422:
 *   username taken, invalid value) or a failure leaves the database untouched and comes back as
 *   field errors or a typed error.
 * - The user Clerk returns goes through the one write path, ordered by Clerk's clock: the
 *   `user.updated` webhook that echoes the change carries the same clock and writes nothing, and
 *   two racing edits end on Clerk's final state whatever order their answers arrive in.
 * - Clerk saved it but the database write failed: the answer says so (`mirror: "pending"`) and
 *   the next `user.sync` or the echo webhook converges the row. The mirror never holds a value
 *   Clerk did not confirm.
 */
import { isClerkBudgetRefusal, withClerkBudget } from "../clerk/budget";
import { createClerkUserLimits, type ClerkUserSlot } from "../clerk/user-limits";
import { profileLimits, type ProfileChanges, type ProfileFieldError } from "../../shared/profile-input";
import { detectImageType, imageExtensions } from "./avatar-image";
import { BodyTooLargeError, readWithCap } from "../request-body";
import { ClerkRefusedError, createClerkBackendApi, type ClerkBackendApi } from "../clerk/backend-api";
import { MalformedClerkUserError, snapshotFromUserJson, type ClerkUserSnapshot } from "../clerk/user-json";
import { UserSyncError } from "../errors";
import { defaultUserSyncTables, syncedTableOf, type UsersTable } from "../schema";
import { type UserSyncServiceOptions } from "../sync";
import { guardedEmitter } from "../events";
import { upsertClerkUser } from "../write-path";
import { type WriteOutcome } from "../outcomes";

export type ProfileServiceOptions<TUsers extends UsersTable> = Pick<
  UserSyncServiceOptions<TUsers>,
  "db" | "users" | "tables" | "clerk" | "clerkTimeoutMs" | "onEvent" | "budget" | "preparedStatements"
>;

export type ProfileErrorCode = "CLERK_REJECTED" | "CLERK_USER_NOT_FOUND" | "IMAGE_TOO_LARGE" | "IMAGE_TYPE_UNSUPPORTED";

/**
 * A profile edit Clerk or the upload checks refused. Its field errors (Clerk's messages among
 * them) go back to the user who made the edit; its own message names no value and is all a log sees.
 */
export class ProfileUpdateError extends Error {
  constructor(
    readonly code: ProfileErrorCode,
    message: string,
    readonly fieldErrors: ProfileFieldError[] = [],
  ) {
    super(message);
    this.name = "ProfileUpdateError";
  }
}

/** Clerk's confirmed identity fields after an edit: what the form shows, whatever the mirror did. */
export type ClerkProfile = Pick<ClerkUserSnapshot, "firstName" | "lastName" | "username" | "imageUrl" | "clerkUpdatedAtMs">;

export type ProfileUpdateResult<THostUser> = {
  /**
   * `written`: the mirror went through the write path. `pending`: Clerk saved the change but the
   * database write failed; the next sync or Clerk's `user.updated` webhook brings the row up to date.
   */
  mirror: "written" | "pending";
  /** The write path's outcome; null when the mirror is pending. */
  outcome: WriteOutcome | null;
  profile: ClerkProfile;
  /** The caller's row after the write (it may hold a newer edit); null when pending or deleted. */
  user: THostUser | null;
};

// Clerk's `meta.param_name` → the form's field.
const fieldsByClerkParam: Partial<Record<string, string>> = {
  first_name: "firstName",
  last_name: "lastName",
  username: "username",
  file: "avatar",
  profile_image: "avatar",
};

/** Clerk's refusal as the form shows it: each reason on the field Clerk named (else `field`). */
function fromClerkRefusal(error: ClerkRefusedError, field: string | null): ProfileUpdateError {
  if (error.status === 404 && error.refusals.some((r) => r.code === "resource_not_found")) {
    return new ProfileUpdateError("CLERK_USER_NOT_FOUND", "Your account no longer exists in Clerk");
  }
  const fieldErrors = error.refusals.map((refusal) => ({
    field: (refusal.paramName ? fieldsByClerkParam[refusal.paramName] : undefined) ?? field,
    code: refusal.code,
    message: refusal.message,
  }));
  return new ProfileUpdateError("CLERK_REJECTED", `Clerk refused the change (${error.status})`, fieldErrors);
}

export function createProfileService<TUsers extends UsersTable>(options: ProfileServiceOptions<TUsers>) {
  type HostUser = TUsers["$inferSelect"];
  const table = syncedTableOf(options.users);
  const clerkTimeoutMs = options.clerkTimeoutMs ?? 5000;
  // Edits draw from the Backend API budget every instance shares, like user.sync, but only once
  // the user's own allowance (Clerk's per-user limit, 10 updates per 10 s, kept in PostgreSQL)
  // has a slot: one user's flood of edits never reaches the shared budget. A 429 on an edit is
  // most often that per-user limit: it pauses this user's edits, not everyone's Clerk calls.
  const clerkApi = withClerkBudget(createClerkBackendApi(options.clerk, { timeoutMs: clerkTimeoutMs }), options.budget, {
    maxWaitMs: 1000,
    pauseOnRateLimit: false,
  });
  const userLimits = createClerkUserLimits({ db: options.db, table: (options.tables ?? defaultUserSyncTables).userSyncClerkUserLimits });
  const emit = guardedEmitter(options.onEvent);

  /** The user's own slot first, then Clerk; then, only with what Clerk returned, the write path. */
  async function applyToClerkThenMirror(
    userId: string,
    field: string | null,
    write: (api: ClerkBackendApi) => Promise<unknown>,
  ): Promise<ProfileUpdateResult<HostUser>> {
    const startedAtMs = Date.now();
    const fail = (errorCode: string, clerkFetched = true, outcome: "error" | "refused" = "error") =>
      emit({ source: "profile-update", outcome, clerkFetched, durationMs: Date.now() - startedAtMs, errorCode });
    let slot: ClerkUserSlot;
    try {
      slot = await userLimits.take(userId);
    } catch (error) {
      const failure = error instanceof UserSyncError ? error : new UserSyncError("DATABASE_UNAVAILABLE", "The database is unavailable");
      fail(failure.code, false);
      throw failure;
    }
    if (!slot.granted) {
      const retryAfterSeconds = Math.max(1, Math.ceil(slot.retryAfterMs / 1000));
      fail("CLERK_RATE_LIMITED", false, "refused");
      throw new UserSyncError("CLERK_RATE_LIMITED", `Too many profile changes in a short time; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
    }
    let snapshot: ClerkUserSnapshot;
    try {
      snapshot = snapshotFromUserJson(await write(clerkApi));
      if (snapshot.id !== userId) throw new UserSyncError("CLERK_MALFORMED", "Clerk returned another user");
    } catch (error) {
      const refusedByBudget = isClerkBudgetRefusal(error);
      // The shared budget refused: this edit never reached Clerk, so it does not count against the user.
      if (refusedByBudget) await userLimits.giveBack(userId, slot.grantedAtMs).catch(() => undefined);
      else if (error instanceof UserSyncError && error.code === "CLERK_RATE_LIMITED") {
        await userLimits.pause(userId, error.retryAfterSeconds ?? 1).catch(() => undefined);
      }
      const failure = classifyClerkFailure(error, field, clerkTimeoutMs);
      // Clerk turned this edit down (a taken username, its per-user limit): the user's answer, not
      // a failed write. The shared budget refusing, Clerk failing or timing out are errors.
      const refusedByClerk = failure instanceof ProfileUpdateError || (failure.code === "CLERK_RATE_LIMITED" && !refusedByBudget);
      fail(failure.code, !refusedByBudget, refusedByClerk ? "refused" : "error");
      throw failure;
    }
    const profile: ClerkProfile = {
      firstName: snapshot.firstName,
      lastName: snapshot.lastName,
      username: snapshot.username,
      imageUrl: snapshot.imageUrl,
      clerkUpdatedAtMs: snapshot.clerkUpdatedAtMs,
    };
    try {
      // Clerk's answer to this very request: as authoritative as a fetch (it wins an equal
      // clock over a webhook payload, and starts user.sync's cooldown).
      const written = await upsertClerkUser(await options.db(), table, snapshot, "fetched", { namedStatements: options.preparedStatements === true });
      emit({ source: "profile-update", outcome: written.outcome, clerkFetched: true, durationMs: Date.now() - startedAtMs });
      const user = written.outcome === "deleted" ? null : (written.row as HostUser | null);
      return { mirror: "written", outcome: written.outcome, profile, user };
    } catch {
      // Clerk holds the change; the row converges on the next sync or the echo webhook. The
      // error itself may quote the row's values, so only its kind leaves this function.
      fail("DATABASE_UNAVAILABLE");
      return { mirror: "pending", outcome: null, profile, user: null };
    }
  }

  return {
    /** Writes first name, last name and username to Clerk, then Clerk's answer to the mirror. */
    updateProfile(userId: string, changes: ProfileChanges): Promise<ProfileUpdateResult<HostUser>> {
      return applyToClerkThenMirror(userId, null, (api) => api.updateUser(userId, changes));
    },

    /**
     * Uploads a new profile image (PNG, JPEG, WebP or GIF by its magic bytes, at most
     * `profileLimits.avatarMaxBytes`) to Clerk, then Clerk's answer to the mirror. A declared
     * `Content-Length` over the limit is refused before the body is read.
     */
    async updateAvatar(
      userId: string,
      upload: { body: ReadableStream<Uint8Array>; declaredBytes: number | null },
    ): Promise<ProfileUpdateResult<HostUser>> {
      const file = await readAvatarUpload(upload);
      return applyToClerkThenMirror(userId, "avatar", (api) => api.updateUserProfileImage(userId, file));
    },
  };
}

/** The uploaded image as a file for Clerk: refused when over the size limit or not an image Clerk takes. */
async function readAvatarUpload(upload: { body: ReadableStream<Uint8Array>; declaredBytes: number | null }): Promise<File> {
  const maxBytes = profileLimits.avatarMaxBytes;
  const tooLarge = () =>
    new ProfileUpdateError("IMAGE_TOO_LARGE", "The image is larger than 2 MiB", [
      { field: "avatar", code: "image_too_large", message: "Choose an image of at most 2 MiB." },
    ]);
  if (upload.declaredBytes !== null && upload.declaredBytes > maxBytes) {
    await upload.body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  let bytes: Uint8Array;
  try {
    bytes = await readWithCap(upload.body, maxBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw tooLarge();
    throw error;
  }
  const type = detectImageType(bytes);
  if (!type) {
    throw new ProfileUpdateError("IMAGE_TYPE_UNSUPPORTED", "The file is not a PNG, JPEG, WebP or GIF image", [
      { field: "avatar", code: "image_type_unsupported", message: "Choose a PNG, JPEG, WebP or GIF image." },
    ]);
  }
  return new File([bytes as Uint8Array<ArrayBuffer>], `avatar.${imageExtensions[type]}`, { type });
}

export type ProfileService<TUsers extends UsersTable> = ReturnType<typeof createProfileService<TUsers>>;

/** A failed Clerk write as the plugin's vocabulary. A timeout is ambiguous: Clerk may have applied it. */
function classifyClerkFailure(error: unknown, field: string | null, clerkTimeoutMs: number): ProfileUpdateError | UserSyncError {
  if (error instanceof ClerkRefusedError) return fromClerkRefusal(error, field);
  if (error instanceof MalformedClerkUserError) {
    return new UserSyncError("CLERK_MALFORMED", `Clerk returned a malformed user (${error.issues.join("; ").slice(0, 300)})`);
  }
  if (error instanceof UserSyncError) {
    if (error.code !== "CLERK_TIMEOUT") return error;
    return new UserSyncError("CLERK_TIMEOUT", `Clerk did not answer within ${clerkTimeoutMs} ms; the change may still have been saved`);
  }
  return new UserSyncError("CLERK_UNAVAILABLE", "Clerk's Backend API failed");
}
