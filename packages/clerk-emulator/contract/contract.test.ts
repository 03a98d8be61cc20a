import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { contractCases } from "./cases";
import { ContractContext } from "./context";
import { formatCheck } from "./report";
import { startTestEmulator } from "../src/test-support";

import { fidelitySettingsToRun, newRunId, runAgainstClerk, runCase, startEmulatorTarget } from "./run";

// The Backend API contract against the emulator, once per setting of every switch that models
// an unknown of Clerk: every documented and observed assertion must hold, and every unknown must
// be answered as the switch says. `npm run clerk:contract` runs the same cases against real Clerk.
describe.each(fidelitySettingsToRun())("the Backend API contract, emulator with $label", ({ fidelity }) => {
  let ctx: ContractContext;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    const started = await startEmulatorTarget(fidelity);
    ctx = new ContractContext(started.target, newRunId());
    stop = started.stop;
  });
  afterAll(async () => {
    await ctx.deleteCreatedUsers();
    await stop();
  });

  it.each(contractCases.map((contractCase) => [contractCase.name, contractCase] as const))("%s", async (_name, contractCase) => {
    const result = await runCase(contractCase, ctx);
    expect(result.error).toBeNull();
    expect(result.checks.length).toBeGreaterThan(0);
    expect(result.checks.filter((check) => check.outcome !== "pass").map((check) => formatCheck(check, "the emulator"))).toEqual([]);
  });
});

describe("the contract against a Clerk development instance (played here by the emulator with a development key)", () => {
  it("refuses a production key before any request", async () => {
    await expect(runAgainstClerk("sk_live_abc", "http://localhost:9", () => undefined)).rejects.toThrow(/production key \(sk_live_…\).*sk_test_/);
    await expect(runAgainstClerk("pk_test_abc", "http://localhost:9", () => undefined)).rejects.toThrow(/sk_test_/);
  });

  it("reports every assertion with the instance's answer, answers the unknowns, and deletes the users it made", async () => {
    const clerk = await startTestEmulator({ secretKey: "sk_test_contract_instance", seeds: [], rateLimits: { instanceRequests: 100_000 } });
    try {
      const lines: string[] = [];
      const { ok, results, usersLeft } = await runAgainstClerk(clerk.emulator.identity.secretKey, clerk.emulator.origin, (line) => lines.push(line), 0);
      const checks = results.flatMap((result) => result.checks);
      expect({ ok, errors: results.filter((result) => result.error).map((result) => `${result.name}: ${result.error}`) }).toEqual({ ok: true, errors: [] });
      expect(checks.filter((check) => check.kind === "unknown").map((check) => [check.outcome, check.actual])).toEqual([
        ["answered", "error"],
        ["answered", false],
        ["answered", true],
      ]);
      expect(checks.filter((check) => check.outcome === "not-run").map((check) => check.claim)).toEqual([expect.stringMatching(/large offset/)]);
      expect(lines.join("\n")).toMatch(/documented pass {4}GET \/v1\/users\/\{id\} answers 200 with the User/);
      expect(lines.join("\n")).toMatch(/unknown {4}answer  Does verifying an address move the user's updated_at\?\n\s+Clerk answered: false/);
      expect([usersLeft, await clerk.control.users()]).toEqual([[], []]);
    } finally {
      await clerk.stop();
    }
  });
});
