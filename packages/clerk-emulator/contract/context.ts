import { isDeepStrictEqual } from "node:util";

import { createClerkClient, type ClerkClient } from "@clerk/backend";

import type { ClerkEmulatorControl } from "../src/control-client";
import type { FidelitySettings } from "../src/fidelity";
import type { UserJson } from "../src/users";

/**
 * How an assertion is known: *documented* by Clerk (its Backend API specification or docs),
 * *observed* (a recorded real response, an issue thread, or an inference the emulator makes,
 * named in `source`), or *unknown* (nobody has seen it: the contract records Clerk's answer, and
 * the emulator must answer what its switch for it says).
 */
export type AssertionKind = "documented" | "observed" | "unknown";

export type Check = {
  kind: AssertionKind;
  claim: string;
  source: string;
  /** `answered`: an unknown's answer from real Clerk; `not-run`: the target cannot show it. */
  outcome: "pass" | "differs" | "answered" | "not-run";
  expected?: unknown;
  actual?: unknown;
};

/** Where the contract runs: the emulator (with its control API and fidelity switches) or a real Clerk development instance. */
export type Target = {
  kind: "emulator" | "clerk";
  apiUrl: string;
  secretKey: string;
  /** The emulator's switches for Clerk's unknowns; null against Clerk. */
  fidelity: FidelitySettings | null;
  control: ClerkEmulatorControl | null;
  /** Least time between two requests (Clerk's development instances take 100 per 10 s). */
  minRequestIntervalMs: number;
};

export type BapiResponse = { status: number; headers: Headers; body: unknown };

/** The version the product and @clerk/backend 3.20 send. */
export const clerkApiVersion = "2026-05-12";

/** Every user the contract creates carries this in `private_metadata`, and `contract-<run>` in its email address. */
export const contractTag = "clerk_contract_run";

type UserFields = { first_name?: string; last_name?: string; username?: string };

/** One run of the contract's cases against one target: its HTTP helpers, the users it made, and what it checked. */
export class ContractContext {
  readonly checks: Check[] = [];
  readonly createdUserIds = new Set<string>();
  private lastRequestAtMs = 0;
  private userCount = 0;
  private sharedUsers: Promise<UserJson[]> | null = null;

  constructor(
    readonly target: Target,
    readonly runId: string,
  ) {}

  /** A Backend API call as the product makes them: plain fetch, Bearer secret key, `Clerk-API-Version`. */
  async bapi(
    method: string,
    path: string,
    options: { query?: Record<string, string | string[] | number>; body?: unknown; form?: FormData; secretKey?: string | null } = {},
  ): Promise<BapiResponse> {
    const url = new URL(`${this.target.apiUrl}/v1${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(one));
    }
    const headers: Record<string, string> = { "Clerk-API-Version": clerkApiVersion };
    const secretKey = options.secretKey === undefined ? this.target.secretKey : options.secretKey;
    if (secretKey !== null) headers.Authorization = `Bearer ${secretKey}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    await this.pace();
    const response = await fetch(url, {
      method,
      headers,
      body: options.form ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: kept as text (an HTML error page, say).
    }
    return { status: response.status, headers: response.headers, body };
  }

  /** @clerk/backend's client against the target, as the product's reconciliation uses it for lists. */
  clerk(): ClerkClient {
    return createClerkClient({ secretKey: this.target.secretKey, apiUrl: this.target.apiUrl });
  }

  /** A user of this run (deleted at its end): one verified address, tagged, no password. */
  async createUser(fields: UserFields = {}): Promise<UserJson> {
    const n = ++this.userCount;
    const response = await this.bapi("POST", "/users", {
      body: {
        email_address: [`contract-${this.runId}-${n}+clerk_test@example.com`],
        first_name: "Contract",
        last_name: `User ${n}`,
        skip_password_requirement: true,
        private_metadata: { [contractTag]: this.runId },
        ...fields,
      },
    });
    if (response.status !== 200) throw new Error(`Creating a test user answered ${response.status}: ${JSON.stringify(response.body)}`);
    const user = response.body as UserJson;
    this.createdUserIds.add(user.id);
    return user;
  }

  /** Twelve users made one after another, shared by the list cases, which never change them. */
  listUsers(): Promise<UserJson[]> {
    this.sharedUsers ??= (async () => {
      const users: UserJson[] = [];
      for (let i = 0; i < 12; i++) users.push(await this.createUser());
      return users;
    })();
    return this.sharedUsers;
  }

  /** Deletes every user this run created; answers the ids it could not delete. */
  async deleteCreatedUsers(): Promise<string[]> {
    const left: string[] = [];
    for (const id of this.createdUserIds) {
      const response = await this.bapi("DELETE", `/users/${id}`).catch(() => null);
      if (response && (response.status === 200 || response.status === 404)) this.createdUserIds.delete(id);
      else left.push(id);
    }
    return left;
  }

  documented(claim: string, source: string, actual: unknown, expected: unknown) {
    this.record("documented", claim, source, actual, expected);
  }

  observed(claim: string, source: string, actual: unknown, expected: unknown) {
    this.record("observed", claim, source, actual, expected);
  }

  /**
   * An open question: real Clerk's answer is recorded; the emulator must answer what its
   * switch for it says (`emulatorAnswer`, from `target.fidelity`).
   */
  unknown(question: string, source: string, answer: unknown, emulatorAnswer: unknown) {
    if (this.target.kind === "clerk") this.checks.push({ kind: "unknown", claim: question, source, outcome: "answered", actual: answer });
    else this.record("unknown", question, source, answer, emulatorAnswer);
  }

  /** An assertion this target cannot show (e.g. a timeout that needs an instance of 10,000 users). */
  notRun(kind: AssertionKind, claim: string, source: string, reason: string) {
    this.checks.push({ kind, claim, source, outcome: "not-run", actual: reason });
  }

  /** Lets the clock reach a later millisecond, so a change can show whether it moved `updated_at`. */
  pause(ms = 5) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  private record(kind: AssertionKind, claim: string, source: string, actual: unknown, expected: unknown) {
    this.checks.push({ kind, claim, source, outcome: isDeepStrictEqual(actual, expected) ? "pass" : "differs", expected, actual });
  }

  private async pace() {
    const waitMs = this.lastRequestAtMs + this.target.minRequestIntervalMs - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    this.lastRequestAtMs = Date.now();
  }
}

/** The first Clerk error of an answer, as `{ status, code, param }` (null fields when the body is not Clerk's). */
export function clerkError(response: BapiResponse) {
  const error = (response.body as { errors?: { code?: string; meta?: { param_name?: string } }[] } | null)?.errors?.[0];
  return { status: response.status, code: error?.code ?? null, param: error?.meta?.param_name ?? null };
}
