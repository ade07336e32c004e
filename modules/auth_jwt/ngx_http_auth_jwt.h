
/*
 * JWT authentication: what the module's files share.
 */


#ifndef _NGX_HTTP_AUTH_JWT_H_INCLUDED_
#define _NGX_HTTP_AUTH_JWT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include "ngx_gw_json.h"
#include "ngx_gw_claim.h"
#include "ngx_gw_sha256.h"
#include "ngx_gw_challenge.h"
#include "ngx_gw_hidden.h"


/* tokens are capped before anything is decoded */
#define NGX_HTTP_AUTH_JWT_MAX_TOKEN  16384
#define NGX_HTTP_AUTH_JWT_MAX_DEPTH  16

#define NGX_HTTP_AUTH_JWT_DIGEST_LEN  NGX_GW_SHA256_LEN


typedef enum {
    NGX_HTTP_AUTH_JWT_OCT = 1,
    NGX_HTTP_AUTH_JWT_RSA,
    NGX_HTTP_AUTH_JWT_EC,
    NGX_HTTP_AUTH_JWT_OKP
} ngx_http_auth_jwt_kty_e;


/* SHA-256, -384, -512: 0, 1, 2 */
#define NGX_HTTP_AUTH_JWT_NO_HASH  3


typedef struct {
    ngx_str_t                  name;
    ngx_http_auth_jwt_kty_e    kty;
    ngx_uint_t                 hash;
    ngx_uint_t                 pss;        /* RSASSA-PSS */
    size_t                     ec_half;    /* bytes of R and of S */
    const char                *curve;      /* EC group a key must be on */
} ngx_http_auth_jwt_alg_t;


typedef struct {
    ngx_str_t                  kid;        /* empty: the key has none */
    ngx_http_auth_jwt_alg_t   *alg;        /* NULL: any of its kty */
    ngx_http_auth_jwt_kty_e    kty;
    EVP_PKEY                  *pkey;       /* RSA, EC, OKP */
    EVP_MAC_CTX               *hmac[3];    /* oct: SHA-256, 384, 512 */
    EVP_PKEY_CTX              *verify[6];  /* RSA, EC: by hash and PSS */
} ngx_http_auth_jwt_key_t;


typedef struct {
    ngx_str_t                  signing_input;
    ngx_str_t                  signature;
    ngx_str_t                  header_json;
    ngx_str_t                  payload_json;
    ngx_array_t                header;     /* of ngx_gw_json_member_t */
    ngx_array_t                claims;     /* of ngx_gw_json_member_t */
    ngx_http_auth_jwt_alg_t   *alg;
    ngx_str_t                  kid;
} ngx_http_auth_jwt_token_t;


/*
 * What auth_jwt decided about a client request, as $jwt_status shows it;
 * the order is that of the names in ngx_http_auth_jwt_module.c.
 */
typedef enum {
    NGX_HTTP_AUTH_JWT_UNCHECKED = 0,
    NGX_HTTP_AUTH_JWT_VALID,
    NGX_HTTP_AUTH_JWT_MISSING,
    NGX_HTTP_AUTH_JWT_EXPIRED,
    NGX_HTTP_AUTH_JWT_NOT_YET_VALID,
    NGX_HTTP_AUTH_JWT_BAD_SIGNATURE,
    NGX_HTTP_AUTH_JWT_NO_KEY,
    NGX_HTTP_AUTH_JWT_MALFORMED,
    NGX_HTTP_AUTH_JWT_REQUIRE_FAILED,
    NGX_HTTP_AUTH_JWT_KEY_FETCH_FAILED,
    NGX_HTTP_AUTH_JWT_ERROR
} ngx_http_auth_jwt_status_e;


typedef struct {
    ngx_rbtree_node_t          node;       /* key: the digest's first bytes */
    ngx_queue_t                queue;      /* in lru or free */
    u_char                     digest[NGX_HTTP_AUTH_JWT_DIGEST_LEN];
    time_t                     expires;
    ngx_gw_claim_clock_t       clock;      /* checked on every request */
} ngx_http_auth_jwt_cached_t;


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                lru;
    ngx_queue_t                free;
    ngx_uint_t                 size;
    time_t                     valid;
} ngx_http_auth_jwt_cache_t;


/*
 * The files call one another one way only: the module calls the others,
 * keys.c calls token.c (base64url, the algorithms), and token.c and
 * cache.c call none of them.
 */

NGX_GW_HIDDEN_BEGIN

/* ngx_http_auth_jwt_token.c */
ngx_int_t ngx_http_auth_jwt_decode_base64url(ngx_str_t *dst,
    ngx_str_t *src);
ngx_http_auth_jwt_alg_t *ngx_http_auth_jwt_alg(ngx_str_t *name);
ngx_http_auth_jwt_alg_t *ngx_http_auth_jwt_alg_curve(ngx_str_t *crv);
ngx_int_t ngx_http_auth_jwt_token_decode(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_http_auth_jwt_token_t *token, const char **reason);
ngx_http_auth_jwt_status_e ngx_http_auth_jwt_clock_check(
    ngx_gw_claim_clock_t *clock, time_t now, time_t leeway,
    const char **reason);

/* ngx_http_auth_jwt_keys.c */
ngx_int_t ngx_http_auth_jwt_crypto_init(ngx_pool_t *pool);
ngx_array_t *ngx_http_auth_jwt_keys_create(ngx_pool_t *pool);
ngx_int_t ngx_http_auth_jwt_jwks_parse(ngx_pool_t *pool, ngx_log_t *log,
    ngx_uint_t level, ngx_str_t *json, ngx_array_t *keys,
    const char **error);
ngx_int_t ngx_http_auth_jwt_verify(ngx_http_auth_jwt_token_t *token,
    ngx_array_t *keys, ngx_log_t *log, ngx_uint_t *tried);

/* ngx_http_auth_jwt_cache.c */
ngx_int_t ngx_http_auth_jwt_cache_init(ngx_pool_t *pool,
    ngx_http_auth_jwt_cache_t *cache);
ngx_http_auth_jwt_cached_t *ngx_http_auth_jwt_cache_lookup(
    ngx_http_auth_jwt_cache_t *cache, u_char *digest, time_t now);
void ngx_http_auth_jwt_cache_insert(ngx_http_auth_jwt_cache_t *cache,
    u_char *digest, time_t expires, ngx_gw_claim_clock_t *clock);


NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_AUTH_JWT_H_INCLUDED_ */
