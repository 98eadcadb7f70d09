import { CLAIMS_SUPPORTED } from './claims.js';
import { SIGNING_ALGS } from './keys.js';

/**
 * The OpenID Provider fields of the discovery document (OpenID Connect Discovery 1.0 §3), merged
 * into the authorization server metadata that `/.well-known/openid-configuration` and
 * `/.well-known/oauth-authorization-server` both serve. Only the authorization code flow exists
 * (no implicit or hybrid), subjects are public, and request objects are not accepted.
 */
export function openIdProviderMetadata(issuer: string) {
  return {
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    userinfo_endpoint: `${issuer}/api/oauth/userinfo`,
    end_session_endpoint: `${issuer}/api/oauth/end-session`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...SIGNING_ALGS],
    claims_supported: [...CLAIMS_SUPPORTED],
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    frontchannel_logout_supported: false,
    backchannel_logout_supported: false,
  };
}
