// The AWS backends for the page's tests: PostgreSQL and two moto regions (S3 with
// Object Lock, KMS), as `scripts/services` started them (their addresses in
// VAULT_TEST_*), and a test identity provider: the AWS backends never trust the
// development issuer, so an ES256 key whose JWKS is served on 127.0.0.1 signs tokens
// as an OIDC provider (Clerk) would. Loopback only.
import http from 'node:http';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { vaultBin } from './harness.mjs';

const ISSUER = 'https://idp.vault.test';
const AUDIENCE = 'vault-e2e';
const PARTY = 'https://vault.test';

/** Whether the services are there (scripts/test starts them before the page's tests). */
export const available = () => ['VAULT_TEST_POSTGRES', 'VAULT_TEST_MOTO_PRIMARY', 'VAULT_TEST_MOTO_REPLICA']
  .every((name) => process.env[name]);

/** A test identity provider on 127.0.0.1. */
export async function startIdp() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'e2e-1', alg: 'ES256', use: 'sig' };
  const server = http.createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  return {
    vars: {
      VAULT_AUTH_ISSUER: ISSUER, VAULT_AUTH_JWKS_URL: `http://127.0.0.1:${server.address().port}/jwks.json`,
      VAULT_AUTH_AUDIENCES: AUDIENCE, VAULT_AUTH_AUTHORIZED_PARTIES: PARTY,
    },
    /** A token for `user` in the organisation `org`, for an hour (an organisation admin). */
    token(org, user) {
      const now = Math.floor(Date.now() / 1000);
      const head = b64({ alg: 'ES256', typ: 'JWT', kid: jwk.kid });
      const body = b64({ iss: ISSUER, aud: AUDIENCE, azp: PARTY, sub: user, org_id: org, org_role: 'org:admin',
        sid: `sess_${crypto.randomBytes(8).toString('hex')}`, iat: now, nbf: now, exp: now + 3600 });
      const signature = crypto.sign('sha256', Buffer.from(`${head}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${head}.${body}.${signature.toString('base64url')}`;
    },
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** Settings for one server on a fresh database and a fresh pair of buckets, made ready
 * with `vault setup` (migrations, buckets with Object Lock, versioning). */
export function awsSettings(idp) {
  const name = `vault_e2e_${crypto.randomBytes(6).toString('hex')}`;
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', `${process.env.VAULT_TEST_POSTGRES}/postgres`, '-c', `CREATE DATABASE ${name}`]);
  const bucket = name.replaceAll('_', '-');
  const env = {
    VAULT_DATABASE_URL: `${process.env.VAULT_TEST_POSTGRES}/${name}`, VAULT_KEYS: 'aws-kms', VAULT_STORE: 's3',
    VAULT_AWS_PRIMARY_REGION: 'eu-west-1', VAULT_AWS_REPLICA_REGION: 'eu-central-1',
    VAULT_AWS_PRIMARY_ENDPOINT: process.env.VAULT_TEST_MOTO_PRIMARY, VAULT_AWS_REPLICA_ENDPOINT: process.env.VAULT_TEST_MOTO_REPLICA,
    VAULT_AWS_PRIMARY_BUCKET: `${bucket}-a`, VAULT_AWS_REPLICA_BUCKET: `${bucket}-b`, VAULT_AWS_REPLICATION_POLL_SECS: '1',
    AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true',
    ...idp.vars,
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-e2e-setup-'));
  execFileSync(vaultBin, ['setup'], { env: { PATH: process.env.PATH, VAULT_DATA_DIR: dir, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  fs.rmSync(dir, { recursive: true, force: true });
  return env;
}
