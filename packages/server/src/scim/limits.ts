/** Every SCIM limit, in one place. */

/** Resources a list answers when the client names no `count` (RFC 7644 §3.4.2.4). */
export const DEFAULT_COUNT = 100;
/** The most resources one list answers; a larger `count` is capped to it (advertised as filter.maxResults). */
export const MAX_COUNT = 200;
/** Longest filter (or PATCH path) the parser reads. */
export const MAX_FILTER_LENGTH = 2_000;
/** Deepest nesting of parentheses, `not` and value filters in one filter. */
export const MAX_FILTER_DEPTH = 16;
/** Most comparisons one filter may hold. */
export const MAX_FILTER_TERMS = 50;
/** Most operations in one PATCH request. */
export const MAX_PATCH_OPERATIONS = 1_000;
/** Most members one group may hold. */
export const MAX_GROUP_MEMBERS = 50_000;
/** Most values of a multi-valued user attribute (emails) kept per user. */
export const MAX_MULTI_VALUES = 20;
/** Longest string attribute kept (names, externalId, displayName). */
export const MAX_STRING_LENGTH = 256;
/** Ids per statement when many members' roles are re-evaluated at once. */
export const ROLE_BATCH = 1_000;
/** Longest `attributes` / `excludedAttributes` query parameter. */
export const MAX_ATTRIBUTES_LENGTH = 2_000;
/** Member ids an audit event lists (counts are always complete). */
export const AUDIT_MAX_IDS = 50;
/** Invitations one org's SCIM client may send per hour (people outside its verified domains). */
export const SCIM_INVITATIONS_PER_HOUR = 100;
