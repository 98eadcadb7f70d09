export { TtlCache } from './cache.js';
export {
  createVerifier,
  NEGATIVE_TTL_MS,
  POSITIVE_TTL_MS,
  type Principal,
  tokenHash,
  type Verifier,
  VerifyError,
  type VerifyErrorCode,
  type VerifierOptions,
} from './verifier.js';
export {
  bearerFrom,
  check,
  fastifyHook,
  metadataUrl,
  type ProtectOptions,
  protectedResourceMetadata,
  protectRequest,
  type Refusal,
  refusal,
} from './http.js';
export {
  createSessionChecker,
  type SessionChecker,
  type SessionCheckerOptions,
  type TenantMembership,
} from './session.js';
