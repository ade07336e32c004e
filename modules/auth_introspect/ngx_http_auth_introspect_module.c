
/*
 * OAuth 2.0 token introspection (RFC 7662): opaque tokens, and session
 * cookies, checked by asking their issuer, with the answers kept in
 * shared memory.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_introspect.h"
#include "ngx_gw_challenge.h"
#include "ngx_gw_conf.h"
#include "ngx_gw_decision.h"
#include "ngx_gw_require.h"


typedef struct {
    ngx_array_t                       endpoints;  /* of endpoint_t * */
} ngx_http_auth_introspect_main_conf_t;


/* an auth_introspect_claim_contains variable */
typedef struct {
    ngx_str_t                         name;
    ngx_array_t                       path;       /* of ngx_str_t */
    ngx_str_t                         value;
    ngx_uint_t                        words;
} ngx_http_auth_introspect_contains_t;


static ngx_http_auth_introspect_ctx_t *ngx_http_auth_introspect_check(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_introspect_token(ngx_http_request_t *r,
    ngx_http_auth_introspect_ctx_t *ctx);
static void ngx_http_auth_introspect_settle(ngx_http_request_t *r,
    ngx_http_auth_introspect_ctx_t *ctx);
static ngx_http_auth_introspect_ctx_t *ngx_http_auth_introspect_verdict(
    ngx_http_request_t *r);
static void ngx_http_auth_introspect_cleanup(void *data);
static ngx_int_t ngx_http_auth_introspect_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_introspect_let_in(ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_introspect_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_array_t *ngx_http_auth_introspect_members(ngx_http_request_t *r,
    ngx_http_auth_introspect_ctx_t *ctx);
static ngx_int_t ngx_http_auth_introspect_claim_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_introspect_response_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_introspect_contains_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_introspect_status_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_introspect_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_http_auth_introspect_ctx_t *ctx,
    ngx_gw_json_member_t *member, ngx_str_t *name);
static ngx_int_t ngx_http_auth_introspect_add_variables(ngx_conf_t *cf);
static void *ngx_http_auth_introspect_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_auth_introspect_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_auth_introspect_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_auth_introspect(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_introspect_request(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_auth_introspect_cache(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_auth_introspect_require(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_auth_introspect_claim_contains(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_auth_introspect_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_auth_introspect_fail_codes[] = {
    { ngx_string("500"), NGX_HTTP_INTERNAL_SERVER_ERROR },
    { ngx_string("503"), NGX_HTTP_SERVICE_UNAVAILABLE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_auth_introspect_commands[] = {

    { ngx_string("auth_introspect"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE12,
      ngx_http_auth_introspect,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_introspect_request"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE12,
      ngx_http_auth_introspect_request,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_introspect_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE123,
      ngx_http_auth_introspect_cache,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_introspect_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_introspect_loc_conf_t, leeway),
      NULL },

    { ngx_string("auth_introspect_fail"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_introspect_loc_conf_t, fail),
      &ngx_http_auth_introspect_fail_codes },

    { ngx_string("auth_introspect_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_1MORE,
      ngx_http_auth_introspect_require,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_introspect_claim_contains"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_auth_introspect_claim_contains,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_auth_introspect_module_ctx = {
    ngx_http_auth_introspect_add_variables, /* preconfiguration */
    ngx_http_auth_introspect_init,         /* postconfiguration */

    ngx_http_auth_introspect_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_auth_introspect_create_loc_conf,
                                           /* create location configuration */
    ngx_http_auth_introspect_merge_loc_conf
                                           /* merge location configuration */
};


ngx_module_t  ngx_http_auth_introspect_module = {
    NGX_MODULE_V1,
    &ngx_http_auth_introspect_module_ctx,  /* module context */
    ngx_http_auth_introspect_commands,     /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


static ngx_http_variable_t  ngx_http_auth_introspect_vars[] = {

    { ngx_string("introspect_claim_"), NULL,
      ngx_http_auth_introspect_claim_variable, 0, NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("introspect_response"), NULL,
      ngx_http_auth_introspect_response_variable, 0, 0, 0 },

    { ngx_string(NGX_GW_DECISION_INTROSPECT_STATUS), NULL,
      ngx_http_auth_introspect_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_auth_introspect_status_names[] = {
    ngx_null_string,
    ngx_string("VALID"),
    ngx_string("MISSING"),
    ngx_string("MALFORMED"),
    ngx_string("INACTIVE"),
    ngx_string("EXPIRED"),
    ngx_string("NOT_YET_VALID"),
    ngx_string("INVALID_ANSWER"),
    ngx_string("REQUIRE_FAILED"),
    ngx_string("UNAVAILABLE"),
    ngx_string("ERROR")
};


/*
 * The verdict on the client request's token as far as it can be had now,
 * whichever asks first: the access phase, or a variable read before it
 * (a rate-limit key) or after it.  A token whose answer is in the zone is
 * decided here; one that must be asked about waits for the access phase,
 * the only place that asks.
 */

static ngx_http_auth_introspect_ctx_t *
ngx_http_auth_introspect_check(ngx_http_request_t *r)
{
    ngx_int_t                             rc;
    ngx_pool_cleanup_t                   *cln;
    ngx_http_auth_introspect_ctx_t       *ctx;
    ngx_http_auth_introspect_loc_conf_t  *conf;

    r = r->main;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_auth_introspect_module);

    if (conf->realm == NULL) {
        return NULL;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_introspect_module);

    if (ctx == NULL) {

        /* a cleanup, for ngx_http_auth_introspect_verdict() after a redirect */

        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_http_auth_introspect_ctx_t));
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_auth_introspect_cleanup;

        ctx = cln->data;
        ngx_memzero(ctx, sizeof(ngx_http_auth_introspect_ctx_t));

        ngx_http_set_ctx(r, ctx, ngx_http_auth_introspect_module);

    } else if (ctx->conf != conf
               && (ctx->state == NGX_HTTP_AUTH_INTROSPECT_IDLE
                   || ctx->state == NGX_HTTP_AUTH_INTROSPECT_ANSWERED
                   || ctx->state == NGX_HTTP_AUTH_INTROSPECT_FAILED)
               && !ctx->wake.posted && !ctx->wake.timer_set)
    {
        /*
         * the request moved on to a location with another endpoint or
         * conditions: a verdict reached under the old ones must not carry
         * over
         */

        ngx_memzero(ctx, sizeof(ngx_http_auth_introspect_ctx_t));
    }

    ctx->request = r;
    ctx->conf = conf;

    if (ctx->status != NGX_HTTP_AUTH_INTROSPECT_UNCHECKED) {
        return ctx;
    }

    if (!ctx->read) {
        rc = ngx_http_auth_introspect_token(r, ctx);

        if (rc != NGX_OK) {
            return ctx;
        }
    }

    if (ctx->state == NGX_HTTP_AUTH_INTROSPECT_IDLE && conf->cache) {
        rc = ngx_http_auth_introspect_cache_lookup(conf->cache->zone,
                                                   ctx->key.digest, 0,
                                                   r->pool, &ctx->answer);
        if (rc == NGX_ERROR) {
            ctx->status = NGX_HTTP_AUTH_INTROSPECT_ERROR;
            return ctx;
        }

        if (rc == NGX_OK) {
            ctx->state = NGX_HTTP_AUTH_INTROSPECT_ANSWERED;
        }
    }

    ngx_http_auth_introspect_settle(r, ctx);

    return ctx;
}


/*
 * The token, and its digest, which stands for it wherever it is kept: of
 * the endpoint's URI and the token, so that one zone may serve several
 * authorization servers.  NGX_DECLINED: there is no usable token, and the
 * status says so.
 */

static ngx_int_t
ngx_http_auth_introspect_token(ngx_http_request_t *r,
    ngx_http_auth_introspect_ctx_t *ctx)
{
    ngx_str_t                             parts[3];
    ngx_http_auth_introspect_loc_conf_t  *conf;

    conf = ctx->conf;

    if (conf->token == NULL) {
        ngx_gw_challenge_bearer(r, &ctx->token);

    } else if (ngx_http_complex_value(r, conf->token, &ctx->token) != NGX_OK) {
        ctx->status = NGX_HTTP_AUTH_INTROSPECT_ERROR;
        return NGX_ERROR;
    }

    if (ctx->token.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_introspect: no token");
        ctx->status = NGX_HTTP_AUTH_INTROSPECT_MISSING;
        return NGX_DECLINED;
    }

    if (ctx->token.len > NGX_HTTP_AUTH_INTROSPECT_MAX_TOKEN) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_introspect: rejected token: longer than 16k");
        ctx->status = NGX_HTTP_AUTH_INTROSPECT_MALFORMED;
        return NGX_DECLINED;
    }

    parts[0] = conf->endpoint->name;
    ngx_str_set(&parts[1], "\0");
    parts[2] = ctx->token;

    if (ngx_gw_sha256(parts, 3, ctx->key.digest) != NGX_OK) {
        ctx->status = NGX_HTTP_AUTH_INTROSPECT_ERROR;
        return NGX_ERROR;
    }

    ngx_memcpy(&ctx->key.node.key, ctx->key.digest, sizeof(ngx_rbtree_key_t));

    ctx->capture.max = NGX_HTTP_AUTH_INTROSPECT_MAX_ANSWER;
    ctx->read = 1;

    return NGX_OK;
}


/* the status, once the answer or the failure is at hand */

static void
ngx_http_auth_introspect_settle(ngx_http_request_t *r,
    ngx_http_auth_introspect_ctx_t *ctx)
{
    const char  *reason;

    switch (ctx->state) {

    case NGX_HTTP_AUTH_INTROSPECT_ANSWERED:
        ctx->status = ngx_http_auth_introspect_judge(&ctx->answer,
                                                     ctx->conf->leeway,
                                                     ngx_time(), &reason);

        if (ctx->status != NGX_HTTP_AUTH_INTROSPECT_VALID) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "auth_introspect: rejected token: %s", reason);
        }

        break;

    case NGX_HTTP_AUTH_INTROSPECT_FAILED:
        ctx->status = NGX_HTTP_AUTH_INTROSPECT_UNAVAILABLE;
        break;

    default:
        break;
    }
}


/*
 * The verdict as it stands, for $introspect_status: never a check of its
 * own.  An internal redirect clears the module contexts, so the context
 * is then found as the one the request's pool holds for cleanup.
 */

static ngx_http_auth_introspect_ctx_t *
ngx_http_auth_introspect_verdict(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_auth_introspect_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_introspect_module);
    if (ctx || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_auth_introspect_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


static void
ngx_http_auth_introspect_cleanup(void *data)
{
    ngx_http_auth_introspect_leave(data);
}


static ngx_int_t
ngx_http_auth_introspect_handler(ngx_http_request_t *r)
{
    ngx_int_t                             rc;
    ngx_http_auth_introspect_ctx_t       *ctx;
    ngx_http_auth_introspect_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_auth_introspect_module);

    if (conf->realm == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_auth_introspect_check(r);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->status == NGX_HTTP_AUTH_INTROSPECT_UNCHECKED) {
        rc = ngx_http_auth_introspect_ask(r, ctx);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc != NGX_OK) {
            ctx->status = NGX_HTTP_AUTH_INTROSPECT_ERROR;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_auth_introspect_settle(r, ctx);
    }

    switch (ctx->status) {

    case NGX_HTTP_AUTH_INTROSPECT_VALID:
        rc = ngx_gw_require_check(r, conf->require, "auth_introspect");

        if (rc == NGX_OK) {
            return NGX_OK;
        }

        ctx->denied = rc;

        if (rc == NGX_HTTP_UNAUTHORIZED) {
            return ngx_gw_challenge_token(r, conf->realm, 1,
                                          &ctx->challenge);
        }

        return rc;

    case NGX_HTTP_AUTH_INTROSPECT_MISSING:
        return ngx_gw_challenge_token(r, conf->realm, 0,
                                      &ctx->challenge);

    case NGX_HTTP_AUTH_INTROSPECT_MALFORMED:
    case NGX_HTTP_AUTH_INTROSPECT_INACTIVE:
    case NGX_HTTP_AUTH_INTROSPECT_EXPIRED:
    case NGX_HTTP_AUTH_INTROSPECT_NOT_YET_VALID:
    case NGX_HTTP_AUTH_INTROSPECT_INVALID_ANSWER:
        return ngx_gw_challenge_token(r, conf->realm, 1,
                                      &ctx->challenge);

    case NGX_HTTP_AUTH_INTROSPECT_UNAVAILABLE:
        return conf->fail;

    case NGX_HTTP_AUTH_INTROSPECT_UNCHECKED:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_introspect: answered but no verdict");
        ctx->status = NGX_HTTP_AUTH_INTROSPECT_ERROR;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/* the request got past the access phase: no challenge of ours is due */

static ngx_int_t
ngx_http_auth_introspect_let_in(ngx_http_request_t *r)
{
    ngx_http_auth_introspect_ctx_t  *ctx;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_introspect_module);

    if (ctx && ctx->challenge) {
        ctx->challenge->hash = 0;
        ctx->challenge = NULL;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_auth_introspect_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t  rc;

    rc = ngx_http_auth_introspect_capture(r, in);

    if (rc == NGX_DECLINED) {
        return ngx_http_next_body_filter(r, in);
    }

    return rc;
}


/* the answer's members, split when a variable first asks for them */

static ngx_array_t *
ngx_http_auth_introspect_members(ngx_http_request_t *r,
    ngx_http_auth_introspect_ctx_t *ctx)
{
    const char   *error;
    ngx_pool_t   *pool;
    ngx_array_t  *members;

    if (ctx->members) {
        return ctx->members;
    }

    pool = r->main->pool;

    members = ngx_array_create(pool, 8, sizeof(ngx_gw_json_member_t));
    if (members == NULL) {
        return NULL;
    }

    /* validated when it came: this cannot fail on syntax */

    if (ngx_gw_json_object_members(pool, &ctx->answer.json,
                                   NGX_HTTP_AUTH_INTROSPECT_MAX_DEPTH,
                                   members, &error)
        != NGX_OK)
    {
        return NULL;
    }

    ctx->members = members;

    return members;
}


/* a prefix variable's data is its full name, set by nginx */

static ngx_int_t
ngx_http_auth_introspect_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    ngx_array_t                     *members;
    ngx_http_auth_introspect_ctx_t  *ctx;

    ctx = ngx_http_auth_introspect_check(r);

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_INTROSPECT_VALID) {
        return ngx_http_auth_introspect_value(r, v, ctx, NULL, name);
    }

    members = ngx_http_auth_introspect_members(r, ctx);
    if (members == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_auth_introspect_value(r, v, ctx,
               ngx_gw_json_member(members,
                                  name->data + sizeof("introspect_claim_") - 1,
                                  name->len - sizeof("introspect_claim_") + 1),
               name);
}


static ngx_int_t
ngx_http_auth_introspect_response_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    static ngx_str_t                 name = ngx_string("introspect_response");
    ngx_gw_json_member_t             response;
    ngx_http_auth_introspect_ctx_t  *ctx;

    ctx = ngx_http_auth_introspect_check(r);

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_INTROSPECT_VALID) {
        return ngx_http_auth_introspect_value(r, v, ctx, NULL, &name);
    }

    response.type = NGX_GW_JSON_OBJECT;
    response.value = ctx->answer.json;

    return ngx_http_auth_introspect_value(r, v, ctx, &response, &name);
}


/*
 * auth_introspect_claim_contains: "1" if the member holds the value, "0"
 * if it does not or is missing, empty without a valid token
 */

static ngx_int_t
ngx_http_auth_introspect_contains_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_auth_introspect_contains_t *cs =
        (ngx_http_auth_introspect_contains_t *) data;

    ngx_int_t                        rc;
    ngx_array_t                     *members;
    ngx_gw_json_member_t            *member;
    ngx_http_auth_introspect_ctx_t  *ctx;

    ctx = ngx_http_auth_introspect_check(r);

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_INTROSPECT_VALID) {
        return ngx_http_auth_introspect_value(r, v, ctx, NULL, &cs->name);
    }

    members = ngx_http_auth_introspect_members(r, ctx);

    if (members == NULL
        || ngx_gw_claim_path(r->pool, members, cs->path.elts, cs->path.nelts,
                             &member)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = 0;

    if (member) {
        rc = ngx_gw_claim_contains(r->pool, member, &cs->value, cs->words);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    /* never cached, as ngx_http_auth_introspect_value() says */

    v->data = (u_char *) (rc ? "1" : "0");
    v->len = 1;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* only reads the verdict: see ngx_http_auth_introspect_verdict() */

static ngx_int_t
ngx_http_auth_introspect_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_auth_introspect_ctx_t     *ctx;
    ngx_http_auth_introspect_status_e   status;

    ctx = ngx_http_auth_introspect_verdict(r);

    if (ctx == NULL || ctx->status == NGX_HTTP_AUTH_INTROSPECT_UNCHECKED) {
        v->not_found = 1;
        return NGX_OK;
    }

    status = ctx->status;

    if (status == NGX_HTTP_AUTH_INTROSPECT_VALID && ctx->denied) {
        status = (ctx->denied == NGX_HTTP_INTERNAL_SERVER_ERROR)
                 ? NGX_HTTP_AUTH_INTROSPECT_ERROR
                 : NGX_HTTP_AUTH_INTROSPECT_REQUIRE_FAILED;
    }

    v->data = ngx_http_auth_introspect_status_names[status].data;
    v->len = ngx_http_auth_introspect_status_names[status].len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * name is the variable's, for the log; never cached: a later read may be
 * under another location's endpoint, see ngx_http_auth_introspect_check()
 */

static ngx_int_t
ngx_http_auth_introspect_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_http_auth_introspect_ctx_t *ctx,
    ngx_gw_json_member_t *member, ngx_str_t *name)
{
    return ngx_gw_claim_value(r, v, member, name, "auth_introspect",
                              ctx ? &ctx->control_logged : NULL);
}


static ngx_int_t
ngx_http_auth_introspect_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_auth_introspect_vars; v->name.len; v++) {
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
ngx_http_auth_introspect_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_auth_introspect_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_introspect_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&conf->endpoints, cf->pool, 2,
                       sizeof(ngx_http_auth_introspect_endpoint_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return conf;
}


static void *
ngx_http_auth_introspect_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_auth_introspect_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_introspect_loc_conf_t));
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
    conf->endpoint = NGX_CONF_UNSET_PTR;
    conf->cache = NGX_CONF_UNSET_PTR;
    conf->leeway = NGX_CONF_UNSET;
    conf->fail = NGX_CONF_UNSET_UINT;
    conf->require = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_auth_introspect_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_auth_introspect_loc_conf_t  *prev = parent;
    ngx_http_auth_introspect_loc_conf_t  *conf = child;

    if (conf->realm == NGX_CONF_UNSET_PTR) {
        conf->realm = prev->realm;
        conf->token = prev->token;
        conf->file = prev->file;
        conf->line = prev->line;
    }

    ngx_conf_merge_ptr_value(conf->realm, NULL, NULL);
    ngx_conf_merge_ptr_value(conf->token, NULL, NULL);
    ngx_conf_merge_ptr_value(conf->endpoint, prev->endpoint, NULL);
    ngx_conf_merge_ptr_value(conf->cache, prev->cache, NULL);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 0);
    ngx_conf_merge_uint_value(conf->fail, prev->fail,
                              NGX_HTTP_INTERNAL_SERVER_ERROR);
    ngx_conf_merge_ptr_value(conf->require, prev->require, NULL);

    if (conf->realm && conf->endpoint == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"auth_introspect\" in %V:%ui has no "
                      "\"auth_introspect_request\" where it applies",
                      &conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* auth_introspect realm [token=$variable] | off */

static char *
ngx_http_auth_introspect(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_introspect_loc_conf_t *aicf = conf;

    if (aicf->realm != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    aicf->file = cf->conf_file->file.name;
    aicf->line = cf->conf_file->line;

    return ngx_gw_challenge_conf(cf, "token=", &aicf->realm, &aicf->token);
}


/*
 * auth_introspect_request uri [token_type_hint=type]: one endpoint for
 * each URI, whichever locations name it
 */

static char *
ngx_http_auth_introspect_request(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_introspect_loc_conf_t *aicf = conf;

    u_char                                *p;
    ngx_str_t                             *value, hint;
    ngx_uint_t                             i;
    ngx_http_auth_introspect_endpoint_t   *ep, **eps;
    ngx_http_auth_introspect_main_conf_t  *aimcf;

    if (aicf->endpoint != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].data[0] != '/') {
        return "needs a URI starting with \"/\"";
    }

    ngx_str_null(&hint);

    if (cf->args->nelts == 3) {
        if (value[2].len <= sizeof("token_type_hint=") - 1
            || ngx_strncmp(value[2].data, "token_type_hint=",
                           sizeof("token_type_hint=") - 1)
               != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": "
                               "\"token_type_hint=type\" expected",
                               &value[2]);
            return NGX_CONF_ERROR;
        }

        hint.data = value[2].data + sizeof("token_type_hint=") - 1;
        hint.len = value[2].len - (sizeof("token_type_hint=") - 1);
    }

    aimcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_auth_introspect_module);

    eps = aimcf->endpoints.elts;

    for (i = 0; i < aimcf->endpoints.nelts; i++) {
        if (eps[i]->name.len != value[1].len
            || ngx_strncmp(eps[i]->name.data, value[1].data, value[1].len)
               != 0)
        {
            continue;
        }

        if (eps[i]->hint.len != hint.len
            || (hint.len
                && ngx_strncmp(eps[i]->hint.data, hint.data, hint.len) != 0))
        {
            return "names a URI named before with another "
                   "\"token_type_hint\"";
        }

        aicf->endpoint = eps[i];
        return NGX_CONF_OK;
    }

    ep = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_introspect_endpoint_t));
    if (ep == NULL) {
        return NGX_CONF_ERROR;
    }

    ep->name = value[1];
    ep->uri = value[1];
    ep->hint = hint;

    p = ngx_strlchr(value[1].data, value[1].data + value[1].len, '?');

    if (p) {
        ep->uri.len = p - value[1].data;
        ep->args.data = p + 1;
        ep->args.len = value[1].data + value[1].len - p - 1;
    }

    ngx_rbtree_init(&ep->asking, &ep->sentinel,
                    ngx_http_auth_introspect_key_insert);

    eps = ngx_array_push(&aimcf->endpoints);
    if (eps == NULL) {
        return NGX_CONF_ERROR;
    }

    *eps = ep;
    aicf->endpoint = ep;

    return NGX_CONF_OK;
}


/* auth_introspect_cache zone=name:size [valid=time] [invalid=time] | off */

static char *
ngx_http_auth_introspect_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_introspect_loc_conf_t *aicf = conf;

    time_t                             *t;
    ssize_t                             size;
    ngx_str_t                          *value, name, s;
    ngx_uint_t                          i;
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_auth_introspect_zone_t    *zone;
    ngx_http_auth_introspect_cache_t   *cache;

    if (aicf->cache != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no parameters with \"off\"";
        }

        aicf->cache = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": \"zone=name:size\" "
                           "expected", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_gw_conf_zone(cf, &value[1], "zone=", &name, &size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_introspect_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    cache->valid = 60;
    cache->invalid = 10;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "valid=", 6) == 0) {
            t = &cache->valid;
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

        } else if (ngx_strncmp(value[i].data, "invalid=", 8) == 0) {
            t = &cache->invalid;
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        *t = ngx_parse_time(&s, 1);

        if (*t == (time_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid time \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_auth_introspect_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    /* a zone named in several places is one zone */

    if (shm_zone->data == NULL) {
        zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_introspect_zone_t));
        if (zone == NULL) {
            return NGX_CONF_ERROR;
        }

        zone->shm_zone = shm_zone;

        shm_zone->init = ngx_http_auth_introspect_init_zone;
        shm_zone->data = zone;
    }

    cache->zone = shm_zone->data;
    aicf->cache = cache;

    return NGX_CONF_OK;
}


static char *
ngx_http_auth_introspect_require(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_introspect_loc_conf_t *aicf = conf;

    return ngx_gw_require_conf(cf, &aicf->require);
}


/* auth_introspect_claim_contains $variable name ... value */

static char *
ngx_http_auth_introspect_claim_contains(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char                                 *rv;
    ngx_str_t                            *value, *name;
    ngx_uint_t                            i, n;
    ngx_http_variable_t                  *v;
    ngx_http_auth_introspect_contains_t  *cs;

    value = cf->args->elts;
    n = cf->args->nelts;

    if (value[1].data[0] != '$' || value[1].len < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    value[1].data++;
    value[1].len--;

    cs = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_introspect_contains_t));
    if (cs == NULL) {
        return NGX_CONF_ERROR;
    }

    cs->name = value[1];

    rv = ngx_gw_claim_contains_conf(cf, &n, &cs->value, &cs->words);

    if (rv != NGX_CONF_OK) {
        return rv;
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

    v->get_handler = ngx_http_auth_introspect_contains_variable;
    v->data = (uintptr_t) cs;

    return NGX_CONF_OK;
}


/*
 * The module's check is the last of the access phase, whatever the order
 * of load_module lines: nginx runs a phase's handlers from the end of the
 * list, and this one goes first in it.  The only check that costs a round
 * trip to another server runs after the local ones (allow, auth_basic,
 * auth_jwt, auth_api_key), so a request they refuse under "satisfy all",
 * or let in under "satisfy any", is never asked about.
 */

static ngx_int_t
ngx_http_auth_introspect_init(ngx_conf_t *cf)
{
    ngx_array_t                *handlers;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    handlers = &cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers;

    h = ngx_array_push(handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h = handlers->elts;

    ngx_memmove(&h[1], &h[0], (handlers->nelts - 1) * sizeof(*h));

    h[0] = ngx_http_auth_introspect_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_auth_introspect_let_in;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_auth_introspect_body_filter;

    return NGX_OK;
}
