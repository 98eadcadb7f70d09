import { type ReactNode, useEffect, useRef, useState } from 'react';
import { post } from './api';
import { ErrorAlert, Notice } from './components/Alert';
import { Button } from './components/Button';
import { Logo } from './components/Logo';
import { OrgSwitcher } from './components/OrgSwitcher';
import { Empty } from './components/States';
import { useToast } from './components/Toast';
import { Account } from './pages/Account';
import { Security } from './pages/Security';
import { Activity } from './pages/Activity';
import { Admin } from './pages/Admin';
import { AdminUsers } from './pages/AdminUsers';
import { Agents } from './pages/Agents';
import { Audit } from './pages/Audit';
import { ConnectedApps } from './pages/ConnectedApps';
import { Members } from './pages/Members';
import { OAuthApps } from './pages/OAuthApps';
import { OrgSettings } from './pages/OrgSettings';
import { Scim } from './pages/Scim';
import { Sso } from './pages/Sso';
import { Tokens } from './pages/Tokens';
import { INSTANCE_WEBHOOKS, ORG_WEBHOOKS, Webhooks } from './pages/Webhooks';
import { Link, navigate, useLocation } from './router';
import { useAction } from './hooks';
import { type SessionState, useSession } from './session';

interface Route {
  path: string;
  label: string;
  group: 'org' | 'you' | 'instance';
  /** Whether the signed-in person sees it in this org. */
  visible(s: SessionState): boolean;
  render(): ReactNode;
}

const ROUTES: Route[] = [
  {
    path: '/members',
    label: 'Members',
    group: 'org',
    visible: (s) => !!s.org && s.can('members:read'),
    render: () => <Members />,
  },
  { path: '/tokens', label: 'API tokens', group: 'org', visible: () => true, render: () => <Tokens /> },
  {
    path: '/audit',
    label: 'Audit log',
    group: 'org',
    visible: (s) => s.can('audit:read'),
    render: () => <Audit />,
  },
  {
    path: '/webhooks',
    label: 'Webhooks',
    group: 'org',
    visible: (s) => !!s.org && s.can('org:update') && s.can('audit:read'),
    render: () => <Webhooks family={ORG_WEBHOOKS} />,
  },
  {
    path: '/oauth-apps',
    label: 'OAuth apps',
    group: 'org',
    visible: (s) => s.can('oauth:manage'),
    render: () => <OAuthApps />,
  },
  {
    path: '/agents',
    label: 'Agents',
    group: 'org',
    visible: (s) => s.features.has('/api/v1/org/agents') && s.can('tokens:manage'),
    render: () => <Agents />,
  },
  {
    path: '/scim',
    label: 'SCIM',
    group: 'org',
    visible: (s) => s.features.has('/api/v1/org/scim') && s.can('members:manage'),
    render: () => <Scim />,
  },
  {
    path: '/settings',
    label: 'Settings',
    group: 'org',
    visible: (s) => !!s.org,
    render: () => <OrgSettings />,
  },
  {
    path: '/settings/sso',
    label: 'SSO',
    group: 'org',
    visible: (s) => s.features.has('/api/v1/org/sso') && s.can('org:update'),
    render: () => <Sso />,
  },
  { path: '/account', label: 'Account', group: 'you', visible: () => true, render: () => <Account /> },
  {
    path: '/account/security',
    label: 'Security',
    group: 'you',
    visible: (s) => s.features.has('/api/v1/me/mfa'),
    render: () => <Security />,
  },
  {
    path: '/account/activity',
    label: 'Activity',
    group: 'you',
    visible: (s) => s.features.has('/api/v1/me/activity'),
    render: () => <Activity />,
  },
  {
    path: '/connected-apps',
    label: 'Connected apps',
    group: 'you',
    visible: () => true,
    render: () => <ConnectedApps />,
  },
  {
    path: '/admin',
    label: 'Sign-ups',
    group: 'instance',
    visible: (s) => s.features.has('/api/v1/admin/signup-policy') && s.instanceAdmin,
    render: () => <Admin />,
  },
  {
    path: '/admin/users',
    label: 'Users',
    group: 'instance',
    visible: (s) => s.features.has('/api/v1/admin/users') && s.instanceAdmin,
    render: () => <AdminUsers />,
  },
  {
    path: '/admin/webhooks',
    label: 'Webhooks',
    group: 'instance',
    visible: (s) => s.features.has('/api/v1/admin/webhooks') && s.instanceAdmin,
    render: () => <Webhooks family={INSTANCE_WEBHOOKS} />,
  },
];

const GROUPS: { id: Route['group']; label: (s: SessionState) => string }[] = [
  { id: 'org', label: (s) => s.org?.name ?? 'Organisation' },
  { id: 'you', label: () => 'You' },
  { id: 'instance', label: () => 'Instance' },
];

export function Shell() {
  const session = useSession();
  const { me, org, signOut } = session;
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const visible = ROUTES.filter((r) => r.visible(session));
  // The longest matching path wins: /settings/sso is its own page, not part of /settings.
  const route = ROUTES.filter((r) => path === r.path || path.startsWith(`${r.path}/`)).sort(
    (a, b) => b.path.length - a.path.length,
  )[0];
  const first = useRef(true);

  // "/" (where sign-in lands) opens the first page this person can see here.
  const home = visible[0]?.path ?? '/account';
  useEffect(() => {
    if (path === '/' || path === '') navigate(home, { replace: true });
  }, [path, home]);

  useEffect(() => {
    document.title = route ? `${route.label} · Latchkey` : 'Latchkey';
    setMenuOpen(false);
    if (first.current) {
      first.current = false;
      return;
    }
    // After client-side navigation, put focus where a screen reader user expects: the page title.
    requestAnimationFrame(() => document.getElementById('page-title')?.focus());
  }, [path, route]);

  let content: ReactNode;
  if (!route) content = path === '/' ? null : <NotFound />;
  else if (!route.visible(session)) content = <NotAllowed />;
  else content = route.render();

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Button
          variant="ghost"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="sidenav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          Menu
        </Button>
        <Link to="/" className="brand" aria-label="Latchkey home">
          <Logo />
        </Link>
        <OrgSwitcher />
        <div className="topbar-user">
          <span className="user-name" title={me.user?.email}>
            {me.user?.name}
          </span>
          <Button variant="ghost" onClick={() => void signOut()}>
            Sign out
          </Button>
        </div>
      </header>
      <div className="layout">
        <nav id="sidenav" className={`sidenav${menuOpen ? ' open' : ''}`} aria-label="Main">
          {GROUPS.map((g) => {
            const items = visible.filter((r) => r.group === g.id);
            if (items.length === 0) return null;
            return (
              <div key={g.id} className="nav-group">
                <p className="nav-heading">{g.label(session)}</p>
                <ul>
                  {items.map((r) => (
                    <li key={r.path}>
                      <Link
                        to={r.path}
                        className="nav-link"
                        aria-current={route?.path === r.path ? 'page' : undefined}
                      >
                        {r.label}
                      </Link>
                    </li>
                  ))}
                </ul>
              </div>
            );
          })}
        </nav>
        <main id="main" className="content" key={org?.id ?? 'none'}>
          {me.email_verified === false && <VerifyEmailBanner email={me.user?.email ?? ''} />}
          {content}
        </main>
      </div>
    </div>
  );
}

/** Until the address is proven, the server refuses tokens and OAuth apps: say so, offer a new link. */
function VerifyEmailBanner({ email }: { email: string }) {
  const toast = useToast();
  const [sent, setSent] = useState<string | null>(null);
  const resend = useAction(async () => {
    const r = await post<{ detail?: string }>('/api/auth/verify-email/resend', undefined, { org: null });
    const text = r?.detail ?? `A confirmation link is on its way to ${email}.`;
    setSent(text);
    toast(text);
  });
  return (
    <Notice tone="warning" title="Verify your email address to create tokens and apps">
      <p>
        We sent a link to {email}. Open it and confirm; until then, API tokens, org keys and OAuth apps cannot
        be created.
      </p>
      {sent && <p>{sent}</p>}
      <Button onClick={() => void resend.run()} busy={resend.busy} disabled={resend.busy}>
        Resend the link
      </Button>
      <ErrorAlert error={resend.error} />
    </Notice>
  );
}

function NotFound() {
  return (
    <Empty title="There is no page here" action={<Link to="/">Go to the start page</Link>}>
      The link may be old, or mistyped.
    </Empty>
  );
}

function NotAllowed() {
  return (
    <Empty title="Not available to you here" action={<Link to="/">Go to the start page</Link>}>
      Your role in this organisation does not include this page. Switch organisation, or ask an owner.
    </Empty>
  );
}
