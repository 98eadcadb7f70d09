/**
 * The one script of the sign-in pages: runs a WebAuthn ceremony when a `[data-passkey]` button is
 * pressed. `data-passkey="get"` asks the server for assertion options (`data-options`), calls
 * `navigator.credentials.get`, posts the result to `data-verify` as `{response}`, and on success
 * goes to `data-return`. Served from our origin (`script-src 'self'`), no inline script.
 */
export const PASSKEY_SCRIPT = `(() => {
  const b64 = (s) => { s = s.replace(/-/g, '+').replace(/_/g, '/'); while (s.length % 4) s += '='; return Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer; };
  const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const post = (url, body) => fetch(url, { method: 'POST', credentials: 'same-origin', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const say = (el, text) => { const out = document.getElementById(el.dataset.status || 'passkey-status'); if (out) { out.textContent = text; out.hidden = false; } };
  for (const button of document.querySelectorAll('[data-passkey="get"]')) {
    button.hidden = false;
    button.addEventListener('click', async (event) => {
      event.preventDefault();
      if (!window.PublicKeyCredential) return say(button, 'This browser does not support passkeys.');
      button.disabled = true;
      try {
        const res = await post(button.dataset.options);
        if (!res.ok) throw new Error((await res.json()).detail || 'The sign-in could not start.');
        const o = await res.json();
        const publicKey = { ...o, challenge: b64(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: b64(c.id) })) };
        const cred = await navigator.credentials.get({ publicKey });
        const r = cred.response;
        const response = { id: cred.id, rawId: enc(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(), authenticatorAttachment: cred.authenticatorAttachment || undefined,
          response: { clientDataJSON: enc(r.clientDataJSON), authenticatorData: enc(r.authenticatorData), signature: enc(r.signature), userHandle: r.userHandle ? enc(r.userHandle) : undefined } };
        const done = await post(button.dataset.verify, { response });
        if (!done.ok) throw new Error((await done.json()).detail || 'The passkey was not accepted.');
        window.location.assign(button.dataset.return || '/');
      } catch (err) {
        say(button, err && err.name === 'NotAllowedError' ? 'The passkey prompt was closed. Try again.' : String((err && err.message) || err));
        button.disabled = false;
      }
    });
  }
})();
`;
