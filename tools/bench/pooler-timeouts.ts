/**
 * What applying the statement timeout costs behind a transaction pooler (DATABASE_POOL_MODE=
 * transaction), measured through PgBouncer 1.18 (pool_mode=transaction, started here): the same
 * single-row statements, one after another, on postgres.js with `prepare: false`,
 * - without any timeout (what a pooler leaves when the startup parameters are dropped),
 * - with the app's choice: a client-side cancel per statement (a timer; PostgreSQL's cancel
 *   request only when one runs too long) and set_config(…, true) at the start of each transaction,
 * - with every statement in its own transaction that starts with set_config(…, true) (the
 *   server-side alternative: BEGIN, set_config, the statement, COMMIT).
 * Interleaved in batches of 100 (the order rotating); medians over the rounds of the time per
 * statement, and the ratio to the first.
 *
 * npx tsx --conditions=react-server tools/bench/pooler-timeouts.ts [--statements 2000] [--rounds 5] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
 */
import { parseArgs } from "node:util";

import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";

import { withPoolerTimeouts } from "~/server/db/pooler-timeouts";
import { startPgBouncer } from "#test/pgbouncer";

const { values: args } = parseArgs({
  options: {
    statements: { type: "string", default: "2000" },
    rounds: { type: "string", default: "7" },
    "database-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
  },
});
const statements = Number(args.statements);
const rounds = Number(args.rounds);
const timeoutMs = 5_000;

const pgBouncer = await startPgBouncer({ upstreamUrl: args["database-url"], poolMode: "transaction", poolSize: 2 });
const pooledUrl = pgBouncer.url(new URL(args["database-url"]).pathname.slice(1));
const clients = {
  none: postgres(pooledUrl, { max: 1, prepare: false, onnotice: () => undefined }),
  cancel: withPoolerTimeouts(postgres(pooledUrl, { max: 1, prepare: false, onnotice: () => undefined }), timeoutMs),
  transaction: postgres(pooledUrl, { max: 1, prepare: false, onnotice: () => undefined }),
};
const dbs = { none: drizzle({ client: clients.none }), cancel: drizzle({ client: clients.cancel }), transaction: drizzle({ client: clients.transaction }) };

const variants: { name: string; run: (i: number) => Promise<unknown> }[] = [
  { name: "no timeout", run: (i) => dbs.none.execute(sql`select ${i}::int as n`) },
  { name: "client cancel per statement (the app's choice)", run: (i) => dbs.cancel.execute(sql`select ${i}::int as n`) },
  {
    name: "a transaction per statement with set_config(…, true)",
    run: (i) =>
      dbs.transaction.transaction(async (tx) => {
        await tx.execute(sql`select set_config('statement_timeout', ${String(timeoutMs)}, true), set_config('idle_in_transaction_session_timeout', ${String(timeoutMs)}, true)`);
        return tx.execute(sql`select ${i}::int as n`);
      }),
  },
];

const perStatementUs = new Map<string, number[]>(variants.map((v) => [v.name, []]));
try {
  for (const variant of variants) for (let i = 0; i < 200; i++) await variant.run(i);
  // Interleaved in batches, the order rotating every round: a noisy machine weighs on all three alike.
  const batch = 100;
  for (let round = 0; round < rounds; round++) {
    const elapsedMs = new Map<string, number>(variants.map((v) => [v.name, 0]));
    for (let done = 0; done < statements; done += batch) {
      for (let k = 0; k < variants.length; k++) {
        const variant = variants[(k + round + done / batch) % variants.length]!;
        const started = performance.now();
        for (let i = 0; i < batch; i++) await variant.run(done + i);
        elapsedMs.set(variant.name, elapsedMs.get(variant.name)! + performance.now() - started);
      }
    }
    for (const variant of variants) perStatementUs.get(variant.name)!.push((elapsedMs.get(variant.name)! * 1000) / statements);
  }
} finally {
  await Promise.all(Object.values(clients).map((client) => client.end({ timeout: 5 })));
  await pgBouncer.stop();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const base = median(perStatementUs.get(variants[0]!.name)!);
console.log(`Through PgBouncer 1.18 (transaction mode), ${statements} statements × ${rounds} rounds, medians:\n`);
console.log("| Statement timeout | µs per statement | ÷ no timeout |");
console.log("|---|---|---|");
for (const variant of variants) {
  const us = median(perStatementUs.get(variant.name)!);
  console.log(`| ${variant.name} | ${us.toFixed(0)} | ${(us / base).toFixed(2)}× |`);
}
