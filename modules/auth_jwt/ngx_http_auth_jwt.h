
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
#include "ngx_gw_subrequest.h"


/* the largest key file or fetched JWK Set */
#define NGX_HTTP_AUTH_JWT_MAX_KEYS  (1024 * 1024)

/* how long a key request that failed is not asked again, in ms */
#define NGX_HTTP_AUTH_JWT_KEY_RETRY  5000

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
 * Keys had at request time: a JWK Set fetched by auth_jwt_key_request, or
 * read from an auth_jwt_key_file named by variables.  A set lives in a
 * pool of its own, held by its source while it is the latest and by each
 * request that is to verify with it, so a newer set never frees keys in
 * use.  Its generation is unique in the worker, so that the verified
 * cache never takes one set for another.
 */
typedef struct {
    ngx_array_t                  *keys;
    ngx_pool_t                   *pool;
    ngx_uint_t                    refs;
    time_t                        fetched;
    uint64_t                      generation;
} ngx_http_auth_jwt_key_set_t;


typedef struct ngx_http_auth_jwt_store_s   ngx_http_auth_jwt_store_t;
typedef struct ngx_http_auth_jwt_source_s  ngx_http_auth_jwt_source_t;
typedef struct ngx_http_auth_jwt_fetch_s   ngx_http_auth_jwt_fetch_t;


#define NGX_HTTP_AUTH_JWT_SOURCE_REQUEST  0
#define NGX_HTTP_AUTH_JWT_SOURCE_FILE     1


/*
 * One auth_jwt_key_request, or one auth_jwt_key_file with variables: a
 * fixed source, or the sources its value names, at most
 * NGX_HTTP_AUTH_JWT_MAX_NAMES of them kept in each worker.
 */
typedef struct {
    ngx_uint_t                    type;
    ngx_http_complex_value_t     *value;     /* NULL: fixed */
    ngx_str_t                     dir;       /* what a value stays in */
    ngx_http_auth_jwt_source_t   *fixed;
    ngx_rbtree_t                  rbtree;    /* of the named sources */
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   lru;
    ngx_uint_t                    named;
    time_t                        valid;     /* shortest key cache, or 0 */
    void                        **srv_conf;  /* for background fetches */
    ngx_http_auth_jwt_store_t    *store;     /* auth_jwt_key_zone, or NULL */
} ngx_http_auth_jwt_key_source_t;


#define NGX_HTTP_AUTH_JWT_MAX_NAMES  128

/* the longest name a value may give a source, in bytes */
#define NGX_HTTP_AUTH_JWT_MAX_NAME   1024


/* auth_jwt_key_zone: keys fetched once for every worker, kept on reload */
struct ngx_http_auth_jwt_store_s {
    ngx_shm_zone_t               *shm_zone;
    ngx_slab_pool_t              *shpool;
    void                         *sh;
    time_t                        stale;
    ngx_msec_t                    unknown_kid;
};


/* what the zone tells of a source */
typedef struct {
    uint64_t                      version;  /* 0: no keys */
    time_t                        fetched;
    ngx_str_t                     text;     /* a copy, when asked: free it */
    unsigned                      busy:1;   /* a fetch is in flight */
    unsigned                      failed:1; /* a fetch failed lately */
    unsigned                      failing:1;
} ngx_http_auth_jwt_stored_t;


/* why a worker would fetch */
#define NGX_HTTP_AUTH_JWT_CLAIM_NEED     0   /* a request has no keys */
#define NGX_HTTP_AUTH_JWT_CLAIM_REFRESH  1   /* the keys are getting old */
#define NGX_HTTP_AUTH_JWT_CLAIM_KID      2   /* a token's kid is unknown */


/* a key source as a worker knows it */
struct ngx_http_auth_jwt_source_s {
    ngx_str_node_t                    node;     /* of named sources */
    ngx_queue_t                       queue;    /* in the lru */
    ngx_http_auth_jwt_key_source_t   *conf;
    ngx_str_t                         name;     /* "uri?args", or a file */
    ngx_str_t                         uri;
    ngx_str_t                         args;
    ngx_http_auth_jwt_key_set_t      *set;      /* the latest; NULL: none */
    uint64_t                          version;  /* of set, in the zone */
    uint64_t                          synced;   /* ms: the zone last read */
    ngx_http_auth_jwt_fetch_t        *fetching; /* in flight here */
    ngx_queue_t                       waiting;  /* of fetches */
    ngx_event_t                       poll;     /* another worker fetches */
    ngx_msec_t                        failed;
    ngx_uint_t                        refs;     /* requests holding it */
    void                            **srv_conf;
    unsigned                          has_failed:1;
    unsigned                          used:1;
    unsigned                          named:1;
};


/*
 * A source as one request sees it: done once its keys are at hand (set),
 * or it failed, or its value was refused; until then the request fetches
 * them, or waits in the source's queue for the fetch of another request
 * or another worker.  A background fetch is one too, without a client.
 */
struct ngx_http_auth_jwt_fetch_s {
    ngx_http_auth_jwt_source_t       *source;
    ngx_http_request_t               *request;
    struct ngx_http_auth_jwt_keys_s  *keys;     /* NULL: in the background */
    ngx_http_auth_jwt_key_set_t      *set;
    ngx_gw_capture_t                  capture;
    ngx_queue_t                       queue;
    ngx_event_t                       wake;
    unsigned                          resolved:1;
    unsigned                          done:1;
    unsigned                          failed:1;
    unsigned                          fetching:1;
    unsigned                          waiting:1;
    unsigned                          refetch:1;
    unsigned                          stored:1;   /* in the zone */
};


/* a request's keys, one fetch for each of the location's key sources */
typedef struct ngx_http_auth_jwt_keys_s {
    ngx_http_auth_jwt_fetch_t        *fetch;
    ngx_uint_t                        pending;
    unsigned                          stale:1;     /* past their key cache */
    unsigned                          waited:1;    /* for a fetch */
    unsigned                          refetched:1; /* for an unknown kid */
} ngx_http_auth_jwt_keys_t;


/*
 * The files call one another one way only: the module calls the others,
 * source.c calls store.c, background.c and keys.c, jwe.c calls keys.c
 * (the sender's key of ECDH-ES) and token.c, keys.c calls token.c
 * (base64url, the algorithms), and token.c, cache.c, store.c and
 * background.c call none of them.
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
ngx_uint_t ngx_http_auth_jwt_dots(ngx_str_t *raw, u_char **dot, ngx_uint_t n);
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

/* ngx_http_auth_jwt_source.c */
ngx_http_auth_jwt_key_source_t *ngx_http_auth_jwt_source_conf(ngx_conf_t *cf,
    ngx_uint_t type, ngx_str_t *value);
ngx_int_t ngx_http_auth_jwt_sources_ready(ngx_http_request_t *r,
    ngx_array_t *sources, time_t key_cache, ngx_http_auth_jwt_keys_t *keys);
ngx_int_t ngx_http_auth_jwt_sources_fetch(ngx_http_request_t *r,
    ngx_array_t *sources, time_t key_cache, ngx_http_auth_jwt_keys_t *keys);
ngx_http_auth_jwt_key_set_t *ngx_http_auth_jwt_sources_set(
    ngx_array_t *sources, ngx_http_auth_jwt_keys_t *keys, ngx_uint_t i);
ngx_int_t ngx_http_auth_jwt_sources_refetch(ngx_http_request_t *r,
    ngx_array_t *sources, time_t key_cache, ngx_http_auth_jwt_keys_t *keys);
ngx_int_t ngx_http_auth_jwt_sources_capture(ngx_http_request_t *r,
    ngx_chain_t *in);
ngx_int_t ngx_http_auth_jwt_sources_init_process(ngx_cycle_t *cycle,
    ngx_array_t *refreshed);

/* ngx_http_auth_jwt_store.c */
ngx_int_t ngx_http_auth_jwt_store_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
ngx_int_t ngx_http_auth_jwt_store_read(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, uint64_t have, ngx_uint_t used,
    ngx_http_auth_jwt_stored_t *st);
ngx_int_t ngx_http_auth_jwt_store_claim(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, ngx_uint_t why, uint64_t have, time_t refresh,
    time_t valid, ngx_uint_t used, ngx_http_auth_jwt_stored_t *st);
uint64_t ngx_http_auth_jwt_store_done(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, ngx_str_t *text, ngx_uint_t *recovered);
ngx_uint_t ngx_http_auth_jwt_store_failed(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, time_t valid, ngx_uint_t *expired);
void ngx_http_auth_jwt_store_release(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name);
void ngx_http_auth_jwt_store_counters(ngx_http_auth_jwt_store_t *store,
    ngx_atomic_uint_t *fetches, ngx_atomic_uint_t *failures);

/* ngx_http_auth_jwt_background.c */
ngx_http_request_t *ngx_http_auth_jwt_background_create(void **srv_conf);
ngx_int_t ngx_http_auth_jwt_background_start(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_str_t *args, ngx_http_post_subrequest_t *ps);
void ngx_http_auth_jwt_background_close(ngx_http_request_t *r);


NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_AUTH_JWT_H_INCLUDED_ */
