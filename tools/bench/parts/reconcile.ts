/**
 * P4: `npm run bench:reconcile` as it is (its own database and Clerk emulator process), folded
 * into `npm run bench`: its table is printed as it prints it, its JSON becomes the P4 rows.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";

import type { PartResult } from "../support/report";

type ReconcileFigures = {
  users: number;
  runs: { usersPerSecondDatabase: number; usersPerSecondWall: number }[];
  baseline: { users: number; usersPerSecondDatabase: number };
  ratioDatabaseSide: number;
};

export async function benchReconcile(options: { users: number; baselineUsers: number; log: (line: string) => void }): Promise<PartResult> {
  const child = spawn(
    "npx",
    ["tsx", "--conditions=react-server", "tools/bench/reconcile.ts", "--users", String(options.users), "--baseline-users", String(options.baselineUsers)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`bench:reconcile exited with ${code}:\n${output}`);
  options.log(output.trimEnd());
  const file = /raw figures: (\S+)/.exec(output)?.[1];
  if (!file) throw new Error("bench:reconcile printed no raw figures file");
  const figures = JSON.parse(fs.readFileSync(file, "utf8")) as ReconcileFigures;
  const fromEmpty = figures.runs[0]!;
  return {
    rows: [
      {
        part: "P4 reconcile",
        measure: `users/s database side, ${figures.users} users from empty (floor: one user per round trip, ${figures.baseline.users} users)`,
        product: `${fromEmpty.usersPerSecondDatabase} users/s`,
        frameworkFloor: "—",
        floor: `${figures.baseline.usersPerSecondDatabase} users/s`,
        ratio: `${figures.ratioDatabaseSide}×`,
        goal: "≥ 20000 users/s, ≥ 20×",
        met: fromEmpty.usersPerSecondDatabase >= 20_000 && figures.ratioDatabaseSide >= 20,
      },
    ],
    raw: { file, figures },
    notes: [`P4: npm run bench:reconcile -- --users ${options.users} --baseline-users ${options.baselineUsers} (raw figures ${file}).`],
  };
}
