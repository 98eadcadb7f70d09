export { TtlCache } from './cache.js';
export {
  createVerifier,
  MAX_ORG_LENGTH,
  NEGATIVE_TTL_MS,
  POSITIVE_TTL_MS,
  tokenHash,
  type Verifier,
  type VerifierOptions,
} from './verifier.js';
export { type Principal, VerifyError, type VerifyErrorCode } from './principal.js';
export {
  bearerFrom,
  check,
  checkCached,
  fastifyHook,
  metadataUrl,
  ORG_HEADER,
  type OrgOf,
  orgOfRequest,
  type ProtectOptions,
  protectedResourceMetadata,
  protectRequest,
  type Refusal,
  refusal,
} from './http.js';
export { FALLBACK_POSITIVE_TTL_MS, type VerifierHealth, type VerifierLogger } from './verifier.js';
export type { TokenKind } from './principal.js';
export {
  createQuota,
  memoryQuotaStore,
  type Quota,
  QuotaExceededError,
  type QuotaOptions,
  type QuotaResult,
  type QuotaStore,
  quotaWindow,
  type RedisEvalClient,
  redisQuotaStore,
} from './quota.js';
export { parseLimits, periodOfName, type QuotaPeriod } from './limits.js';
export {
  createSessionChecker,
  type SessionChecker,
  type SessionCheckerOptions,
  type TenantMembership,
} from './session.js';
export { expressMiddleware } from './express.js';
export { honoMiddleware, type LatchkeyEnv } from './hono.js';
export {
  checkProxyPath,
  latchkeyFetchProxy,
  latchkeyProxy,
  MAX_PROXY_PATH_LENGTH,
  PROXY_TIMEOUT_MS,
  type ProxyOptions,
  type ProxyPathDecision,
} from './proxy.js';
