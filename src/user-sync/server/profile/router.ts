import { initTRPC, TRPCError, type AnyRouter } from "@trpc/server";
import { octetInputParser } from "@trpc/server/http";
import { ZodError } from "zod";

import { fieldErrorsFromZod, profileInputSchema, type ProfileFieldError } from "../../shared/profile-input";
import { toTRPCError } from "../errors";
import { ProfileUpdateError, type ProfileService, type ProfileUpdateResult } from "./service";
import { contextWithoutAuth } from "../router";

/** The host context profile edits read: Clerk's verified `auth()` and, when given, the request headers. */
export type ProfileContext = { auth: { userId: string | null }; headers?: Headers };

const t = initTRPC.context<ProfileContext>().create();

const authedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!(ctx as Partial<ProfileContext>).auth) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: contextWithoutAuth });
  // Identity comes only from the verified Clerk session, never from input.
  const userId = ctx.auth.userId;
  if (!userId) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to edit your profile" });
  return next({ ctx: { userId, headers: ctx.headers } });
});

const profileCodes = {
  CLERK_REJECTED: "UNPROCESSABLE_CONTENT",
  CLERK_USER_NOT_FOUND: "NOT_FOUND",
  IMAGE_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  IMAGE_TYPE_UNSUPPORTED: "UNSUPPORTED_MEDIA_TYPE",
} as const satisfies Record<ProfileUpdateError["code"], TRPCError["code"]>;

function toProfileTRPCError(error: unknown): TRPCError {
  if (error instanceof ProfileUpdateError) {
    return new TRPCError({ code: profileCodes[error.code], message: error.message, cause: error });
  }
  return toTRPCError(error);
}

function declaredBytesOf(headers: Headers | undefined): number | null {
  const value = headers?.get("content-length");
  if (!value || !/^\d+$/.test(value)) return null;
  return Number(value);
}

/**
 * Field errors for a host's `errorFormatter`: Clerk's refusals (`errors[].code`, `meta.param_name`
 * mapped to the form's field, Clerk's message) and input validation failures alike. Null when the
 * error concerns no field.
 */
export function fieldErrorsOf(error: unknown): ProfileFieldError[] | null {
  const cause = error instanceof TRPCError ? error.cause : error;
  if (cause instanceof ProfileUpdateError) return cause.fieldErrors.length > 0 ? cause.fieldErrors : null;
  if (cause instanceof ZodError) return fieldErrorsFromZod(cause);
  return null;
}

// Structural, so the host's row type is inferred from the service's answers.
type ProfileProcedures<THostUser> = {
  updateProfile: (...args: Parameters<ProfileService<never>["updateProfile"]>) => Promise<ProfileUpdateResult<THostUser>>;
  updateAvatar: (...args: Parameters<ProfileService<never>["updateAvatar"]>) => Promise<ProfileUpdateResult<THostUser>>;
};

export function createProfileRouter<THostUser>(profile: ProfileProcedures<THostUser>) {
  const input = profileInputSchema();
  return t.router({
    /**
     * Edits the caller's first name, last name and username: Clerk first, then the mirror.
     * Answers `{ mirror, outcome, profile, user }`; Clerk's refusals are `UNPROCESSABLE_CONTENT`
     * with field errors, its rate limit `TOO_MANY_REQUESTS` with `Retry-After`.
     */
    updateProfile: authedProcedure.input(input).mutation(async ({ ctx, input: changes }) => {
      try {
        return await profile.updateProfile(ctx.userId, changes);
      } catch (error) {
        throw toProfileTRPCError(error);
      }
    }),
    /** Replaces the caller's profile image with the raw image bytes of the request body. */
    updateAvatar: authedProcedure.input(octetInputParser).mutation(async ({ ctx, input: body }) => {
      try {
        return await profile.updateAvatar(ctx.userId, {
          body: body as ReadableStream<Uint8Array>,
          declaredBytes: declaredBytesOf(ctx.headers),
        });
      } catch (error) {
        throw toProfileTRPCError(error);
      }
    }),
  });
}

/** The sync router with the profile procedures beside `sync` and `me`. */
export function withProfileProcedures<TRouter extends AnyRouter, THostUser>(syncRouter: TRouter, profile: ProfileProcedures<THostUser>) {
  return t.mergeRouters(syncRouter, createProfileRouter(profile));
}
