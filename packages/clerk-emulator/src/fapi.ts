import type { ServerResponse } from "node:http";

import type { ClerkEmulator } from "./emulator";
import { parseCookies, redirect, sendClerkError, sendJson, serializeCookie, type Request, type Router } from "./http";
import { factorVerificationAge, sessionTokenLifetimeSeconds } from "./jwt";
import type { EmulatorClient, EmulatorSession } from "./sessions";
import { frontendUserJson } from "./users";

/** Where the Frontend API lives on the emulator: `NEXT_PUBLIC_CLERK_PROXY_URL` = origin + this. */
export const fapiPrefix = "/__clerk";

/**
 * The part of Clerk's Frontend API that clerk-js calls for a production instance: environment,
 * client, token refresh, sign-out, touch, and the server SDK's handshake redirect.
 * The browser is identified by the `__client` cookie; every response piggybacks the client.
 */
export function registerFapi(router: Router<ClerkEmulator>) {
  const p = fapiPrefix;

  router.on("*", `${p}/v1/environment`, ({ res, ctx }) => {
    ctx.counters.increment("fapi:environment");
    sendJson(res, 200, environmentJson(ctx));
  });

  router.on("GET", `${p}/v1/client`, ({ req, res, ctx }) => {
    ctx.counters.increment("fapi:client");
    respond(ctx, req, res, (client) => clientJson(ctx, client));
  });

  // clerk-js creates a client when it has none.
  router.on("PUT", `${p}/v1/client`, ({ req, res, ctx }) => respond(ctx, req, res, (client) => clientJson(ctx, client)));
  router.on("POST", `${p}/v1/client`, ({ req, res, ctx }) => respond(ctx, req, res, (client) => clientJson(ctx, client)));

  // Sign-out: `removeSessions()` (single session) or `destroy()`.
  for (const path of [`${p}/v1/client/sessions`, `${p}/v1/client`]) {
    router.on("DELETE", path, ({ req, res, ctx }) => {
      ctx.counters.increment("fapi:signOut");
      const client = clientOf(ctx, req);
      if (client) ctx.sessions.end(client);
      respond(ctx, req, res, (c) => clientJson(ctx, c));
    });
  }

  for (const action of ["end", "remove"]) {
    router.on("POST", `${p}/v1/client/sessions/:sid/${action}`, ({ req, res, params, ctx }) => {
      ctx.counters.increment("fapi:signOut");
      const client = clientOf(ctx, req);
      const session = client?.sessions.find((s) => s.id === params.sid);
      if (!client || !session) return sendClerkError(res, 404, "resource_not_found", "Session not found");
      ctx.sessions.end(client, session.id, action === "end" ? "ended" : "removed");
      respond(ctx, req, res, () => sessionJson(ctx, session));
    });
  }

  router.on("POST", `${p}/v1/client/sessions/:sid/touch`, ({ req, res, params, ctx }) => {
    ctx.counters.increment("fapi:touch");
    const client = clientOf(ctx, req);
    const session = client?.sessions.find((s) => s.id === params.sid && s.status === "active");
    if (!client || !session) return sendClerkError(res, 404, "resource_not_found", "Session not found");
    ctx.sessions.touch(client, session);
    respond(ctx, req, res, () => sessionJson(ctx, session));
  });

  const mintToken = ({ req, res, params, ctx }: { req: Request; res: ServerResponse; params: Record<string, string>; ctx: ClerkEmulator }) => {
    ctx.counters.increment("fapi:tokens");
    const client = clientOf(ctx, req);
    const session = client?.sessions.find((s) => s.id === params.sid && s.status === "active");
    // Clerk answers 401 for a session that is gone; clerk-js then treats the user as signed out.
    if (!session) return sendClerkError(res, 401, "authentication_invalid", "The session is no longer active");
    session.lastActiveAtMs = Date.now();
    sendJson(res, 200, { object: "token", jwt: ctx.mintToken(session) });
  };
  router.on("POST", `${p}/v1/client/sessions/:sid/tokens`, mintToken);
  router.on("POST", `${p}/v1/client/sessions/:sid/tokens/:template`, mintToken);

  router.on("GET", `${p}/v1/me`, ({ req, res, ctx }) => {
    const session = ctx.sessions.activeSession(clientOf(ctx, req));
    const user = session && ctx.users.get(session.userId);
    if (!user) return sendClerkError(res, 401, "authentication_invalid", "Signed out");
    respond(ctx, req, res, () => frontendUserJson(user, ctx.origin));
  });

  // The server SDK sends documents here when its cookies disagree (expired token, …). Like the
  // real FAPI on a production instance, write fresh cookies on the shared host and go back.
  router.on("GET", `${p}/v1/client/handshake`, ({ req, res, url, ctx }) => {
    ctx.counters.increment("fapi:handshake");
    const client = clientOf(ctx, req);
    const session = ctx.sessions.activeSession(client);
    const token = session ? ctx.mintToken(session) : null;
    redirect(res, ctx.safeRedirect(url.searchParams.get("redirect_url")), 307, { "Set-Cookie": ctx.authCookies(client, token).map(serializeCookie) });
  });

  router.on("GET", `${p}/v1/client/touch`, ({ res, url, ctx }) => redirect(res, ctx.safeRedirect(url.searchParams.get("redirect_url")), 307));
}

export function clientOf(ctx: ClerkEmulator, req: Request) {
  return ctx.sessions.byToken(parseCookies(req.headers.cookie).__client);
}

/**
 * `{ response, client }`, plus the `__client_uat` the real FAPI keeps on the app's domain:
 * the sign-in time while a session is active, `0` once it is not (a revoked or ended session).
 */
function respond(ctx: ClerkEmulator, req: Request, res: ServerResponse, build: (client: EmulatorClient | null) => unknown) {
  const client = clientOf(ctx, req);
  const headers: Record<string, string | string[]> = { "Cache-Control": "no-store" };
  if (client) {
    const active = ctx.sessions.activeSession(client);
    const cookies = active ? ctx.clientUatCookies(client.uatSeconds) : [...ctx.clientUatCookies(0), ...ctx.sessionCookies(null)];
    headers["Set-Cookie"] = cookies.map(serializeCookie);
  }
  const text = JSON.stringify({ response: build(client), client: client ? clientJson(ctx, client) : null });
  res.writeHead(200, { ...headers, "Content-Type": "application/json" });
  res.end(text);
}

function clientJson(ctx: ClerkEmulator, client: EmulatorClient | null) {
  const nowMs = Date.now();
  const active = client?.sessions.filter((s) => s.status === "active" && ctx.users.get(s.userId)) ?? [];
  return {
    object: "client",
    id: client?.id ?? "client_signed_out",
    sessions: active.map((session) => sessionJson(ctx, session)),
    sign_in: null,
    sign_up: null,
    last_active_session_id: (client && ctx.sessions.activeSession(client)?.id) ?? null,
    last_authentication_strategy: null,
    cookie_expires_at: null,
    captcha_bypass: false,
    created_at: client?.createdAtMs ?? nowMs,
    updated_at: client?.updatedAtMs ?? nowMs,
  };
}

function sessionJson(ctx: ClerkEmulator, session: EmulatorSession) {
  const user = ctx.users.get(session.userId);
  const userData = user ? frontendUserJson(user, ctx.origin) : null;
  const token = session.status === "active" && user ? ctx.mintToken(session) : null;
  const dayMs = 24 * 60 * 60 * 1000;
  return {
    object: "session",
    id: session.id,
    status: session.status,
    expire_at: session.createdAtMs + 7 * dayMs,
    abandon_at: session.createdAtMs + 30 * dayMs,
    last_active_at: session.lastActiveAtMs,
    last_active_organization_id: null,
    actor: null,
    tasks: null,
    factor_verification_age: factorVerificationAge(session.createdAtMs),
    last_active_token: token ? { object: "token", jwt: token } : null,
    public_user_data: userData
      ? {
          first_name: userData.first_name,
          last_name: userData.last_name,
          image_url: userData.image_url,
          has_image: userData.has_image,
          identifier: user!.identifier,
          username: userData.username,
          user_id: userData.id,
        }
      : null,
    user: userData,
    created_at: session.createdAtMs,
    updated_at: session.lastActiveAtMs,
    token_lifetime_seconds: sessionTokenLifetimeSeconds,
  };
}

/** A production instance with email sign-in; clerk-js fills anything missing with its defaults. */
function environmentJson(ctx: ClerkEmulator) {
  const signInUrl = `${ctx.origin}/sign-in`;
  const signUpUrl = `${ctx.origin}/sign-up`;
  return {
    object: "environment",
    id: "env_emulator",
    auth_config: { object: "auth_config", id: "aac_emulator", single_session_mode: false, claimed_at: null, reverification: false },
    display_config: {
      object: "display_config",
      id: "display_config_emulator",
      instance_environment_type: "production",
      application_name: "Clerk emulator",
      branded: false,
      preferred_sign_in_strategy: "password",
      sign_in_url: signInUrl,
      sign_up_url: signUpUrl,
      user_profile_url: `${ctx.origin}/`,
      home_url: ctx.appUrl,
      after_sign_in_url: ctx.appUrl,
      after_sign_up_url: ctx.appUrl,
      after_sign_out_one_url: signInUrl,
      after_sign_out_all_url: signInUrl,
      after_switch_session_url: ctx.appUrl,
      show_devmode_warning: false,
      theme: {},
      captcha_public_key: null,
      captcha_widget_type: null,
      captcha_provider: null,
    },
    user_settings: {
      attributes: {
        email_address: { enabled: true, required: true, used_for_first_factor: true, first_factors: ["email_code"], verifications: ["email_code"], verify_at_sign_up: true },
        first_name: { enabled: true, required: false },
        last_name: { enabled: true, required: false },
        username: { enabled: true, required: false },
        password: { enabled: false, required: false },
      },
      sign_in: { second_factor: { required: false } },
      sign_up: { captcha_enabled: false, progressive: true, mode: "public", legal_consent_enabled: false },
      social: {},
      enterprise_sso: { enabled: false },
      passkey_settings: { allow_autofill: false, show_sign_in_button: false },
    },
    organization_settings: { enabled: false },
    commerce_settings: { billing: { enabled: false, user: { enabled: false }, organization: { enabled: false } } },
    api_keys_settings: { enabled: false },
    maintenance_mode: false,
    client_debug_mode: false,
  };
}
