/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the top frames by self time and by
 * total time (time on the stack, counted once per sample), as percentages of the samples.
 *
 * npx tsx tools/bench/cpu-profile-top.ts <file.cpuprofile> [--top 25] [--filter user-sync]
 */
import fs from "node:fs";
import { parseArgs } from "node:util";

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
type Profile = { nodes: ProfileNode[]; samples: number[] };

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" }, filter: { type: "string" } },
});
const file = positionals[0];
if (!file) throw new Error("usage: cpu-profile-top.ts <file.cpuprofile> [--top N] [--filter text]");
const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

function frameName(node: ProfileNode) {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^.*\/(node_modules|\.next[^/]*)\//, "$1/").replace(/^file:\/\/.*\/wt-[^/]+\//, "");
  return `${functionName || "(anonymous)"} ${where}:${lineNumber + 1}`;
}

const self = new Map<string, number>();
const total = new Map<string, number>();
const idle = new Set(["(idle)", "(program)", "(garbage collector)"]);
let busy = 0;
for (const sample of profile.samples) {
  const node = byId.get(sample)!;
  if (!idle.has(node.callFrame.functionName)) busy++;
  const name = frameName(node);
  self.set(name, (self.get(name) ?? 0) + 1);
  const seen = new Set<string>();
  for (let id: number | undefined = sample; id !== undefined; id = parentOf.get(id)) {
    const frame = frameName(byId.get(id)!);
    if (seen.has(frame)) continue;
    seen.add(frame);
    total.set(frame, (total.get(frame) ?? 0) + 1);
  }
}

const samples = profile.samples.length;
const top = Number(options.top);
const keep = ([name]: [string, number]) => !options.filter || name.includes(options.filter);
const percent = (count: number) => `${((count / samples) * 100).toFixed(1)}%`.padStart(6);
console.log(`${samples} samples, ${percent(busy)} not idle`);
console.log("\nself time");
for (const [name, count] of [...self].filter(keep).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${percent(count)}  ${name}`);
console.log("\ntotal time");
for (const [name, count] of [...total].filter(keep).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${percent(count)}  ${name}`);
