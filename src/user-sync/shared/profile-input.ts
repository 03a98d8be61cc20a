/**
 * What a profile edit may send, validated the same way in the browser (inline errors before a
 * request) and on the server (before any Clerk call). Rules follow Clerk's documented limits and
 * error codes, so a field error from this schema and one from Clerk's 422 look alike:
 * - first and last name: at most 256 characters (`form_param_max_length_exceeded`);
 * - username: 4–64 characters by default (`form_username_invalid_length`; an instance can
 *   change the range in Clerk's Dashboard), only letters, digits, `_` and `-`
 *   (`form_username_invalid_character`), not only digits (`form_username_needs_non_number_char`).
 * Uniqueness is Clerk's to decide (`form_identifier_exists`).
 */
import { z } from "zod";

/** Image types the avatar upload accepts, recognised by their first bytes. */
export const avatarImageTypes = ["image/png", "image/jpeg", "image/webp", "image/gif"] as const;
export type AvatarImageType = (typeof avatarImageTypes)[number];

export const profileLimits = {
  nameMaxLength: 256,
  usernameMinLength: 4,
  usernameMaxLength: 64,
  /** 2 MiB: larger uploads are refused before more than this is read. */
  avatarMaxBytes: 2 * 1024 * 1024,
} as const;

export type ProfileLimits = { usernameMinLength: number; usernameMaxLength: number };

/** One field's error, from this schema or from Clerk. `field` is null for the form as a whole. */
export type ProfileFieldError = { field: string | null; code: string; message: string };

// Invisible controls have no place in a display name: control characters (tabs, newlines, NUL:
// Cc), the line and paragraph separators (U+2028 Zl, U+2029 Zp) and every bidi control (marks
// U+200E/U+200F/U+061C, embeddings, overrides, isolates).
const controlCharacters = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}]/u;

function nameSchema(label: string) {
  return z
    .string()
    .trim()
    .max(profileLimits.nameMaxLength, { error: `${label} should not exceed ${profileLimits.nameMaxLength} characters.` })
    .refine((value) => !controlCharacters.test(value), {
      error: `${label} cannot contain control characters.`,
      params: { code: "form_param_format_invalid" },
    })
    .transform((value) => (value === "" ? null : value));
}

function usernameSchema(limits: ProfileLimits) {
  return z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      if (value === "") return;
      const issue = (code: string, message: string) => ctx.addIssue({ code: "custom", message, params: { code } });
      if (!/^[A-Za-z0-9_-]+$/.test(value)) {
        issue("form_username_invalid_character", "Your username can only contain letters, numbers, underscores (_) and hyphens (-).");
      } else if (value.length < limits.usernameMinLength || value.length > limits.usernameMaxLength) {
        issue(
          "form_username_invalid_length",
          `Your username must be between ${limits.usernameMinLength} and ${limits.usernameMaxLength} characters long.`,
        );
      } else if (/^[0-9]+$/.test(value)) {
        issue("form_username_needs_non_number_char", "Your username must contain at least one non-numeric character.");
      }
    })
    .transform((value) => (value === "" ? null : value));
}

/**
 * The input of `user.updateProfile`. Each field is optional (absent: unchanged); an empty string
 * or null clears it. Any other key (a user id, an email, `tier`) is rejected.
 */
export function profileInputSchema(limits: ProfileLimits = profileLimits) {
  return z
    .strictObject({
      firstName: nameSchema("First name").nullable().optional(),
      lastName: nameSchema("Last name").nullable().optional(),
      username: usernameSchema(limits).nullable().optional(),
    })
    .refine((input) => Object.values(input).some((value) => value !== undefined), {
      error: "Nothing to update.",
      params: { code: "form_param_missing" },
    });
}

export type ProfileInput = z.input<ReturnType<typeof profileInputSchema>>;
export type ProfileChanges = z.output<ReturnType<typeof profileInputSchema>>;

const zodCodes: Partial<Record<string, string>> = {
  too_big: "form_param_max_length_exceeded",
  too_small: "form_param_min_length_not_met",
  unrecognized_keys: "form_param_unknown",
  invalid_type: "form_param_type_invalid",
};

/** Field errors from a failed validation: the first path segment names the field. */
export function fieldErrorsFromZod(error: z.ZodError): ProfileFieldError[] {
  return error.issues.map((issue) => {
    const custom = issue.code === "custom" ? (issue.params as { code?: unknown } | undefined)?.code : undefined;
    const field = issue.path[0];
    return {
      field: typeof field === "string" ? field : null,
      code: typeof custom === "string" ? custom : (zodCodes[issue.code] ?? "form_param_value_invalid"),
      message: issue.message,
    };
  });
}
