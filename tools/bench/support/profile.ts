/**
 * Reads the V8 CPU profiles `node --cpu-prof` wrote for `next start` and lists the frames with the
 * most self time, and the same time summed per package or build chunk.
 */
import fs from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type CpuProfile = { nodes: { id: number; hitCount?: number; callFrame: CallFrame }[]; samples: number[] };

const sourceMaps = new Map<string, SourceMap | null>();

/** Where a frame of the production build came from (its source map: `src/…` or the npm package's file). */
function original(frame: CallFrame): { url: string; lineNumber: number } {
  if (!frame.url.includes(".next")) return frame;
  const file = frame.url.startsWith("file://") ? fileURLToPath(frame.url) : frame.url;
  if (!sourceMaps.has(file)) {
    let map: SourceMap | null = null;
    try {
      map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, "utf8")) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      // No map (or an unreadable one): the chunk's own name will do.
    }
    sourceMaps.set(file, map);
  }
  const entry = sourceMaps.get(file)?.findEntry(frame.lineNumber, frame.columnNumber);
  if (!entry || !("originalSource" in entry)) return frame;
  // Sources are relative to the chunk's folder (`../../../src/…`) or the package inside node_modules.
  const source = decodeURIComponent(entry.originalSource).replace(/^(\.\.\/)+/, "").replace(/^.*\[project\]\//, "");
  return { url: source, lineNumber: entry.originalLine };
}

/** Where a frame's code comes from: an npm package, a build chunk, or node itself. */
function originOf(url: string): string {
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (packageMatch) return packageMatch[1]!;
  if (url.includes(".next")) return `build:${path.basename(url)}`;
  if (url.startsWith("src/")) return url.split("/").slice(0, 3).join("/");
  if (url.startsWith("node:")) return "node";
  return url ? path.basename(url) : "(native/VM)";
}

export function topFrames(dir: string, count: number) {
  if (!fs.existsSync(dir)) return null;
  const files = fs
    .readdirSync(dir)
    .filter((file) => file.endsWith(".cpuprofile"))
    .map((file) => path.join(dir, file));
  if (files.length === 0) return null;
  // The server is the process with the most samples (npx and next's launcher barely run).
  const profiles = files.map((file) => ({ file, profile: JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile }));
  const { file, profile } = profiles.reduce((best, next) => (next.profile.samples.length > best.profile.samples.length ? next : best));
  // Busy time only: the idle thread is not a cost.
  const idle = profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const total = profile.samples.length - idle;
  const byFrame = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0 || node.callFrame.functionName === "(idle)") continue;
    const { functionName } = node.callFrame;
    const { url, lineNumber } = original(node.callFrame);
    const where = url.startsWith("src/") ? url : path.basename(url);
    const frame = `${functionName || "(anonymous)"} ${url ? `${where}:${lineNumber + 1}` : ""}`.trim();
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + hits);
    const origin = originOf(url);
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + hits);
  }
  const percent = (hits: number) => `${((hits / total) * 100).toFixed(1)}%`;
  const top = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, hits]) => ({ name, selfPercent: percent(hits) }));
  const frames = top(byFrame);
  const origins = top(byOrigin);
  const text = [
    ...frames.map((f) => `  ${f.selfPercent.padStart(6)}  ${f.name}`),
    "  by package / chunk:",
    ...origins.map((o) => `  ${o.selfPercent.padStart(6)}  ${o.name}`),
  ].join("\n");
  // Each run's profile stands alone.
  for (const stale of files) fs.rmSync(stale);
  return { file: path.basename(file), samples: total, frames, origins, text };
}
