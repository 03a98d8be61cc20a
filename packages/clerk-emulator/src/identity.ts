import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * The emulated Clerk instance: its keys and secrets, persisted in the state folder so the app's
 * env (and a built app) stays valid across emulator restarts. The private key never leaves it.
 */
export type EmulatorIdentity = {
  /** Host the publishable key names; session tokens carry `iss: https://<frontendApi>`. */
  frontendApi: string;
  /** `pk_live_…`: a production instance, so no dev-browser handshake is needed. */
  publishableKey: string;
  /** Sent by the SDK as Bearer to the Backend API; the only key the emulator accepts. */
  secretKey: string;
  instanceId: string;
  webhookSigningSecret: string;
  privateKey: KeyObject;
  /** SPKI PEM, the app's CLERK_JWT_KEY. */
  publicKeyPem: string;
  /** The session tokens' `kid`: the instance id, as on Clerk (also the webhooks' `instance_id`). */
  keyId: string;
  /** Suffix of `__session_<suffix>` / `__client_uat_<suffix>`, derived from the publishable key. */
  cookieSuffix: string;
};

export const defaultStateDir = ".clerk-emulator";
export const emulatorFrontendApi = "clerk.emulator.test";
export const emulatorSecretKey = "sk_live_clerk_emulator";

/** `pk_live_` + base64 of `"<frontendApi>$"` without padding, as `buildPublishableKey` does. */
export function publishableKeyFor(frontendApi: string) {
  return `pk_live_${Buffer.from(`${frontendApi}$`).toString("base64").replace(/=+$/, "")}`;
}

/** First 8 chars of the url-safe base64 SHA-1 of the publishable key (`getCookieSuffix` in @clerk/shared). */
export function cookieSuffixFor(publishableKey: string) {
  return createHash("sha1").update(publishableKey).digest("base64").replace(/\+/g, "-").replace(/\//g, "_").slice(0, 8);
}

/** Writes `content` unless the file exists; first writer wins, so concurrent first starts agree. */
function readOrCreate(file: string, create: () => string, mode = 0o600): string {
  try {
    fs.writeFileSync(file, create(), { flag: "wx", mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return fs.readFileSync(file, "utf8");
}

type InstanceFile = { instanceId: string; webhookSigningSecret: string };

/**
 * Loads the identity from `stateDir`, generating an RSA 2048 (e=65537) key pair and the
 * instance secrets on first use. `CLERK_WEBHOOK_SIGNING_SECRET` overrides the stored secret.
 */
export function loadIdentity(
  stateDir = defaultStateDir,
  env: Record<string, string | undefined> = process.env,
): EmulatorIdentity {
  fs.mkdirSync(stateDir, { recursive: true });
  const privateKeyPem = readOrCreate(path.join(stateDir, "private-key.pem"), () =>
    generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 65537 })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString(),
  );
  const instance = JSON.parse(
    readOrCreate(path.join(stateDir, "instance.json"), () =>
      JSON.stringify(
        {
          instanceId: `ins_emulator${randomBytes(8).toString("hex")}`,
          webhookSigningSecret: `whsec_${randomBytes(24).toString("base64")}`,
        } satisfies InstanceFile,
        null,
        2,
      ),
    ),
  ) as InstanceFile;
  const privateKey = createPrivateKey(privateKeyPem);
  const publicKeyPem = createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString();
  const publishableKey = publishableKeyFor(emulatorFrontendApi);
  return {
    frontendApi: emulatorFrontendApi,
    publishableKey,
    secretKey: emulatorSecretKey,
    instanceId: instance.instanceId,
    webhookSigningSecret: env.CLERK_WEBHOOK_SIGNING_SECRET ?? instance.webhookSigningSecret,
    privateKey,
    publicKeyPem,
    keyId: instance.instanceId,
    cookieSuffix: cookieSuffixFor(publishableKey),
  };
}

/** Another Clerk instance: what the Backend API answers as when switched to `other`. */
export type OtherInstance = { instanceId: string; publicKeyPem: string; keyId: string };

/**
 * A second instance's signing key, generated on first use beside the real one. Nothing is
 * ever signed with it: it only makes `GET /v1/jwks` look like another instance's.
 */
export function loadOtherInstance(stateDir = defaultStateDir): OtherInstance {
  fs.mkdirSync(stateDir, { recursive: true });
  const privateKeyPem = readOrCreate(path.join(stateDir, "other-instance-private-key.pem"), () =>
    generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 65537 })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString(),
  );
  const publicKeyPem = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "pem" }).toString();
  const instanceId = `ins_other${createHash("sha256").update(publicKeyPem).digest("hex").slice(0, 16)}`;
  return { instanceId, publicKeyPem, keyId: instanceId };
}
