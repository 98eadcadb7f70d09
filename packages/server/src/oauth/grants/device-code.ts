import { addMs } from '../../lib/clock.js';
import { sha256Hex } from '../../lib/secrets.js';
import { DEVICE_CODE_GRANT } from '../client-metadata.js';
import { SLOW_DOWN_STEP_MS } from '../store/device-codes.js';
import { OAuthError } from '../errors.js';
import { formatAccessToken } from '../oidc/jwt-access-token.js';
import { issueTokens, scopesOf, tokenResponse } from '../store/tokens.js';
import type { Grant, GrantRequest } from './types.js';

/**
 * The device authorization grant (RFC 8628 §3.4–3.5): polling answers `authorization_pending`
 * until the person decides, `slow_down` (and a longer interval) when polled too fast,
 * `access_denied`, `expired_token`; once approved, tokens are issued exactly once.
 */
export const deviceCodeGrant: Grant = {
  type: DEVICE_CODE_GRANT,
  async handle({ deps, client, params, actor }: GrantRequest) {
    const { db, clock } = deps;
    const code = params.device_code;
    if (!code) throw new OAuthError('invalid_request', 'device_code is required.');
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
      throw new OAuthError('unauthorized_client', 'This client may not use the device authorization grant.');
    }
    if (code.length > 200) throw new OAuthError('invalid_grant', 'The device code is not valid.');
    const out = await db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('oauth_device_codes')
        .selectAll()
        .where('device_code_hash', '=', sha256Hex(code))
        .forUpdate()
        .executeTakeFirst();
      if (!row || row.client_id !== client.id)
        return { error: new OAuthError('invalid_grant', 'The device code is not valid.') };
      const now = clock.now();
      if (row.status === 'consumed')
        return { error: new OAuthError('invalid_grant', 'The device code was already used.') };
      if (row.status === 'denied')
        return { error: new OAuthError('access_denied', 'The person denied the request.') };
      if (row.expires_at <= now)
        return { error: new OAuthError('expired_token', 'The device code has expired; start again.') };
      if (row.status === 'pending') {
        const tooSoon =
          row.last_polled_at !== null && now.getTime() - row.last_polled_at.getTime() < row.interval_ms;
        await trx
          .updateTable('oauth_device_codes')
          .set({
            last_polled_at: now,
            interval_ms: tooSoon ? row.interval_ms + SLOW_DOWN_STEP_MS : row.interval_ms,
          })
          .where('id', '=', row.id)
          .execute();
        if (tooSoon)
          return {
            error: new OAuthError(
              'slow_down',
              `Poll at most every ${(row.interval_ms + SLOW_DOWN_STEP_MS) / 1000} seconds.`,
            ),
          };
        return { error: new OAuthError('authorization_pending', 'The person has not decided yet.') };
      }
      // approved
      const grant = row.grant_id
        ? await trx
            .selectFrom('oauth_grants')
            .select('id')
            .where('id', '=', row.grant_id)
            .where('revoked_at', 'is', null)
            .executeTakeFirst()
        : undefined;
      if (!grant || !row.user_id || !row.org_id)
        return { error: new OAuthError('invalid_grant', 'The authorization was revoked.') };
      await trx
        .updateTable('oauth_device_codes')
        .set({ status: 'consumed', expires_at: addMs(now, 0) })
        .where('id', '=', row.id)
        .execute();
      const scopes = scopesOf(row.granted_scopes);
      const issued = await issueTokens(trx, clock, actor, {
        grantType: 'device_code',
        subject: {
          clientId: client.id,
          grantId: grant.id,
          userId: row.user_id,
          orgId: row.org_id,
          resource: row.resource,
          scopes,
        },
        refresh: client.grantTypes.includes('refresh_token'),
        tokenPrefix: deps.config.tokenPrefix,
      });
      return { issued, row };
    });
    if ('error' in out && out.error) throw out.error;
    return tokenResponse(
      await formatAccessToken(deps, out.issued!, {
        resource: out.row!.resource,
        clientId: client.id,
        userId: out.row!.user_id,
        orgId: out.row!.org_id!,
      }),
    );
  },
};
