/**
 * The benchmark's Clerk: N users behind the Backend API's list/count/user_id endpoints, served
 * over HTTP from its own process so the benchmark's memory figures are the reconciler's alone.
 * Prints `{"url": …}` once listening; stops when its stdin closes.
 */
import { createClerkUserDirectory } from "~/test/mocks/clerk-users-list";

const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 1) throw new Error("usage: clerk-directory-server.ts <users>");

const directory = createClerkUserDirectory();
for (let i = 0; i < count; i++) {
  const id = `user_bench_${String(i).padStart(7, "0")}`;
  directory.add({ id, email: `${id}@example.com`, firstName: "Bench", lastName: `User ${i}`, updatedAtMs: 1_700_000_000_000 + i });
}
const server = await directory.listen();
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  void server.close().then(() => process.exit(0));
});
