import { HttpError } from "./http";

/**
 * How the emulator behaves where Clerk's behaviour is unknown or a setting of the instance
 * (`GET|PUT /__control/fidelity`, `CLERK_EMULATOR_<NAME>` env, `--<name>` flags). The defaults
 * are what the sources suggest; every unknown can be flipped so a product can be tested under
 * each answer.
 */
export type FidelitySettings = {
  /**
   * Whether verifying an email address moves the user's `updated_at`. Unknown: adding an
   * address does not (recorded), and a verification changes only the address.
   * @default false
   */
  verifyBumpsClock: boolean;
  /**
   * Whether making another address primary moves the user's `updated_at`. Unknown; inferred
   * yes (`primary_email_address_id` is a field of the user record).
   * @default true
   */
  primarySwitchBumpsClock: boolean;
  /**
   * `GET /v1/users?starting_after=<id>` when no user has that id (deleted during a walk, or
   * never existed). Unknown: `error` answers 422 on `starting_after`; `empty` answers an empty
   * page (the walk ends silently); `continue` answers the users after where it stood.
   * @default "error"
   */
  startingAfterUnknownUser: "error" | "empty" | "continue";
  /**
   * `GET /v1/users` with an `offset` at or past this many users times out: 504 with Clerk's
   * error shape (`request_timeout`) after `offsetTimeoutHoldMs`. Clerk: a large offset "gets
   * progressively slower and eventually times out" (no depth documented). Null: never.
   * @default 10000
   */
  offsetTimeoutDepth: number | null;
  /** Added latency per 1,000 users an `offset` skips (an offset walk slows down as it goes deeper). @default 1 */
  offsetLatencyMsPer1000: number;
  /** How long a timed-out page is held before its 504 (make it longer than a client's timeout to test that instead). @default 0 */
  offsetTimeoutHoldMs: number;
  /**
   * How long `POST /v1/users/{id}/lock` locks a user (the instance's lockout duration), in
   * seconds; null: until unlocked (`lockout_expires_in_seconds: null`).
   * @default 3600
   */
  lockoutSeconds: number | null;
};

export const defaultFidelity: FidelitySettings = {
  verifyBumpsClock: false,
  primarySwitchBumpsClock: true,
  startingAfterUnknownUser: "error",
  offsetTimeoutDepth: 10_000,
  offsetLatencyMsPer1000: 1,
  offsetTimeoutHoldMs: 0,
  lockoutSeconds: 3600,
};

/** The settings that model an unknown of Clerk, with every value each can take (what the contract suite runs under). */
export const unknownSwitches = {
  verifyBumpsClock: [false, true],
  primarySwitchBumpsClock: [true, false],
  startingAfterUnknownUser: ["error", "empty", "continue"],
} as const satisfies { [K in keyof FidelitySettings]?: readonly FidelitySettings[K][] };

type Parser<T> = (value: unknown, name: string) => T;

const invalid = (name: string, expected: string) => new HttpError(422, "form_param_value_invalid", `${name} must be ${expected}`, {}, name);

const boolean: Parser<boolean> = (value, name) => {
  if (typeof value !== "boolean") throw invalid(name, "true or false");
  return value;
};

const count =
  (nullable: boolean): Parser<number | null> =>
  (value, name) => {
    if (value === null && nullable) return null;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw invalid(name, `a non-negative integer${nullable ? " or null" : ""}`);
    return value;
  };

const oneOf =
  <T extends string>(values: readonly T[]): Parser<T> =>
  (value, name) => {
    if (!values.includes(value as T)) throw invalid(name, values.map((v) => `"${v}"`).join(", ").replace(/, ([^,]*)$/, " or $1"));
    return value as T;
  };

const parsers: { [K in keyof FidelitySettings]: Parser<FidelitySettings[K]> } = {
  verifyBumpsClock: boolean,
  primarySwitchBumpsClock: boolean,
  startingAfterUnknownUser: oneOf(["error", "empty", "continue"] as const),
  offsetTimeoutDepth: count(true),
  offsetLatencyMsPer1000: count(false) as Parser<number>,
  offsetTimeoutHoldMs: count(false) as Parser<number>,
  lockoutSeconds: count(true),
};

export const fidelityKeys = Object.keys(parsers) as (keyof FidelitySettings)[];

/** A validated partial update; an unknown key or a bad value is Clerk's 422 naming it. */
export function parseFidelity(body: Record<string, unknown>): Partial<FidelitySettings> {
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!(fidelityKeys as string[]).includes(key)) throw unknownParam(key, fidelityKeys);
    patch[key] = (parsers[key as keyof FidelitySettings] as Parser<unknown>)(value, key);
  }
  return patch;
}

/** `verifyBumpsClock` → `CLERK_EMULATOR_VERIFY_BUMPS_CLOCK`. */
export function fidelityEnvName(key: keyof FidelitySettings) {
  return `CLERK_EMULATOR_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Reads `CLERK_EMULATOR_<NAME>` for each setting: `true`/`false`, a number, `off` (null), or one of the listed words. */
export function fidelityFromEnv(env: Record<string, string | undefined> = process.env): Partial<FidelitySettings> {
  const body: Record<string, unknown> = {};
  for (const key of fidelityKeys) {
    const raw = env[fidelityEnvName(key)];
    if (raw === undefined || raw === "") continue;
    body[key] = raw === "true" ? true : raw === "false" ? false : raw === "off" ? null : /^\d+$/.test(raw) ? Number(raw) : raw;
  }
  try {
    return parseFidelity(body);
  } catch (error) {
    if (error instanceof HttpError && error.paramName) throw new Error(`${fidelityEnvName(error.paramName as keyof FidelitySettings)}: ${error.message}`);
    throw error;
  }
}

/** Clerk's answer to a parameter it does not take: 422 `form_param_unknown`, naming it in `meta.param_name`. */
export function unknownParam(name: string, known: readonly string[] = []) {
  const hint = known.length > 0 ? ` Known: ${known.join(", ")}.` : "";
  return new HttpError(422, "form_param_unknown", "is unknown", {}, name, `${name} is not a valid parameter for this request.${hint}`);
}

/** Refuses the first key of `body` not in `known` (a request schema with `additionalProperties: false`). */
export function refuseUnknownKeys(body: Record<string, unknown>, known: readonly string[], listKnown = false) {
  const unknown = Object.keys(body).find((key) => !known.includes(key));
  if (unknown !== undefined) throw unknownParam(unknown, listKnown ? known : []);
}
