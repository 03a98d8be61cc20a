/**
 * The client's retry rule over tRPC's whole error vocabulary: the six codes a repeat cannot fix
 * are permanent, every other code (and a failure with no code: the network) is retried.
 */
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { describe, expect, it } from "vitest";

import { defaultRetryOptions, retryDelayMs } from "./retry";

const permanent = ["BAD_REQUEST", "FORBIDDEN", "NOT_FOUND", "PARSE_ERROR", "METHOD_NOT_SUPPORTED", "UNPROCESSABLE_CONTENT"];
const failure = (data?: unknown) => Object.assign(new Error("failed"), data === undefined ? {} : { data });

describe("retryDelayMs", () => {
  it("gives up on exactly the six permanent codes of tRPC's vocabulary", () => {
    const codes = Object.keys(TRPC_ERROR_CODES_BY_KEY);
    expect(codes.length).toBeGreaterThan(permanent.length);
    const givenUp = codes.filter((code) => retryDelayMs(failure({ code }), 0, defaultRetryOptions) === null);
    expect(givenUp.sort()).toEqual([...permanent].sort());
  });

  it("retries a failure without tRPC data (the network), and stops at the last attempt", () => {
    expect(retryDelayMs(new TypeError("Failed to fetch"), 0, defaultRetryOptions)).not.toBeNull();
    expect(retryDelayMs("offline", 0, defaultRetryOptions)).not.toBeNull();
    expect(retryDelayMs(failure({ code: "BAD_GATEWAY" }), defaultRetryOptions.maxAttempts - 2, defaultRetryOptions)).not.toBeNull();
    expect(retryDelayMs(failure({ code: "BAD_GATEWAY" }), defaultRetryOptions.maxAttempts - 1, defaultRetryOptions)).toBeNull();
  });

  it("waits Retry-After when the server sent one, else a capped exponential backoff with jitter", () => {
    expect(retryDelayMs(failure({ code: "TOO_MANY_REQUESTS", retryAfterSeconds: 20 }), 0, defaultRetryOptions)).toBe(20_000);
    const options = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(retryDelayMs(failure(), 2, options, () => 0)).toBe(200);
    expect(retryDelayMs(failure(), 2, options, () => 1)).toBe(400);
    expect(retryDelayMs(failure(), 8, options, () => 1)).toBe(1_000);
  });
});
