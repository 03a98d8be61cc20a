import { maxBulkUsers } from "./control";
import type { ClerkEmulator } from "./emulator";
import { clientOf } from "./fapi";
import { bapiEndpoints } from "./faults";
import { parseFidelity } from "./fidelity";
import { escapeHtml as e, HttpError, readFields, redirect, sendHtml, serializeCookie, type Router } from "./http";
import type { EmulatorUser } from "./users";

/** The pages list this many users (oldest first); the others are reached by id. */
const usersShown = 50;

/**
 * Server-rendered pages: the sign-in page (Clerk's Account Portal role) and the emulator's
 * own dashboard at `/` (users, deliveries, failure switches). Forms post and redirect back.
 */
export function registerPages(router: Router<ClerkEmulator>) {
  for (const path of ["/sign-in", "/sign-up"]) {
    router.on("GET", path, ({ res, url, ctx }) => sendHtml(res, 200, signInPage(ctx, redirectTarget(url.searchParams))));
  }

  router.on("POST", "/sign-in", async ({ req, res, ctx }) => {
    const form = await readFields(req);
    const target = typeof form.redirect_url === "string" ? form.redirect_url : null;
    try {
      let userId = typeof form.user_id === "string" ? form.user_id.trim() : "";
      if (!userId) {
        userId = ctx.createUser({ email: requireEmail(form.email), firstName: text(form.first_name), lastName: text(form.last_name) }).id;
      }
      if (!ctx.users.get(userId)) throw new HttpError(404, "resource_not_found", "No such user");
      const { cookies } = ctx.signIn(clientOf(ctx, req), userId);
      ctx.log(`sign-in ${userId}`);
      redirect(res, ctx.safeRedirect(target), 303, { "Set-Cookie": cookies.map(serializeCookie) });
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      sendHtml(res, error.status, signInPage(ctx, target, error.message));
    }
  });

  router.on("GET", "/", ({ res, ctx }) => sendHtml(res, 200, homePage(ctx)));
  router.on("GET", "/favicon.ico", ({ res }) => void res.writeHead(204).end());

  router.on("POST", "/ui/users", async ({ req, res, ctx }) => {
    const form = await readFields(req);
    ctx.createUser({ email: requireEmail(form.email), firstName: text(form.first_name), lastName: text(form.last_name), username: text(form.username) });
    redirect(res, "/");
  });

  router.on("POST", "/ui/users/bulk", async ({ req, res, ctx }) => {
    const form = await readFields(req);
    const count = Number(form.count);
    if (!Number.isInteger(count) || count < 1 || count > maxBulkUsers) throw new HttpError(400, "form_param_value_invalid", "count must be a positive integer");
    ctx.createUsersInBulk(count, { prefix: text(form.prefix) ?? undefined });
    redirect(res, "/");
  });

  router.on("POST", "/ui/users/:id", async ({ req, res, params, ctx }) => {
    const form = await readFields(req);
    ctx.updateUser(params.id!, { firstName: text(form.first_name), lastName: text(form.last_name), username: text(form.username) });
    redirect(res, "/");
  });

  router.on("POST", "/ui/users/:id/email", async ({ req, res, params, ctx }) => {
    const form = await readFields(req);
    await ctx.changePrimaryEmail(params.id!, requireEmail(form.email), { deleteOld: form.delete_old === "on" });
    redirect(res, "/");
  });

  router.on("POST", "/ui/users/:id/ban", async ({ req, res, params, ctx }) => {
    const form = await readFields(req);
    ctx.setBanned(params.id!, form.banned === "true");
    redirect(res, "/");
  });

  router.on("POST", "/ui/users/:id/lock", async ({ req, res, params, ctx }) => {
    const form = await readFields(req);
    ctx.setLocked(params.id!, form.locked === "true");
    redirect(res, "/");
  });

  router.on("POST", "/ui/fidelity", async ({ req, res, ctx }) => {
    const form = await readFields(req);
    const depth = typeof form.offset_timeout_depth === "string" ? form.offset_timeout_depth : "";
    const lockout = typeof form.lockout_seconds === "string" ? form.lockout_seconds : "";
    ctx.fidelity = {
      ...ctx.fidelity,
      ...parseFidelity({
        verifyBumpsClock: form.verify_bumps_clock === "on",
        primarySwitchBumpsClock: form.primary_switch_bumps_clock === "on",
        startingAfterUnknownUser: form.starting_after_unknown_user,
        offsetTimeoutDepth: depth === "" ? null : Number(depth),
        lockoutSeconds: lockout === "" ? null : Number(lockout),
      }),
    };
    redirect(res, "/");
  });

  router.on("POST", "/ui/users/:id/delete", ({ res, params, ctx }) => {
    ctx.deleteUser(params.id!);
    redirect(res, "/");
  });

  router.on("POST", "/ui/webhooks", async ({ req, res, ctx }) => {
    const form = await readFields(req);
    ctx.webhooks.setSwitches({
      drop: form.drop === "on",
      duplicate: form.duplicate === "on",
      reorder: form.reorder === "on",
      releaseOrder: form.release_order === "shuffled" ? "shuffled" : "newest-first",
      delayMs: Number(form.delay_ms) || 0,
    });
    redirect(res, "/");
  });

  for (const [action, send] of [
    ["replay", "replay"],
    ["send-as-new", "sendAsNew"],
  ] as const) {
    router.on("POST", `/ui/webhooks/deliveries/:id/${action}`, ({ res, params, ctx }) => {
      if (!ctx.webhooks[send](params.id!)) throw new HttpError(404, "resource_not_found", "No such delivery");
      redirect(res, "/");
    });
  }

  router.on("POST", "/ui/instance", async ({ req, res, ctx }) => {
    const form = await readFields(req);
    ctx.backendInstance = form.as === "other" ? "other" : "self";
    redirect(res, "/");
  });

  router.on("POST", "/ui/rate-limits", async ({ req, res, ctx }) => {
    const form = await readFields(req);
    const count = (value: unknown, fallback: number) => (Number.isInteger(Number(value)) && Number(value) >= 0 && value !== "" ? Number(value) : fallback);
    const current = ctx.rateLimits.settings;
    ctx.rateLimits.configure({
      enabled: form.enabled === "on",
      instanceRequests: count(form.instance_requests, current.instanceRequests),
      userUpdateRequests: count(form.user_update_requests, current.userUpdateRequests),
    });
    redirect(res, "/");
  });

  router.on("POST", "/ui/faults", async ({ req, res, ctx }) => {
    const form = await readFields(req);
    const kind = field(form.kind);
    const endpoint = field(form.endpoint, "*");
    const latencyMs = Number(form.latency_ms) || undefined;
    if (kind === "latency") ctx.faults.set(endpoint, { latencyMs });
    else if (kind === "5xx") ctx.faults.set(endpoint, { latencyMs, status: Number(form.status) || 500 });
    else if (kind === "429") ctx.faults.set(endpoint, { latencyMs, rateLimitRetryAfterSeconds: Number(form.retry_after) || 5 });
    else if (kind === "hang") ctx.faults.set(endpoint, { hang: true });
    else if (kind === "html404") ctx.faults.set(endpoint, { latencyMs, htmlNotFound: true });
    redirect(res, "/");
  });

  router.on("POST", "/ui/faults/clear", ({ res, ctx }) => {
    ctx.faults.clear();
    redirect(res, "/");
  });

  router.on("POST", "/ui/reset", ({ res, ctx }) => {
    ctx.reset();
    redirect(res, "/");
  });

  router.on("GET", "/images/avatars/:file", ({ res, params }) => {
    const initial = (params.file ?? "?").replace(/^user_(demo_)?/, "").charAt(0).toUpperCase();
    const hue = [...(params.file ?? "")].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 360;
    res.writeHead(200, { "Content-Type": "image/svg+xml", "Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=3600" });
    res.end(
      `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="hsl(${hue} 60% 45%)"/>` +
        `<text x="32" y="42" font-size="28" text-anchor="middle" fill="#fff" font-family="sans-serif">${e(initial)}</text></svg>`,
    );
  });

  router.on("GET", "/images/uploads/:file", ({ res, url, ctx }) => {
    const image = ctx.images.get(url.pathname);
    if (!image) throw new HttpError(404, "resource_not_found", "No such image");
    res.writeHead(200, { "Content-Type": image.contentType, "Access-Control-Allow-Origin": "*" });
    res.end(image.data);
  });
}

function field(value: unknown, fallback = "") {
  return typeof value === "string" && value !== "" ? value : fallback;
}

function requireEmail(value: unknown) {
  const email = field(value).trim();
  if (!email.includes("@")) throw new HttpError(400, "form_param_missing", "An email address is required");
  return email;
}

function text(value: unknown) {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** clerk-js sends `redirect_url`, and the force/fallback variants when the app sets them. */
function redirectTarget(params: URLSearchParams) {
  return redirectParameters.map((name) => params.get(name)).find(Boolean) ?? null;
}

const style = `<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;font-size:.9rem;vertical-align:top}
input{font:inherit;padding:.2rem .3rem;max-width:10rem}button{font:inherit;cursor:pointer}
.users button.pick{display:block;width:100%;text-align:left;padding:.7rem 1rem;margin:.4rem 0;border:1px solid #bbb;border-radius:6px;background:#fafafa}
.users button.pick:hover{background:#eef}small{color:#666}fieldset{margin:0 0 1rem;border:1px solid #ddd}
.ok{color:#080}.bad{color:#b00}code{font-size:.85rem}
.badge{font-size:.75rem;border:1px solid currentColor;border-radius:4px;padding:0 .3rem;margin-left:.3rem;color:#446}
.inline{display:inline}ul.plain{list-style:none;margin:0;padding:0}
</style>`;

function layout(title: string, body: string) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${e(title)}</title>${style}</head><body>${body}</body></html>`;
}

function displayName(user: EmulatorUser) {
  const name = [user.firstName, user.lastName].filter(Boolean).join(" ");
  return name !== "" ? name : (user.username ?? user.identifier);
}

/** `public_metadata.role` (e.g. `admin`), shown beside the name. */
function roleOf(user: EmulatorUser) {
  const role = user.publicMetadata.role;
  return typeof role === "string" && role !== "" ? role : null;
}

function badges(user: EmulatorUser) {
  const role = roleOf(user);
  const states = [user.banned && "banned", user.isLocked(Date.now()) && "locked", user.deprovisioned && "deprovisioned"].filter(Boolean);
  return (role ? ` <span class="badge" data-role="${e(role)}">${e(role)}</span>` : "") + states.map((state) => ` <span class="badge bad">${e(state as string)}</span>`).join("");
}

const redirectParameters = ["sign_in_force_redirect_url", "sign_up_force_redirect_url", "redirect_url", "sign_in_fallback_redirect_url"];

/** clerk-js puts the redirect parameters in the hash (`#/?redirect_url=…`), which only the page can read. */
const redirectFromHashScript = `
const params = new URLSearchParams(location.hash.replace(/^#\\/?\\??/, ""));
const target = ${JSON.stringify(redirectParameters)}.map((name) => params.get(name)).find(Boolean);
if (target) {
  for (const input of document.querySelectorAll("input[name=redirect_url]")) input.value = target;
  document.getElementById("redirect-url").textContent = target;
}`;

function signInPage(ctx: ClerkEmulator, target: string | null, error?: string) {
  const redirectUrl = ctx.safeRedirect(target);
  const hidden = `<input type="hidden" name="redirect_url" value="${e(redirectUrl)}">`;
  const { users: shown, totalCount } = ctx.users.list({ order: { field: "created_at", descending: false }, limit: usersShown });
  const users = shown
    .map(
      (user) => `<form method="post" action="/sign-in">${hidden}<input type="hidden" name="user_id" value="${e(user.id)}">
  <button class="pick" type="submit" data-user-id="${e(user.id)}"${user.banned ? " disabled" : ""}><strong>${e(displayName(user))}</strong>${badges(user)}<br><small>${e(user.identifier)}</small></button></form>`,
    )
    .join("\n");
  const more =
    totalCount > shown.length
      ? `<form method="post" action="/sign-in">${hidden}<p><small>and ${totalCount - shown.length} more:</small>
  <input name="user_id" placeholder="user_…" aria-label="User id" required> <button type="submit">Sign in by id</button></p></form>`
      : "";
  return layout(
    "Sign in — Clerk emulator",
    `<h1>Sign in</h1>
<p><small>Clerk emulator: pick a user to start a session, then you go back to <code id="redirect-url">${e(redirectUrl)}</code>.</small></p>
${error ? `<p role="alert" class="bad">${e(error)}</p>` : ""}
<section class="users">${users || "<p>No users yet.</p>"}</section>
${more}
<h2>Or create a user</h2>
<form method="post" action="/sign-in">${hidden}
  <input name="first_name" placeholder="First name" aria-label="First name">
  <input name="last_name" placeholder="Last name" aria-label="Last name">
  <input name="email" type="email" placeholder="email@example.com" aria-label="Email" required>
  <button type="submit">Create and sign in</button>
</form>
<script>${redirectFromHashScript}</script>`,
  );
}

function emailList(user: EmulatorUser) {
  const items = [
    ...user.emailAddresses.map(
      (a) =>
        `<li><code>${e(a.emailAddress)}</code>${a.id === user.primaryEmailAddressId ? " <small>primary</small>" : ""}${a.verified ? "" : ' <small class="bad">unverified</small>'}</li>`,
    ),
    ...user.phoneNumbers.map((p) => `<li><code>${e(p.phoneNumber)}</code>${p.id === user.primaryPhoneNumberId ? " <small>primary phone</small>" : ""}</li>`),
  ];
  return `<ul class="plain">${items.join("")}</ul>`;
}

function homePage(ctx: ClerkEmulator) {
  const { users: shown, totalCount } = ctx.users.list({ order: { field: "created_at", descending: false }, limit: usersShown });
  const users = shown
    .map(
      (user) => `<tr><td><code>${e(user.id)}</code>${badges(user)}<br><small>updated ${new Date(user.updatedAtMs).toISOString()}</small>
<br><small>last sign-in ${user.lastSignInAtMs ? new Date(user.lastSignInAtMs).toISOString() : "never"}</small></td>
<td>${emailList(user)}
<form method="post" action="/ui/users/${e(user.id)}/email"><input name="email" type="email" placeholder="new primary email" aria-label="New primary email" required>
  <label><input type="checkbox" name="delete_old"> then delete the old address</label> <button type="submit">Change email</button></form></td>
<td><form method="post" action="/ui/users/${e(user.id)}">
  <input name="first_name" value="${e(user.firstName)}" aria-label="First name"> <input name="last_name" value="${e(user.lastName)}" aria-label="Last name">
  <input name="username" value="${e(user.username)}" placeholder="username" aria-label="Username">
  <button type="submit">Save</button></form></td>
<td><form method="post" action="/ui/users/${e(user.id)}/ban"><input type="hidden" name="banned" value="${user.banned ? "false" : "true"}">
  <button type="submit">${user.banned ? "Unban" : "Ban"}</button></form>
<form method="post" action="/ui/users/${e(user.id)}/lock"><input type="hidden" name="locked" value="${user.isLocked(Date.now()) ? "false" : "true"}">
  <button type="submit">${user.isLocked(Date.now()) ? "Unlock" : "Lock"}</button></form>
<form method="post" action="/ui/users/${e(user.id)}/delete"><button type="submit">Delete</button></form></td></tr>`,
    )
    .join("\n");
  const deliveries = ctx.webhooks
    .list()
    .slice(-30)
    .reverse()
    .map((d) => {
      const last = d.attempts.at(-1);
      const cls = d.status === "delivered" ? "ok" : d.status === "pending" || d.status === "held" ? "" : "bad";
      const copy = d.kind === "event" ? "" : ` (${d.kind})`;
      const actions = [
        ["replay", "replay (same svix-id)"],
        ["send-as-new", "send as a new message"],
      ]
        .map(([action, label]) => `<form class="inline" method="post" action="/ui/webhooks/deliveries/${e(d.id)}/${action}"><button type="submit">${label}</button></form>`)
        .join(" ");
      return `<tr><td>${new Date(d.createdAtMs).toISOString().slice(11, 23)}</td><td>${e(d.type)}</td><td><code>${e(d.userId)}</code></td>
<td><code>${e(d.id)}</code></td><td class="${cls}">${e(d.status)}${e(copy)}</td><td>${d.attempts.length}</td><td>${e(last?.status ?? last?.error ?? "")}</td><td>${actions}</td></tr>`;
    })
    .join("\n");
  const switches = ctx.webhooks.switches;
  const check = (name: "drop" | "duplicate" | "reorder") => (switches[name] ? "checked" : "");
  const faults = Object.entries(ctx.faults.list())
    .map(([endpoint, fault]) => `<li><code>${e(endpoint)}</code>: <code>${e(JSON.stringify(fault))}</code></li>`)
    .join("");
  const counters = Object.entries(ctx.counters.all())
    .map(([name, count]) => `<code>${e(name)}</code> ${count}`)
    .join(" · ");
  const limits = ctx.rateLimits.settings;
  const instance = ctx.backendInstance;
  const fidelity = ctx.fidelity;
  return layout(
    "Clerk emulator",
    `<h1>Clerk emulator</h1>
<p><small>App: <a href="${e(ctx.appUrl)}">${e(ctx.appUrl)}</a> · instance <code>${e(ctx.identity.instanceId)}</code> ·
webhooks to <code>${e(ctx.appUrl)}/api/webhooks/clerk</code></small></p>
<h2>Users <small>(${totalCount}${totalCount > shown.length ? `, the oldest ${shown.length} shown` : ""})</small></h2>
<table><tbody>${users}</tbody></table>
<form method="post" action="/ui/users"><input name="first_name" placeholder="First name" aria-label="First name">
<input name="last_name" placeholder="Last name" aria-label="Last name"><input name="username" placeholder="username" aria-label="Username">
<input name="email" type="email" placeholder="email@example.com" required aria-label="Email"> <button type="submit">Create user</button></form>
<form method="post" action="/ui/users/bulk"><input name="count" type="number" min="1" max="${maxBulkUsers}" value="1000" aria-label="Count" style="width:7rem">
<input name="prefix" placeholder="bulk" aria-label="Prefix"> <button type="submit">Seed users in bulk</button> <small>(an import: clocks 1 ms apart, never signed in, no webhooks)</small></form>
<h2>Failure switches</h2>
<fieldset><legend>Webhooks</legend><form method="post" action="/ui/webhooks">
<label><input type="checkbox" name="drop" ${check("drop")}> drop</label>
<label><input type="checkbox" name="duplicate" ${check("duplicate")}> duplicate</label>
<label><input type="checkbox" name="reorder" ${check("reorder")}> reorder (hold; unchecking sends them, one by one,</label>
<select name="release_order" aria-label="Release order"><option value="newest-first"${switches.releaseOrder === "newest-first" ? " selected" : ""}>newest first</option>
<option value="shuffled"${switches.releaseOrder === "shuffled" ? " selected" : ""}>shuffled</option></select>)
<label>delay <input name="delay_ms" type="number" min="0" value="${switches.delayMs}" style="width:6rem"> ms</label>
<button type="submit">Apply</button></form></fieldset>
<fieldset><legend>Backend API</legend><form method="post" action="/ui/faults">
<select name="endpoint" aria-label="Endpoint"><option value="*">all endpoints</option>${bapiEndpoints.map((name) => `<option>${name}</option>`).join("")}</select>
<select name="kind" aria-label="Fault"><option value="latency">latency</option><option value="5xx">5xx</option><option value="429">429</option><option value="hang">hang</option><option value="html404">HTML 404 (wrong URL, proxy)</option></select>
<label>latency <input name="latency_ms" type="number" min="0" value="2000" style="width:6rem"> ms</label>
<label>status <input name="status" type="number" value="500" style="width:5rem"></label>
<label>Retry-After <input name="retry_after" type="number" value="5" style="width:4rem"> s</label>
<button type="submit">Set</button></form>
<form method="post" action="/ui/faults/clear"><button type="submit">Clear all faults</button></form>
<ul>${faults || "<li>none</li>"}</ul>
<form method="post" action="/ui/rate-limits"><label><input type="checkbox" name="enabled" ${limits.enabled ? "checked" : ""}> rate limits</label>
<label><input name="instance_requests" type="number" min="0" value="${limits.instanceRequests}" style="width:6rem"> requests per instance</label>
<label><input name="user_update_requests" type="number" min="0" value="${limits.userUpdateRequests}" style="width:4rem"> <code>PATCH /v1/users/:id</code> per user</label>
per ${limits.windowMs / 1000} s <button type="submit">Apply</button></form>
<form method="post" action="/ui/instance">Answer as
<label><input type="radio" name="as" value="self" ${instance === "self" ? "checked" : ""}> this instance</label>
<label><input type="radio" name="as" value="other" ${instance === "other" ? "checked" : ""}> another instance (its JWKS, none of these users)</label>
<button type="submit">Apply</button></form></fieldset>
<fieldset><legend>Where Clerk's behaviour is unknown</legend><form method="post" action="/ui/fidelity">
<label><input type="checkbox" name="verify_bumps_clock" ${fidelity.verifyBumpsClock ? "checked" : ""}> verifying an address moves <code>updated_at</code></label>
<label><input type="checkbox" name="primary_switch_bumps_clock" ${fidelity.primarySwitchBumpsClock ? "checked" : ""}> a primary switch moves <code>updated_at</code></label>
<label><code>starting_after</code> a deleted user: <select name="starting_after_unknown_user" aria-label="starting_after a deleted user">${(["error", "empty", "continue"] as const)
    .map((mode) => `<option${fidelity.startingAfterUnknownUser === mode ? " selected" : ""}>${mode}</option>`)
    .join("")}</select></label>
<label>offsets time out from <input name="offset_timeout_depth" type="number" min="0" value="${fidelity.offsetTimeoutDepth ?? ""}" placeholder="never" style="width:7rem"></label>
<label>lockout <input name="lockout_seconds" type="number" min="0" value="${fidelity.lockoutSeconds ?? ""}" placeholder="until unlocked" style="width:7rem"> s</label>
<button type="submit">Apply</button></form></fieldset>
<p>Calls: ${counters || "none"}</p>
<form method="post" action="/ui/reset"><button type="submit">Reset everything</button></form>
<h2>Webhook deliveries <small>(latest 30)</small></h2>
<p><small>Replay: the same svix-id with a fresh timestamp and signature (a duplicate for an app that applied it), as every Svix resend. Send as a new message: a new svix-id (like the Dashboard's "Send Example").</small></p>
<table><thead><tr><th>at</th><th>type</th><th>user</th><th>svix-id</th><th>status</th><th>attempts</th><th>last</th><th></th></tr></thead><tbody>${deliveries}</tbody></table>`,
  );
}
