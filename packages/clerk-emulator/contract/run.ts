import { randomBytes } from "node:crypto";

import { defaultFidelity, unknownSwitches, type FidelitySettings } from "../src/fidelity";
import { startTestEmulator } from "../src/test-support";

import { contractCases, type ContractCase } from "./cases";
import { ContractContext, contractTag, type Check, type Target } from "./context";
import { formatReport, summarize } from "./report";

export type CaseResult = { name: string; checks: Check[]; error: string | null };

/** A short id for this run's users (in their email addresses and `private_metadata`). */
export function newRunId() {
  return randomBytes(4).toString("hex");
}

/** Runs one case on a fresh context; a throw is recorded as the case's error, never as a pass. */
export async function runCase(contractCase: ContractCase, ctx: ContractContext): Promise<CaseResult> {
  const before = ctx.checks.length;
  let error: string | null = null;
  try {
    await contractCase.run(ctx);
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  }
  return { name: contractCase.name, checks: ctx.checks.slice(before), error };
}

/** Every case against `ctx`'s target, then its users deleted (also when a case fails). */
export async function runContract(ctx: ContractContext, cases = contractCases) {
  const results: CaseResult[] = [];
  try {
    for (const contractCase of cases) results.push(await runCase(contractCase, ctx));
  } finally {
    const left = await ctx.deleteCreatedUsers();
    if (left.length > 0) results.push({ name: "cleanup", checks: [], error: `could not delete users ${left.join(", ")}` });
  }
  return results;
}

/** The settings the emulator runs the contract under: its defaults, then each value of each switch for an unknown. */
export function fidelitySettingsToRun(): { label: string; fidelity: FidelitySettings }[] {
  const settings = [{ label: "defaults", fidelity: defaultFidelity }];
  for (const [key, values] of Object.entries(unknownSwitches)) {
    for (const value of values as readonly unknown[]) {
      if (defaultFidelity[key as keyof FidelitySettings] === value) continue;
      settings.push({ label: `${key}=${String(value)}`, fidelity: { ...defaultFidelity, [key]: value } });
    }
  }
  return settings;
}

/** The emulator as a contract target: in-process on a free port, no seeded users, the given switches. */
export async function startEmulatorTarget(fidelity: FidelitySettings) {
  const running = await startTestEmulator({ seeds: [], fidelity });
  const target: Target = {
    kind: "emulator",
    apiUrl: running.emulator.origin,
    secretKey: running.emulator.identity.secretKey,
    fidelity,
    control: running.control,
    minRequestIntervalMs: 0,
  };
  return { target, stop: running.stop };
}

/**
 * A real Clerk development instance as the target. A production key (`sk_live_`) is refused:
 * the contract creates, rate-limits and deletes users.
 */
export function clerkTarget(secretKey: string, apiUrl = "https://api.clerk.com", minRequestIntervalMs = 150): Target {
  if (secretKey.startsWith("sk_live_")) {
    throw new Error("CLERK_CONTRACT_SECRET_KEY is a production key (sk_live_…). The contract creates and deletes users: use a development instance's sk_test_… key.");
  }
  if (!secretKey.startsWith("sk_test_")) throw new Error("CLERK_CONTRACT_SECRET_KEY must be a development instance's secret key (sk_test_…).");
  // Development instances take 100 requests per 10 s: 150 ms apart stays well under it.
  return { kind: "clerk", apiUrl: apiUrl.replace(/\/+$/, ""), secretKey, fidelity: null, control: null, minRequestIntervalMs };
}

/** Users an interrupted earlier run left behind (tagged, over an hour old). */
export async function leftoverUserIds(target: Target): Promise<string[]> {
  const ctx = new ContractContext(target, "sweep");
  const response = await ctx.bapi("GET", "/users", { query: { query: "contract-", limit: 500 } });
  const users = Array.isArray(response.body) ? (response.body as { id: string; created_at: number; private_metadata?: Record<string, unknown> }[]) : [];
  return users.filter((user) => user.private_metadata?.[contractTag] !== undefined && user.created_at < Date.now() - 60 * 60 * 1000).map((user) => user.id);
}

/**
 * The contract against a Clerk development instance: checks the instance, deletes users an
 * interrupted run left, runs every case, deletes this run's users (on Ctrl-C too), and logs the
 * report: every assertion with what Clerk answered, and the answers to the open questions.
 */
export async function runAgainstClerk(secretKey: string, apiUrl: string | undefined, log: (line: string) => void, minRequestIntervalMs?: number) {
  const target = clerkTarget(secretKey, apiUrl, minRequestIntervalMs);
  const ctx = new ContractContext(target, newRunId());
  const instance = await ctx.bapi("GET", "/instance");
  if (instance.status !== 200) throw new Error(`GET /v1/instance answered ${instance.status}: is CLERK_CONTRACT_SECRET_KEY right? ${JSON.stringify(instance.body)}`);
  const { id, environment_type: environmentType } = instance.body as { id: string; environment_type: string };
  if (environmentType !== "development") throw new Error(`Instance ${id} is a ${environmentType} instance: the contract runs against development instances only.`);
  log(`Clerk contract against ${target.apiUrl}, instance ${id} (development), run ${ctx.runId}`);

  const leftovers = await leftoverUserIds(target);
  for (const userId of leftovers) ctx.createdUserIds.add(userId);
  if (leftovers.length > 0) log(`(deleting ${leftovers.length} users an interrupted earlier run left)`);

  const onInterrupt = () => {
    log("\ninterrupted: deleting this run's users…");
    void ctx.deleteCreatedUsers().then((left) => {
      if (left.length > 0) log(`could not delete ${left.join(", ")}: delete them in the Dashboard`);
      process.exit(130);
    });
  };
  process.once("SIGINT", onInterrupt);
  try {
    const results = await runContract(ctx);
    const summary = summarize(results);
    log(formatReport(results, "Clerk"));
    log(`\n${summary.line}`);
    log("The unknowns' answers are what Clerk does: set the emulator's switch for each to match (README, The local Clerk emulator).");
    return { ok: summary.ok, results, usersLeft: [...ctx.createdUserIds] };
  } finally {
    process.removeListener("SIGINT", onInterrupt);
  }
}
