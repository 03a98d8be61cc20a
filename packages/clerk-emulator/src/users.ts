import { randomBytes } from "node:crypto";
import fs from "node:fs";

import { HttpError } from "./http";

export type EmulatorEmailAddress = {
  id: string;
  emailAddress: string;
  verified: boolean;
  createdAtMs: number;
  updatedAtMs: number;
};

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
  banned?: boolean;
};

export type UserPatch = Partial<
  Pick<EmulatorUser, "firstName" | "lastName" | "username" | "publicMetadata" | "privateMetadata" | "unsafeMetadata">
>;

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
  userIds?: string[];
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
 * The emulator's users. Timestamps are Clerk's (milliseconds): every change to a user or one
 * of its identifiers sets `updated_at` to the current time, and a sign-in sets
 * `last_sign_in_at`, `last_active_at` and `updated_at`. Two changes within one millisecond
 * share a clock, as they can on Clerk: nothing forces a strict increase.
 */
export class UserStore {
  private readonly users = new Map<string, EmulatorUser>();
  /** Lower-cased email address → owner: addresses are unique across an instance, as on Clerk. */
  private readonly emailOwners = new Map<string, string>();
  private readonly emailAddressOwners = new Map<string, string>();
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
    const now = this.now();
    for (const seed of this.options.seeds) this.add(this.build(seed, now));
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

  /** One page of the users matching `filters`, in `order`, and how many match in all. */
  list(
    options: { order?: UserOrder; limit?: number; offset?: number; filters?: UserFilters } = {},
  ): { users: EmulatorUser[]; totalCount: number } {
    const order = options.order ?? { field: "created_at", descending: true };
    const offset = options.offset ?? 0;
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    const filters = options.filters ?? {};
    const index = order.field in this.indexes ? this.indexes[order.field as IndexedField] : null;
    if (index && !hasFilters(filters)) return { users: index.page(offset, limit, order.descending), totalCount: index.size };
    const matches = this.matching(filters, index, order.descending);
    if (!index || filters.userIds || filters.emailAddresses) {
      const compare = comparatorFor(order.field);
      matches.sort(order.descending ? (a, b) => compare(b, a) : compare);
    }
    return { users: matches.slice(offset, offset + limit), totalCount: matches.length };
  }

  count(filters: UserFilters = {}) {
    return hasFilters(filters) ? this.matching(filters, null, false).length : this.users.size;
  }

  create(input: UserInput): EmulatorUser {
    if (input.id && this.users.has(input.id)) throw new HttpError(422, "form_identifier_exists", "A user with this id exists");
    const user = this.build(input, this.now());
    this.add(user);
    this.scheduleSave();
    return user;
  }

  /**
   * Seeds `count` users at once, as an import would (verified address, never signed in).
   * Emails are `<prefix>-<batch>-<n>@example.com`. Indexes are rebuilt once at the end.
   */
  createMany(count: number, prefix = "bulk"): EmulatorUser[] {
    const now = this.now();
    const batch = newId("b").slice(2, 8).toLowerCase();
    const created: EmulatorUser[] = [];
    for (let n = 1; n <= count; n++) {
      const user = this.build({ email: `${prefix}-${batch}-${n}@example.com`, firstName: "Bulk", lastName: `User ${n}` }, now);
      this.add(user, false);
      created.push(user);
    }
    // Equal clocks: ordered by id in every index, so each index's own sort below is linear.
    created.sort((a, b) => compareKeys(a.id, b.id));
    for (const index of Object.values(this.indexes)) index.insertMany(created);
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

  /** A sign-in: `last_sign_in_at` and `last_active_at`, then `updated_at`, as Clerk records it. */
  recordSignIn(id: string): EmulatorUser | null {
    const user = this.users.get(id);
    if (!user) return null;
    this.reindex(user, () => {
      const signedInAtMs = this.now();
      user.lastSignInAtMs = signedInAtMs;
      user.lastActiveAtMs = signedInAtMs;
      user.updatedAtMs = this.now();
    });
    this.scheduleSave();
    return user;
  }

  /** Adds an address to the user, not primary (unless it is the user's first); unverified unless `verified`. */
  addEmailAddress(userId: string, emailAddress: string, options: { verified: boolean }) {
    if (!this.users.has(userId)) return null;
    this.assertEmailFree(emailAddress);
    const address: EmulatorEmailAddress = { id: newId("idn"), emailAddress, verified: options.verified, createdAtMs: 0, updatedAtMs: 0 };
    const user = this.change(userId, (u, now) => {
      address.createdAtMs = now;
      address.updatedAtMs = now;
      u.emailAddresses.push(address);
      if (u.primaryEmailAddressId === null && options.verified) u.primaryEmailAddressId = address.id;
    })!;
    this.claimEmail(user.id, address);
    return { user, address };
  }

  verifyEmailAddress(emailAddressId: string) {
    return this.changeAddress(emailAddressId, (user, address, now) => {
      address.verified = true;
      address.updatedAtMs = now;
      user.primaryEmailAddressId ??= address.id;
    });
  }

  /** Only a verified address can become primary (Clerk answers 422 otherwise). */
  setPrimaryEmailAddress(emailAddressId: string) {
    const found = this.findByEmailAddressId(emailAddressId);
    if (found && !found.address.verified) {
      throw new HttpError(422, "form_param_value_invalid", "Only a verified email address can be the primary one", {}, "primary_email_address_id");
    }
    return this.changeAddress(emailAddressId, (user) => {
      user.primaryEmailAddressId = emailAddressId;
    });
  }

  /** The primary address cannot be deleted while another identifier could take its place. */
  deleteEmailAddress(emailAddressId: string) {
    const found = this.findByEmailAddressId(emailAddressId);
    if (found?.user.primaryEmailAddressId === emailAddressId && found.user.emailAddresses.length > 1) {
      throw new HttpError(422, "form_param_value_invalid", "Make another email address primary before deleting this one");
    }
    const changed = this.changeAddress(emailAddressId, (user) => {
      user.emailAddresses = user.emailAddresses.filter((a) => a.id !== emailAddressId);
      if (user.primaryEmailAddressId === emailAddressId) user.primaryEmailAddressId = null;
    });
    if (changed) this.releaseEmail(changed.address);
    return changed;
  }

  delete(id: string): boolean {
    const user = this.users.get(id);
    if (!user) return false;
    this.users.delete(id);
    for (const index of Object.values(this.indexes)) index.remove(user);
    for (const address of user.emailAddresses) this.releaseEmail(address);
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

  private change(id: string, apply: (user: EmulatorUser, nowMs: number) => void): EmulatorUser | null {
    const user = this.users.get(id);
    if (!user) return null;
    this.reindex(user, () => {
      const now = this.now();
      apply(user, now);
      user.updatedAtMs = now;
    });
    this.scheduleSave();
    return user;
  }

  private changeAddress(emailAddressId: string, apply: (user: EmulatorUser, address: EmulatorEmailAddress, nowMs: number) => void) {
    const found = this.findByEmailAddressId(emailAddressId);
    if (!found) return null;
    this.change(found.user.id, (user, now) => apply(user, found.address, now));
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
      const ids = filters.emailAddresses.map((email) => this.emailOwners.get(email.toLowerCase()));
      candidates = new Set(ids.map((id) => (id ? this.users.get(id) : undefined)).filter((u): u is EmulatorUser => u !== undefined));
    } else {
      candidates = index ? index.ordered(descending) : this.users.values();
    }
    const lower = (values: string[] | undefined) => values?.map((v) => v.toLowerCase());
    const emails = lower(filters.emailAddresses);
    const usernames = lower(filters.usernames);
    const query = filters.query?.toLowerCase();
    const matches: EmulatorUser[] = [];
    for (const user of candidates) {
      if (emails && !user.emailAddresses.some((a) => emails.includes(a.emailAddress.toLowerCase()))) continue;
      if (filters.phoneNumbers && !user.phoneNumbers.some((p) => filters.phoneNumbers!.includes(p.phoneNumber))) continue;
      if (usernames && !(user.username && usernames.includes(user.username.toLowerCase()))) continue;
      if (filters.externalIds && !(user.externalId && filters.externalIds.includes(user.externalId))) continue;
      if (query && !searchable(user).some((value) => value.toLowerCase().includes(query))) continue;
      matches.push(user);
    }
    return matches;
  }

  private build(input: UserInput, now: number): EmulatorUser {
    const emails = input.emailAddresses ?? (input.email ? [input.email] : []);
    const phones = input.phoneNumbers ?? [];
    if (emails.length === 0 && phones.length === 0) {
      throw new HttpError(422, "form_param_missing", "A user needs an email address or a phone number", {}, "email_address");
    }
    for (const email of emails) this.assertEmailFree(email);
    const user = new EmulatorUser();
    user.id = input.id ?? newId("user");
    user.emailAddresses = emails.map((emailAddress) => ({ id: newId("idn"), emailAddress, verified: true, createdAtMs: now, updatedAtMs: now }));
    const primary = user.emailAddresses.find((a) => a.emailAddress === input.primaryEmailAddress) ?? user.emailAddresses[0];
    user.primaryEmailAddressId = primary?.id ?? null;
    user.phoneNumbers = phones.map((phoneNumber) => ({ id: newId("idn"), phoneNumber, verified: true, createdAtMs: now, updatedAtMs: now }));
    user.primaryPhoneNumberId = user.phoneNumbers[0]?.id ?? null;
    user.firstName = input.firstName ?? null;
    user.lastName = input.lastName ?? null;
    user.username = input.username ?? null;
    user.publicMetadata = input.publicMetadata ?? {};
    user.banned = input.banned ?? false;
    user.createdAtMs = now;
    user.updatedAtMs = now;
    return user;
  }

  private add(user: EmulatorUser, indexed = true) {
    this.users.set(user.id, user);
    for (const address of user.emailAddresses) this.claimEmail(user.id, address);
    if (indexed) for (const index of Object.values(this.indexes)) index.insert(user);
  }

  private assertEmailFree(emailAddress: string) {
    if (this.emailOwners.has(emailAddress.toLowerCase())) {
      throw new HttpError(422, "form_identifier_exists", "That email address is taken. Please try another.", {}, "email_address");
    }
  }

  private claimEmail(userId: string, address: EmulatorEmailAddress) {
    this.emailOwners.set(address.emailAddress.toLowerCase(), userId);
    this.emailAddressOwners.set(address.id, userId);
  }

  private releaseEmail(address: EmulatorEmailAddress) {
    this.emailOwners.delete(address.emailAddress.toLowerCase());
    this.emailAddressOwners.delete(address.id);
  }

  private clear() {
    this.users.clear();
    this.emailOwners.clear();
    this.emailAddressOwners.clear();
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
    reserved: false,
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
export function userJson(user: EmulatorUser, origin: string) {
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
    locked: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: null,
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
