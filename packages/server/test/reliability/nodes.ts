import assert from 'node:assert/strict';
import { readOutbox } from '../helpers/harness.js';
import { type Child, randomIp, spawnServer } from '../process/proc.js';

/** Two (or more) real server processes over one PostgreSQL and one Redis, as in production. */

export interface NodeEnv {
  databaseUrl: string;
  redisUrl: string;
  dir: string;
  extra?: Record<string, string>;
}

export function nodeEnv(e: NodeEnv): Record<string, string> {
  return {
    DATABASE_URL: e.databaseUrl,
    REDIS_URL: e.redisUrl,
    TRUST_PROXY: 'true',
    LATCHKEY_DATA_DIR: e.dir,
    LOG_LEVEL: 'warn',
    ...e.extra,
  };
}

export async function startNode(e: NodeEnv): Promise<Child> {
  return spawnServer({ cwd: e.dir, env: nodeEnv(e) });
}

export function call(
  node: Child,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; ip?: string } = {},
): Promise<Response> {
  return fetch(`${node.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'x-forwarded-for': init.ip ?? randomIp(),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.method && init.method !== 'GET' ? { origin: node.url } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(20_000),
  });
}

/** Signs a person up on `node` and proves their address through the link in the shared outbox. */
export async function signedIn(node: Child, dir: string): Promise<{ cookie: string; orgId: string }> {
  const email = `reliability-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const res = await call(node, '/api/auth/signup', {
    method: 'POST',
    body: { email, password: 'a sturdy passphrase 42', name: 'R' },
  });
  assert.equal(res.status, 201, await res.clone().text());
  const body = (await res.json()) as { org: { id: string } };
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  let token: string | undefined;
  for (let i = 0; i < 50 && !token; i++) {
    const mail = (await readOutbox(`${dir}/outbox`)).find((m) => m.to === email);
    token = /\/verify-email\?token=([A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1];
    if (!token) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(token, 'the verification link was mailed');
  const verified = await fetch(`${node.url}/verify-email`, {
    method: 'POST',
    headers: { cookie, origin: node.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  assert.equal(verified.status, 200);
  return { cookie, orgId: body.org.id };
}

/** Mints a personal access token reading the account. */
export async function mintPat(node: Child, cookie: string): Promise<{ id: string; token: string }> {
  const res = await call(node, '/api/v1/tokens', {
    method: 'POST',
    headers: { cookie },
    body: { name: 'r', scopes: ['account:read'] },
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: string; token: string };
}

/** Mints an org API key reading the members. */
export async function mintOrgKey(
  node: Child,
  cookie: string,
  orgId: string,
): Promise<{ id: string; token: string }> {
  const res = await call(node, '/api/v1/org/tokens', {
    method: 'POST',
    headers: { cookie, 'x-org-id': orgId },
    body: { scopes: ['members:read'] },
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: string; token: string };
}
