import { clerkError, type ContractContext } from "./context";

import type { UserJson } from "../src/users";

/**
 * The Backend API behaviours the product relies on, written once against Clerk's documented
 * API and run against the emulator (CI) or a real development instance (`npm run clerk:contract`
 * with `CLERK_CONTRACT_SECRET_KEY`). Each case makes its own users (tagged, deleted at the end)
 * and scopes every list to them, so an instance with other users is fine.
 */
export type ContractCase = { name: string; run: (ctx: ContractContext) => Promise<void> };

const spec = (operation: string) => `clerk/openapi-specs bapi/2026-05-12.yml ${operation}`;
const systemLimits = "clerk-docs docs/guides/how-clerk-works/system-limits.mdx";
const recordedEmails = "recorded: clerk/clerk-sdk-flutter@0b8041d user_details_test.dart (unsanitised clocks)";

/** The User fields Clerk's schema lists as required. */
const requiredUserFields = [
  "id",
  "object",
  "username",
  "first_name",
  "last_name",
  "has_image",
  "primary_email_address_id",
  "primary_phone_number_id",
  "primary_web3_wallet_id",
  "password_enabled",
  "two_factor_enabled",
  "totp_enabled",
  "backup_code_enabled",
  "email_addresses",
  "phone_numbers",
  "web3_wallets",
  "passkeys",
  "external_accounts",
  "saml_accounts",
  "enterprise_accounts",
  "public_metadata",
  "external_id",
  "last_sign_in_at",
  "banned",
  "locked",
  "lockout_expires_in_seconds",
  "verification_attempts_remaining",
  "created_at",
  "updated_at",
  "delete_self_enabled",
  "create_organization_enabled",
  "last_active_at",
  "mfa_enabled_at",
  "mfa_disabled_at",
  "legal_accepted_at",
];

const ids = (users: { id: string }[]) => users.map((user) => user.id);
const asUser = (body: unknown) => body as UserJson;
const asUsers = (body: unknown) => (Array.isArray(body) ? (body as UserJson[]) : []);
const primaryEmail = (user: UserJson) => user.email_addresses.find((a) => a.id === user.primary_email_address_id)?.email_address ?? null;

export const contractCases: ContractCase[] = [
  {
    name: "secret keys and errors",
    run: async (ctx) => {
      const wrongKey = await ctx.bapi("GET", "/users/user_contract_unknown", { secretKey: "sk_test_not_a_key_of_this_instance" });
      ctx.documented("A wrong secret key is refused with 401", spec("GetUser responses 401 AuthenticationInvalid"), wrongKey.status, 401);
      ctx.observed("… with the code clerk_key_invalid", "recorded: clerk/clerk-sdk-python#26", clerkError(wrongKey).code, "clerk_key_invalid");
      const unknown = await ctx.bapi("GET", "/users/user_contract_unknown");
      ctx.documented("An unknown user id answers 404", spec("GetUser responses 404 ResourceNotFound"), unknown.status, 404);
      ctx.observed("… with the code resource_not_found", "recorded: vm0-ai/vm0#33822", clerkError(unknown).code, "resource_not_found");
      const body = unknown.body as Record<string, unknown>;
      ctx.documented(
        "Errors have Clerk's shape: errors[] of { code, message, long_message, meta }, and clerk_trace_id",
        spec("components.schemas.ClerkErrors, ClerkError"),
        [Array.isArray(body.errors), Object.keys((body.errors as object[] | undefined)?.[0] ?? {}).sort(), typeof body.clerk_trace_id],
        [true, ["code", "long_message", "message", "meta"], "string"],
      );
    },
  },
  {
    name: "user JSON, create, get and delete",
    run: async (ctx) => {
      const created = await ctx.createUser({ first_name: "Ada", last_name: "Lovelace" });
      ctx.documented(
        "POST /v1/users creates the user with its email address verified",
        spec("CreateUser description"),
        [created.first_name, created.email_addresses.map((a) => a.verification?.status)],
        ["Ada", ["verified"]],
      );
      const fetched = await ctx.bapi("GET", `/users/${created.id}`);
      const user = asUser(fetched.body);
      ctx.documented("GET /v1/users/{id} answers 200 with the User", spec("GetUser"), [fetched.status, user.id, user.object], [200, created.id, "user"]);
      ctx.documented(
        "A User carries every field the schema requires",
        spec("components.schemas.User required"),
        requiredUserFields.filter((field) => !(field in user)),
        [],
      );
      ctx.documented(
        "Timestamps are integers (Unix milliseconds)",
        spec("components.schemas.User created_at, updated_at (int64)"),
        [Number.isInteger(user.created_at), Number.isInteger(user.updated_at), user.created_at > 1_500_000_000_000],
        [true, true, true],
      );
      ctx.documented(
        "primary_email_address_id names one of email_addresses; an address has object, email_address, verification, linked_to, reserved",
        spec("components.schemas.EmailAddress required"),
        [primaryEmail(user) !== null, ["object", "email_address", "verification", "linked_to", "reserved"].every((field) => field in (user.email_addresses[0] ?? {}))],
        [true, true],
      );
      ctx.documented("A user is not banned or locked when created", spec("components.schemas.User banned, locked"), [user.banned, user.locked], [false, false]);

      const deleted = await ctx.bapi("DELETE", `/users/${created.id}`);
      ctx.documented(
        "DELETE /v1/users/{id} answers the deleted object",
        spec("DeleteUser responses 200 DeletedObject"),
        [deleted.status, (deleted.body as { deleted?: boolean }).deleted, (deleted.body as { object?: string }).object],
        [200, true, "user"],
      );
      const gone = await ctx.bapi("GET", `/users/${created.id}`);
      ctx.observed("A deleted user answers 404 resource_not_found", "recorded: vm0-ai/vm0#33822", [gone.status, clerkError(gone).code], [404, "resource_not_found"]);
    },
  },
  {
    name: "PATCH /v1/users/{id}: names, usernames, and what it refuses",
    run: async (ctx) => {
      const user = await ctx.createUser({ first_name: "Grace", last_name: "Hopper" });
      await ctx.pause();
      const renamed = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { first_name: "Amazing", last_name: "Grace" } });
      ctx.documented("PATCH sets first_name and last_name", spec("UpdateUser"), [renamed.status, asUser(renamed.body).first_name, asUser(renamed.body).last_name], [200, "Amazing", "Grace"]);
      ctx.observed("A name change moves updated_at", recordedEmails, asUser(renamed.body).updated_at > user.updated_at, true);

      const nullFirst = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { first_name: null } });
      ctx.observed("first_name: null clears the first name (undocumented for names)", "the emulator's assumption; the product sends null", [nullFirst.status, asUser(nullFirst.body).first_name], [200, null]);
      const blankLast = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { last_name: "" } });
      ctx.observed(
        'last_name: "" clears the last name (undocumented; the Go SDK can only send "")',
        "the emulator's assumption; clerk/clerk-sdk-go user/client.go UpdateParams (omitempty)",
        [blankLast.status, asUser(blankLast.body).last_name],
        [200, null],
      );

      const username = `contract_${ctx.runId}`.slice(0, 40);
      const named = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { username } });
      ctx.observed("A username can be set (the instance has usernames on)", "instance setting", [named.status, asUser(named.body).username], [200, username]);
      const cleared = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { username: null } });
      ctx.documented("username: null removes the username", spec("UpdateUser description"), asUser(cleared.body).username, null);
      await ctx.bapi("PATCH", `/users/${user.id}`, { body: { username } });
      const blanked = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { username: "" } });
      ctx.documented('username: "" removes the username', spec("UpdateUser description"), asUser(blanked.body).username, null);

      await ctx.bapi("PATCH", `/users/${user.id}`, { body: { username } });
      const other = await ctx.createUser();
      const taken = await ctx.bapi("PATCH", `/users/${other.id}`, { body: { username: username.toUpperCase() } });
      ctx.documented("A taken username is refused with 422", spec("UpdateUser responses 422; username 'must be unique across your instance'"), taken.status, 422);
      ctx.observed(
        "… form_identifier_exists on meta.param_name username, compared without case",
        "clerk/javascript packages/ui makeLocalizable.test.tsx (form_identifier_exists__username)",
        [clerkError(taken).code, clerkError(taken).param],
        ["form_identifier_exists", "username"],
      );

      const metadata = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { public_metadata: { role: "admin" } } });
      const after = asUser((await ctx.bapi("GET", `/users/${user.id}`)).body);
      ctx.documented(
        "Since 2026-05-12 PATCH refuses public_metadata and changes nothing",
        spec("UpdateUser description and requestBody additionalProperties: false"),
        [metadata.status >= 400 && metadata.status < 500, after.public_metadata],
        [true, {}],
      );
      ctx.observed(
        "… 422 form_param_unknown on meta.param_name public_metadata",
        "recorded form_param_unknown bodies in public projects; the status is the spec's UnprocessableEntity",
        [metadata.status, clerkError(metadata).code, clerkError(metadata).param],
        [422, "form_param_unknown", "public_metadata"],
      );
      const unknownField = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { nickname: "Amazing" } });
      ctx.documented("An unknown body field is refused", spec("UpdateUser requestBody additionalProperties: false"), unknownField.status >= 400 && unknownField.status < 500, true);
    },
  },
  {
    name: "metadata: PATCH merges deeply, PUT replaces",
    run: async (ctx) => {
      const user = await ctx.createUser();
      await ctx.pause();
      const merged1 = await ctx.bapi("PATCH", `/users/${user.id}/metadata`, { body: { public_metadata: { role: "admin", prefs: { theme: "dark", lang: "en" } } } });
      ctx.observed("A metadata change moves updated_at", "inferred: metadata is part of the user record", asUser(merged1.body).updated_at > user.updated_at, true);
      const merged = await ctx.bapi("PATCH", `/users/${user.id}/metadata`, {
        body: { public_metadata: { prefs: { lang: null, tz: "UTC" } }, private_metadata: { plan: "pro" } },
      });
      ctx.documented(
        "PATCH …/metadata merges deeply; a null removes its key at any level",
        spec("UpdateUserMetadata description"),
        [merged.status, asUser(merged.body).public_metadata, asUser(merged.body).private_metadata],
        [200, { role: "admin", prefs: { theme: "dark", tz: "UTC" } }, { plan: "pro", clerk_contract_run: ctx.runId }],
      );
      const replaced = await ctx.bapi("PUT", `/users/${user.id}/metadata`, { body: { public_metadata: { role: "member" } } });
      ctx.documented(
        "PUT …/metadata replaces each field given and leaves the others",
        spec("ReplaceUserMetadata description"),
        [replaced.status, asUser(replaced.body).public_metadata, asUser(replaced.body).private_metadata],
        [200, { role: "member" }, { plan: "pro", clerk_contract_run: ctx.runId }],
      );
      const unknownField = await ctx.bapi("PATCH", `/users/${user.id}/metadata`, { body: { first_name: "X" } });
      ctx.documented("…/metadata refuses other fields", spec("UpdateUserMetadata requestBody additionalProperties: false"), unknownField.status >= 400 && unknownField.status < 500, true);
    },
  },
  {
    name: "the per-user update limit: 429 with Retry-After",
    run: async (ctx) => {
      const user = await ctx.createUser();
      const bystander = await ctx.createUser();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await ctx.bapi("PATCH", `/users/${user.id}`, { body: { first_name: `Rate ${i}` } })).status);
      for (let i = 0; i < 3; i++) statuses.push((await ctx.bapi("PATCH", `/users/${user.id}/metadata`, { body: { public_metadata: { n: i } } })).status);
      for (let i = 0; i < 3; i++) statuses.push((await ctx.bapi("PUT", `/users/${user.id}/metadata`, { body: { public_metadata: { n: i } } })).status);
      const limited = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { first_name: "Rate 10" } });
      ctx.documented(
        "Ten updates of one user within 10 s (PATCH user, PATCH and PUT metadata together) pass; the eleventh is 429",
        systemLimits,
        [statuses.every((status) => status === 200), limited.status],
        [true, 429],
      );
      const retryAfter = limited.headers.get("retry-after");
      ctx.documented("… with Retry-After in whole seconds", systemLimits, /^\d+$/.test(retryAfter ?? "") && Number(retryAfter) >= 1 && Number(retryAfter) <= 10, true);
      ctx.observed("… and Clerk's error body (code too_many_requests)", "the emulator's assumption; the body is not documented", clerkError(limited).code, "too_many_requests");
      const other = await ctx.bapi("PATCH", `/users/${bystander.id}`, { body: { first_name: "Bystander" } });
      ctx.documented("The limit is per user: another user's update passes", systemLimits, other.status, 200);
    },
  },
  {
    name: "lists and counts: limit, offset, order_by, user_id",
    run: async (ctx) => {
      const users = await ctx.listUsers();
      const all = ids(users);
      const page = (query: Record<string, string | string[] | number>) => ctx.bapi("GET", "/users", { query: { user_id: all, ...query } });

      const ascending = await page({ order_by: "+created_at", limit: 500 });
      ctx.documented("order_by=+created_at lists oldest first", spec("GetUserList order_by"), ids(asUsers(ascending.body)), all);
      const descending = await page({ order_by: "-created_at", limit: 500 });
      ctx.documented("order_by=-created_at lists newest first", spec("GetUserList order_by"), ids(asUsers(descending.body)), [...all].reverse());
      const unsigned = await page({ order_by: "created_at", limit: 500 });
      ctx.documented("order_by without a sign means +", spec("GetUserList order_by"), ids(asUsers(unsigned.body)), all);
      const byDefault = await page({ limit: 500 });
      ctx.documented("The default order is -created_at (newest first)", spec("GetUserList description, order_by default"), ids(asUsers(byDefault.body)), [...all].reverse());
      const defaultLimit = await page({ order_by: "+created_at" });
      ctx.documented("The default limit is 10", spec("components.parameters.LimitParameter default"), ids(asUsers(defaultLimit.body)), all.slice(0, 10));
      const paged = await page({ order_by: "+created_at", limit: 5, offset: 5 });
      ctx.documented("limit and offset page the list", spec("LimitParameter, OffsetParameter"), ids(asUsers(paged.body)), all.slice(5, 10));

      const over = await page({ order_by: "+created_at", limit: 501 });
      ctx.observed("limit over 500 is not refused: Clerk answers its default page of 10", "recorded: clerk/clerk-sdk-python#166", [over.status, asUsers(over.body).length], [200, 10]);
      const zero = await page({ order_by: "+created_at", limit: 0 });
      ctx.observed("limit 0 is answered like an out-of-range limit: 10 users", "inferred from clerk/clerk-sdk-python#166 (minimum 1 in the spec)", [zero.status, asUsers(zero.body).length], [200, 10]);

      const excluded = await ctx.bapi("GET", "/users", { query: { user_id: [...all.slice(0, 3), `-${all[1]!}`], order_by: "+created_at" } });
      ctx.documented("A user_id prefixed with - is excluded, with + or nothing included", spec("GetUserList user_id"), ids(asUsers(excluded.body)), [all[0], all[2]]);
      const plus = await ctx.bapi("GET", "/users", { query: { user_id: all.slice(0, 2).map((id) => `+${id}`), order_by: "+created_at" } });
      ctx.documented("… + includes", spec("GetUserList user_id"), ids(asUsers(plus.body)), all.slice(0, 2));

      const count = await ctx.bapi("GET", "/users/count", { query: { user_id: all } });
      ctx.documented("GET /v1/users/count answers { object: total_count, total_count } with the same filters", spec("GetUsersCount, components.schemas.TotalCount"), count.body, {
        object: "total_count",
        total_count: 12,
      });
      const countExcluding = await ctx.bapi("GET", "/users/count", { query: { user_id: [...all.slice(0, 3), `-${all[1]!}`] } });
      ctx.observed("/count honours a - prefixed user_id as the list does", "inferred: the spec documents the prefixes for the list only", (countExcluding.body as { total_count?: number }).total_count, 2);

      const sdk = await ctx.clerk().users.getUserList({ userId: all, orderBy: "+created_at", limit: 5, offset: 10 });
      ctx.documented("@clerk/backend's getUserList (what the product lists with) reads the page and the count", "@clerk/backend 3.20.1 UserAPI.getUserList", [ids(sdk.data), sdk.totalCount], [all.slice(10), 12]);
    },
  },
  {
    name: "the starting_after cursor",
    run: async (ctx) => {
      const users = await ctx.listUsers();
      const all = ids(users);
      const page = (query: Record<string, string | string[] | number>) => ctx.bapi("GET", "/users", { query: { user_id: all, ...query } });

      const after = await page({ order_by: "+created_at", starting_after: all[3]!, limit: 4 });
      ctx.documented("starting_after answers the users after that id in +created_at order", spec("GetUserList starting_after"), ids(asUsers(after.body)), all.slice(4, 8));
      const before = await page({ order_by: "-created_at", starting_after: all[3]!, limit: 10 });
      ctx.documented("… and in -created_at order, the older ones", spec("GetUserList starting_after"), ids(asUsers(before.body)), all.slice(0, 3).reverse());
      const byDefault = await page({ starting_after: all[5]!, limit: 2 });
      ctx.documented("… with order_by omitted (-created_at)", spec("GetUserList starting_after"), ids(asUsers(byDefault.body)), [all[4], all[3]]);
      const walked: string[] = [];
      for (let cursor: string | undefined, guard = 0; guard < 10; guard++) {
        const next = asUsers((await page({ order_by: "+created_at", limit: 5, ...(cursor && { starting_after: cursor }) })).body);
        walked.push(...ids(next));
        if (next.length < 5) break;
        cursor = next.at(-1)!.id;
      }
      ctx.documented("A walk by cursor, stopping at a page shorter than limit, sees every user once", spec("GetUserList starting_after"), walked, all);

      const otherOrder = await page({ order_by: "+updated_at", starting_after: all[3]! });
      ctx.documented("starting_after with another order_by is a 422", spec("GetUserList starting_after"), otherOrder.status, 422);
      const withOffset = await page({ order_by: "+created_at", starting_after: all[3]!, offset: 1 });
      ctx.documented("starting_after with a non-zero offset is a 422", spec("GetUserList starting_after"), withOffset.status, 422);
      ctx.observed(
        "… both form_param_value_invalid on starting_after",
        "the emulator's assumption; the codes are not documented",
        [clerkError(otherOrder).code, clerkError(otherOrder).param, clerkError(withOffset).code],
        ["form_param_value_invalid", "starting_after", "form_param_value_invalid"],
      );
      const zeroOffset = await page({ order_by: "+created_at", starting_after: all[3]!, offset: 0, limit: 1 });
      ctx.documented("… while offset=0 is accepted", spec("GetUserList starting_after"), ids(asUsers(zeroOffset.body)), [all[4]]);
      const count = await ctx.bapi("GET", "/users/count", { query: { user_id: all, starting_after: all[3]! } });
      ctx.observed(
        "/count ignores starting_after (@clerk/backend's getUserList forwards its query to /count too)",
        "the emulator's assumption; not a /count parameter in the spec",
        [count.status, (count.body as { total_count?: number }).total_count],
        [200, 12],
      );

      // A cursor whose user was deleted between two pages (a deletion during a walk).
      const extra = [await ctx.createUser(), await ctx.createUser(), await ctx.createUser()];
      await ctx.bapi("DELETE", `/users/${extra[1]!.id}`);
      const afterDeleted = await ctx.bapi("GET", "/users", { query: { user_id: ids(extra), order_by: "+created_at", starting_after: extra[1]!.id } });
      const answer = afterDeleted.status === 422 ? "error" : asUsers(afterDeleted.body).length === 0 ? "empty" : ids(asUsers(afterDeleted.body)).join() === extra[2]!.id ? "continue" : `other: ${afterDeleted.status}`;
      ctx.unknown("starting_after naming a user deleted since: a 422 (error), an empty page (empty), or the users after it (continue)?", "not documented", answer, ctx.target.fidelity?.startingAfterUnknownUser);
    },
  },
  {
    name: "deep offsets",
    run: async (ctx) => {
      const claim = "A large offset gets slower and eventually times out (the emulator: 504 request_timeout from offsetTimeoutDepth)";
      const source = spec("GetUserList description");
      if (!ctx.target.control || !ctx.target.fidelity) return ctx.notRun("documented", claim, source, "needs an instance with more users than the timeout depth");
      const users = await ctx.listUsers();
      const depth = ctx.target.fidelity.offsetTimeoutDepth;
      await ctx.target.control.setFidelity({ offsetTimeoutDepth: 5 });
      try {
        const shallow = await ctx.bapi("GET", "/users", { query: { user_id: ids(users), offset: 4, limit: 1 } });
        const deep = await ctx.bapi("GET", "/users", { query: { user_id: ids(users), offset: 5, limit: 1 } });
        const cursor = await ctx.bapi("GET", "/users", { query: { user_id: ids(users), starting_after: users[6]!.id, limit: 1 } });
        ctx.documented(claim, source, [shallow.status, deep.status, clerkError(deep).code, cursor.status], [200, 504, "request_timeout", 200]);
      } finally {
        await ctx.target.control.setFidelity({ offsetTimeoutDepth: depth });
      }
    },
  },
  {
    name: "GET /v1/jwks and the key id",
    run: async (ctx) => {
      const jwks = await ctx.bapi("GET", "/jwks");
      const keys = (jwks.body as { keys?: { kid?: string; kty?: string; alg?: string; use?: string; n?: string; e?: string }[] }).keys ?? [];
      ctx.documented(
        "GET /v1/jwks answers the instance's RSA public keys (kid, alg, use, kty, n, e)",
        spec("GetJWKS, components.schemas.JWKS.rsa.PublicKey"),
        [jwks.status, keys.length > 0, keys.every((key) => key.kty === "RSA" && key.alg === "RS256" && key.use === "sig" && !!key.kid && !!key.n && !!key.e)],
        [200, true, true],
      );
      const instance = await ctx.bapi("GET", "/instance");
      const instanceId = (instance.body as { id?: string }).id;
      ctx.observed(
        "The signing key's kid is the instance id (the webhooks' instance_id, CLERK_INSTANCE_ID)",
        "recorded: session tokens and clerk/clerk-sdk-ruby test/fixtures/jwks.json (kid ins_…)",
        [instance.status, keys[0]?.kid === instanceId, instanceId?.startsWith("ins_")],
        [200, true, true],
      );
    },
  },
  {
    name: "profile image upload",
    run: async (ctx) => {
      const user = await ctx.createUser();
      await ctx.pause();
      const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
      const form = new FormData();
      form.append("file", new Blob([png], { type: "image/png" }), "avatar.png");
      const uploaded = await ctx.bapi("POST", `/users/${user.id}/profile_image`, { form });
      const after = asUser(uploaded.body);
      ctx.documented("POST …/profile_image with a multipart file part answers the User", spec("SetUserProfileImage"), [uploaded.status, after.id], [200, user.id]);
      ctx.observed("… now with an image (has_image, a new image_url) and a later updated_at", "inferred: the image is part of the user record", [after.has_image, after.image_url !== user.image_url, after.updated_at > user.updated_at], [true, true, true]);
    },
  },
  {
    name: "the email address lifecycle and the user's clock",
    run: async (ctx) => {
      const user = await ctx.createUser();
      const clock = async () => asUser((await ctx.bapi("GET", `/users/${user.id}`)).body).updated_at;
      await ctx.pause();
      const address = `contract-${ctx.runId}-new+clerk_test@example.com`;
      const added = await ctx.bapi("POST", "/email_addresses", { body: { user_id: user.id, email_address: address } });
      const addedId = (added.body as { id: string }).id;
      ctx.documented(
        "POST /v1/email_addresses adds an unverified address (verified not set)",
        spec("CreateEmailAddress"),
        [added.status, (added.body as { verification?: { status?: string } }).verification?.status],
        [200, "unverified"],
      );
      const afterAdd = await clock();
      ctx.observed("Adding an unverified address does not move the user's updated_at", recordedEmails, afterAdd, user.updated_at);

      const unverifiedPrimary = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { primary_email_address_id: addedId } });
      ctx.documented("An unverified address cannot become primary", spec("UpdateUser primary_email_address_id: 'It must be verified'"), unverifiedPrimary.status >= 400 && unverifiedPrimary.status < 500, true);

      await ctx.pause();
      await ctx.bapi("PATCH", `/email_addresses/${addedId}`, { body: { verified: true } });
      const afterVerify = await clock();
      ctx.unknown("Does verifying an address move the user's updated_at?", "not documented or recorded", afterVerify > afterAdd, ctx.target.fidelity?.verifyBumpsClock);

      await ctx.pause();
      const switched = await ctx.bapi("PATCH", `/users/${user.id}`, { body: { primary_email_address_id: addedId } });
      ctx.documented("PATCH primary_email_address_id makes a verified address primary", spec("UpdateUser"), [switched.status, primaryEmail(asUser(switched.body))], [200, address]);
      const afterSwitch = await clock();
      ctx.unknown("Does switching the primary address move the user's updated_at?", "not documented; sanitised recordings only", afterSwitch > afterVerify, ctx.target.fidelity?.primarySwitchBumpsClock);
      const addresses = asUser(switched.body).email_addresses.map((a) => a.email_address);
      ctx.observed("Clerk keeps the old address after the switch", "the shared notes (Clerk does not delete it by itself)", addresses.length, 2);

      await ctx.pause();
      const oldId = user.primary_email_address_id!;
      const deleted = await ctx.bapi("DELETE", `/email_addresses/${oldId}`);
      ctx.documented("DELETE /v1/email_addresses/{id} answers the deleted object", spec("DeleteEmailAddress"), [deleted.status, (deleted.body as { deleted?: boolean }).deleted], [200, true]);
      ctx.observed("Deleting an address moves the user's updated_at", recordedEmails, (await clock()) > afterSwitch, true);
    },
  },
  {
    name: "addresses held by several users, and replacing every address",
    run: async (ctx) => {
      const [first, second] = [await ctx.createUser(), await ctx.createUser()];
      const shared = `contract-${ctx.runId}-shared+clerk_test@example.com`;
      const one = await ctx.bapi("POST", "/email_addresses", { body: { user_id: first.id, email_address: shared } });
      const two = await ctx.bapi("POST", "/email_addresses", { body: { user_id: second.id, email_address: shared } });
      ctx.documented("An unverified address can be held by two users", spec("ReplaceUserEmailAddress identification_status"), [one.status, two.status], [200, 200]);
      await ctx.bapi("PATCH", `/email_addresses/${(one.body as { id: string }).id}`, { body: { verified: true } });
      const verifiedElsewhere = await ctx.bapi("POST", "/users", {
        body: { email_address: [shared], skip_password_requirement: true, private_metadata: { clerk_contract_run: ctx.runId } },
      });
      if (verifiedElsewhere.status === 200) ctx.createdUserIds.add(asUser(verifiedElsewhere.body).id);
      ctx.observed("A verified address is unique: another user cannot be created with it (422 form_identifier_exists)", "the emulator's assumption", [verifiedElsewhere.status, clerkError(verifiedElsewhere).code], [422, "form_identifier_exists"]);

      const replacement = `contract-${ctx.runId}-only+clerk_test@example.com`;
      const replaced = await ctx.bapi("PUT", `/users/${second.id}/email_address`, { body: { email_address: replacement } });
      const after = asUser((await ctx.bapi("GET", `/users/${second.id}`)).body);
      ctx.documented(
        "PUT …/email_address replaces every address with one verified primary address",
        spec("ReplaceUserEmailAddress"),
        [replaced.status, after.email_addresses.map((a) => [a.email_address, a.verification?.status]), primaryEmail(after)],
        [200, [[replacement, "verified"]], replacement],
      );
    },
  },
  {
    name: "banned and locked users",
    run: async (ctx) => {
      const user = await ctx.createUser();
      const banned = await ctx.bapi("POST", `/users/${user.id}/ban`);
      ctx.documented("POST …/ban answers the user, banned", spec("BanUser"), [banned.status, asUser(banned.body).banned], [200, true]);
      const listed = await ctx.bapi("GET", `/users/${user.id}`);
      ctx.documented("A banned user is still there (GET answers 200, banned: true)", spec("components.schemas.User banned"), [listed.status, asUser(listed.body).banned], [200, true]);
      const unbanned = await ctx.bapi("POST", `/users/${user.id}/unban`);
      ctx.documented("POST …/unban lifts it", spec("UnbanUser"), asUser(unbanned.body).banned, false);

      const locked = await ctx.bapi("POST", `/users/${user.id}/lock`);
      if (locked.status === 403) return ctx.notRun("documented", "POST …/lock locks the user", spec("LockUser 403"), "the instance has the user lockout feature off (403)");
      const lockedUser = asUser(locked.body);
      ctx.documented(
        "POST …/lock answers the user, locked, with lockout_expires_in_seconds a number of seconds (or null: never expires)",
        spec("LockUser; components.schemas.User locked, lockout_expires_in_seconds"),
        [locked.status, lockedUser.locked, lockedUser.lockout_expires_in_seconds === null || Number.isInteger(lockedUser.lockout_expires_in_seconds)],
        [200, true, true],
      );
      const unlocked = await ctx.bapi("POST", `/users/${user.id}/unlock`);
      ctx.documented(
        "POST …/unlock lifts it",
        spec("UnlockUser"),
        [unlocked.status, asUser(unlocked.body).locked, asUser(unlocked.body).lockout_expires_in_seconds],
        [200, false, null],
      );
    },
  },
];
