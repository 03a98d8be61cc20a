import { randomBytes } from "node:crypto";
import fs from "node:fs";

/** One emulated Clerk user, with the fields the emulator lets you change. */
export type EmulatorUser = {
  id: string;
  emailAddressId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  username: string | null;
  /** Set by `POST /v1/users/:id/profile_image`: where the uploaded image is served. */
  uploadedImagePath: string | null;
  publicMetadata: Record<string, unknown>;
  privateMetadata: Record<string, unknown>;
  unsafeMetadata: Record<string, unknown>;
  createdAtMs: number;
  updatedAtMs: number;
  lastSignInAtMs: number | null;
};

export type UserInput = {
  email: string;
  firstName?: string | null;
  lastName?: string | null;
  username?: string | null;
  /** Fixed id, e.g. for seeds; generated when absent. */
  id?: string;
};

export type UserPatch = Partial<
  Pick<EmulatorUser, "email" | "firstName" | "lastName" | "username" | "publicMetadata" | "privateMetadata" | "unsafeMetadata">
>;

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Clerk-looking ids: a prefix and 27 base62 characters. */
export function newId(prefix: string) {
  const bytes = randomBytes(27);
  let id = "";
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return `${prefix}_${id}`;
}

export const demoUsers: UserInput[] = [
  { id: "user_demo_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", username: "ada" },
  { id: "user_demo_grace", email: "grace@example.com", firstName: "Grace", lastName: "Hopper", username: "grace" },
  { id: "user_demo_alan", email: "alan@example.com", firstName: "Alan", lastName: "Turing", username: null },
];

/**
 * The emulator's users. Timestamps are Clerk's (milliseconds) and `updated_at` strictly
 * increases on every change, as the app's write path orders writes by it.
 */
export class UserStore {
  private readonly users = new Map<string, EmulatorUser>();

  constructor(
    private readonly options: { seeds: UserInput[]; file?: string; now?: () => number },
  ) {
    if (!this.load()) this.reset();
  }

  private now() {
    return (this.options.now ?? Date.now)();
  }

  reset() {
    this.users.clear();
    const now = this.now();
    for (const seed of this.options.seeds) this.insert(seed, now);
    this.save();
  }

  list(order: "created_at" | "-created_at" = "-created_at"): EmulatorUser[] {
    const all = [...this.users.values()].sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
    return order === "-created_at" ? all.reverse() : all;
  }

  get(id: string) {
    return this.users.get(id) ?? null;
  }

  create(input: UserInput): EmulatorUser {
    if (input.id && this.users.has(input.id)) throw new Error(`User ${input.id} exists`);
    const user = this.insert(input, this.now());
    this.save();
    return user;
  }

  update(id: string, patch: UserPatch): EmulatorUser | null {
    const user = this.users.get(id);
    if (!user) return null;
    for (const [key, value] of Object.entries(patch)) {
      if (value !== undefined) (user as Record<string, unknown>)[key] = value;
    }
    this.touch(user);
    return user;
  }

  setUploadedImage(id: string, imagePath: string): EmulatorUser | null {
    const user = this.users.get(id);
    if (!user) return null;
    user.uploadedImagePath = imagePath;
    this.touch(user);
    return user;
  }

  recordSignIn(id: string) {
    const user = this.users.get(id);
    if (!user) return;
    // Like Clerk's `last_sign_in_at`, this does not count as a profile change: `updated_at` stays.
    user.lastSignInAtMs = this.now();
    this.save();
  }

  delete(id: string): boolean {
    const deleted = this.users.delete(id);
    if (deleted) this.save();
    return deleted;
  }

  private touch(user: EmulatorUser) {
    user.updatedAtMs = Math.max(this.now(), user.updatedAtMs + 1);
    this.save();
  }

  private insert(input: UserInput, now: number): EmulatorUser {
    const user: EmulatorUser = {
      id: input.id ?? newId("user"),
      emailAddressId: newId("idn"),
      email: input.email,
      firstName: input.firstName ?? null,
      lastName: input.lastName ?? null,
      username: input.username ?? null,
      uploadedImagePath: null,
      publicMetadata: {},
      privateMetadata: {},
      unsafeMetadata: {},
      createdAtMs: now,
      updatedAtMs: now,
      lastSignInAtMs: null,
    };
    this.users.set(user.id, user);
    return user;
  }

  private load(): boolean {
    if (!this.options.file) return false;
    try {
      const saved = JSON.parse(fs.readFileSync(this.options.file, "utf8")) as EmulatorUser[];
      for (const user of saved) this.users.set(user.id, user);
      return true;
    } catch {
      return false;
    }
  }

  private save() {
    if (this.options.file) fs.writeFileSync(this.options.file, JSON.stringify([...this.users.values()], null, 2));
  }
}

/** The Backend API's User JSON: snake_case, millisecond timestamps, `linked_to: []` on addresses. */
export function userJson(user: EmulatorUser, origin: string) {
  const imageUrl = `${origin}${user.uploadedImagePath ?? `/images/avatars/${user.id}.svg`}`;
  return {
    object: "user",
    id: user.id,
    external_id: null,
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    image_url: imageUrl,
    profile_image_url: imageUrl,
    has_image: user.uploadedImagePath !== null,
    primary_email_address_id: user.emailAddressId,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    email_addresses: [
      {
        object: "email_address",
        id: user.emailAddressId,
        email_address: user.email,
        reserved: false,
        verification: { object: "verification_email_code", status: "verified", strategy: "email_code", attempts: 1, expire_at: null },
        linked_to: [],
        matches_sso_connection: false,
        created_at: user.createdAtMs,
        updated_at: user.createdAtMs,
      },
    ],
    phone_numbers: [],
    web3_wallets: [],
    external_accounts: [],
    enterprise_accounts: [],
    saml_accounts: [],
    passkeys: [],
    public_metadata: user.publicMetadata,
    private_metadata: user.privateMetadata,
    unsafe_metadata: user.unsafeMetadata,
    password_enabled: false,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    banned: false,
    locked: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: null,
    delete_self_enabled: true,
    create_organization_enabled: false,
    last_sign_in_at: user.lastSignInAtMs,
    last_active_at: user.lastSignInAtMs,
    legal_accepted_at: null,
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
