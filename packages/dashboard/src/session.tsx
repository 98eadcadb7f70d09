import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { ApiProblem, get, post, setSelectedOrg, setSignedOutHandler } from './api';
import type { Me, MeOrg, Permission } from '@latchkey/contract';
import { can as orgCan } from './permissions';

const ORG_KEY = 'latchkey.org';

export interface Features {
  /** Whether the server has this API path (from /api/openapi.json). */
  has(path: string): boolean;
}

export interface SessionState {
  me: Me;
  /** The org the dashboard acts in (sent as x-org-id), or null for a person with no org. */
  org: MeOrg | null;
  features: Features;
  /** An operator of this Latchkey server (sign-up policy, waitlist). */
  instanceAdmin: boolean;
  /** What the signed-in credential may do in `org`, as `/api/v1/me` lists it. */
  can(permission: Permission): boolean;
  selectOrg(id: string): void;
  /** Re-reads /api/v1/me (after creating, leaving or deleting an org, renaming…). */
  refresh(preferOrg?: string): Promise<void>;
  signOut(): Promise<void>;
}

const Ctx = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSession outside a signed-in shell');
  return s;
}

function storedOrg(): string | null {
  try {
    return window.localStorage.getItem(ORG_KEY);
  } catch {
    return null;
  }
}

function storeOrg(id: string | null) {
  try {
    if (id) window.localStorage.setItem(ORG_KEY, id);
    else window.localStorage.removeItem(ORG_KEY);
  } catch {
    // Storage may be disabled; the choice then lasts for this page only.
  }
}

function pickOrg(me: Me, prefer: string | null): MeOrg | null {
  return (
    me.orgs.find((o) => o.id === prefer) ??
    me.orgs.find((o) => o.id === storedOrg()) ??
    me.orgs.find((o) => o.id === me.org?.id) ??
    me.orgs[0] ??
    null
  );
}

export type Boot =
  | { state: 'loading' }
  | { state: 'signed-out' }
  | { state: 'error'; error: unknown }
  | { state: 'signed-in'; me: Me; org: MeOrg | null; paths: ReadonlySet<string>; instanceAdmin: boolean };

async function loadPaths(): Promise<ReadonlySet<string>> {
  try {
    const doc = await get<{ paths?: Record<string, unknown> }>('/api/openapi.json', { org: null });
    return new Set(Object.keys(doc.paths ?? {}));
  } catch {
    return new Set();
  }
}

/**
 * Whether the person operates this server. `/api/v1/me` may say so; otherwise the admin API is
 * asked once (a 403 for everyone else).
 */
async function isInstanceAdmin(me: Me, paths: ReadonlySet<string>): Promise<boolean> {
  const said = (me.user as { instance_admin?: unknown } | null)?.instance_admin;
  if (typeof said === 'boolean') return said;
  if (!paths.has('/api/v1/admin/signup-policy')) return false;
  try {
    await get('/api/v1/admin/signup-policy', { org: null });
    return true;
  } catch {
    return false;
  }
}

/** Loads who is signed in; the rest of the app renders from this. */
export function useBoot() {
  const [boot, setBoot] = useState<Boot>({ state: 'loading' });

  const load = useCallback(async (prefer: string | null = null) => {
    try {
      const [me, paths] = await Promise.all([get<Me>('/api/v1/me', { org: null }), loadPaths()]);
      if (!me.user) {
        setBoot({ state: 'signed-out' });
        return;
      }
      const org = pickOrg(me, prefer);
      setSelectedOrg(org?.id ?? null);
      storeOrg(org?.id ?? null);
      setBoot({ state: 'signed-in', me, org, paths, instanceAdmin: await isInstanceAdmin(me, paths) });
    } catch (err) {
      if (err instanceof ApiProblem && err.status === 401) setBoot({ state: 'signed-out' });
      else setBoot({ state: 'error', error: err });
    }
  }, []);

  useEffect(() => {
    setSignedOutHandler(() => setBoot({ state: 'signed-out' }));
    void load();
    return () => setSignedOutHandler(null);
  }, [load]);

  return { boot, load, setBoot };
}

export function SessionProvider({
  boot,
  load,
  onSignedOut,
  children,
}: {
  boot: Extract<Boot, { state: 'signed-in' }>;
  load: (prefer?: string | null) => Promise<void>;
  onSignedOut: () => void;
  children: ReactNode;
}) {
  const [org, setOrg] = useState<MeOrg | null>(boot.org);
  useEffect(() => setOrg(boot.org), [boot.org]);

  const value = useMemo<SessionState>(
    () => ({
      me: boot.me,
      org,
      features: { has: (p) => boot.paths.has(p) },
      instanceAdmin: boot.instanceAdmin,
      can: (permission) => orgCan(org, permission),
      selectOrg(id) {
        const next = boot.me.orgs.find((o) => o.id === id);
        if (!next) return;
        setSelectedOrg(next.id);
        storeOrg(next.id);
        setOrg(next);
      },
      refresh: (prefer) => load(prefer ?? org?.id ?? null),
      async signOut() {
        try {
          await post('/api/auth/signout');
        } finally {
          setSelectedOrg(null);
          onSignedOut();
        }
      },
    }),
    [boot, org, load, onSignedOut],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
