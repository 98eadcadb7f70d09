import { escapeHtml } from '../mail/templates.js';
import type { OrgContext } from '../http/auth.js';
import { page } from '../pages/render.js';
import type { Catalogue, Resource } from './catalogue.js';
import { type Client, clientOrigin } from './clients.js';

/**
 * The consent page: a plain HTML form (no JavaScript) posting to `action`. Each requested scope is
 * a checkbox named `scope`: ordinary ones ticked, high-risk ones unticked and marked. An org picker
 * when the person can choose among several orgs. Two submit buttons named `decision`.
 */
export function consentPage(o: {
  client: Client;
  resource: Resource;
  scopes: readonly string[];
  catalogue: Catalogue;
  orgs: readonly OrgContext[];
  action: string;
  hidden: Record<string, string>;
  redirectHost?: string;
  error?: string;
}): string {
  const e = escapeHtml;
  const hidden = Object.entries(o.hidden)
    .map(([k, v]) => `<input type="hidden" name="${e(k)}" value="${e(v)}">`)
    .join('\n');
  const scopes = o.scopes
    .map((name, i) => {
      const s = o.catalogue.scope(name);
      const high = s.risk === 'high';
      return `<li><input type="checkbox" id="scope-${i}" name="scope" value="${e(name)}"${high ? '' : ' checked'}>
<label for="scope-${i}" style="display:inline;font-weight:normal"><code>${e(name)}</code> — ${e(s.description)}${high ? ' <strong class="risk">(high risk: tick only if you mean it)</strong>' : ''}</label></li>`;
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
  return page(
    'Authorise access',
    `${o.error ? `<p class="error" role="alert">${e(o.error)}</p>` : ''}
<p><strong>${e(o.client.name)}</strong>${site} wants access to <strong>${e(o.resource.name)}</strong> (<code>${e(o.resource.url)}</code>).</p>
<p class="muted">Client: ${e(clientOrigin(o.client))}.${o.redirectHost ? ` You will be sent back to <strong>${e(o.redirectHost)}</strong>.` : ''}</p>
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
