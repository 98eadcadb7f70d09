import { escapeHtml } from '../../mail/templates.js';
import type { OrgContext } from '../../auth/principal.js';
import { page } from '../../http/html.js';
import type { Catalogue, Resource } from '../../tokens/catalogue.js';
import { type Client, clientOrigin } from '../store/clients.js';
import { isLoopbackRedirect, redirectTarget } from '../redirect-uri.js';

/**
 * The consent page: a plain HTML form (no JavaScript) posting to `action`. Each requested scope is
 * a checkbox named `scope`: ordinary ones ticked, high-risk ones unticked and marked, each with the
 * tools it unlocks when the resource declares them. An org picker when the person can choose among
 * several orgs. Where the person will be sent back: a web host, or the app that opens a private-use
 * scheme. A metadata-document client whose redirect URIs are all loopback gets a warning: anyone
 * can publish such a document and name any client in it. Two submit buttons named `decision`.
 */
export function consentPage(o: {
  client: Client;
  resource: Resource;
  scopes: readonly string[];
  catalogue: Catalogue;
  orgs: readonly OrgContext[];
  action: string;
  hidden: Record<string, string>;
  redirectUri?: string;
  error?: string;
  /** OpenID Connect: the OpenID scopes of a sign-in request, said in words (no boxes). */
  identity?: readonly string[];
}): string {
  const e = escapeHtml;
  const hidden = Object.entries(o.hidden)
    .map(([k, v]) => `<input type="hidden" name="${e(k)}" value="${e(v)}">`)
    .join('\n');
  const scopes = o.scopes
    .map((name, i) => {
      const s = o.catalogue.scope(name);
      const high = s.risk === 'high';
      const tools = o.resource.tools.get(name) ?? [];
      const toolList = tools.length
        ? `<br><span class="muted tools">Tools: ${tools.map((t) => `<code>${e(t)}</code>`).join(', ')}</span>`
        : '';
      return `<li><input type="checkbox" id="scope-${i}" name="scope" value="${e(name)}"${high ? '' : ' checked'}>
<label for="scope-${i}" style="display:inline;font-weight:normal"><code>${e(name)}</code> — ${e(s.description)}${high ? ' <strong class="risk">(high risk: tick only if you mean it)</strong>' : ''}${toolList}</label></li>`;
    })
    .join('\n');
  const orgPicker =
    o.orgs.length === 1
      ? `<input type="hidden" name="org_id" value="${e(o.orgs[0]!.id)}"><p>Organisation: <strong>${e(o.orgs[0]!.name)}</strong></p>`
      : `<label for="org_id">Organisation</label><select id="org_id" name="org_id" required>${o.orgs
          .map((org) => `<option value="${e(org.id)}">${e(org.name)}</option>`)
          .join('')}</select>`;
  const site = o.client.display.client_uri
    ? ` (<span class="muted">${e(o.client.display.client_uri)}</span>)`
    : '';
  let back = '';
  if (o.redirectUri) {
    const target = redirectTarget(o.redirectUri);
    back =
      target.kind === 'web'
        ? ` You will be sent back to <strong>${e(target.host)}</strong>.`
        : ` You will be sent back to the app on this device that opens <code class="scheme">${e(target.scheme)}:</code> links${target.host ? ` (<strong>${e(target.host)}</strong>)` : ''}.`;
  }
  const loopbackDocument =
    o.client.kind === 'cimd' &&
    o.client.redirectUris.length > 0 &&
    o.client.redirectUris.every((u) => isLoopbackRedirect(u));
  const warning = loopbackDocument
    ? `<p class="error loopback-warning" role="alert"><strong>Check this is the app you started.</strong> This client is described by a document that anyone can publish, and it only sends you back to an app on this computer (localhost). Allow it only if you began this sign-in yourself, just now, from an app you trust.</p>`
    : '';
  return page(
    'Authorise access',
    `${o.error ? `<p class="error" role="alert">${e(o.error)}</p>` : ''}
<p><strong>${e(o.client.name)}</strong>${site} wants access to <strong>${e(o.resource.name)}</strong> (<code>${e(o.resource.url)}</code>).</p>
<p class="muted">Client: ${e(clientOrigin(o.client))}.${back}</p>
${warning}
${o.identity ? `<p class="identity">It will sign you in with your Latchkey account and learn your account id${o.identity.includes('profile') ? ', your name' : ''}${o.identity.includes('email') ? ', your email address' : ''} and your role in the organisation you choose${o.identity.includes('offline_access') ? ', also while you are away' : ''}.</p>` : ''}
<form method="post" action="${e(o.action)}">
${hidden}
${orgPicker}
<fieldset><legend>Allow it to:</legend><ul style="list-style:none;padding-left:0">
${scopes}
</ul></fieldset>
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny" style="background:#666">Deny</button>
</form>`,
  );
}
