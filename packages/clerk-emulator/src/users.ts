import { randomBytes } from "node:crypto";
import fs from "node:fs";

import { HttpError } from "./http";

export type EmulatorEmailAddress = {
  id: string;
  emailAddress: string;
  verified: boolean;
  /** Unverified but usable for sign-in and held for this user only (`identification_status: reserved`). */
  reserved?: boolean;
  createdAtMs: number;
  updatedAtMs: number;
};

/** `verified` or `reserved`: an address no other user may verify, reserve or sign up with. */
function isClaimed(address: EmulatorEmailAddress) {
  return address.verified || address.reserved === true;
}

export type EmulatorPhoneNumber = {
  id: string;
  phoneNumber: string;
  verified: boolean;
  createdAtMs: number;
  updatedAtMs: number;
};

/** One emulated Clerk user: several identifiers, metadata, a ban mark and Clerk's clocks (ms). */
export class EmulatorUser {
  id = "";
  externalId: string | null = null;
  /** In creation order: the primary address is not necessarily the first. */
  emailAddresses: EmulatorEmailAddress[] = [];
  primaryEmailAddressId: string | null = null;
  phoneNumbers: EmulatorPhoneNumber[] = [];
  primaryPhoneNumberId: string | null = null;
  firstName: string | null = null;
  lastName: string | null = null;
  username: string | null = null;
  /** Set by `POST /v1/users/:id/profile_image`: where the uploaded image is served. */
  uploadedImagePath: string | null = null;
  publicMetadata: Record<string, unknown> = {};
  privateMetadata: Record<string, unknown> = {};
  unsafeMetadata: Record<string, unknown> = {};
  banned = false;
  /** Set by `POST /v1/users/{id}/lock`; the lock lasts until `lockExpiresAtMs` (null: until unlocked). */
  lockedAtMs: number | null = null;
  lockExpiresAtMs: number | null = null;
  /** Deactivated by directory sync (SCIM): sessions revoked, sign-in refused. */
  deprovisioned = false;
  createdAtMs = 0;
  updatedAtMs = 0;
  lastSignInAtMs: number | null = null;
  lastActiveAtMs: number | null = null;

  /** The primary email address, null for a phone-only user. */
  get email(): string | null {
    return this.emailAddresses.find((address) => address.id === this.primaryEmailAddressId)?.emailAddress ?? null;
  }

  get phoneNumber(): string | null {
    return this.phoneNumbers.find((phone) => phone.id === this.primaryPhoneNumberId)?.phoneNumber ?? null;
  }

  /** Locked now: `POST /v1/users/{id}/lock` and the lock has not expired. */
  isLocked(nowMs: number) {
    return this.lockedAtMs !== null && (this.lockExpiresAtMs === null || nowMs < this.lockExpiresAtMs);
  }

  /** What a sign-in form shows: the primary email, else the primary phone number. */
  get identifier(): string {
    return this.email ?? this.phoneNumber ?? this.id;
  }
}

export type UserInput = {
  /** Fixed id, e.g. for seeds; generated when absent. */
  id?: string;
  /** Shorthand for one verified primary address. */
  email?: string | null;
  /** Verified addresses in list order; the primary is `primaryEmailAddress`, else the first. */
  emailAddresses?: string[];
  primaryEmailAddress?: string;
  /** Verified phone numbers; the first is primary. */
  phoneNumbers?: string[];
  firstName?: string | null;
  lastName?: string | null;
  username?: string | null;
  publicMetadata?: Record<string, unknown>;
  privateMetadata?: Record<string, unknown>;
  unsafeMetadata?: Record<string, unknown>;
  externalId?: string | null;
  banned?: boolean;
};

export type UserPatch = Partial<
  Pick<EmulatorUser, "firstName" | "lastName" | "username" | "externalId" | "publicMetadata" | "privateMetadata" | "unsafeMetadata">
>;

/** Whether a change moves the user's `updated_at` (Clerk's clock): see `FidelitySettings`. */
export type ClockChange = { bumpClock: boolean };

/** `order_by` fields the Backend API accepts for `GET /v1/users` (as @clerk/backend types them). */
export const userOrderFields = [
  "created_at",
  "updated_at",
  "last_sign_in_at",
  "last_active_at",
  "email_address",
  "first_name",
  "last_name",
  "username",
  "phone_number",
  "web3wallet",
] as const;

export type UserOrderField = (typeof userOrderFields)[number];

export type UserOrder = { field: UserOrderField; descending: boolean };

/** Exact, case-insensitive filters (combined with AND), as `GET /v1/users` and `/count` take them. */
export type UserFilters = {
  /** Only these users (`user_id=id` or `user_id=+id`). */
  userIds?: string[];
  /** Never these users (`user_id=-id`). */
  excludedUserIds?: string[];
  /** `created_at_after` / `created_at_before`, exclusive, in ms. */
  createdAfterMs?: number;
  createdBeforeMs?: number;
  emailAddresses?: string[];
  phoneNumbers?: string[];
  usernames?: string[];
  externalIds?: string[];
  /** Partial match across ids, email addresses, phone numbers, usernames, first and last names. */
  query?: string;
};

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// One system call and one string per id: bulk seeding makes hundreds of thousands of them.
const alphabetCodes = Buffer.from(alphabet, "latin1");
const idLength = 27;
const idScratch = Buffer.alloc(idLength);
let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

/** Clerk-looking ids: a prefix and 27 base62 characters. */
export function newId(prefix: string) {
  if (randomPoolOffset + idLength > randomPool.length) {
    randomPool = randomBytes(idLength * 1024);
    randomPoolOffset = 0;
  }
  for (let i = 0; i < idLength; i++) idScratch[i] = alphabetCodes[randomPool[randomPoolOffset + i]! % alphabetCodes.length]!;
  randomPoolOffset += idLength;
  return `${prefix}_${idScratch.toString("latin1")}`;
}

/**
 * The seeded instance: the three demo users the e2e journeys use, plus the users the mirror
 * meets on a real instance (an admin, several addresses with the primary not first, a
 * phone-only user, a banned user, one created through the Backend API that never signed in).
 */
export const demoUsers: UserInput[] = [
  { id: "user_demo_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", username: "ada" },
  { id: "user_demo_grace", email: "grace@example.com", firstName: "Grace", lastName: "Hopper", username: "grace" },
  { id: "user_demo_alan", email: "alan@example.com", firstName: "Alan", lastName: "Turing", username: null },
  {
    id: "user_demo_margaret",
    email: "margaret@example.com",
    firstName: "Margaret",
    lastName: "Hamilton",
    username: "margaret",
    publicMetadata: { role: "admin" },
  },
  {
    id: "user_demo_edsger",
    emailAddresses: ["ewd@utexas.example.com", "edsger@example.com"],
    primaryEmailAddress: "edsger@example.com",
    firstName: "Edsger",
    lastName: "Dijkstra",
  },
  { id: "user_demo_katherine", phoneNumbers: ["+15555550142"], firstName: "Katherine", lastName: "Johnson" },
  { id: "user_demo_mallory", email: "mallory@example.com", firstName: "Mallory", lastName: "Banned", banned: true },
  { id: "user_demo_barbara", email: "barbara@example.com", firstName: "Barbara", lastName: "Liskov", username: "barbara" },
];

/** A user's place in created_at order: what a `starting_after` cursor points at. */
export type CursorPosition = { id: string; createdAtMs: number };

type IndexedField = "created_at" | "updated_at" | "last_sign_in_at" | "last_active_at";

const indexedFields: Record<IndexedField, (user: EmulatorUser) => number | null> = {
  created_at: (user) => user.createdAtMs,
  updated_at: (user) => user.updatedAtMs,
  last_sign_in_at: (user) => user.lastSignInAtMs,
  last_active_at: (user) => user.lastActiveAtMs,
};

const otherOrderKeys: Record<Exclude<UserOrderField, IndexedField>, (user: EmulatorUser) => string | null> = {
  email_address: (user) => user.email?.toLowerCase() ?? null,
  first_name: (user) => user.firstName?.toLowerCase() ?? null,
  last_name: (user) => user.lastName?.toLowerCase() ?? null,
  username: (user) => user.username?.toLowerCase() ?? null,
  phone_number: (user) => user.phoneNumber,
  web3wallet: () => null,
};

function compareKeys(a: number | string | null, b: number | string | null) {
  if (a === b) return 0;
  // A missing value sorts lowest: first ascending, last descending.
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

function comparatorFor(field: UserOrderField) {
  const key: (user: EmulatorUser) => number | string | null =
    field in indexedFields ? indexedFields[field as IndexedField] : otherOrderKeys[field as Exclude<UserOrderField, IndexedField>];
  // Ties broken by id, so offset pagination is stable.
  return (a: EmulatorUser, b: EmulatorUser) => compareKeys(key(a), key(b)) || compareKeys(a.id, b.id);
}

/**
 * Users kept sorted by one clock: pages are slices, and a change re-inserts one user by binary
 * search instead of sorting the whole instance on every request.
 */
class SortedIndex {
  private items: EmulatorUser[] = [];
  private readonly compare: (a: EmulatorUser, b: EmulatorUser) => number;

  constructor(field: IndexedField) {
    this.compare = comparatorFor(field);
  }

  get size() {
    return this.items.length;
  }

  private lowerBound(user: EmulatorUser) {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compare(this.items[middle]!, user) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  insert(user: EmulatorUser) {
    this.items.splice(this.lowerBound(user), 0, user);
  }

  /** Call before the user's clock changes: it is found by its current position. */
  remove(user: EmulatorUser) {
    const at = this.lowerBound(user);
    const index = this.items[at] === user ? at : this.items.indexOf(user);
    if (index >= 0) this.items.splice(index, 1);
  }

  rebuild(users: Iterable<EmulatorUser>) {
    this.items = [...users].sort(this.compare);
  }

  /** Merges many new users in one pass (a batch already in order sorts in linear time). */
  insertMany(users: EmulatorUser[]) {
    const batch = [...users].sort(this.compare);
    const merged: EmulatorUser[] = new Array<EmulatorUser>(this.items.length + batch.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < this.items.length && j < batch.length) {
      merged[k++] = this.compare(this.items[i]!, batch[j]!) <= 0 ? this.items[i++]! : batch[j++]!;
    }
    while (i < this.items.length) merged[k++] = this.items[i++]!;
    while (j < batch.length) merged[k++] = batch[j++]!;
    this.items = merged;
  }

  clear() {
    this.items = [];
  }

  /** First position whose user sorts after `probe`. */
  private upperBound(probe: EmulatorUser) {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compare(this.items[middle]!, probe) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Up to `limit` users strictly after `probe` in this order (before it in the index when descending). */
  pageAfter(probe: EmulatorUser, limit: number, descending: boolean): EmulatorUser[] {
    if (!descending) {
      const start = this.upperBound(probe);
      return this.items.slice(start, start + limit);
    }
    const end = this.lowerBound(probe);
    return this.items.slice(Math.max(0, end - limit), end).reverse();
  }

  page(offset: number, limit: number, descending: boolean): EmulatorUser[] {
    if (!descending) return this.items.slice(offset, offset + limit);
    const end = Math.max(0, this.items.length - offset);
    return this.items.slice(Math.max(0, end - limit), end).reverse();
  }

  *ordered(descending: boolean): Generator<EmulatorUser> {
    if (descending) for (let i = this.items.length - 1; i >= 0; i--) yield this.items[i]!;
    else yield* this.items;
  }
}

type StoreOptions = {
  seeds: UserInput[];
  /** Where the users persist (the demo's JSON file); unset: in memory only. */
  file?: string;
  now?: () => number;
  /** Saves are coalesced: at most one write per this many ms (default 250). */
  saveDelayMs?: number;
};

type SavedFile = { version: 2; users: EmulatorUser[] };

/**
 * The emulator's users. Timestamps are Clerk's (milliseconds): a change to the user sets
 * `updated_at` to the current time (changes Clerk makes without moving it, such as adding an
 * unverified address, pass `bumpClock: false`), and a sign-in sets `last_sign_in_at` and
 * `updated_at`. Two changes within one millisecond share a clock, as they can on Clerk: nothing
 * forces a strict increase; a user's clock never goes back. Users are created with distinct
 * `created_at` clocks in creation order.
 */
export class UserStore {
  private readonly users = new Map<string, EmulatorUser>();
  /**
   * Lower-cased email address → the users holding it. Verified (or reserved) addresses are
   * unique across an instance; an unverified one may be held by several users, as on Clerk.
   */
  private readonly emailHolders = new Map<string, Set<string>>();
  private readonly emailAddressOwners = new Map<string, string>();
  /** Deleted users' creation clocks: where a `starting_after` cursor naming one of them stood. */
  private readonly deletedCreatedAtMs = new Map<string, number>();
  private newestCreatedAtMs = 0;
  private readonly indexes = Object.fromEntries(
    Object.keys(indexedFields).map((field) => [field, new SortedIndex(field as IndexedField)]),
  ) as Record<IndexedField, SortedIndex>;
  private saveTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: StoreOptions) {
    if (!this.load()) this.reset();
  }

  now() {
    return (this.options.now ?? Date.now)();
  }

  get size() {
    return this.users.size;
  }

  reset() {
    this.clear();
    for (const seed of this.options.seeds) this.add(this.build(seed, this.nextCreatedAtMs()));
    this.scheduleSave();
  }

  get(id: string) {
    return this.users.get(id) ?? null;
  }

  /** The user owning an email address id (`idn_…`). */
  findByEmailAddressId(emailAddressId: string) {
    const userId = this.emailAddressOwners.get(emailAddressId);
    const user = userId ? this.users.get(userId) : undefined;
    const address = user?.emailAddresses.find((a) => a.id === emailAddressId);
    return user && address ? { user, address } : null;
  }

  /**
   * One page of the users matching `filters`, in `order`, and how many match in all. `after` is
   * a `starting_after` cursor's position (created_at order only): the page starts past it.
   */
  list(
    options: { order?: UserOrder; limit?: number; offset?: number; after?: CursorPosition; filters?: UserFilters } = {},
  ): { users: EmulatorUser[]; totalCount: number } {
    const order = options.order ?? { field: "created_at", descending: true };
    const offset = options.offset ?? 0;
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    const filters = options.filters ?? {};
    const index = order.field in this.indexes ? this.indexes[order.field as IndexedField] : null;
    const probe = options.after ? Object.assign(new EmulatorUser(), options.after) : null;
    if (index && !hasFilters(filters)) {
      const users = probe ? index.pageAfter(probe, limit, order.descending) : index.page(offset, limit, order.descending);
      return { users, totalCount: index.size };
    }
    const compare = comparatorFor(order.field);
    let matches = this.matching(filters, index, order.descending);
    if (!index || filters.userIds || filters.emailAddresses) matches.sort(order.descending ? (a, b) => compare(b, a) : compare);
    const totalCount = matches.length;
    if (probe) matches = matches.filter((user) => (order.descending ? compare(user, probe) < 0 : compare(user, probe) > 0));
    return { users: matches.slice(offset, offset + limit), totalCount };
  }

  /** Where a `starting_after` id stands in created_at order: a live user, or one deleted since (its position is remembered). */
  cursorPosition(userId: string): CursorPosition | null {
    const user = this.users.get(userId);
    if (user) return { id: user.id, createdAtMs: user.createdAtMs };
    const deletedCreatedAtMs = this.deletedCreatedAtMs.get(userId);
    return deletedCreatedAtMs === undefined ? null : { id: userId, createdAtMs: deletedCreatedAtMs };
  }

  count(filters: UserFilters = {}) {
    return hasFilters(filters) ? this.matching(filters, null, false).length : this.users.size;
  }

  create(input: UserInput): EmulatorUser {
    if (input.id && this.users.has(input.id)) throw new HttpError(422, "form_identifier_exists", "A user with this id exists");
    const user = this.build(input, this.nextCreatedAtMs());
    this.add(user);
    this.scheduleSave();
    return user;
  }

  /**
   * Seeds `count` users at once, as an import would (verified address, never signed in), with
   * Clerk-like clocks: 1 ms apart in creation order, the newest now (or just after the newest
   * user, so users stay in creation order). Emails are `<prefix>-<batch>-<n>@example.com`.
   */
  createMany(count: number, prefix = "bulk"): EmulatorUser[] {
    const firstMs = Math.max(this.newestCreatedAtMs + 1, this.now() - count + 1);
    const batch = newId("b").slice(2, 8).toLowerCase();
    const created: EmulatorUser[] = [];
    for (let n = 1; n <= count; n++) {
      const user = this.build({ email: `${prefix}-${batch}-${n}@example.com`, firstName: "Bulk", lastName: `User ${n}` }, firstMs + n - 1);
      this.add(user, false);
      created.push(user);
    }
    this.newestCreatedAtMs = firstMs + count - 1;
    // In creation order for the clock indexes; by id for the others (no sign-in yet: their keys tie), so each merge is linear.
    const byId = [...created].sort((a, b) => compareKeys(a.id, b.id));
    for (const [field, index] of Object.entries(this.indexes)) index.insertMany(field === "created_at" || field === "updated_at" ? created : byId);
    this.scheduleSave();
    return created;
  }

  update(id: string, patch: UserPatch): EmulatorUser | null {
    return this.change(id, (user) => {
      for (const [key, value] of Object.entries(patch)) {
        if (value !== undefined) (user as unknown as Record<string, unknown>)[key] = value;
      }
    });
  }

  setUploadedImage(id: string, imagePath: string): EmulatorUser | null {
    return this.change(id, (user) => {
      user.uploadedImagePath = imagePath;
    });
  }

  setBanned(id: string, banned: boolean): EmulatorUser | null {
    return this.change(id, (user) => {
      user.banned = banned;
    });
  }

  /** Locks for `lockoutSeconds` (null: until unlocked), or unlocks. */
  setLocked(id: string, locked: boolean, lockoutSeconds: number | null = null): EmulatorUser | null {
    return this.change(id, (user, now) => {
      user.lockedAtMs = locked ? now : null;
      user.lockExpiresAtMs = locked && lockoutSeconds !== null ? now + lockoutSeconds * 1000 : null;
    });
  }

  setDeprovisioned(id: string, deprovisioned: boolean): EmulatorUser | null {
    return this.change(id, (user) => {
      user.deprovisioned = deprovisioned;
    });
  }

  /**
   * A sign-in: `last_sign_in_at`, then `updated_at` at its own reading of the clock, as Clerk
   * records it. `last_active_at` has day precision on Clerk: it moves on the first activity of
   * a (UTC) day only, and never moves `updated_at`.
   */
  recordSignIn(id: string): EmulatorUser | null {
    const user = this.users.get(id);
    if (!user) return null;
    this.reindex(user, () => {
      const signedInAtMs = this.now();
      user.lastSignInAtMs = signedInAtMs;
      user.updatedAtMs = Math.max(this.now(), user.updatedAtMs);
      const dayMs = 24 * 60 * 60 * 1000;
      if (user.lastActiveAtMs === null || Math.floor(user.lastActiveAtMs / dayMs) < Math.floor(signedInAtMs / dayMs)) user.lastActiveAtMs = this.now();
    });
    this.scheduleSave();
    return user;
  }

  /**
   * Adds an address to the user, not primary (unless it is the user's first verified one). An
   * unverified address another user also holds unverified is allowed (Clerk's `PUT
   * …/email_address` docs); one another user has verified or reserved is Clerk's 422.
   */
  addEmailAddress(userId: string, emailAddress: string, options: { verified: boolean } & ClockChange) {
    const owner = this.users.get(userId);
    if (!owner) return null;
    this.assertEmailFree(emailAddress, owner);
    const address: EmulatorEmailAddress = { id: newId("idn"), emailAddress, verified: options.verified, createdAtMs: 0, updatedAtMs: 0 };
    const user = this.change(
      userId,
      (u, now) => {
        address.createdAtMs = now;
        address.updatedAtMs = now;
        u.emailAddresses.push(address);
        if (u.primaryEmailAddressId === null && options.verified) u.primaryEmailAddressId = address.id;
      },
      options,
    )!;
    this.holdEmail(user.id, address);
    return { user, address };
  }

  /** Verifying claims the address: refused (422) while another user has it verified or reserved. */
  verifyEmailAddress(emailAddressId: string, options: ClockChange) {
    const found = this.findByEmailAddressId(emailAddressId);
    if (found && !found.address.verified) this.assertEmailFree(found.address.emailAddress, found.user, found.address);
    return this.changeAddress(
      emailAddressId,
      (user, address, now) => {
        address.verified = true;
        address.reserved = false;
        address.updatedAtMs = now;
        user.primaryEmailAddressId ??= address.id;
      },
      options,
    );
  }

  /** Only a verified address can become primary (Clerk answers 422 otherwise). */
  setPrimaryEmailAddress(emailAddressId: string, options: ClockChange) {
    const found = this.findByEmailAddressId(emailAddressId);
    if (found && !found.address.verified) {
      throw new HttpError(422, "form_param_value_invalid", "Only a verified email address can be the primary one", {}, "primary_email_address_id");
    }
    if (found?.user.primaryEmailAddressId === emailAddressId) return found;
    return this.changeAddress(
      emailAddressId,
      (user) => {
        user.primaryEmailAddressId = emailAddressId;
      },
      options,
    );
  }

  /** The primary address cannot be deleted while another identifier could take its place. Moves the clock (recorded). */
  deleteEmailAddress(emailAddressId: string) {
    const found = this.findByEmailAddressId(emailAddressId);
    if (found?.user.primaryEmailAddressId === emailAddressId && found.user.emailAddresses.length > 1) {
      throw new HttpError(422, "form_param_value_invalid", "Make another email address primary before deleting this one");
    }
    const changed = this.changeAddress(emailAddressId, (user) => {
      user.emailAddresses = user.emailAddresses.filter((a) => a.id !== emailAddressId);
      if (user.primaryEmailAddressId === emailAddressId) user.primaryEmailAddressId = null;
    });
    if (changed) this.releaseEmail(changed.user.id, changed.address);
    return changed;
  }

  /**
   * `PUT /v1/users/{id}/email_address`: every address of the user is deleted and `emailAddress`
   * becomes the only, primary one, `verified` (default), `reserved` or `unverified`.
   */
  replaceEmailAddresses(userId: string, emailAddress: string, status: "verified" | "reserved" | "unverified") {
    const owner = this.users.get(userId);
    if (!owner) return null;
    const others = owner.emailAddresses.filter((a) => a.emailAddress.toLowerCase() !== emailAddress.toLowerCase());
    const kept = owner.emailAddresses.find((a) => a.emailAddress.toLowerCase() === emailAddress.toLowerCase());
    this.assertEmailFree(emailAddress, owner, kept);
    const address: EmulatorEmailAddress = kept ?? { id: newId("idn"), emailAddress, verified: false, createdAtMs: 0, updatedAtMs: 0 };
    const user = this.change(userId, (u, now) => {
      if (!kept) address.createdAtMs = now;
      address.verified = status === "verified";
      address.reserved = status === "reserved";
      address.updatedAtMs = now;
      u.emailAddresses = [address];
      u.primaryEmailAddressId = address.id;
    })!;
    for (const removed of others) this.releaseEmail(user.id, removed);
    if (!kept) this.holdEmail(user.id, address);
    return { user, address };
  }

  delete(id: string): boolean {
    const user = this.users.get(id);
    if (!user) return false;
    this.users.delete(id);
    this.deletedCreatedAtMs.set(id, user.createdAtMs);
    for (const index of Object.values(this.indexes)) index.remove(user);
    for (const address of user.emailAddresses) this.releaseEmail(id, address);
    this.scheduleSave();
    return true;
  }

  /** Writes pending changes now (on shutdown). */
  flush() {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.options.file) return;
    const saved: SavedFile = { version: 2, users: [...this.users.values()] };
    fs.writeFileSync(this.options.file, JSON.stringify(saved));
  }

  /**
   * Applies a change; `updated_at` takes the current time (never earlier than the user's own
   * clock) unless the change is one Clerk makes without moving it.
   */
  private change(id: string, apply: (user: EmulatorUser, nowMs: number) => void, clock: ClockChange = { bumpClock: true }): EmulatorUser | null {
    const user = this.users.get(id);
    if (!user) return null;
    this.reindex(user, () => {
      const now = this.now();
      apply(user, now);
      if (clock.bumpClock) user.updatedAtMs = Math.max(now, user.updatedAtMs);
    });
    this.scheduleSave();
    return user;
  }

  private changeAddress(
    emailAddressId: string,
    apply: (user: EmulatorUser, address: EmulatorEmailAddress, nowMs: number) => void,
    clock?: ClockChange,
  ) {
    const found = this.findByEmailAddressId(emailAddressId);
    if (!found) return null;
    this.change(found.user.id, (user, now) => apply(user, found.address, now), clock);
    return found;
  }

  private reindex(user: EmulatorUser, apply: () => void) {
    for (const index of Object.values(this.indexes)) index.remove(user);
    apply();
    for (const index of Object.values(this.indexes)) index.insert(user);
  }

  private matching(filters: UserFilters, index: SortedIndex | null, descending: boolean): EmulatorUser[] {
    let candidates: Iterable<EmulatorUser>;
    if (filters.userIds) {
      candidates = new Set(filters.userIds.map((id) => this.users.get(id)).filter((u): u is EmulatorUser => u !== undefined));
    } else if (filters.emailAddresses) {
      const ids = filters.emailAddresses.flatMap((email) => [...(this.emailHolders.get(email.toLowerCase()) ?? [])]);
      candidates = new Set(ids.map((id) => this.users.get(id)).filter((u): u is EmulatorUser => u !== undefined));
    } else {
      candidates = index ? index.ordered(descending) : this.users.values();
    }
    const lower = (values: string[] | undefined) => values?.map((v) => v.toLowerCase());
    const emails = lower(filters.emailAddresses);
    const usernames = lower(filters.usernames);
    const excluded = filters.excludedUserIds ? new Set(filters.excludedUserIds) : null;
    const query = filters.query?.toLowerCase();
    const matches: EmulatorUser[] = [];
    for (const user of candidates) {
      if (excluded?.has(user.id)) continue;
      if (filters.createdAfterMs !== undefined && !(user.createdAtMs > filters.createdAfterMs)) continue;
      if (filters.createdBeforeMs !== undefined && !(user.createdAtMs < filters.createdBeforeMs)) continue;
      if (emails && !user.emailAddresses.some((a) => emails.includes(a.emailAddress.toLowerCase()))) continue;
      if (filters.phoneNumbers && !user.phoneNumbers.some((p) => filters.phoneNumbers!.includes(p.phoneNumber))) continue;
      if (usernames && !(user.username && usernames.includes(user.username.toLowerCase()))) continue;
      if (filters.externalIds && !(user.externalId && filters.externalIds.includes(user.externalId))) continue;
      if (query && !searchable(user).some((value) => value.toLowerCase().includes(query))) continue;
      matches.push(user);
    }
    return matches;
  }

  /** Creation clocks are distinct and in creation order (1 ms apart at the least), never before the newest user's. */
  private nextCreatedAtMs() {
    this.newestCreatedAtMs = Math.max(this.now(), this.newestCreatedAtMs + 1);
    return this.newestCreatedAtMs;
  }

  private build(input: UserInput, createdAtMs: number): EmulatorUser {
    const emails = input.emailAddresses ?? (input.email ? [input.email] : []);
    const phones = input.phoneNumbers ?? [];
    if (emails.length === 0 && phones.length === 0) {
      throw new HttpError(422, "form_param_missing", "A user needs an email address or a phone number", {}, "email_address");
    }
    const user = new EmulatorUser();
    for (const email of emails) this.assertEmailFree(email, user);
    user.id = input.id ?? newId("user");
    const at = createdAtMs;
    user.emailAddresses = emails.map((emailAddress) => ({ id: newId("idn"), emailAddress, verified: true, createdAtMs: at, updatedAtMs: at }));
    const primary = user.emailAddresses.find((a) => a.emailAddress === input.primaryEmailAddress) ?? user.emailAddresses[0];
    user.primaryEmailAddressId = primary?.id ?? null;
    user.phoneNumbers = phones.map((phoneNumber) => ({ id: newId("idn"), phoneNumber, verified: true, createdAtMs: at, updatedAtMs: at }));
    user.primaryPhoneNumberId = user.phoneNumbers[0]?.id ?? null;
    user.firstName = input.firstName ?? null;
    user.lastName = input.lastName ?? null;
    user.username = input.username ?? null;
    user.externalId = input.externalId ?? null;
    user.publicMetadata = input.publicMetadata ?? {};
    user.privateMetadata = input.privateMetadata ?? {};
    user.unsafeMetadata = input.unsafeMetadata ?? {};
    user.banned = input.banned ?? false;
    user.createdAtMs = at;
    user.updatedAtMs = at;
    return user;
  }

  private add(user: EmulatorUser, indexed = true) {
    this.users.set(user.id, user);
    this.newestCreatedAtMs = Math.max(this.newestCreatedAtMs, user.createdAtMs);
    for (const address of user.emailAddresses) this.holdEmail(user.id, address);
    if (indexed) for (const index of Object.values(this.indexes)) index.insert(user);
  }

  /**
   * Clerk's 422 `form_identifier_exists` when `emailAddress` may not go to `user`: the user has
   * it already (other than `except`, the address being verified or replaced), or another user
   * has it verified or reserved. Other users' unverified copies do not count.
   */
  private assertEmailFree(emailAddress: string, user: EmulatorUser, except?: EmulatorEmailAddress) {
    const lower = emailAddress.toLowerCase();
    const same = (a: EmulatorEmailAddress) => a !== except && a.emailAddress.toLowerCase() === lower;
    const claimedElsewhere = [...(this.emailHolders.get(lower) ?? [])].some(
      (holderId) => holderId !== user.id && (this.users.get(holderId)?.emailAddresses.some((a) => same(a) && isClaimed(a)) ?? false),
    );
    if (claimedElsewhere || user.emailAddresses.some(same)) {
      throw new HttpError(422, "form_identifier_exists", "That email address is taken. Please try another.", {}, "email_address");
    }
  }

  private holdEmail(userId: string, address: EmulatorEmailAddress) {
    const lower = address.emailAddress.toLowerCase();
    let holders = this.emailHolders.get(lower);
    if (!holders) this.emailHolders.set(lower, (holders = new Set()));
    holders.add(userId);
    this.emailAddressOwners.set(address.id, userId);
  }

  private releaseEmail(userId: string, address: EmulatorEmailAddress) {
    const lower = address.emailAddress.toLowerCase();
    const holders = this.emailHolders.get(lower);
    const user = this.users.get(userId);
    const stillHeld = user?.emailAddresses.some((a) => a.id !== address.id && a.emailAddress.toLowerCase() === lower);
    if (holders && !stillHeld) {
      holders.delete(userId);
      if (holders.size === 0) this.emailHolders.delete(lower);
    }
    this.emailAddressOwners.delete(address.id);
  }

  private clear() {
    this.users.clear();
    this.emailHolders.clear();
    this.emailAddressOwners.clear();
    this.deletedCreatedAtMs.clear();
    this.newestCreatedAtMs = 0;
    for (const index of Object.values(this.indexes)) index.clear();
  }

  private scheduleSave() {
    if (!this.options.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.flush(), this.options.saveDelayMs ?? 250);
  }

  /** A file of an earlier format (or none) is not loaded: the seeds take its place. */
  private load(): boolean {
    if (!this.options.file) return false;
    let saved: Partial<SavedFile>;
    try {
      saved = JSON.parse(fs.readFileSync(this.options.file, "utf8")) as Partial<SavedFile>;
    } catch {
      return false;
    }
    if (saved.version !== 2 || !Array.isArray(saved.users)) return false;
    for (const record of saved.users) this.add(Object.assign(new EmulatorUser(), record), false);
    for (const index of Object.values(this.indexes)) index.rebuild(this.users.values());
    return true;
  }
}

function hasFilters(filters: UserFilters) {
  return Object.values(filters).some((value) => value !== undefined);
}

function searchable(user: EmulatorUser): string[] {
  return [
    user.id,
    ...user.emailAddresses.map((a) => a.emailAddress),
    ...user.phoneNumbers.map((p) => p.phoneNumber),
    user.username ?? "",
    user.firstName ?? "",
    user.lastName ?? "",
  ];
}

function verificationJson(verified: boolean, strategy: "email_code" | "phone_code", createdAtMs: number) {
  return {
    object: strategy === "email_code" ? "verification_email_code" : "verification_phone_code",
    status: verified ? ("verified" as const) : ("unverified" as const),
    strategy,
    attempts: verified ? 1 : 0,
    // An unverified address is waiting for its code (Clerk's codes expire after 10 minutes).
    expire_at: verified ? null : createdAtMs + 10 * 60 * 1000,
  };
}

/** The Backend API's EmailAddress JSON (`linked_to: []` is required by the SDK). */
export function emailAddressJson(address: EmulatorEmailAddress) {
  return {
    object: "email_address" as const,
    id: address.id,
    email_address: address.emailAddress,
    reserved: address.reserved === true,
    verification: verificationJson(address.verified, "email_code", address.createdAtMs),
    linked_to: [],
    matches_sso_connection: false,
    created_at: address.createdAtMs,
    updated_at: address.updatedAtMs,
  };
}

export function phoneNumberJson(phone: EmulatorPhoneNumber) {
  return {
    object: "phone_number" as const,
    id: phone.id,
    phone_number: phone.phoneNumber,
    reserved_for_second_factor: false,
    default_second_factor: false,
    reserved: false,
    verification: verificationJson(phone.verified, "phone_code", phone.createdAtMs),
    linked_to: [],
    backup_codes: null,
    created_at: phone.createdAtMs,
    updated_at: phone.updatedAtMs,
  };
}

/** The Backend API's User JSON: snake_case, millisecond timestamps. */
export function userJson(user: EmulatorUser, origin: string, nowMs = Date.now()) {
  const locked = user.isLocked(nowMs);
  const imageUrl = `${origin}${user.uploadedImagePath ?? `/images/avatars/${user.id}.svg`}`;
  return {
    object: "user",
    id: user.id,
    external_id: user.externalId,
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    image_url: imageUrl,
    profile_image_url: imageUrl,
    has_image: user.uploadedImagePath !== null,
    primary_email_address_id: user.primaryEmailAddressId,
    primary_phone_number_id: user.primaryPhoneNumberId,
    primary_web3_wallet_id: null,
    email_addresses: user.emailAddresses.map(emailAddressJson),
    phone_numbers: user.phoneNumbers.map(phoneNumberJson),
    web3_wallets: [],
    external_accounts: [],
    enterprise_accounts: [],
    saml_accounts: [],
    passkeys: [],
    public_metadata: user.publicMetadata,
    private_metadata: user.privateMetadata,
    unsafe_metadata: user.unsafeMetadata,
    password_enabled: false,
    password_last_updated_at: null,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    banned: user.banned,
    locked,
    deprovisioned: user.deprovisioned,
    // Null for a locked user means the lock never expires (Clerk's User schema).
    lockout_expires_in_seconds: locked && user.lockExpiresAtMs !== null ? Math.ceil((user.lockExpiresAtMs - nowMs) / 1000) : null,
    verification_attempts_remaining: null,
    mfa_enabled_at: null,
    mfa_disabled_at: null,
    bypass_client_trust: false,
    delete_self_enabled: true,
    create_organization_enabled: false,
    create_organizations_limit: null,
    last_sign_in_at: user.lastSignInAtMs,
    last_active_at: user.lastActiveAtMs,
    legal_accepted_at: null,
    locale: null,
    created_at: user.createdAtMs,
    updated_at: user.updatedAtMs,
  };
}

export type UserJson = ReturnType<typeof userJson>;

/** What FAPI embeds in a session: the user without private metadata, plus memberships. */
export function frontendUserJson(user: EmulatorUser, origin: string) {
  const json: Partial<UserJson> = userJson(user, origin);
  delete json.private_metadata;
  return { ...json, organization_memberships: [] };
}
