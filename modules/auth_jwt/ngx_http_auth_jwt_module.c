
/*
 * JWT authentication with NGINX Plus's auth_jwt interface.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_jwt.h"
#include "ngx_gw_conf.h"
#include "ngx_gw_decision.h"
#include "ngx_gw_subrequest.h"
#include "ngx_gw_require.h"


typedef struct ngx_http_auth_jwt_ctx_s    ngx_http_auth_jwt_ctx_t;


/* what auth_jwt_claim_set, auth_jwt_header_set, auth_jwt_claim_contains do */
#define NGX_HTTP_AUTH_JWT_SET_CLAIM     0
#define NGX_HTTP_AUTH_JWT_SET_HEADER    1
#define NGX_HTTP_AUTH_JWT_SET_CONTAINS  2


typedef struct {
    ngx_str_t                     name;     /* of the variable */
    ngx_array_t                   path;     /* of ngx_str_t */
    ngx_uint_t                    header;
    ngx_str_t                     value;    /* auth_jwt_claim_contains */
    ngx_uint_t                    words;
} ngx_http_auth_jwt_claim_set_t;


typedef struct {
    ngx_http_auth_jwt_cache_t     cache;
    ngx_http_auth_jwt_store_t    *store;    /* auth_jwt_key_zone */
    ngx_array_t                   sources;  /* of key sources */
    ngx_array_t                   refreshed;
} ngx_http_auth_jwt_main_conf_t;


typedef struct {
    ngx_http_complex_value_t     *realm;    /* NULL: off */
    ngx_http_complex_value_t     *token;    /* NULL: Authorization */
    ngx_array_t                  *keys;     /* of ngx_http_auth_jwt_key_t */

    /* key requests, and key files with variables: had at request time */
    ngx_array_t                  *key_requests;
    time_t                        key_cache;
    time_t                        leeway;
    ngx_array_t                  *require;
    ngx_uint_t                    type;     /* auth_jwt_type */

    /* where "auth_jwt" was set, for the error when there is no key */
    ngx_str_t                     file;
    ngx_uint_t                    line;
} ngx_http_auth_jwt_loc_conf_t;


/*
 * The verdict on the client request, shared by its subrequests.  status is
 * the token's: a valid token that auth_jwt_require refused stays valid, so
 * that its claims still show in the log, and denied keeps the refusal,
 * 401 or 403, or 500 if a value could not be had.
 */
struct ngx_http_auth_jwt_ctx_s {
    ngx_http_auth_jwt_loc_conf_t     *conf;     /* the verdict is for */
    ngx_http_auth_jwt_status_e        status;
    ngx_uint_t                        denied;   /* 0: not refused */
    ngx_str_t                         raw;
    unsigned                          read:1;
    unsigned                          decoded:1;
    ngx_http_auth_jwt_token_t         token;
    ngx_gw_claim_clock_t              clock;
    ngx_http_auth_jwt_jwe_t          *jwe;      /* encrypted, nested */
    u_char                            cek[NGX_HTTP_AUTH_JWT_MAX_CEK];
    size_t                            cek_len;  /* the cache's, for claims */
    ngx_http_auth_jwt_keys_t          keys;
    ngx_table_elt_t                  *challenge;
    ngx_uint_t                        control_logged;
};


static ngx_http_auth_jwt_ctx_t *ngx_http_auth_jwt_check(
    ngx_http_request_t *r);
static ngx_http_auth_jwt_ctx_t *ngx_http_auth_jwt_verdict(
    ngx_http_request_t *r);
static void ngx_http_auth_jwt_mark(void *data);
static ngx_int_t ngx_http_auth_jwt_keys_ready(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx);
static ngx_http_auth_jwt_status_e ngx_http_auth_jwt_verify_all(
    ngx_http_request_t *r, ngx_http_auth_jwt_loc_conf_t *ajcf,
    ngx_http_auth_jwt_ctx_t *ctx, const char **reason);
static ngx_http_auth_jwt_status_e ngx_http_auth_jwt_verify_token(
    ngx_http_request_t *r, ngx_http_auth_jwt_loc_conf_t *ajcf,
    ngx_http_auth_jwt_ctx_t *ctx, const char **reason);
static ngx_http_auth_jwt_status_e ngx_http_auth_jwt_verify_sets(
    ngx_http_request_t *r, ngx_http_auth_jwt_loc_conf_t *ajcf,
    ngx_http_auth_jwt_ctx_t *ctx, ngx_http_auth_jwt_token_t *token,
    const char **reason);
static ngx_http_auth_jwt_key_set_t *ngx_http_auth_jwt_key_set(
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx,
    ngx_uint_t i);
static ngx_http_auth_jwt_status_e ngx_http_auth_jwt_decode(
    ngx_http_request_t *r, ngx_http_auth_jwt_loc_conf_t *ajcf,
    ngx_http_auth_jwt_ctx_t *ctx, const char **reason);
static ngx_http_auth_jwt_token_t *ngx_http_auth_jwt_decoded(
    ngx_http_request_t *r, ngx_http_auth_jwt_ctx_t *ctx);
static ngx_int_t ngx_http_auth_jwt_token_value(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_str_t *value);
static ngx_int_t ngx_http_auth_jwt_fetch_keys(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx);
static ngx_int_t ngx_http_auth_jwt_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_auth_jwt_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_jwt_let_in(ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_jwt_header_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_jwt_claim_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_jwt_contains_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_jwt_claim_path(ngx_http_request_t *r,
    ngx_http_auth_jwt_claim_set_t *cs, ngx_http_auth_jwt_ctx_t **pctx,
    ngx_gw_json_member_t **found);
static ngx_int_t ngx_http_auth_jwt_payload_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_jwt_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_jwt_key_fetches_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_jwt_member_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_http_auth_jwt_ctx_t *ctx,
    ngx_gw_json_member_t *member, ngx_str_t *name);
static ngx_int_t ngx_http_auth_jwt_add_variables(ngx_conf_t *cf);
static void *ngx_http_auth_jwt_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_auth_jwt_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_auth_jwt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_auth_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_auth_jwt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_jwt_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_jwt_key_request(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_auth_jwt_key_source(ngx_conf_t *cf,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_uint_t type, ngx_str_t *value);
static char *ngx_http_auth_jwt_key_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_jwt_require(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_jwt_claim_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_jwt_type(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_jwt_verified_cache(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_auth_jwt_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_auth_jwt_init_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_auth_jwt_commands[] = {

    { ngx_string("auth_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE12,
      ngx_http_auth_jwt,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_http_auth_jwt_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_jwt_key_request"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_http_auth_jwt_key_request,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_jwt_key_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_jwt_loc_conf_t, key_cache),
      NULL },

    { ngx_string("auth_jwt_key_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_auth_jwt_key_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_jwt_loc_conf_t, leeway),
      NULL },

    { ngx_string("auth_jwt_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_1MORE,
      ngx_http_auth_jwt_require,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_jwt_claim_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_auth_jwt_claim_set,
      0,
      NGX_HTTP_AUTH_JWT_SET_CLAIM,
      NULL },

    { ngx_string("auth_jwt_header_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_auth_jwt_claim_set,
      0,
      NGX_HTTP_AUTH_JWT_SET_HEADER,
      NULL },

    { ngx_string("auth_jwt_claim_contains"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_auth_jwt_claim_set,
      0,
      NGX_HTTP_AUTH_JWT_SET_CONTAINS,
      NULL },

    { ngx_string("auth_jwt_type"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_http_auth_jwt_type,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_jwt_verified_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_auth_jwt_verified_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_auth_jwt_module_ctx = {
    ngx_http_auth_jwt_add_variables,       /* preconfiguration */
    ngx_http_auth_jwt_init,                /* postconfiguration */

    ngx_http_auth_jwt_create_main_conf,    /* create main configuration */
    ngx_http_auth_jwt_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_auth_jwt_create_loc_conf,     /* create location configuration */
    ngx_http_auth_jwt_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_auth_jwt_module = {
    NGX_MODULE_V1,
    &ngx_http_auth_jwt_module_ctx,         /* module context */
    ngx_http_auth_jwt_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_auth_jwt_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


static ngx_http_variable_t  ngx_http_auth_jwt_vars[] = {

    { ngx_string("jwt_claim_"), NULL, ngx_http_auth_jwt_claim_variable,
      0, NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("jwt_header_"), NULL, ngx_http_auth_jwt_header_variable,
      0, NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("jwt_payload"), NULL, ngx_http_auth_jwt_payload_variable,
      0, 0, 0 },

    { ngx_string("jwt_status"), NULL, ngx_http_auth_jwt_status_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string(NGX_GW_DECISION_JWT_KEY_FETCHES), NULL,
      ngx_http_auth_jwt_key_fetches_variable, 0, NGX_HTTP_VAR_NOCACHEABLE,
      0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_auth_jwt_status_names[] = {
    ngx_null_string,
    ngx_string("VALID"),
    ngx_string("MISSING"),
    ngx_string("EXPIRED"),
    ngx_string("NOT_YET_VALID"),
    ngx_string("BAD_SIGNATURE"),
    ngx_string("NO_KEY"),
    ngx_string("MALFORMED"),
    ngx_string("REQUIRE_FAILED"),
    ngx_string("KEY_FETCH_FAILED"),
    ngx_string("ERROR")
};


/*
 * Decodes and verifies the client request's token once, whichever asks
 * first: the access phase, or a variable read earlier (a rate-limit key in
 * the preaccess phase) or later (a subrequest forwarding a claim).  Keys
 * that must still be fetched leave the token unchecked until the access
 * phase has fetched them.
 */

static ngx_http_auth_jwt_ctx_t *
ngx_http_auth_jwt_check(ngx_http_request_t *r)
{
    ngx_str_t                      raw;
    const char                    *reason;
    ngx_pool_cleanup_t            *cln;
    ngx_http_auth_jwt_ctx_t       *ctx;
    ngx_http_auth_jwt_status_e     status;
    ngx_http_auth_jwt_loc_conf_t  *ajcf;

    r = r->main;

    ajcf = ngx_http_get_module_loc_conf(r, ngx_http_auth_jwt_module);

    if (ajcf->realm == NULL) {
        return NULL;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_jwt_module);

    if (ctx == NULL) {

        /* a cleanup, for ngx_http_auth_jwt_verdict() after a redirect */

        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_auth_jwt_ctx_t));
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_auth_jwt_mark;

        ctx = cln->data;
        ngx_memzero(ctx, sizeof(ngx_http_auth_jwt_ctx_t));

        ngx_http_set_ctx(r, ctx, ngx_http_auth_jwt_module);

    } else if (ctx->conf != ajcf && ctx->keys.pending == 0) {

        /*
         * the request moved on to a location with other keys or settings
         * (a rewrite, or a variable read at the server level): a verdict
         * reached under the old ones must not carry over
         */

        ngx_memzero(ctx, sizeof(ngx_http_auth_jwt_ctx_t));
    }

    ctx->conf = ajcf;

    if (ctx->status != NGX_HTTP_AUTH_JWT_UNCHECKED) {
        return ctx;
    }

    if (!ctx->read) {
        if (ngx_http_auth_jwt_token_value(r, ajcf, &raw) != NGX_OK) {
            ctx->status = NGX_HTTP_AUTH_JWT_ERROR;
            return ctx;
        }

        if (raw.len == 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "auth_jwt: no token");
            ctx->status = NGX_HTTP_AUTH_JWT_MISSING;
            return ctx;
        }

        ctx->raw = raw;
        ctx->read = 1;
    }

    if (ngx_http_auth_jwt_keys_ready(r, ajcf, ctx) == NGX_OK) {
        status = ngx_http_auth_jwt_verify_all(r, ajcf, ctx, &reason);

        /*
         * a kid no key has may be one the identity provider just added;
         * a JWE names its decryption key in its own header
         */

        if (status == NGX_HTTP_AUTH_JWT_NO_KEY
            && (ctx->jwe ? ctx->jwe->kid.len : ctx->token.kid.len)
            && ngx_http_auth_jwt_sources_refetch(r, ajcf->key_requests,
                                                 ajcf->key_cache, &ctx->keys)
               == NGX_OK)
        {
            return ctx;
        }

    } else if (ctx->decoded) {

        /* checked already as far as it goes without the keys */

        return ctx;

    } else {

        /*
         * a token that fails without the keys is refused before they are
         * fetched: requests without a valid token never make the key
         * source work
         */

        status = ngx_http_auth_jwt_decode(r, ajcf, ctx, &reason);

        if (status == NGX_HTTP_AUTH_JWT_VALID) {
            return ctx;
        }
    }

    ctx->status = status;

    if (status != NGX_HTTP_AUTH_JWT_VALID
        && status != NGX_HTTP_AUTH_JWT_ERROR)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_jwt: rejected token: %s", reason);
    }

    return ctx;
}


/*
 * The verdict as it stands, for $jwt_status: never a check of its own.
 * An internal redirect (error_page, try_files, index) clears the module
 * contexts, and the location it leads to may have no auth_jwt; the
 * request was checked all the same, and the log must say how, so the
 * context is then found as the last one the request's pool holds.
 */

static ngx_http_auth_jwt_ctx_t *
ngx_http_auth_jwt_verdict(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_auth_jwt_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_jwt_module);
    if (ctx || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_auth_jwt_mark) {
            return cln->data;
        }
    }

    return NULL;
}


static void
ngx_http_auth_jwt_mark(void *data)
{
    ngx_http_auth_jwt_ctx_t  *ctx = data;

    /* marks the context; and a JWE's content key goes with the request */

    ngx_explicit_memzero(ctx->cek, sizeof(ctx->cek));
}


static ngx_int_t
ngx_http_auth_jwt_keys_ready(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx)
{
    return ngx_http_auth_jwt_sources_ready(r, ajcf->key_requests,
                                           ajcf->key_cache, &ctx->keys);
}



/*
 * A verified token is remembered under the digest of the token, of the
 * key sources of the location and of its auth_jwt_type, with its times
 * (and a JWE's content key): the next request with the same token under
 * the same keys is checked against the clock only, and its claims are
 * decoded only if something asks for them.
 */

static ngx_http_auth_jwt_status_e
ngx_http_auth_jwt_verify_all(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx,
    const char **reason)
{
    u_char                            digest[NGX_HTTP_AUTH_JWT_DIGEST_LEN];
    void                             *sources[2];
    uint64_t                          generations[8];
    ngx_str_t                         parts[4];
    ngx_uint_t                        i, n, use_cache;
    ngx_http_auth_jwt_cached_t       *cached;
    ngx_http_auth_jwt_status_e        status;
    ngx_http_auth_jwt_key_set_t      *set;
    ngx_http_auth_jwt_main_conf_t    *ajmcf;

    ajmcf = ngx_http_get_module_main_conf(r, ngx_http_auth_jwt_module);

    /*
     * Keys fetched for each request (auth_jwt_key_cache 0) are not worth
     * an entry; cached key sets count their refetches in their generation,
     * and a token verified under an older generation is checked again.
     */

    use_cache = ajmcf->cache.size;

    n = 0;

    if (ajcf->key_requests) {
        n = ajcf->key_requests->nelts;

        if (n > 8 || ajcf->key_cache == 0) {
            use_cache = 0;
        }

        for (i = 0; use_cache && i < n; i++) {
            set = ngx_http_auth_jwt_key_set(ajcf, ctx, i);
            generations[i] = set->generation;
        }
    }

    if (use_cache) {
        sources[0] = ajcf->keys;
        sources[1] = ajcf->key_requests;

        parts[0].data = (u_char *) sources;
        parts[0].len = sizeof(sources);
        parts[1].data = (u_char *) generations;
        parts[1].len = n * sizeof(uint64_t);
        parts[2].data = (u_char *) &ajcf->type;
        parts[2].len = sizeof(ngx_uint_t);
        parts[3] = ctx->raw;

        if (ngx_gw_sha256(parts, 4, digest) != NGX_OK) {
            return NGX_HTTP_AUTH_JWT_ERROR;
        }

        cached = ngx_http_auth_jwt_cache_lookup(&ajmcf->cache, digest,
                                                ngx_time());
        if (cached) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "auth_jwt: token in the verified-token cache");

            ngx_memcpy(ctx->cek, cached->cek, cached->cek_len);
            ctx->cek_len = cached->cek_len;

            return ngx_http_auth_jwt_clock_check(&cached->clock, ngx_time(),
                                                 ajcf->leeway, reason);
        }
    }

    if (ctx->decoded) {

        /* decoded while the keys were fetched: time has passed since */

        status = ngx_http_auth_jwt_clock_check(&ctx->clock, ngx_time(),
                                               ajcf->leeway, reason);
    } else {
        status = ngx_http_auth_jwt_decode(r, ajcf, ctx, reason);
    }

    if (status != NGX_HTTP_AUTH_JWT_VALID) {
        return status;
    }

    status = ngx_http_auth_jwt_verify_token(r, ajcf, ctx, reason);

    if (status != NGX_HTTP_AUTH_JWT_VALID) {
        return status;
    }

    if (use_cache) {
        ngx_http_auth_jwt_cache_insert(&ajmcf->cache, digest,
                                       ngx_time() + ajmcf->cache.valid,
                                       &ctx->clock,
                                       ctx->jwe ? &ctx->jwe->cek : NULL);
    }

    return NGX_HTTP_AUTH_JWT_VALID;
}


/*
 * A JWS is verified; a JWE is decrypted, its payload read, and under
 * "nested" its inner JWS verified, both with the keys of every source;
 * then its times are checked, which only the payload tells.
 */

static ngx_http_auth_jwt_status_e
ngx_http_auth_jwt_verify_token(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx,
    const char **reason)
{
    ngx_int_t                      rc;
    ngx_uint_t                     i, n, tried;
    ngx_http_auth_jwt_token_t      inner;
    ngx_http_auth_jwt_status_e     status;
    ngx_http_auth_jwt_key_set_t   *set;

    if (ctx->jwe == NULL) {
        return ngx_http_auth_jwt_verify_sets(r, ajcf, ctx, &ctx->token,
                                             reason);
    }

    n = ajcf->key_requests ? ajcf->key_requests->nelts : 0;
    tried = 0;
    rc = NGX_DECLINED;

    if (ajcf->keys) {
        rc = ngx_http_auth_jwt_jwe_decrypt(r->pool, ctx->jwe, ajcf->keys,
                                           r->connection->log, &tried);
    }

    for (i = 0; rc == NGX_DECLINED && i < n; i++) {
        set = ngx_http_auth_jwt_key_set(ajcf, ctx, i);

        rc = ngx_http_auth_jwt_jwe_decrypt(r->pool, ctx->jwe, set->keys,
                                           r->connection->log, &tried);
    }

    /* a wrong key, a wrong tag and a wrong length read the same */

    if (rc == NGX_DECLINED) {
        if (tried) {
            *reason = "decryption failed";
            return NGX_HTTP_AUTH_JWT_BAD_SIGNATURE;
        }

        *reason = "no key fits \"kid\", \"alg\" and \"enc\"";
        return NGX_HTTP_AUTH_JWT_NO_KEY;
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_AUTH_JWT_ERROR;
    }

    rc = ngx_http_auth_jwt_jwe_payload(r->pool, ctx->jwe, ajcf->type,
                                       &ctx->token, &inner, reason);
    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_HTTP_AUTH_JWT_MALFORMED
                                    : NGX_HTTP_AUTH_JWT_ERROR;
    }

    if (ajcf->type == NGX_HTTP_AUTH_JWT_NESTED) {
        status = ngx_http_auth_jwt_verify_sets(r, ajcf, ctx, &inner, reason);

        if (status != NGX_HTTP_AUTH_JWT_VALID) {
            return status;
        }
    }

    ctx->decoded = 1;

    if (ngx_gw_claim_clock(&ctx->token.claims, &ctx->clock, reason)
        != NGX_OK)
    {
        return NGX_HTTP_AUTH_JWT_MALFORMED;
    }

    return ngx_http_auth_jwt_clock_check(&ctx->clock, ngx_time(),
                                         ajcf->leeway, reason);
}


/* a JWS's signature, with the keys of every source of the location */

static ngx_http_auth_jwt_status_e
ngx_http_auth_jwt_verify_sets(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx,
    ngx_http_auth_jwt_token_t *token, const char **reason)
{
    ngx_int_t                      rc;
    ngx_uint_t                     i, n, tried;
    ngx_http_auth_jwt_key_set_t   *set;

    n = ajcf->key_requests ? ajcf->key_requests->nelts : 0;
    tried = 0;
    rc = NGX_DECLINED;

    if (ajcf->keys) {
        rc = ngx_http_auth_jwt_verify(token, ajcf->keys, r->connection->log,
                                      &tried);
    }

    for (i = 0; rc == NGX_DECLINED && i < n; i++) {
        set = ngx_http_auth_jwt_key_set(ajcf, ctx, i);

        rc = ngx_http_auth_jwt_verify(token, set->keys, r->connection->log,
                                      &tried);
    }

    if (rc == NGX_DECLINED) {
        if (tried) {
            *reason = "signature mismatch";
            return NGX_HTTP_AUTH_JWT_BAD_SIGNATURE;
        }

        *reason = "no key fits \"kid\" and \"alg\"";
        return NGX_HTTP_AUTH_JWT_NO_KEY;
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_AUTH_JWT_ERROR;
    }

    return NGX_HTTP_AUTH_JWT_VALID;
}


/*
 * The keys of the location's i-th key source for this request: those it
 * fetched, read or waited for, or else the latest, which
 * ngx_http_auth_jwt_keys_ready() found usable.
 */

static ngx_http_auth_jwt_key_set_t *
ngx_http_auth_jwt_key_set(ngx_http_auth_jwt_loc_conf_t *ajcf,
    ngx_http_auth_jwt_ctx_t *ctx, ngx_uint_t i)
{
    return ngx_http_auth_jwt_sources_set(ajcf->key_requests, &ctx->keys, i);
}


/*
 * What can be checked without the keys: a JWS's form and its times, a
 * JWE's form (its times are encrypted)
 */

static ngx_http_auth_jwt_status_e
ngx_http_auth_jwt_decode(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx,
    const char **reason)
{
    ngx_int_t                 rc;
    ngx_http_auth_jwt_jwe_t  *jwe;

    if (ajcf->type != NGX_HTTP_AUTH_JWT_SIGNED) {
        if (ctx->jwe) {
            return NGX_HTTP_AUTH_JWT_VALID;
        }

        jwe = ngx_palloc(r->pool, sizeof(ngx_http_auth_jwt_jwe_t));
        if (jwe == NULL) {
            return NGX_HTTP_AUTH_JWT_ERROR;
        }

        rc = ngx_http_auth_jwt_jwe_decode(r->pool, &ctx->raw, jwe, reason);
        if (rc != NGX_OK) {
            return (rc == NGX_DECLINED) ? NGX_HTTP_AUTH_JWT_MALFORMED
                                        : NGX_HTTP_AUTH_JWT_ERROR;
        }

        ctx->jwe = jwe;

        return NGX_HTTP_AUTH_JWT_VALID;
    }

    rc = ngx_http_auth_jwt_token_decode(r->pool, &ctx->raw, &ctx->token,
                                        reason);
    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_HTTP_AUTH_JWT_MALFORMED
                                    : NGX_HTTP_AUTH_JWT_ERROR;
    }

    ctx->decoded = 1;

    if (ngx_gw_claim_clock(&ctx->token.claims, &ctx->clock, reason)
        != NGX_OK)
    {
        return NGX_HTTP_AUTH_JWT_MALFORMED;
    }

    return ngx_http_auth_jwt_clock_check(&ctx->clock, ngx_time(),
                                         ajcf->leeway, reason);
}


/*
 * A token the cache let through is decoded when its claims are asked for;
 * a JWE is opened again with the content key the cache kept.
 */

static ngx_http_auth_jwt_token_t *
ngx_http_auth_jwt_decoded(ngx_http_request_t *r, ngx_http_auth_jwt_ctx_t *ctx)
{
    ngx_pool_t                 *pool;
    const char                 *reason;
    ngx_http_auth_jwt_token_t   inner;

    if (ctx->decoded) {
        return &ctx->token;
    }

    pool = r->main->pool;

    if (ctx->conf->type == NGX_HTTP_AUTH_JWT_SIGNED) {
        if (ngx_http_auth_jwt_token_decode(pool, &ctx->raw, &ctx->token,
                                           &reason)
            != NGX_OK)
        {
            return NULL;
        }

    } else {
        if (ctx->jwe == NULL) {
            ctx->jwe = ngx_palloc(pool, sizeof(ngx_http_auth_jwt_jwe_t));

            if (ctx->jwe == NULL
                || ngx_http_auth_jwt_jwe_decode(pool, &ctx->raw, ctx->jwe,
                                                &reason)
                   != NGX_OK)
            {
                return NULL;
            }
        }

        if (ngx_http_auth_jwt_jwe_open(pool, ctx->jwe, ctx->cek,
                                       ctx->cek_len)
            != NGX_OK
            || ngx_http_auth_jwt_jwe_payload(pool, ctx->jwe, ctx->conf->type,
                                             &ctx->token, &inner, &reason)
               != NGX_OK)
        {
            return NULL;
        }
    }

    ctx->decoded = 1;

    return &ctx->token;
}


static ngx_int_t
ngx_http_auth_jwt_token_value(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_str_t *value)
{
    if (ajcf->token) {
        return ngx_http_complex_value(r, ajcf->token, value);
    }

    ngx_gw_challenge_bearer(r, value);

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_jwt_fetch_keys(ngx_http_request_t *r,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_http_auth_jwt_ctx_t *ctx)
{
    return ngx_http_auth_jwt_sources_fetch(r, ajcf->key_requests,
                                           ajcf->key_cache, &ctx->keys);
}


/* the bodies of key requests are captured here, not sent anywhere */

static ngx_int_t
ngx_http_auth_jwt_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t  rc;

    rc = ngx_http_auth_jwt_sources_capture(r, in);

    if (rc == NGX_DECLINED) {
        return ngx_http_next_body_filter(r, in);
    }

    return rc;
}



static ngx_int_t
ngx_http_auth_jwt_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_auth_jwt_ctx_t       *ctx;
    ngx_http_auth_jwt_loc_conf_t  *ajcf;

    ajcf = ngx_http_get_module_loc_conf(r, ngx_http_auth_jwt_module);

    if (ajcf->realm == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_auth_jwt_check(r);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->status == NGX_HTTP_AUTH_JWT_UNCHECKED) {
        rc = ngx_http_auth_jwt_fetch_keys(r, ajcf, ctx);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc != NGX_OK) {
            ctx->status = (rc == NGX_DECLINED)
                          ? NGX_HTTP_AUTH_JWT_KEY_FETCH_FAILED
                          : NGX_HTTP_AUTH_JWT_ERROR;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx = ngx_http_auth_jwt_check(r);
    }

    switch (ctx->status) {

    case NGX_HTTP_AUTH_JWT_VALID:
        rc = ngx_gw_require_check(r, ajcf->require, "auth_jwt");

        if (rc == NGX_OK) {
            return NGX_OK;
        }

        ctx->denied = rc;

        if (rc == NGX_HTTP_UNAUTHORIZED) {
            return ngx_gw_challenge_token(r, ajcf->realm, 1,
                                          &ctx->challenge);
        }

        return rc;

    case NGX_HTTP_AUTH_JWT_MISSING:
        return ngx_gw_challenge_token(r, ajcf->realm, 0,
                                      &ctx->challenge);

    case NGX_HTTP_AUTH_JWT_EXPIRED:
    case NGX_HTTP_AUTH_JWT_NOT_YET_VALID:
    case NGX_HTTP_AUTH_JWT_BAD_SIGNATURE:
    case NGX_HTTP_AUTH_JWT_NO_KEY:
    case NGX_HTTP_AUTH_JWT_MALFORMED:
        return ngx_gw_challenge_token(r, ajcf->realm, 1,
                                      &ctx->challenge);

    case NGX_HTTP_AUTH_JWT_UNCHECKED:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_jwt: keys fetched but not at hand");
        ctx->status = NGX_HTTP_AUTH_JWT_ERROR;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/*
 * The request got past the access phase: no challenge of ours is due,
 * even if a module that ran after ours took over the pointer that
 * "satisfy any" clears.
 */

static ngx_int_t
ngx_http_auth_jwt_let_in(ngx_http_request_t *r)
{
    ngx_http_auth_jwt_ctx_t  *ctx;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_jwt_module);

    if (ctx && ctx->challenge) {
        ctx->challenge->hash = 0;
        ctx->challenge = NULL;
    }

    return NGX_DECLINED;
}


/* a prefix variable's data is its full name, set by nginx */

static ngx_int_t
ngx_http_auth_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  *name = (ngx_str_t *) data;

    ngx_http_auth_jwt_ctx_t    *ctx;
    ngx_http_auth_jwt_token_t  *token;

    ctx = ngx_http_auth_jwt_check(r);

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_JWT_VALID) {
        return ngx_http_auth_jwt_member_value(r, v, ctx, NULL, name);
    }

    token = ngx_http_auth_jwt_decoded(r, ctx);
    if (token == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_auth_jwt_member_value(r, v, ctx,
               ngx_gw_json_member(&token->claims,
                                  name->data + sizeof("jwt_claim_") - 1,
                                  name->len - sizeof("jwt_claim_") + 1),
               name);
}


static ngx_int_t
ngx_http_auth_jwt_header_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  *name = (ngx_str_t *) data;

    ngx_http_auth_jwt_ctx_t    *ctx;
    ngx_http_auth_jwt_token_t  *token;

    ctx = ngx_http_auth_jwt_check(r);

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_JWT_VALID) {
        return ngx_http_auth_jwt_member_value(r, v, ctx, NULL, name);
    }

    token = ngx_http_auth_jwt_decoded(r, ctx);
    if (token == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_auth_jwt_member_value(r, v, ctx,
               ngx_gw_json_member(&token->header,
                                  name->data + sizeof("jwt_header_") - 1,
                                  name->len - sizeof("jwt_header_") + 1),
               name);
}


/* a member of nested objects, named by auth_jwt_claim_set's path */

static ngx_int_t
ngx_http_auth_jwt_claim_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_auth_jwt_claim_set_t *cs = (ngx_http_auth_jwt_claim_set_t *) data;

    ngx_gw_json_member_t     *member;
    ngx_http_auth_jwt_ctx_t  *ctx;

    if (ngx_http_auth_jwt_claim_path(r, cs, &ctx, &member) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_auth_jwt_member_value(r, v, ctx, member, &cs->name);
}


/*
 * auth_jwt_claim_contains: "1" if the claim holds the value, "0" if it
 * does not or is missing, empty without a valid token
 */

static ngx_int_t
ngx_http_auth_jwt_contains_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_auth_jwt_claim_set_t *cs = (ngx_http_auth_jwt_claim_set_t *) data;

    ngx_int_t                 rc;
    ngx_gw_json_member_t     *member;
    ngx_http_auth_jwt_ctx_t  *ctx;

    rc = ngx_http_auth_jwt_claim_path(r, cs, &ctx, &member);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_auth_jwt_member_value(r, v, ctx, NULL, &cs->name);
    }

    rc = 0;

    if (member) {
        rc = ngx_gw_claim_contains(r->pool, member, &cs->value, cs->words);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    /* never cached, as ngx_http_auth_jwt_member_value() says */

    v->data = (u_char *) (rc ? "1" : "0");
    v->len = 1;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* the member cs names, or NULL; NGX_DECLINED without a valid token */

static ngx_int_t
ngx_http_auth_jwt_claim_path(ngx_http_request_t *r,
    ngx_http_auth_jwt_claim_set_t *cs, ngx_http_auth_jwt_ctx_t **pctx,
    ngx_gw_json_member_t **found)
{
    ngx_http_auth_jwt_ctx_t    *ctx;
    ngx_http_auth_jwt_token_t  *token;

    *found = NULL;

    ctx = ngx_http_auth_jwt_check(r);
    *pctx = ctx;

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_JWT_VALID) {
        return NGX_DECLINED;
    }

    token = ngx_http_auth_jwt_decoded(r, ctx);
    if (token == NULL) {
        return NGX_ERROR;
    }

    return ngx_gw_claim_path(r->pool,
                             cs->header ? &token->header : &token->claims,
                             cs->path.elts, cs->path.nelts, found);
}


/*
 * name is the variable's, for the log; never cached: a later read may be
 * under another location's keys, see ngx_http_auth_jwt_check()
 */

static ngx_int_t
ngx_http_auth_jwt_member_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_http_auth_jwt_ctx_t *ctx,
    ngx_gw_json_member_t *member, ngx_str_t *name)
{
    return ngx_gw_claim_value(r, v, member, name, "auth_jwt",
                              ctx ? &ctx->control_logged : NULL);
}


static ngx_int_t
ngx_http_auth_jwt_payload_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    static ngx_str_t            name = ngx_string("jwt_payload");
    ngx_gw_json_member_t        payload;
    ngx_http_auth_jwt_ctx_t    *ctx;
    ngx_http_auth_jwt_token_t  *token;

    ctx = ngx_http_auth_jwt_check(r);

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_JWT_VALID) {
        return ngx_http_auth_jwt_member_value(r, v, ctx, NULL, &name);
    }

    token = ngx_http_auth_jwt_decoded(r, ctx);
    if (token == NULL) {
        return NGX_ERROR;
    }

    payload.type = NGX_GW_JSON_OBJECT;
    payload.value = token->payload_json;

    return ngx_http_auth_jwt_member_value(r, v, ctx, &payload, &name);
}


/*
 * Only reads the verdict: a check started here, say in the log phase of a
 * request another module refused before the access phase, would verify a
 * token that nothing acts on, and log about it.
 */

static ngx_int_t
ngx_http_auth_jwt_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                      *p, *last;
    ngx_http_auth_jwt_ctx_t     *ctx;
    ngx_http_auth_jwt_status_e   status;

    ctx = ngx_http_auth_jwt_verdict(r);

    if (ctx == NULL || ctx->status == NGX_HTTP_AUTH_JWT_UNCHECKED) {
        v->not_found = 1;
        return NGX_OK;
    }

    status = ctx->status;

    if (status == NGX_HTTP_AUTH_JWT_VALID && ctx->denied) {
        status = (ctx->denied == NGX_HTTP_INTERNAL_SERVER_ERROR)
                 ? NGX_HTTP_AUTH_JWT_ERROR : NGX_HTTP_AUTH_JWT_REQUIRE_FAILED;
    }

    v->data = ngx_http_auth_jwt_status_names[status].data;
    v->len = ngx_http_auth_jwt_status_names[status].len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    /* what the keys of auth_jwt_key_zone did for the request */

    if (!ctx->keys.stale && !ctx->keys.waited) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, v->len + sizeof(":" NGX_GW_DECISION_STALE_KEYS)
                             + sizeof(":" NGX_GW_DECISION_KEY_WAIT));
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_cpymem(p, v->data, v->len);

    if (ctx->keys.stale) {
        *last++ = NGX_GW_DECISION_FIELD_SEP;
        last = ngx_cpymem(last, NGX_GW_DECISION_STALE_KEYS,
                          sizeof(NGX_GW_DECISION_STALE_KEYS) - 1);
    }

    if (ctx->keys.waited) {
        *last++ = NGX_GW_DECISION_FIELD_SEP;
        last = ngx_cpymem(last, NGX_GW_DECISION_KEY_WAIT,
                          sizeof(NGX_GW_DECISION_KEY_WAIT) - 1);
    }

    v->data = p;
    v->len = last - p;

    return NGX_OK;
}


/*
 * "ok:N, failed:N": the fetches of auth_jwt_key_zone since it was made,
 * by every worker, for gateway_metrics to read when it is scraped
 */

static ngx_int_t
ngx_http_auth_jwt_key_fetches_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                         *p;
    ngx_atomic_uint_t               fetches, failures;
    ngx_http_auth_jwt_main_conf_t  *ajmcf;

    ajmcf = ngx_http_get_module_main_conf(r, ngx_http_auth_jwt_module);

    if (ajmcf->store == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, 2 * NGX_ATOMIC_T_LEN + sizeof("ok:, failed:"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_http_auth_jwt_store_counters(ajmcf->store, &fetches, &failures);

    /* the failed are fetches too: ok counts the others */

    v->data = p;
    v->len = ngx_sprintf(p, NGX_GW_DECISION_KEY_FETCHED "%c%uA"
                         NGX_GW_DECISION_ENTRY_SEP
                         NGX_GW_DECISION_KEY_FETCH_FAILED "%c%uA",
                         NGX_GW_DECISION_FIELD_SEP, fetches,
                         NGX_GW_DECISION_FIELD_SEP, failures)
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_jwt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_auth_jwt_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_auth_jwt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_auth_jwt_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_jwt_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->cache.size = NGX_CONF_UNSET_UINT;
    conf->cache.valid = NGX_CONF_UNSET;

    if (ngx_array_init(&conf->sources, cf->pool, 4, sizeof(void *))
        != NGX_OK
        || ngx_array_init(&conf->refreshed, cf->pool, 4, sizeof(void *))
           != NGX_OK)
    {
        return NULL;
    }

    return conf;
}


static char *
ngx_http_auth_jwt_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_auth_jwt_main_conf_t *ajmcf = conf;

    ngx_uint_t                        i;
    ngx_http_auth_jwt_key_source_t  **kd, **refreshed;

    /* key requests keep their keys in the zone, wherever it was set */

    kd = ajmcf->sources.elts;

    for (i = 0; ajmcf->store && i < ajmcf->sources.nelts; i++) {
        if (kd[i]->type != NGX_HTTP_AUTH_JWT_SOURCE_REQUEST) {
            continue;
        }

        kd[i]->store = ajmcf->store;

        refreshed = ngx_array_push(&ajmcf->refreshed);
        if (refreshed == NULL) {
            return NGX_CONF_ERROR;
        }

        *refreshed = kd[i];
    }

    ngx_conf_init_uint_value(ajmcf->cache.size, 1024);
    ngx_conf_init_value(ajmcf->cache.valid, 60);

    if (ngx_http_auth_jwt_crypto_init(cf->pool) != NGX_OK) {
        return "needs SHA-2 digests from OpenSSL";
    }

    if (ngx_http_auth_jwt_jwe_init(cf->pool) != NGX_OK) {
        return "needs AES (GCM, CBC, key wrap), SHA-1, SHA-2 and HMAC from "
               "OpenSSL";
    }

    if (ngx_http_auth_jwt_cache_init(cf->pool, &ajmcf->cache) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_auth_jwt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_auth_jwt_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_jwt_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->file = { 0, NULL };
     *     conf->line = 0;
     */

    conf->realm = NGX_CONF_UNSET_PTR;
    conf->token = NGX_CONF_UNSET_PTR;
    conf->keys = NGX_CONF_UNSET_PTR;
    conf->key_requests = NGX_CONF_UNSET_PTR;
    conf->key_cache = NGX_CONF_UNSET;
    conf->leeway = NGX_CONF_UNSET;
    conf->require = NGX_CONF_UNSET_PTR;
    conf->type = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_auth_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_auth_jwt_loc_conf_t  *prev = parent;
    ngx_http_auth_jwt_loc_conf_t  *conf = child;

    ngx_uint_t                        i, use, need;
    ngx_http_auth_jwt_key_source_t  **kd;

    static char  *types[] = { "signed", "encrypted", "nested" };

    if (conf->realm == NGX_CONF_UNSET_PTR) {
        conf->realm = prev->realm;
        conf->token = prev->token;
        conf->file = prev->file;
        conf->line = prev->line;
    }

    ngx_conf_merge_ptr_value(conf->realm, NULL, NULL);
    ngx_conf_merge_ptr_value(conf->token, NULL, NULL);

    /* key files and key requests are one set of keys, inherited whole */

    if (conf->keys == NGX_CONF_UNSET_PTR
        && conf->key_requests == NGX_CONF_UNSET_PTR)
    {
        conf->keys = prev->keys;
        conf->key_requests = prev->key_requests;
    }

    ngx_conf_merge_ptr_value(conf->keys, NULL, NULL);
    ngx_conf_merge_ptr_value(conf->key_requests, NULL, NULL);
    ngx_conf_merge_sec_value(conf->key_cache, prev->key_cache, 0);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 0);
    ngx_conf_merge_ptr_value(conf->require, prev->require, NULL);
    ngx_conf_merge_uint_value(conf->type, prev->type,
                              NGX_HTTP_AUTH_JWT_SIGNED);

    if (conf->realm == NULL) {
        return NGX_CONF_OK;
    }

    /*
     * a key source is refreshed for the shortest key cache of the
     * locations that check tokens with it, in the background through the
     * first server with such a location
     */

    if (conf->realm && conf->key_requests && conf->key_cache) {
        kd = conf->key_requests->elts;

        for (i = 0; i < conf->key_requests->nelts; i++) {
            if (kd[i]->valid == 0 || conf->key_cache < kd[i]->valid) {
                kd[i]->valid = conf->key_cache;
            }

            if (kd[i]->srv_conf == NULL) {
                kd[i]->srv_conf = ((ngx_http_conf_ctx_t *) cf->ctx)->srv_conf;
            }

            if (kd[i]->fixed) {
                kd[i]->fixed->srv_conf = kd[i]->srv_conf;
            }
        }
    }

    /* unlike NGINX Plus, never accept a token whose signature went unseen */

    if (conf->keys == NULL && conf->key_requests == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"auth_jwt\" in %V:%ui has no key: add "
                      "\"auth_jwt_key_file\" or \"auth_jwt_key_request\" "
                      "where it applies", &conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    /* key files alone must hold the keys the type needs */

    if (conf->key_requests) {
        return NGX_CONF_OK;
    }

    use = ngx_http_auth_jwt_keys_use(conf->keys);

    need = (conf->type == NGX_HTTP_AUTH_JWT_SIGNED)
           ? NGX_HTTP_AUTH_JWT_USE_SIG
           : (conf->type == NGX_HTTP_AUTH_JWT_ENCRYPTED)
             ? NGX_HTTP_AUTH_JWT_USE_ENC
             : NGX_HTTP_AUTH_JWT_USE_SIG | NGX_HTTP_AUTH_JWT_USE_ENC;

    if ((use & need) != need) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"auth_jwt\" in %V:%ui with \"auth_jwt_type %s\" has "
                      "no %s in its key files",
                      &conf->file, conf->line, types[conf->type],
                      (need & ~use & NGX_HTTP_AUTH_JWT_USE_SIG)
                      ? "signature key" : "decryption key");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* auth_jwt realm [token=$variable] | off */

static char *
ngx_http_auth_jwt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_jwt_loc_conf_t *ajcf = conf;

    if (ajcf->realm != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    ajcf->file = cf->conf_file->file.name;
    ajcf->line = cf->conf_file->line;

    return ngx_gw_challenge_conf(cf, "token=", &ajcf->realm, &ajcf->token);
}


static char *
ngx_http_auth_jwt_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_jwt_loc_conf_t *ajcf = conf;

    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t        *value, name, json;
    ngx_file_t        file;
    const char       *error;
    ngx_file_info_t   fi;

    value = cf->args->elts;
    name = value[1];

    /* with variables, a source of keys read at the first request */

    if (ngx_strlchr(name.data, name.data + name.len, '$')) {
        return ngx_http_auth_jwt_key_source(cf, ajcf,
                                            NGX_HTTP_AUTH_JWT_SOURCE_FILE,
                                            &value[1]);
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ajcf->keys == NGX_CONF_UNSET_PTR) {
        ajcf->keys = ngx_http_auth_jwt_keys_create(cf->pool);
        if (ajcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = name;
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        goto failed;
    }

    json.len = ngx_file_size(&fi);

    if (json.len > NGX_HTTP_AUTH_JWT_MAX_KEYS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" is larger than 1m", &name);
        goto failed;
    }

    json.data = ngx_pnalloc(cf->temp_pool, json.len);
    if (json.data == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, json.data, json.len, 0);

    if (n != (ssize_t) json.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "could not read key file \"%V\"", &name);
        goto failed;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    if (ngx_http_auth_jwt_jwks_parse(cf->pool, cf->log, NGX_LOG_NOTICE, &json,
                                     ajcf->keys, &error)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid key file \"%V\": %s", &name, error);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

failed:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    return NGX_CONF_ERROR;
}


static char *
ngx_http_auth_jwt_key_request(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_jwt_loc_conf_t *ajcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    /* a value that starts with a variable is checked for each request */

    if (value[1].data[0] != '/' && value[1].data[0] != '$') {
        return "needs a URI starting with \"/\"";
    }

    return ngx_http_auth_jwt_key_source(cf, ajcf,
                                        NGX_HTTP_AUTH_JWT_SOURCE_REQUEST,
                                        &value[1]);
}


/*
 * The keys a request names, of auth_jwt_key_request and of
 * auth_jwt_key_file with variables, in the order of the directives.
 */

static char *
ngx_http_auth_jwt_key_source(ngx_conf_t *cf,
    ngx_http_auth_jwt_loc_conf_t *ajcf, ngx_uint_t type, ngx_str_t *value)
{
    ngx_http_auth_jwt_main_conf_t    *ajmcf;
    ngx_http_auth_jwt_key_source_t  **kd, **all;

    ajmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_auth_jwt_module);

    if (ajcf->key_requests == NGX_CONF_UNSET_PTR) {
        ajcf->key_requests = ngx_array_create(cf->pool, 2, sizeof(void *));
        if (ajcf->key_requests == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    kd = ngx_array_push(ajcf->key_requests);
    all = ngx_array_push(&ajmcf->sources);

    if (kd == NULL || all == NULL) {
        return NGX_CONF_ERROR;
    }

    *kd = ngx_http_auth_jwt_source_conf(cf, type, value);
    if (*kd == NULL) {
        return NGX_CONF_ERROR;
    }

    *all = *kd;

    return NGX_CONF_OK;
}


/* auth_jwt_key_zone name:size [stale=time] [unknown_kid=time] */

static char *
ngx_http_auth_jwt_key_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_jwt_main_conf_t *ajmcf = conf;

    ssize_t                     size;
    ngx_str_t                  *value, name, s;
    ngx_int_t                   ms;
    ngx_uint_t                  i;
    ngx_shm_zone_t             *shm_zone;
    ngx_http_auth_jwt_store_t  *store;

    if (ajmcf->store) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_gw_conf_zone(cf, &value[1], "", &name, &size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    store = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_jwt_store_t));
    if (store == NULL) {
        return NGX_CONF_ERROR;
    }

    store->stale = 3600;
    store->unknown_kid = 10000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "stale=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            store->stale = ngx_parse_time(&s, 1);

            if (store->stale == (time_t) NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid time \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "unknown_kid=", 12) == 0) {
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;

            ms = ngx_parse_time(&s, 0);

            if (ms == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid time \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            store->unknown_kid = (ngx_msec_t) ms;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_auth_jwt_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already declared", &name);
        return NGX_CONF_ERROR;
    }

    store->shm_zone = shm_zone;

    shm_zone->init = ngx_http_auth_jwt_store_init_zone;
    shm_zone->data = store;

    ajmcf->store = store;

    return NGX_CONF_OK;
}


/* auth_jwt_require $value ... [error=401|403] */

static char *
ngx_http_auth_jwt_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_jwt_loc_conf_t *ajcf = conf;

    return ngx_gw_require_conf(cf, &ajcf->require);
}


/*
 * auth_jwt_claim_set $variable name ...; auth_jwt_header_set likewise;
 * auth_jwt_claim_contains $variable name ... value
 */

static char *
ngx_http_auth_jwt_claim_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                           *rv;
    ngx_str_t                      *value, *name;
    ngx_uint_t                      i, n;
    ngx_http_variable_t            *v;
    ngx_http_auth_jwt_claim_set_t  *cs;

    value = cf->args->elts;
    n = cf->args->nelts;

    if (value[1].data[0] != '$' || value[1].len < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    value[1].data++;
    value[1].len--;

    cs = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_jwt_claim_set_t));
    if (cs == NULL) {
        return NGX_CONF_ERROR;
    }

    cs->name = value[1];
    cs->header = (cmd->offset == NGX_HTTP_AUTH_JWT_SET_HEADER);

    if (cmd->offset == NGX_HTTP_AUTH_JWT_SET_CONTAINS) {
        rv = ngx_gw_claim_contains_conf(cf, &n, &cs->value, &cs->words);

        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (ngx_array_init(&cs->path, cf->pool, n - 2, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < n; i++) {
        name = ngx_array_push(&cs->path);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    v = ngx_http_add_variable(cf, &value[1], NGX_HTTP_VAR_CHANGEABLE);
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    v->get_handler = (cmd->offset == NGX_HTTP_AUTH_JWT_SET_CONTAINS)
                     ? ngx_http_auth_jwt_contains_variable
                     : ngx_http_auth_jwt_claim_set_variable;
    v->data = (uintptr_t) cs;

    return NGX_CONF_OK;
}


/* auth_jwt_type signed | encrypted | nested */

static char *
ngx_http_auth_jwt_type(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_jwt_loc_conf_t *ajcf = conf;

    ngx_str_t  *value;

    if (ajcf->type != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "signed") == 0) {
        ajcf->type = NGX_HTTP_AUTH_JWT_SIGNED;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "encrypted") == 0) {
        ajcf->type = NGX_HTTP_AUTH_JWT_ENCRYPTED;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "nested") == 0) {
        ajcf->type = NGX_HTTP_AUTH_JWT_NESTED;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\": \"signed\", \"encrypted\" or "
                       "\"nested\" expected", &value[1]);
    return NGX_CONF_ERROR;
}


/* auth_jwt_verified_cache off | number [valid=time] */

static char *
ngx_http_auth_jwt_verified_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_jwt_main_conf_t *ajmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value, s;

    if (ajmcf->cache.size != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no parameters with \"off\"";
        }

        ajmcf->cache.size = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of tokens \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    ajmcf->cache.size = n;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "valid=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 6;
        s.len = value[2].len - 6;

        ajmcf->cache.valid = ngx_parse_time(&s, 1);

        if (ajmcf->cache.valid == (time_t) NGX_ERROR
            || ajmcf->cache.valid == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid time \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_auth_jwt_init_process(ngx_cycle_t *cycle)
{
    ngx_http_auth_jwt_main_conf_t  *ajmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ajmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                ngx_http_auth_jwt_module);
    if (ajmcf == NULL) {
        return NGX_OK;
    }

    return ngx_http_auth_jwt_sources_init_process(cycle, &ajmcf->refreshed);
}


static ngx_int_t
ngx_http_auth_jwt_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_auth_jwt_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_auth_jwt_let_in;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_auth_jwt_body_filter;

    return NGX_OK;
}
