import http from "node:http";
import net from "node:net";

import pg from "pg";
import { WebSocketServer } from "ws";

/**
 * Local stand-ins for Neon's two endpoints, so drizzle's real `neon-http`, `neon-serverless` and
 * `vercel-postgres` drivers (with the real `@neondatabase/serverless` and `@vercel/postgres`
 * clients) run against the tests' PostgreSQL: Neon itself cannot be reached from here.
 *
 * - SQL over HTTP (`neon()`, drizzle's `neon-http`): `POST /sql` with the query and its
 *   parameters as JSON, the connection string in `Neon-Connection-String`, rows answered as text
 *   (`Neon-Raw-Text-Output`) in arrays (`Neon-Array-Mode`) with their fields' type ids; a
 *   `{ queries: [...] }` body is a non-interactive transaction (`sql.transaction([...])`); a
 *   database error is a 400 whose JSON carries PostgreSQL's error fields. As on Neon, every
 *   request is a statement on its own: the connection that ran it is reset (`DISCARD ALL`: no
 *   session setting, named statement or session lock survives) before anything else uses it.
 * - The WebSocket proxy (`Pool`/`Client` of `@neondatabase/serverless`): `/v2?address=host:port`,
 *   then the PostgreSQL protocol's bytes both ways, to that port on 127.0.0.1 (PostgreSQL or a pooler).
 */

/** Every value as PostgreSQL's text, as Neon's `Neon-Raw-Text-Output: true` answers it. */
const rawText = { getTypeParser: () => (value: string) => value };

type NeonQuery = { query: string; params?: unknown[] };

export type NeonHttpStandIn = {
  /** For `neonConfig.fetchEndpoint`. */
  endpoint: string;
  /** Requests served, one per statement or batch. */
  requests: () => number;
  close(): Promise<void>;
};

/** Neon's SQL-over-HTTP endpoint, forwarding each request to `upstreamUrl`'s server (the database named in the connection string). */
export async function startNeonHttpStandIn(upstreamUrl: string): Promise<NeonHttpStandIn> {
  const pools = new Map<string, pg.Pool>();
  let requests = 0;
  const poolFor = (connectionString: string) => {
    const database = new URL(connectionString).pathname.slice(1);
    let pool = pools.get(database);
    if (!pool) {
      const url = new URL(upstreamUrl);
      url.pathname = `/${database}`;
      pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
      pools.set(database, pool);
    }
    return pool;
  };

  async function run(client: pg.PoolClient, { query, params }: NeonQuery) {
    const result = await client.query({ text: query, values: params ?? [], rowMode: "array", types: rawText });
    return {
      command: result.command,
      rowCount: result.rowCount,
      rows: result.rows as unknown[][],
      fields: result.fields.map((field) => ({ ...field, format: "text" })),
      rowAsArray: true,
    };
  }

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests++;
      void (async () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as NeonQuery | { queries: NeonQuery[] };
        const connectionString = request.headers["neon-connection-string"];
        if (typeof connectionString !== "string") throw new Error("Neon-Connection-String is missing");
        const client = await poolFor(connectionString).connect();
        try {
          if ("queries" in body) {
            const isolation = request.headers["neon-batch-isolation-level"];
            await client.query(`begin${typeof isolation === "string" ? ` isolation level ${isolation.replace(/([a-z])([A-Z])/g, "$1 $2")}` : ""}`);
            try {
              const results = [];
              for (const query of body.queries) results.push(await run(client, query));
              await client.query("commit");
              return { status: 200, json: { results } };
            } catch (error) {
              await client.query("rollback");
              throw error;
            }
          }
          return { status: 200, json: await run(client, body) };
        } finally {
          // Each request is a statement on its own: nothing of this session reaches the next one.
          await client.query("discard all").catch(() => undefined);
          client.release();
        }
      })().then(
        ({ status, json }) => {
          response.writeHead(status, { "Content-Type": "application/json" });
          response.end(JSON.stringify(json));
        },
        (error: unknown) => {
          const failure = error as pg.DatabaseError;
          if (typeof failure.code === "string") {
            // A database error: Neon's 400 with PostgreSQL's error fields.
            const { message, severity, code, detail, hint, position, where, schema, table, column, dataType, constraint, routine } = failure;
            response.writeHead(400, { "Content-Type": "application/json" });
            response.end(JSON.stringify({ message, severity, code, detail, hint, position, where, schema, table, column, dataType, constraint, routine }));
            return;
          }
          response.writeHead(500, { "Content-Type": "text/plain" });
          response.end("stand-in failure");
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/sql`,
    requests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all([...pools.values()].map((pool) => pool.end()));
    },
  };
}

export type NeonWebSocketProxy = {
  /** For `neonConfig.wsProxy`: `127.0.0.1:<proxy port>/v2?address=<host>:<port>`. */
  wsProxy: (host: string, port: number | string) => string;
  close(): Promise<void>;
};

/**
 * Neon's WebSocket proxy: each WebSocket (`/v2?address=host:port`) is one TCP connection to
 * that port on 127.0.0.1 (PostgreSQL, or a pooler in front of it).
 */
export async function startNeonWebSocketProxy(): Promise<NeonWebSocketProxy> {
  const sockets = new Set<net.Socket>();
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/v2" });
  server.on("connection", (webSocket, request) => {
    const address = new URL(request.url ?? "/", "http://proxy").searchParams.get("address") ?? "";
    const socket = net.connect(Number(address.slice(address.lastIndexOf(":") + 1)), "127.0.0.1");
    sockets.add(socket);
    socket.on("data", (data) => webSocket.send(data));
    socket.on("close", () => {
      sockets.delete(socket);
      webSocket.close();
    });
    socket.on("error", () => webSocket.terminate());
    webSocket.on("message", (data: Buffer) => socket.write(data));
    webSocket.on("close", () => socket.end());
    webSocket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    // Neon's client uses a function's answer as the whole address (a string gets `?address=` appended).
    wsProxy: (host, upstreamPort) => `127.0.0.1:${port}/v2?address=${host}:${upstreamPort}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
