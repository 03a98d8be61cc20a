/**
 * The reconciliation benchmark's Clerk: the tests' user directory (src/user-sync/testing/clerk-users-list.ts:
 * Clerk's `GET /v1/users` rules, `starting_after`, `limit` over 500 answering 10, deep offsets
 * timing out, `user_id` filters, `/count`, JWKS) over real HTTP in a process of its own, so the
 * benchmark's memory figures are the reconciler's alone.
 *
 * `tsx tools/bench/clerk-directory-server.ts <users> [<offset timeout depth>] [<offset latency ms per 1000>]`:
 * seeds the users, prints `{"url", "secretKey", "instanceId", "seedMs"}` on one line, serves
 * until its stdin closes.
 */
import { createClerkUserDirectory, testSessionKeyId } from "clerk-user-sync/testing";

const [count = Number.NaN, timeoutDepth = 10_000, latencyMsPer1000 = 1] = process.argv.slice(2).map(Number);
if (!Number.isInteger(count) || count < 0) throw new Error("usage: clerk-directory-server.ts <users> [<offset timeout depth>] [<offset latency ms per 1000>]");

const directory = createClerkUserDirectory();
// A million logged requests would be the directory's own memory, not the reconciler's.
directory.setRequestLog(false);
directory.setOffsetCost({ timeoutDepth, latencyMsPer1000 });
const started = performance.now();
directory.addMany(count, "user_bench");
// Sorted once here, not on the first page.
await directory.handle(new Request("http://directory/v1/users/count", { headers: { authorization: "Bearer sk_bench" } }));
const seedMs = performance.now() - started;
const server = await directory.listen();
process.stdout.write(`${JSON.stringify({ url: server.url, secretKey: "sk_live_bench", instanceId: testSessionKeyId, seedMs })}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  void server.close().then(() => process.exit(0));
});
