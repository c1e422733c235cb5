import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type JWK,
} from "jose";
import type { Kysely } from "kysely";
import type { AuthDb } from "./migrations.ts";

export const TOKEN_ALG = "EdDSA";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public half as published in the JWKS. */
  publicJwk: JWK;
}

/**
 * The key auth signs tokens with. A configured secret (a private Ed25519 JWK as JSON, or PKCS#8 PEM) wins;
 * without one, the first auth process generates a key and stores it, and every other process loads that one
 * (development only: the private key then sits in the database).
 */
export async function loadSigningKey(db: Kysely<AuthDb>, configured?: string): Promise<SigningKey> {
  if (configured) return fromSecret(configured.trim());
  const existing = await db
    .selectFrom("bank_signing_keys")
    .selectAll()
    .where("slot", "=", "current")
    .executeTakeFirst();
  if (existing) return fromStored(existing.private_jwk, existing.public_jwk, existing.kid);
  const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALG, { crv: "Ed25519", extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  await db
    .insertInto("bank_signing_keys")
    .values({
      slot: "current",
      kid,
      alg: TOKEN_ALG,
      private_jwk: JSON.stringify(await exportJWK(privateKey)),
      public_jwk: JSON.stringify(publicJwk),
      created_at: Date.now(),
    })
    .onConflict((oc) => oc.column("slot").doNothing())
    .execute();
  // Two processes may both have generated one; the row that won is the key for all.
  const stored = await db
    .selectFrom("bank_signing_keys")
    .selectAll()
    .where("slot", "=", "current")
    .executeTakeFirstOrThrow();
  return fromStored(stored.private_jwk, stored.public_jwk, stored.kid);
}

async function fromStored(privateJson: string, publicJson: string, kid: string): Promise<SigningKey> {
  const publicJwk = JSON.parse(publicJson) as JWK;
  return {
    kid,
    privateKey: (await importJWK(JSON.parse(privateJson) as JWK, TOKEN_ALG)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, TOKEN_ALG)) as CryptoKey,
    publicJwk,
  };
}

async function fromSecret(secret: string): Promise<SigningKey> {
  let privateJwk: JWK;
  if (secret.startsWith("{")) {
    privateJwk = JSON.parse(secret) as JWK;
  } else {
    const key = await importPKCS8(secret, TOKEN_ALG, { extractable: true });
    privateJwk = await exportJWK(key);
  }
  if (privateJwk.kty !== "OKP" || privateJwk.crv !== "Ed25519" || !privateJwk.d) {
    throw new Error("the banking signing key must be a private Ed25519 key (OKP JWK with d, or PKCS#8 PEM)");
  }
  const { d: _private, ...publicJwk } = privateJwk;
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    privateKey: (await importJWK(privateJwk, TOKEN_ALG)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, TOKEN_ALG)) as CryptoKey,
    publicJwk,
  };
}
