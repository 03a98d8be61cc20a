import { createSign, randomUUID } from "node:crypto";

/**
 * Mints a Clerk session token (RS256) with the run's test key, with the claims Clerk's own
 * tokens carry. The real clerkMiddleware verifies it with CLERK_JWT_KEY.
 */
export function mintSessionToken(claims: {
  userId: string;
  sessionId?: string;
  expiresInSeconds?: number;
  /** The `azp` claim: the origin the session was used from. */
  authorizedParty?: string;
}) {
  const privateKey = process.env.TEST_CLERK_SESSION_PRIVATE_KEY;
  if (!privateKey) throw new Error("TEST_CLERK_SESSION_PRIVATE_KEY is not set for the tests");
  const nowSeconds = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", kid: "ins_test", typ: "JWT" };
  const payload = {
    azp: claims.authorizedParty ?? "http://localhost:3000",
    exp: nowSeconds + (claims.expiresInSeconds ?? 120),
    fva: [0, -1],
    iat: nowSeconds,
    iss: "https://clerk.mock.test",
    jti: randomUUID(),
    nbf: nowSeconds - 10,
    sid: claims.sessionId ?? `sess_${claims.userId}`,
    sts: "active",
    sub: claims.userId,
    v: 2,
  };
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString("base64url");
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const signature = createSign("RSA-SHA256").update(signingInput).sign(privateKey).toString("base64url");
  return `${signingInput}.${signature}`;
}
