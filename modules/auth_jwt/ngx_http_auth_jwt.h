
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

/* the longest JWE content key, A256CBC-HS512's */
#define NGX_HTTP_AUTH_JWT_MAX_CEK     64


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


/*
 * JWE key management ("alg", RFC 7518, 4) and content encryption ("enc",
 * 5): how the content key is had, and what it encrypts with.
 */
typedef enum {
    NGX_HTTP_AUTH_JWT_DIR = 1,             /* the key is the content key */
    NGX_HTTP_AUTH_JWT_KW,                  /* AES key wrap */
    NGX_HTTP_AUTH_JWT_GCMKW,               /* AES-GCM key wrap */
    NGX_HTTP_AUTH_JWT_OAEP,                /* RSA-OAEP */
    NGX_HTTP_AUTH_JWT_ECDH,                /* ECDH-ES: derives the key */
    NGX_HTTP_AUTH_JWT_ECDH_KW              /* ECDH-ES, then AES key wrap */
} ngx_http_auth_jwt_wrap_e;


/* the hashes of JWE: SHA-1, -256, -384, -512 are 0, 1, 2, 3 */

typedef struct {
    ngx_str_t                  name;
    ngx_http_auth_jwt_wrap_e   wrap;
    ngx_http_auth_jwt_kty_e    kty;        /* EC: EC or X25519 keys */
    size_t                     key_len;    /* KW, GCMKW: the wrapping key */
    ngx_uint_t                 hash;       /* OAEP */
} ngx_http_auth_jwt_jwe_alg_t;


typedef struct {
    ngx_str_t                  name;
    size_t                     key_len;    /* the content key */
    size_t                     iv_len;
    size_t                     tag_len;
    ngx_uint_t                 gcm;        /* else CBC with HMAC */
    ngx_uint_t                 hash;       /* CBC-HS: the HMAC's */
    ngx_uint_t                 aes;        /* AES-128, 192, 256: 0, 1, 2 */
} ngx_http_auth_jwt_enc_t;


/* what a JWK serves: its "use", or both without one */
#define NGX_HTTP_AUTH_JWT_USE_SIG  0x01
#define NGX_HTTP_AUTH_JWT_USE_ENC  0x02


typedef struct {
    ngx_str_t                     kid;        /* empty: the key has none */
    ngx_http_auth_jwt_alg_t      *alg;        /* NULL: any of its kty */
    ngx_http_auth_jwt_jwe_alg_t  *jwe_alg;    /* NULL: any that fits */
    ngx_uint_t                    use;
    ngx_http_auth_jwt_kty_e       kty;
    EVP_PKEY                     *pkey;       /* RSA, EC, OKP */
    EVP_MAC_CTX                  *hmac[3];    /* oct: SHA-256, 384, 512 */
    EVP_PKEY_CTX                 *verify[6];  /* RSA, EC: by hash and PSS */

    /* JWE: an oct key's bytes, or a private RSA, EC or X25519 key */
    ngx_str_t                     secret;
    EVP_PKEY_CTX                 *decrypt[4]; /* RSA-OAEP by hash; ECDH */
    unsigned                      decrypts:1;
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


/* a JWE in compact serialization (RFC 7516, 7.1), decoded */
typedef struct {
    ngx_str_t                     aad;        /* the header's segment */
    ngx_str_t                     header_json;
    ngx_array_t                   header;     /* of ngx_gw_json_member_t */
    ngx_str_t                     encrypted_key;
    ngx_str_t                     iv;
    ngx_str_t                     ciphertext;
    ngx_str_t                     tag;
    ngx_http_auth_jwt_jwe_alg_t  *alg;
    ngx_http_auth_jwt_enc_t      *enc;
    ngx_str_t                     kid;
    ngx_str_t                     kw_iv;      /* GCMKW: "iv" and "tag" */
    ngx_str_t                     kw_tag;
    ngx_str_t                     apu;        /* ECDH: "apu" and "apv" */
    ngx_str_t                     apv;
    EVP_PKEY                     *epk;        /* ECDH: the sender's key */
    ngx_str_t                     cek;        /* once decrypted */
    ngx_str_t                     plaintext;
    unsigned                      jwt:1;      /* "cty" says JWT */
} ngx_http_auth_jwt_jwe_t;


/* auth_jwt_type */
#define NGX_HTTP_AUTH_JWT_SIGNED     0
#define NGX_HTTP_AUTH_JWT_ENCRYPTED  1
#define NGX_HTTP_AUTH_JWT_NESTED     2


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

    /* a JWE's content key: its claims are decrypted again if asked for */
    u_char                     cek[NGX_HTTP_AUTH_JWT_MAX_CEK];
    size_t                     cek_len;
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
 * jwe.c calls keys.c (the sender's key of ECDH-ES) and token.c, keys.c
 * calls token.c (base64url, the algorithms), and token.c and cache.c call
 * none of them.
 */

NGX_GW_HIDDEN_BEGIN

/* ngx_http_auth_jwt_token.c */
ngx_int_t ngx_http_auth_jwt_decode_base64url(ngx_str_t *dst,
    ngx_str_t *src);
ngx_http_auth_jwt_alg_t *ngx_http_auth_jwt_alg(ngx_str_t *name);
ngx_http_auth_jwt_alg_t *ngx_http_auth_jwt_alg_curve(ngx_str_t *crv);
ngx_http_auth_jwt_jwe_alg_t *ngx_http_auth_jwt_jwe_alg(ngx_str_t *name);
ngx_http_auth_jwt_enc_t *ngx_http_auth_jwt_enc(ngx_str_t *name);
ngx_int_t ngx_http_auth_jwt_decode_json(ngx_pool_t *pool,
    ngx_str_t *segment, ngx_str_t *json, ngx_array_t *members,
    ngx_uint_t n, const char **reason);
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
ngx_uint_t ngx_http_auth_jwt_keys_use(ngx_array_t *keys);
ngx_int_t ngx_http_auth_jwt_epk(ngx_pool_t *pool, ngx_str_t *json,
    EVP_PKEY **pkey, const char **error);

/* ngx_http_auth_jwt_jwe.c */
ngx_int_t ngx_http_auth_jwt_jwe_init(ngx_pool_t *pool);
ngx_int_t ngx_http_auth_jwt_jwe_decode(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_http_auth_jwt_jwe_t *jwe, const char **reason);
ngx_int_t ngx_http_auth_jwt_jwe_decrypt(ngx_pool_t *pool,
    ngx_http_auth_jwt_jwe_t *jwe, ngx_array_t *keys, ngx_log_t *log,
    ngx_uint_t *tried);
ngx_int_t ngx_http_auth_jwt_jwe_open(ngx_pool_t *pool,
    ngx_http_auth_jwt_jwe_t *jwe, u_char *cek, size_t len);
ngx_int_t ngx_http_auth_jwt_jwe_payload(ngx_pool_t *pool,
    ngx_http_auth_jwt_jwe_t *jwe, ngx_uint_t type,
    ngx_http_auth_jwt_token_t *token, ngx_http_auth_jwt_token_t *inner,
    const char **reason);

/* ngx_http_auth_jwt_cache.c */
ngx_int_t ngx_http_auth_jwt_cache_init(ngx_pool_t *pool,
    ngx_http_auth_jwt_cache_t *cache);
ngx_http_auth_jwt_cached_t *ngx_http_auth_jwt_cache_lookup(
    ngx_http_auth_jwt_cache_t *cache, u_char *digest, time_t now);
void ngx_http_auth_jwt_cache_insert(ngx_http_auth_jwt_cache_t *cache,
    u_char *digest, time_t expires, ngx_gw_claim_clock_t *clock,
    ngx_str_t *cek);


NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_AUTH_JWT_H_INCLUDED_ */
