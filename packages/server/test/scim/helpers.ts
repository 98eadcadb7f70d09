import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import {
  type Client,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  tokenFrom,
} from '../helpers/harness.js';
import type { Person } from '../orgs/helpers.js';
import { orgWithDomain } from '../sso/helpers.js';

export const BASE = '/api/v1/scim/v2';
export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const LK_USER = 'urn:latchkey:params:scim:schemas:extension:latchkey:2.0:User';
export const LK_GROUP = 'urn:latchkey:params:scim:schemas:extension:latchkey:2.0:Group';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

let counter = 0;

/** An identity provider calling the SCIM endpoints with one org's secret, as Okta and Entra do. */
export class Idp {
  constructor(
    readonly t: TestServer,
    public token: string,
    readonly userAgent = 'Okta SCIM Client 1.0.0',
    /** A domain the org has verified, when it has one: its people are provisioned straight in. */
    readonly domain: string | null = null,
  ) {}

  /** A fresh address in the org's verified domain. */
  email(tag = 'user'): string {
    if (!this.domain) throw new Error('this org has no verified domain');
    return `${tag}-${process.pid}-${++counter}@${this.domain}`;
  }

  req(
    method: Method,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> {
    return this.t.app.inject({
      method,
      url: path.startsWith('/api/') ? path : `${BASE}${path}`,
      headers: {
        authorization: `Bearer ${this.token}`,
        'user-agent': this.userAgent,
        accept: 'application/scim+json',
        ...(body !== undefined ? { 'content-type': 'application/scim+json; charset=utf-8' } : {}),
        ...headers,
      },
      remoteAddress: '10.200.0.1',
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
  }
  get(path: string) {
    return this.req('GET', path);
  }
  post(path: string, body: unknown) {
    return this.req('POST', path, body);
  }
  put(path: string, body: unknown) {
    return this.req('PUT', path, body);
  }
  patch(path: string, ops: unknown[]) {
    return this.req('PATCH', path, { schemas: [PATCH_OP], Operations: ops });
  }
  delete(path: string) {
    return this.req('DELETE', path);
  }

  /** GET with a filter, URL-encoded. */
  filter(resource: 'Users' | 'Groups', filter: string, extra = '') {
    return this.get(`/${resource}?filter=${encodeURIComponent(filter)}${extra}`);
  }

  async createUser(userName: string, extra: Record<string, unknown> = {}) {
    const res = await this.post('/Users', {
      schemas: [USER],
      userName,
      name: { givenName: 'Given', familyName: 'Family' },
      emails: [{ value: userName, type: 'work', primary: true }],
      active: true,
      ...extra,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as ScimUser;
  }

  async createGroup(displayName: string, members: string[] = [], extra: Record<string, unknown> = {}) {
    const res = await this.post('/Groups', {
      schemas: [GROUP],
      displayName,
      members: members.map((value) => ({ value })),
      ...extra,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as ScimGroup;
  }
}

export interface ScimUser {
  id: string;
  userName: string;
  active: boolean;
  externalId?: string;
  name?: { givenName?: string; familyName?: string; formatted?: string };
  displayName?: string;
  emails?: { value: string; type?: string; primary?: boolean }[];
  groups?: { value: string; display: string }[];
  meta: { resourceType: string; created: string; lastModified: string; location: string; version: string };
  [LK_USER]?: { role: string | null };
}

export interface ScimGroup {
  id: string;
  displayName: string;
  members?: { value: string; display: string }[];
  meta: { version: string; location: string };
  [LK_GROUP]?: { role: string | null };
}

export interface ListResponse<T> {
  schemas: string[];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

/** Asserts an RFC 7644 error with this status (and scimType, when given). */
export function assertScimError(res: LightMyRequestResponse, status: number, scimType?: string, what = '') {
  assert.equal(res.statusCode, status, `${what} ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/scim\+json/, what);
  const body = res.json();
  assert.deepEqual(body.schemas, [ERROR], what);
  assert.equal(body.status, String(status), what);
  if (scimType !== undefined) assert.equal(body.scimType, scimType, `${what} ${res.body}`);
  assert.equal(typeof body.detail, 'string');
}

/**
 * An org whose owner verified a domain (`idp.email()` makes addresses in it), SCIM turned on
 * there; `idp` holds the org's secret. `name` is the owner's account name.
 */
export async function scimOrg(
  t: TestServer,
  name = 'SCIM Owner',
): Promise<{
  owner: Person & { org: { id: string; slug: string } };
  idp: Idp;
  domain: string;
}> {
  const o = await orgWithDomain(t);
  const renamed = await o.owner.patch('/api/v1/me', { name });
  assert.equal(renamed.statusCode, 200, renamed.body);
  const owner = {
    client: o.owner,
    id: (renamed.json() as { id: string }).id,
    email: o.ownerEmail,
    org: { id: o.orgId, slug: o.slug },
  };
  const token = await mintScimToken(owner.client, owner.org.id);
  return { owner, idp: new Idp(t, token, undefined, o.domain), domain: o.domain };
}

export async function mintScimToken(c: Client, orgId: string): Promise<string> {
  const res = await c.post('/api/v1/org/scim/token', undefined, orgId);
  assert.equal(res.statusCode, 201, res.body);
  const { token } = res.json() as { token: string };
  assert.match(token, /^lk_scim_[0-9A-Za-z]{49}$/);
  return token;
}

export function list<T>(res: LightMyRequestResponse): ListResponse<T> {
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as ListResponse<T>;
}

/** The token of the last invitation mailed to `email`. */
export async function invitationTokenFor(t: TestServer, email: string): Promise<string> {
  const mail = (await readOutbox(t.outboxDir))
    .filter((m) => m.to === email && /^Invitation to join /.test(m.subject))
    .at(-1);
  if (!mail) throw new Error(`no invitation mailed to ${email}`);
  return tokenFrom(linkIn(mail.text, `${PUBLIC_URL}/invite`));
}

/** The person signed in as `c` accepts the last invitation mailed to `email`; returns the org they joined. */
export async function acceptScimInvitation(t: TestServer, c: Client, email: string): Promise<string> {
  const res = await c.post('/api/v1/invitations/accept', { token: await invitationTokenFor(t, email) });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { org: { id: string } }).org.id;
}

/** The org's audit events, oldest first. */
export async function auditRows(t: TestServer, orgId: string) {
  return t.deps.db
    .selectFrom('audit_events')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
