/**
 * Profile edits from the app: Clerk first, then the mirror, never split-brain.
 *
 * - Validated before anything else (`profileInputSchema`, the avatar's size and magic bytes);
 *   the user id comes from the verified session only.
 * - Clerk is written first, with one Backend API call (`users.updateUser` or
 *   `users.updateUserProfileImage`). A refusal (422: username taken, invalid value) or a failure
 *   leaves the database untouched and comes back as field errors or a typed error.
 * - The user Clerk returns goes through the one write path, ordered by Clerk's clock: the
 *   `user.updated` webhook that echoes the change carries the same clock and writes nothing, and
 *   two racing edits end on Clerk's final state whatever order their answers arrive in.
 * - Clerk saved it but the database write failed: the answer says so (`mirror: "pending"`) and
 *   the next `user.sync` or the echo webhook converges the row. The mirror never holds a value
 *   Clerk did not confirm.
 */
import type { User } from "@clerk/backend";
import { isClerkAPIResponseError } from "@clerk/backend/errors";
import { eq, getTableName } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

import { profileLimits, type ProfileChanges, type ProfileFieldError } from "../shared/profile-input";
import { BodyTooLargeError, detectImageType, imageExtensions, readWithCap } from "./avatar-image";
import { snapshotFromBackendUser, type ClerkUserSnapshot } from "./clerk-user";
import { fromClerkFailure, UserSyncError } from "./errors";
import { syncedUsersTable } from "./schema";
import { guardedEmitter, type UsersTable, type UserSyncEvent } from "./sync";
import { upsertClerkUser, type UserSyncDatabase, type WriteOutcome } from "./write-path";

/** The part of Clerk's Backend API client profile edits call. `clerkClient()` satisfies it. */
export type ClerkProfileClient = {
  users: {
    updateUser(userId: string, params: { firstName?: string; lastName?: string; username?: string }): Promise<User>;
    updateUserProfileImage(userId: string, params: { file: Blob | File }): Promise<User>;
  };
};

export type ProfileServiceOptions<TUsers extends UsersTable> = {
  db: () => Promise<UserSyncDatabase>;
  users: TUsers;
  clerk: () => Promise<ClerkProfileClient>;
  /** Bound on one Backend API call. */
  clerkTimeoutMs?: number;
  onEvent?: (event: UserSyncEvent) => void;
  now?: () => number;
};

export type ProfileErrorCode = "CLERK_REJECTED" | "CLERK_USER_NOT_FOUND" | "IMAGE_TOO_LARGE" | "IMAGE_TYPE_UNSUPPORTED";

/** A profile edit Clerk or the upload checks refused. Carries Clerk's field errors, never logged. */
export class ProfileUpdateError extends Error {
  constructor(
    readonly code: ProfileErrorCode,
    message: string,
    readonly fieldErrors: ProfileFieldError[] = [],
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
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

/** A failed Backend API write, classified. A 4xx with Clerk's `errors[]` is a refusal, not an outage. */
function fromClerkWriteFailure(error: unknown, field: string | null): Error {
  if (isClerkAPIResponseError(error) && (error.status === 400 || error.status === 404 || error.status === 422)) {
    if (error.status === 404 && error.errors.some((e) => e.code === "resource_not_found")) {
      return new ProfileUpdateError("CLERK_USER_NOT_FOUND", "Your account no longer exists in Clerk", [], { cause: error });
    }
    if (error.errors.length > 0) {
      const fieldErrors = error.errors.map((e) => {
        const paramName: unknown = (e.meta as { paramName?: unknown } | undefined)?.paramName;
        return {
          field: (typeof paramName === "string" ? fieldsByClerkParam[paramName] : undefined) ?? field,
          code: e.code,
          message: e.longMessage ?? e.message,
        };
      });
      return new ProfileUpdateError("CLERK_REJECTED", "Clerk refused the change", fieldErrors, { cause: error });
    }
  }
  return fromClerkFailure(error);
}

/** Clerk's Backend API takes a string for every name; an empty one clears it. */
function updateUserParams(changes: ProfileChanges) {
  const params: { firstName?: string; lastName?: string; username?: string } = {};
  if (changes.firstName !== undefined) params.firstName = changes.firstName ?? "";
  if (changes.lastName !== undefined) params.lastName = changes.lastName ?? "";
  if (changes.username !== undefined) params.username = changes.username ?? "";
  return params;
}

export function createProfileService<TUsers extends UsersTable>(options: ProfileServiceOptions<TUsers>) {
  type HostUser = TUsers["$inferSelect"];
  const table = syncedUsersTable(getTableName(options.users));
  const clerkTimeoutMs = options.clerkTimeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const emit = guardedEmitter(options.onEvent);

  async function callClerk(write: (client: ClerkProfileClient) => Promise<User>): Promise<User> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new UserSyncError("CLERK_TIMEOUT", `Clerk did not answer within ${clerkTimeoutMs} ms; the change may still have been saved`)),
        clerkTimeoutMs,
      );
    });
    try {
      return await Promise.race([options.clerk().then(write), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function readHostUser(db: UserSyncDatabase, userId: string): Promise<HostUser | null> {
    const usersTable: PgTable = options.users;
    const rows: HostUser[] = await db.select().from(usersTable).where(eq(options.users.id, userId));
    return rows[0] ?? null;
  }

  /** Clerk first; then, only with what Clerk returned, the write path. */
  async function applyToClerkThenMirror(
    userId: string,
    field: string | null,
    write: (client: ClerkProfileClient) => Promise<User>,
  ): Promise<ProfileUpdateResult<HostUser>> {
    const startedAtMs = now();
    const fail = (errorCode: string) =>
      emit({ source: "profile-update", outcome: "error", clerkFetched: true, durationMs: now() - startedAtMs, errorCode });
    let snapshot: ClerkUserSnapshot;
    try {
      snapshot = snapshotFromBackendUser(await callClerk(write));
      if (snapshot.id !== userId) throw new UserSyncError("CLERK_MALFORMED", "Clerk returned another user");
    } catch (error) {
      const failure = error instanceof UserSyncError ? error : fromClerkWriteFailure(error, field);
      fail(failure instanceof ProfileUpdateError || failure instanceof UserSyncError ? failure.code : "UNKNOWN");
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
      const db = await options.db();
      const written = await upsertClerkUser(db, table, snapshot);
      const user = written.outcome === "deleted" ? null : await readHostUser(db, userId);
      emit({ source: "profile-update", outcome: written.outcome, clerkFetched: true, durationMs: now() - startedAtMs });
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
      return applyToClerkThenMirror(userId, null, (client) => client.users.updateUser(userId, updateUserParams(changes)));
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
      const file = new File([bytes as Uint8Array<ArrayBuffer>], `avatar.${imageExtensions[type]}`, { type });
      return applyToClerkThenMirror(userId, "avatar", (client) => client.users.updateUserProfileImage(userId, { file }));
    },
  };
}

export type ProfileService<TUsers extends UsersTable> = ReturnType<typeof createProfileService<TUsers>>;
