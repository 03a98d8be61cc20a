import { z } from "zod";

/** The Clerk-owned part of a user, as the write path stores it. */
export type ClerkUserSnapshot = {
  id: string;
  /** The primary email address (`primary_email_address_id`), whatever its place in the list. */
  email: string | null;
  /** The primary phone number (`primary_phone_number_id`). */
  phoneNumber: string | null;
  firstName: string | null;
  lastName: string | null;
  username: string | null;
  imageUrl: string | null;
  banned: boolean;
  locked: boolean;
  /** Clerk's `updated_at`, milliseconds. */
  clerkUpdatedAtMs: number;
};

const userJson = z.object({
  id: z.string().startsWith("user_"),
  primary_email_address_id: z.string().nullable(),
  email_addresses: z.array(z.object({ id: z.string(), email_address: z.string() })),
  // Always in Clerk's User object; absent in hand-made payloads, where they mean "none".
  primary_phone_number_id: z.string().nullish(),
  phone_numbers: z.array(z.object({ id: z.string(), phone_number: z.string() })).optional(),
  banned: z.boolean().optional(),
  locked: z.boolean().optional(),
  first_name: z.string().nullable(),
  last_name: z.string().nullable(),
  username: z.string().nullable(),
  image_url: z.string().nullable(),
  updated_at: z.number().int().positive(),
});

/** Thrown when Clerk's data does not have the shape of a user. Carries no user data. */
export class MalformedClerkUserError extends Error {
  constructor(readonly issues: string[]) {
    super(`Malformed Clerk user: ${issues.join("; ")}`);
    this.name = "MalformedClerkUserError";
  }
}

/** Where and how a value failed validation, never the value itself (it may be PII). */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.code}`);
}

/** From Clerk's snake_case `UserJSON`: a webhook's `data`, or the Backend API's `GET /v1/users/{id}`. */
export function snapshotFromUserJson(data: unknown): ClerkUserSnapshot {
  const parsed = userJson.safeParse(data);
  if (!parsed.success) throw new MalformedClerkUserError(describeIssues(parsed.error));
  const u = parsed.data;
  return {
    id: u.id,
    email: u.email_addresses.find((e) => e.id === u.primary_email_address_id)?.email_address ?? null,
    phoneNumber: u.phone_numbers?.find((p) => p.id === u.primary_phone_number_id)?.phone_number ?? null,
    firstName: u.first_name,
    lastName: u.last_name,
    username: u.username,
    imageUrl: u.image_url,
    banned: u.banned ?? false,
    locked: u.locked ?? false,
    clerkUpdatedAtMs: u.updated_at,
  };
}
