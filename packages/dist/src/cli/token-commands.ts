/**
 * Credentials for a farm: `reprise-dist token` prints a static token or signs
 * a client/builder JWT; `reprise-dist keygen` writes a key pair as JWK files
 * (a JWT issuer's, or the scheduler's job-token key to survive restarts).
 */
import { writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { generateStaticToken, signAccessToken, type Role, type VerificationKey } from "../auth/access-token.js";
import { failOneLine } from "./fail.js";

const DURATION = /^(\d+)([smhd])$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function seconds(value: string): number {
  const match = DURATION.exec(value);
  if (!match) throw new Error(`--ttl ${JSON.stringify(value)}: use e.g. 3600s, 90m, 12h, 30d`);
  return Number(match[1]) * UNIT_SECONDS[match[2]!]!;
}

export function addTokenCommands(program: Command): void {
  program
    .command("token")
    .description("print a new static token, or with --key a signed client/builder JWT")
    .option("--role <role>", "client or builder (with --key)", "client")
    .option("--key <file>", "private JWK of the issuer the scheduler trusts (auth.jwt.publicKeyFile)")
    .option("--sub <name>", "subject: a user, or the builder id a builder token may act as")
    .option("--ttl <duration>", "lifetime, e.g. 12h or 30d", "30d")
    .action(async (options: { role: string; key?: string; sub?: string; ttl: string }) => {
      try {
        if (!options.key) {
          process.stdout.write(`${generateStaticToken()}\n`);
          return;
        }
        if (options.role !== "client" && options.role !== "builder") throw new Error(`--role must be client or builder, not ${JSON.stringify(options.role)}`);
        const jwk = JSON.parse(await readFile(options.key, "utf8")) as JWK;
        if (!jwk.d || !jwk.alg) throw new Error(`${options.key} must be a private JWK with "alg" (reprise-dist keygen writes one)`);
        const key = (await importJWK(jwk, jwk.alg)) as VerificationKey;
        const token = await signAccessToken({ role: options.role as Role, key, alg: jwk.alg, subject: options.sub, expiresInSeconds: seconds(options.ttl) });
        process.stdout.write(`${token}\n`);
      } catch (error) {
        failOneLine("token", error);
      }
    });

  program
    .command("keygen")
    .description("write a key pair as JWK files: <out> (private, mode 0600) and <out>.pub.json")
    .requiredOption("--out <file>", "private key file")
    .option("--alg <alg>", "ES256 or EdDSA", "ES256")
    .action(async (options: { out: string; alg: string }) => {
      try {
        if (options.alg !== "EdDSA" && options.alg !== "ES256") throw new Error(`--alg must be EdDSA or ES256, not ${JSON.stringify(options.alg)}`);
        const { privateKey, publicKey } = await generateKeyPair(options.alg, { extractable: true });
        writeFileSync(options.out, `${JSON.stringify({ ...(await exportJWK(privateKey)), alg: options.alg })}\n`, { mode: 0o600, flag: "wx" });
        writeFileSync(`${options.out}.pub.json`, `${JSON.stringify({ ...(await exportJWK(publicKey)), alg: options.alg })}\n`, { flag: "wx" });
        process.stdout.write(`wrote ${options.out} and ${options.out}.pub.json\n`);
      } catch (error) {
        failOneLine("keygen", error);
      }
    });
}
