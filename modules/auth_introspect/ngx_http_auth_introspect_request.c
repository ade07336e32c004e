
/*
 * Asking the authorization server about a token (RFC 7662, 2.1): a POST
 * of "token=..." through a subrequest to the auth_introspect_request
 * location, whose proxy_pass, TLS and proxy_set_header do the transport
 * and the gateway's own authentication; its answer read here; and the
 * other requests of the worker with the same token, which wait for that
 * answer rather than ask again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_introspect.h"
#include "ngx_gw_header.h"


static ngx_int_t ngx_http_auth_introspect_form(ngx_http_request_t *sr,
    ngx_http_auth_introspect_ctx_t *ctx);
static size_t ngx_http_auth_introspect_escaped(ngx_str_t *value);
static u_char *ngx_http_auth_introspect_escape(u_char *p, ngx_str_t *value);
static ngx_uint_t ngx_http_auth_introspect_unreserved(u_char c);
static ngx_table_elt_t *ngx_http_auth_introspect_header(
    ngx_http_request_t *sr, char *key, char *lowcase, char *value);
static ngx_int_t ngx_http_auth_introspect_answered(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_auth_introspect_read(ngx_http_request_t *sr,
    ngx_http_auth_introspect_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_auth_introspect_parse(ngx_pool_t *pool,
    ngx_str_t *json, ngx_http_auth_introspect_answer_t *answer,
    const char **error);
static void ngx_http_auth_introspect_failed(ngx_http_auth_introspect_ctx_t *ctx,
    ngx_int_t status, const char *why);
static void ngx_http_auth_introspect_keep(ngx_http_auth_introspect_ctx_t *ctx);
static void ngx_http_auth_introspect_unmark(
    ngx_http_auth_introspect_ctx_t *ctx);
static void ngx_http_auth_introspect_wake_waiting(
    ngx_http_auth_introspect_ctx_t *asker,
    ngx_http_auth_introspect_state_e state);
static void ngx_http_auth_introspect_wake(ngx_event_t *ev);


/*
 * The answer for the request's token: at hand (NGX_OK), or on its way
 * (NGX_AGAIN) from another request of this worker that asks already, from
 * another worker that does (found in the zone, which is looked at again
 * every NGX_HTTP_AUTH_INTROSPECT_POLL ms), or from a subrequest of its
 * own; the access phase resumes when it comes.
 */

ngx_int_t
ngx_http_auth_introspect_ask(ngx_http_request_t *r,
    ngx_http_auth_introspect_ctx_t *ctx)
{
    ngx_int_t                             rc;
    ngx_http_request_t                   *sr;
    ngx_http_post_subrequest_t           *ps;
    ngx_http_auth_introspect_key_t       *key;
    ngx_http_auth_introspect_ctx_t       *asker;
    ngx_http_auth_introspect_endpoint_t  *ep;
    ngx_http_auth_introspect_loc_conf_t  *conf;

    switch (ctx->state) {

    case NGX_HTTP_AUTH_INTROSPECT_IDLE:
        break;

    case NGX_HTTP_AUTH_INTROSPECT_ANSWERED:
    case NGX_HTTP_AUTH_INTROSPECT_FAILED:
        return NGX_OK;

    default:
        return NGX_AGAIN;
    }

    conf = ctx->conf;
    ep = conf->endpoint;

    ctx->endpoint = ep;

    if (ctx->wake.handler == NULL) {
        ctx->wake.handler = ngx_http_auth_introspect_wake;
        ctx->wake.data = ctx;
        ctx->wake.log = r->connection->log;
    }

    key = ngx_http_auth_introspect_key_find(&ep->asking, ctx->key.digest);

    if (key) {
        asker = (ngx_http_auth_introspect_ctx_t *) key;

        ngx_queue_insert_tail(&asker->waiting, &ctx->key.queue);
        ctx->state = NGX_HTTP_AUTH_INTROSPECT_WAITING;

        return NGX_AGAIN;
    }

    if (conf->cache) {
        rc = ngx_http_auth_introspect_cache_lookup(conf->cache->zone,
                                                   ctx->key.digest, 1,
                                                   r->pool, &ctx->answer);
        switch (rc) {

        case NGX_OK:
            ctx->state = NGX_HTTP_AUTH_INTROSPECT_ANSWERED;
            return NGX_OK;

        case NGX_BUSY:
            ctx->state = NGX_HTTP_AUTH_INTROSPECT_POLLING;
            ngx_add_timer(&ctx->wake, NGX_HTTP_AUTH_INTROSPECT_POLL);
            return NGX_AGAIN;

        case NGX_DONE:
            ctx->marked = conf->cache->zone;
            break;

        case NGX_DECLINED:
            break;

        default:
            return NGX_ERROR;
        }
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        ngx_http_auth_introspect_unmark(ctx);
        return NGX_ERROR;
    }

    ps->handler = ngx_http_auth_introspect_answered;
    ps->data = ctx;

    if (ngx_http_subrequest(r, &ep->uri, ep->args.len ? &ep->args : NULL,
                            &sr, ps, NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        ngx_http_auth_introspect_unmark(ctx);
        return NGX_ERROR;
    }

    ngx_queue_init(&ctx->waiting);
    ngx_rbtree_insert(&ep->asking, &ctx->key.node);
    ctx->state = NGX_HTTP_AUTH_INTROSPECT_ASKING;

    if (ngx_http_auth_introspect_form(sr, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/*
 * RFC 7662, 2.1: the token (and its type's hint, if the directive has
 * one) in an application/x-www-form-urlencoded POST.  None of the
 * client's headers go along: its credentials are not the authorization
 * server's business, nor is the rest; the location's proxy_set_header
 * adds the gateway's own.
 */

static ngx_int_t
ngx_http_auth_introspect_form(ngx_http_request_t *sr,
    ngx_http_auth_introspect_ctx_t *ctx)
{
    u_char                               *p;
    size_t                                len;
    ngx_buf_t                            *b;
    ngx_chain_t                          *cl;
    ngx_http_request_body_t              *rb;
    ngx_http_auth_introspect_endpoint_t  *ep;

    if (ngx_gw_subrequest_own_headers(sr, 0) != NGX_OK
        || ngx_list_init(&sr->headers_in.headers, sr->pool, 2,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.content_type = ngx_http_auth_introspect_header(sr,
                                      "Content-Type", "content-type",
                                      "application/x-www-form-urlencoded");

    if (sr->headers_in.content_type == NULL
        || ngx_http_auth_introspect_header(sr, "Accept", "accept",
                                           "application/json")
           == NULL)
    {
        return NGX_ERROR;
    }

    ep = ctx->endpoint;

    len = sizeof("token=") - 1 + ngx_http_auth_introspect_escaped(&ctx->token);

    if (ep->hint.len) {
        len += sizeof("&token_type_hint=") - 1
               + ngx_http_auth_introspect_escaped(&ep->hint);
    }

    b = ngx_create_temp_buf(sr->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->last, "token=", sizeof("token=") - 1);
    p = ngx_http_auth_introspect_escape(p, &ctx->token);

    if (ep->hint.len) {
        p = ngx_cpymem(p, "&token_type_hint=",
                       sizeof("&token_type_hint=") - 1);
        p = ngx_http_auth_introspect_escape(p, &ep->hint);
    }

    b->last = p;
    b->last_buf = 1;

    cl = ngx_alloc_chain_link(sr->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    rb = ngx_pcalloc(sr->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    rb->bufs = cl;

    sr->request_body = rb;
    sr->headers_in.content_length_n = len;

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");

    return NGX_OK;
}


/* every byte but the unreserved ones of RFC 3986 is percent-encoded */

static size_t
ngx_http_auth_introspect_escaped(ngx_str_t *value)
{
    size_t      len;
    ngx_uint_t  i;

    len = 0;

    for (i = 0; i < value->len; i++) {
        len += ngx_http_auth_introspect_unreserved(value->data[i]) ? 1 : 3;
    }

    return len;
}


static u_char *
ngx_http_auth_introspect_escape(u_char *p, ngx_str_t *value)
{
    u_char         c;
    ngx_uint_t     i;
    static u_char  hex[] = "0123456789ABCDEF";

    for (i = 0; i < value->len; i++) {
        c = value->data[i];

        if (ngx_http_auth_introspect_unreserved(c)) {
            *p++ = c;
            continue;
        }

        *p++ = '%';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 0x0f];
    }

    return p;
}


/* RFC 3986, 2.3 */

static ngx_uint_t
ngx_http_auth_introspect_unreserved(u_char c)
{
    u_char  lc;

    lc = c | 0x20;

    return (c >= '0' && c <= '9') || (lc >= 'a' && lc <= 'z')
           || c == '-' || c == '.' || c == '_' || c == '~';
}


/* a header the proxy module passes on: it looks them up by lowcase_key */

static ngx_table_elt_t *
ngx_http_auth_introspect_header(ngx_http_request_t *sr, char *key,
    char *lowcase, char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_gw_header_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NULL;
    }

    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);
    h->lowcase_key = (u_char *) lowcase;
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);

    return h;
}


static ngx_int_t
ngx_http_auth_introspect_answered(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_auth_introspect_ctx_t *ctx = data;

    if (ctx->state != NGX_HTTP_AUTH_INTROSPECT_ASKING) {
        return rc;
    }

    ngx_rbtree_delete(&ctx->endpoint->asking, &ctx->key.node);

    if (ctx->request->connection->error && !ctx->capture.done) {

        /*
         * the client went away, and the subrequest with it: nothing was
         * learnt of the token, and a request that waited asks anew
         */

        ctx->state = NGX_HTTP_AUTH_INTROSPECT_FAILED;
        ngx_http_auth_introspect_unmark(ctx);
        ngx_http_auth_introspect_wake_waiting(ctx,
                                              NGX_HTTP_AUTH_INTROSPECT_IDLE);
        return rc;
    }

    if (ngx_http_auth_introspect_read(sr, ctx, rc) == NGX_OK) {
        ctx->state = NGX_HTTP_AUTH_INTROSPECT_ANSWERED;
        ngx_http_auth_introspect_keep(ctx);

    } else {
        ctx->state = NGX_HTTP_AUTH_INTROSPECT_FAILED;
        ngx_http_auth_introspect_unmark(ctx);
    }

    ngx_http_auth_introspect_wake_waiting(ctx, ctx->state);

    return rc;
}


/*
 * The subrequest's response as an answer (NGX_OK), which may be one that
 * RFC 7662 does not allow, or a failure of the endpoint (NGX_ERROR): a
 * status other than 200 (the proxy's 502 and 504 among them), a body cut
 * short.  Each invalid answer has an error line; a failure has one when
 * the endpoint worked before, and info lines while it goes on failing.
 */

static ngx_int_t
ngx_http_auth_introspect_read(ngx_http_request_t *sr,
    ngx_http_auth_introspect_ctx_t *ctx, ngx_int_t rc)
{
    ngx_str_t                             json;
    ngx_log_t                            *log;
    const char                           *error;
    ngx_gw_capture_t                     *cap;
    ngx_http_auth_introspect_endpoint_t  *ep;

    log = ctx->request->connection->log;
    ep = ctx->endpoint;
    cap = &ctx->capture;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE
        || sr->headers_out.status != NGX_HTTP_OK)
    {
        ngx_http_auth_introspect_failed(ctx,
                                rc >= NGX_HTTP_SPECIAL_RESPONSE
                                ? rc : (ngx_int_t) sr->headers_out.status,
                                NULL);
        return NGX_ERROR;
    }

    if (rc == NGX_ERROR || cap->failed || !cap->done) {
        ngx_http_auth_introspect_failed(ctx, 0, "incomplete answer");
        return NGX_ERROR;
    }

    if (ep->failing) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "auth_introspect: introspection request \"%V\" "
                      "answers again", &ep->name);
        ep->failing = 0;
    }

    ngx_memzero(&ctx->answer, sizeof(ngx_http_auth_introspect_answer_t));

    if (cap->too_big) {
        ctx->answer.kind = NGX_HTTP_AUTH_INTROSPECT_NOT_AN_ANSWER;
        error = "larger than 16k";

    } else {
        if (cap->buf) {
            json.data = cap->buf->pos;
            json.len = cap->buf->last - cap->buf->pos;

        } else {
            ngx_str_set(&json, "");
        }

        if (ngx_http_auth_introspect_parse(ctx->request->pool, &json,
                                           &ctx->answer, &error)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->answer.kind == NGX_HTTP_AUTH_INTROSPECT_NOT_AN_ANSWER) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_introspect: introspection request \"%V\" "
                      "answered an invalid response: %s", &ep->name, error);
    }

    return NGX_OK;
}


/*
 * RFC 7662, 2.2: a JSON object whose "active" is a boolean; "exp" and
 * "nbf", when there, numbers of seconds.  Anything else is no answer,
 * with *error saying why; NGX_ERROR is for no memory.
 */

static ngx_int_t
ngx_http_auth_introspect_parse(ngx_pool_t *pool, ngx_str_t *json,
    ngx_http_auth_introspect_answer_t *answer, const char **error)
{
    ngx_int_t              rc;
    ngx_array_t            members;
    ngx_gw_json_member_t  *active;

    answer->kind = NGX_HTTP_AUTH_INTROSPECT_NOT_AN_ANSWER;

    if (ngx_array_init(&members, pool, 8, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_gw_json_object_members(pool, json,
                                    NGX_HTTP_AUTH_INTROSPECT_MAX_DEPTH,
                                    &members, error);
    if (rc == NGX_ABORT) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_OK;
    }

    active = ngx_gw_json_member(&members, (u_char *) "active", 6);

    if (active == NULL
        || (active->type != NGX_GW_JSON_TRUE
            && active->type != NGX_GW_JSON_FALSE))
    {
        *error = "no boolean \"active\"";
        return NGX_OK;
    }

    if (active->type == NGX_GW_JSON_FALSE) {
        answer->kind = NGX_HTTP_AUTH_INTROSPECT_NOT_ACTIVE;
        return NGX_OK;
    }

    if (ngx_gw_claim_clock(&members, &answer->clock, error) != NGX_OK) {
        return NGX_OK;
    }

    answer->kind = NGX_HTTP_AUTH_INTROSPECT_ACTIVE;
    answer->json = *json;

    return NGX_OK;
}


static void
ngx_http_auth_introspect_failed(ngx_http_auth_introspect_ctx_t *ctx,
    ngx_int_t status, const char *why)
{
    ngx_uint_t                            level;
    ngx_http_auth_introspect_endpoint_t  *ep;

    ep = ctx->endpoint;

    /* one error line for an outage, however many requests it fails */

    level = ep->failing ? NGX_LOG_INFO : NGX_LOG_ERR;
    ep->failing = 1;

    if (why) {
        ngx_log_error(level, ctx->request->connection->log, 0,
                      "auth_introspect: introspection request \"%V\" "
                      "failed: %s", &ep->name, why);
        return;
    }

    ngx_log_error(level, ctx->request->connection->log, 0,
                  "auth_introspect: introspection request \"%V\" failed "
                  "with status %i", &ep->name, status);
}


/*
 * An answer stays in the zone while it may be taken as it was given: an
 * active token's until its "exp" (and the leeway) or for "valid", which
 * comes first; any other for "invalid".
 */

static void
ngx_http_auth_introspect_keep(ngx_http_auth_introspect_ctx_t *ctx)
{
    time_t                                now, expires;
    double                                end;
    const char                           *reason;
    ngx_http_auth_introspect_answer_t    *answer;
    ngx_http_auth_introspect_cache_t     *cache;
    ngx_http_auth_introspect_loc_conf_t  *conf;

    conf = ctx->conf;
    cache = conf->cache;

    if (cache == NULL) {
        return;
    }

    answer = &ctx->answer;
    now = ngx_time();

    if (ngx_http_auth_introspect_judge(answer, conf->leeway, now, &reason)
        == NGX_HTTP_AUTH_INTROSPECT_VALID)
    {
        expires = now + cache->valid;

        if (answer->clock.has_exp) {
            end = answer->clock.exp + conf->leeway;

            if (end < (double) expires) {
                expires = (time_t) end;
            }
        }

    } else {
        expires = now + cache->invalid;
    }

    ngx_http_auth_introspect_cache_store(cache->zone, ctx->key.digest, answer,
                                         expires);
    ctx->marked = NULL;
}


static void
ngx_http_auth_introspect_unmark(ngx_http_auth_introspect_ctx_t *ctx)
{
    if (ctx->marked) {
        ngx_http_auth_introspect_cache_forget(ctx->marked, ctx->key.digest);
        ctx->marked = NULL;
    }
}


/*
 * The asker is done: the requests that waited for it go on with a copy of
 * its answer (the asker may end before they run), or its failure, or ask
 * anew.  Each is resumed from an event of its own, never from inside
 * another request's work.
 */

static void
ngx_http_auth_introspect_wake_waiting(ngx_http_auth_introspect_ctx_t *asker,
    ngx_http_auth_introspect_state_e state)
{
    u_char                          *json;
    ngx_queue_t                     *q;
    ngx_http_auth_introspect_ctx_t  *ctx;

    while (!ngx_queue_empty(&asker->waiting)) {
        q = ngx_queue_head(&asker->waiting);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_auth_introspect_ctx_t, key.queue);
        ctx->state = state;

        if (state == NGX_HTTP_AUTH_INTROSPECT_ANSWERED) {
            ctx->answer = asker->answer;

            if (asker->answer.json.len) {
                json = ngx_pnalloc(ctx->request->pool,
                                   asker->answer.json.len);
                if (json == NULL) {
                    ctx->state = NGX_HTTP_AUTH_INTROSPECT_FAILED;

                } else {
                    ngx_memcpy(json, asker->answer.json.data,
                               asker->answer.json.len);
                    ctx->answer.json.data = json;
                }
            }
        }

        ngx_post_event(&ctx->wake, &ngx_posted_events);
    }
}


static void
ngx_http_auth_introspect_wake(ngx_event_t *ev)
{
    ngx_http_auth_introspect_ctx_t *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    /* the other worker's answer is looked for again */

    if (ctx->state == NGX_HTTP_AUTH_INTROSPECT_POLLING) {
        ctx->state = NGX_HTTP_AUTH_INTROSPECT_IDLE;
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/* the request is over: it leaves the tree, the queue, its mark */

void
ngx_http_auth_introspect_leave(ngx_http_auth_introspect_ctx_t *ctx)
{
    if (ctx->wake.posted) {
        ngx_delete_posted_event(&ctx->wake);
    }

    if (ctx->wake.timer_set) {
        ngx_del_timer(&ctx->wake);
    }

    switch (ctx->state) {

    case NGX_HTTP_AUTH_INTROSPECT_WAITING:
        ngx_queue_remove(&ctx->key.queue);
        break;

    case NGX_HTTP_AUTH_INTROSPECT_ASKING:
        ngx_rbtree_delete(&ctx->endpoint->asking, &ctx->key.node);
        ngx_http_auth_introspect_unmark(ctx);
        ngx_http_auth_introspect_wake_waiting(ctx,
                                              NGX_HTTP_AUTH_INTROSPECT_IDLE);
        break;

    default:
        break;
    }

    ctx->state = NGX_HTTP_AUTH_INTROSPECT_IDLE;
}


/*
 * The bodies of introspection requests are captured here, not sent on;
 * NGX_DECLINED for the bodies of other requests.
 */

ngx_int_t
ngx_http_auth_introspect_capture(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_auth_introspect_ctx_t  *ctx;

    if (r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_auth_introspect_answered)
    {
        return NGX_DECLINED;
    }

    ctx = r->post_subrequest->data;

    return ngx_gw_capture_body(r, &ctx->capture, in);
}


/* what an answer says of the token now, with the location's leeway */

ngx_http_auth_introspect_status_e
ngx_http_auth_introspect_judge(ngx_http_auth_introspect_answer_t *answer,
    time_t leeway, time_t now, const char **reason)
{
    switch (answer->kind) {

    case NGX_HTTP_AUTH_INTROSPECT_ACTIVE:
        break;

    case NGX_HTTP_AUTH_INTROSPECT_NOT_ACTIVE:
        *reason = "inactive token";
        return NGX_HTTP_AUTH_INTROSPECT_INACTIVE;

    default:
        *reason = "no valid answer";
        return NGX_HTTP_AUTH_INTROSPECT_INVALID_ANSWER;
    }

    if (answer->clock.has_exp && answer->clock.exp + leeway <= now) {
        *reason = "token expired";
        return NGX_HTTP_AUTH_INTROSPECT_EXPIRED;
    }

    if (answer->clock.has_nbf && answer->clock.nbf - leeway > now) {
        *reason = "token not yet valid";
        return NGX_HTTP_AUTH_INTROSPECT_NOT_YET_VALID;
    }

    return NGX_HTTP_AUTH_INTROSPECT_VALID;
}
