import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/**
 * PgBouncer in front of the tests' PostgreSQL server, as a transaction pooler (Supabase's,
 * Neon's `-pooler`, PgBouncer before RDS): the binary Debian installs (`apt-get install
 * pgbouncer`; `PGBOUNCER_PATH` elsewhere), started by the test on a free port with a config of
 * its own in a temporary folder, and stopped (its process only) when the test ends.
 */
export const pgBouncerPath = process.env.PGBOUNCER_PATH ?? "/usr/sbin/pgbouncer";

/** Null when PgBouncer can be started here, else why not (for a test's skip message). */
export function pgBouncerUnavailable(): string | null {
  try {
    fs.accessSync(pgBouncerPath, fs.constants.X_OK);
    return null;
  } catch {
    return `PgBouncer is not installed at ${pgBouncerPath} (apt-get install pgbouncer, or set PGBOUNCER_PATH): the pooler tests are skipped`;
  }
}

export type PgBouncer = {
  port: number;
  /** `upstreamUrl` with host and port replaced by PgBouncer's, for `database`. */
  url(database: string): string;
  /** PgBouncer's own log (connections, errors). */
  log(): string;
  stop(): Promise<void>;
};

export type PgBouncerOptions = {
  /** The PostgreSQL server behind it (any database of it: PgBouncer serves every database by name). */
  upstreamUrl: string;
  /** Default "transaction". */
  poolMode?: "transaction" | "session" | "statement";
  /** Server connections per database and user (default 4). */
  poolSize?: number;
  /** Default: a free port. */
  port?: number;
};

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const unavailable = pgBouncerUnavailable();
  if (unavailable) throw new Error(unavailable);
  const upstream = new URL(options.upstreamUrl);
  const user = decodeURIComponent(upstream.username || "postgres");
  const password = decodeURIComponent(upstream.password);
  const port = options.port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "user-sync-pgbouncer-"));
  // PgBouncer refuses to run as root: it switches to `nobody`, which must read and write here.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) fs.chmodSync(dir, 0o777);
  const serverLogin = `user=${user}${password ? ` password=${password}` : ""}`;
  const config = [
    "[databases]",
    `* = host=${upstream.hostname} port=${upstream.port || 5432} ${serverLogin}`,
    "",
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    `unix_socket_dir = ${dir}`,
    "auth_type = trust",
    `auth_file = ${path.join(dir, "userlist.txt")}`,
    `pool_mode = ${options.poolMode ?? "transaction"}`,
    `default_pool_size = ${options.poolSize ?? 4}`,
    "max_client_conn = 500",
    `logfile = ${path.join(dir, "pgbouncer.log")}`,
    "",
  ].join("\n");
  fs.writeFileSync(path.join(dir, "pgbouncer.ini"), config, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, "userlist.txt"), `"${user}" ""\n`, { mode: 0o644 });
  const child: ChildProcess = spawn(pgBouncerPath, [...(asRoot ? ["-u", "nobody"] : []), path.join(dir, "pgbouncer.ini")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const log = () => {
    try {
      return fs.readFileSync(path.join(dir, "pgbouncer.log"), "utf8");
    } catch {
      return output.join("");
    }
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`PgBouncer exited at start: ${log().slice(-2000)}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`PgBouncer did not listen on ${port}: ${log().slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    url(database: string) {
      const url = new URL(options.upstreamUrl);
      url.hostname = "127.0.0.1";
      url.port = String(port);
      url.password = "";
      url.pathname = `/${database}`;
      return url.toString();
    },
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        // SIGINT: PgBouncer's "safe shutdown" waits for clients; SIGTERM ends at once.
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
