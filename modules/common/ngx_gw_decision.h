
/*
 * The variables in which the gateway's modules tell what they decided for
 * a request, for access logs and for gateway_metrics, which parses them.
 * Their text is an interface between modules that never include one
 * another: the writers and the reader take its pieces from here.
 *
 *   $jwt_status        one status word: VALID, MISSING, EXPIRED, ...,
 *                      then for keys of an auth_jwt_key_zone
 *                      "[:stale_keys][:key_wait]"
 *   $introspect_status one status word: VALID, INACTIVE, UNAVAILABLE, ...
 *   $jwt_key_fetches   "ok:N, failed:N": the fetches of the
 *                      auth_jwt_key_zone since it was made, read when
 *                      metrics are scraped
 *   $rate_limit_zones  "zone:STATUS[:evicted][:redis_failed]" per limit,
 *                      in configuration order, ", " between them
 *   $aggregate_parts   "part:OUTCOME" per part, ", " between them
 *
 * Status and outcome words are upper case, NGX_GW_DECISION_WORD_LEN
 * bytes at most; zone and part names hold neither ",", ":" nor spaces
 * (their directives refuse such names).
 */


#ifndef _NGX_GW_DECISION_H_INCLUDED_
#define _NGX_GW_DECISION_H_INCLUDED_


#define NGX_GW_DECISION_JWT_STATUS        "jwt_status"
#define NGX_GW_DECISION_JWT_KEY_FETCHES   "jwt_key_fetches"
#define NGX_GW_DECISION_INTROSPECT_STATUS "introspect_status"
#define NGX_GW_DECISION_RATE_LIMIT_ZONES  "rate_limit_zones"
#define NGX_GW_DECISION_AGGREGATE_PARTS   "aggregate_parts"

#define NGX_GW_DECISION_ENTRY_SEP         ", "
#define NGX_GW_DECISION_FIELD_SEP         ':'

#define NGX_GW_DECISION_EVICTED           "evicted"
#define NGX_GW_DECISION_REDIS_FAILED      "redis_failed"

/* verified with keys past auth_jwt_key_cache, their source failing */
#define NGX_GW_DECISION_STALE_KEYS        "stale_keys"
/* waited for keys to be fetched */
#define NGX_GW_DECISION_KEY_WAIT          "key_wait"

#define NGX_GW_DECISION_KEY_FETCHED       "ok"
#define NGX_GW_DECISION_KEY_FETCH_FAILED  "failed"

/* the longest word, "REJECTED_DRY_RUN", with room for others */
#define NGX_GW_DECISION_WORD_LEN          32


#endif /* _NGX_GW_DECISION_H_INCLUDED_ */
