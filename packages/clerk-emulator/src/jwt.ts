import { createPublicKey, randomBytes, sign } from "node:crypto";

import type { EmulatorIdentity } from "./identity";

const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

export function signJwt(identity: EmulatorIdentity, payload: Record<string, unknown>) {
  const header = { alg: "RS256", kid: identity.keyId, typ: "JWT" };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = sign("sha256", Buffer.from(signingInput), identity.privateKey);
  return `${signingInput}.${base64url(signature)}`;
}

export const sessionTokenLifetimeSeconds = 60;

/** Clerk's `fva` claim: minutes since the first factor was verified (the sign-in), and `-1` for no second factor. */
export function factorVerificationAge(signedInAtMs: number, nowMs = Date.now()): [number, number] {
  return [Math.max(0, Math.floor((nowMs - signedInAtMs) / 60_000)), -1];
}

/** A session token with the claims Clerk's SDKs read (see docs/notes: iss, sub, sid, azp, v 2, sts, fva). */
export function mintSessionToken(
  identity: EmulatorIdentity,
  claims: { userId: string; sessionId: string; authorizedParty: string; signedInAtMs?: number },
  nowMs = Date.now(),
) {
  const nowSeconds = Math.floor(nowMs / 1000);
  return signJwt(identity, {
    azp: claims.authorizedParty,
    exp: nowSeconds + sessionTokenLifetimeSeconds,
    fva: factorVerificationAge(claims.signedInAtMs ?? nowMs, nowMs),
    iat: nowSeconds,
    iss: `https://${identity.frontendApi}`,
    jti: randomBytes(10).toString("hex"),
    nbf: nowSeconds - 10,
    sid: claims.sessionId,
    sts: "active",
    sub: claims.userId,
    v: 2,
  });
}

/** A public key as the Backend API's `GET /v1/jwks` serves it. */
export function publicJwk(key: Pick<EmulatorIdentity, "publicKeyPem" | "keyId">) {
  const jwk = createPublicKey(key.publicKeyPem).export({ format: "jwk" });
  return { ...jwk, kid: key.keyId, alg: "RS256", use: "sig" };
}
