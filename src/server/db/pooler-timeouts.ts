import type postgres from "postgres";

/**
 * The statement and idle-in-transaction timeouts through a transaction pooler, where only what a
 * transaction carries reaches the server connection: each statement is cancelled by the client
 * once it has taken `timeoutMs` (postgres.js sends PostgreSQL's cancel request, which the pooler
 * forwards to the server connection running it: the statement fails with 57014 and the
 * connection is free again), and each transaction starts with `set_config(…, true)` of both
 * settings, so PostgreSQL ends one left idle (and its locks) as it would with the session setting.
 * Cost: a timer per statement, one statement per transaction (`npm run bench:pooler-timeouts`).
 */
export function withPoolerTimeouts(sql: postgres.Sql, timeoutMs: number): postgres.Sql {
  const bounded = <T extends postgres.PendingQuery<postgres.Row[]>>(query: T): T => {
    const timer = setTimeout(() => void query.cancel(), timeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    // Handlers only: the query runs when its caller awaits it, as before.
    query.then(clear, clear);
    return query;
  };
  const wrap = <S extends postgres.Sql | postgres.TransactionSql>(target: S): S =>
    new Proxy(target, {
      get(object, property, receiver) {
        if (property === "unsafe") {
          return (...args: Parameters<S["unsafe"]>) => bounded((object.unsafe as (...a: typeof args) => postgres.PendingQuery<postgres.Row[]>)(...args));
        }
        if (property === "begin") {
          return (...args: unknown[]) => {
            const work = args.pop() as (tx: postgres.TransactionSql) => unknown;
            return (object as postgres.Sql).begin(...(args as [string]), async (tx) => {
              await tx.unsafe("select set_config('statement_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $1, true)", [String(timeoutMs)]);
              return work(wrap(tx));
            });
          };
        }
        if (property === "savepoint") {
          return (...args: unknown[]) => {
            const work = args.pop() as (tx: postgres.TransactionSql) => unknown;
            return (object as postgres.TransactionSql).savepoint(...(args as [string]), (tx) => work(wrap(tx)));
          };
        }
        return Reflect.get(object, property, receiver) as unknown;
      },
    });
  return wrap(sql);
}
