/**
 * `npm run clerk:contract`: the Backend API contract the product relies on.
 *
 * Without settings it runs against the emulator (in this process, on a free port) once per
 * setting of every switch that models an unknown. With `CLERK_CONTRACT_SECRET_KEY=sk_test_…`
 * (and optionally `CLERK_CONTRACT_API_URL`) it runs once against that Clerk development
 * instance: it creates its own users (`contract-<run>-<n>+clerk_test@example.com`, tagged in
 * `private_metadata`), deletes them at the end (also on Ctrl-C or a failure), and prints what
 * Clerk answered for every assertion and open question. Exit code 0: nothing differs.
 */
import { ContractContext } from "./context";
import { formatReport, summarize } from "./report";
import { fidelitySettingsToRun, newRunId, runAgainstClerk, runContract, startEmulatorTarget } from "./run";

async function againstEmulator() {
  let ok = true;
  for (const { label, fidelity } of fidelitySettingsToRun()) {
    const { target, stop } = await startEmulatorTarget(fidelity);
    try {
      const results = await runContract(new ContractContext(target, newRunId()));
      const summary = summarize(results);
      ok &&= summary.ok;
      console.log(`\n=== the emulator, ${label}: ${summary.line}`);
      if (!summary.ok || process.argv.includes("--verbose")) console.log(formatReport(results, "the emulator"));
    } finally {
      await stop();
    }
  }
  return ok;
}

const secretKey = process.env.CLERK_CONTRACT_SECRET_KEY;
(secretKey ? runAgainstClerk(secretKey, process.env.CLERK_CONTRACT_API_URL, (line) => console.log(line)).then(({ ok }) => ok) : againstEmulator())
  .then((ok) => process.exit(ok ? 0 : 1))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  });
