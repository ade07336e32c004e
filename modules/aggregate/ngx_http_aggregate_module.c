
/*
 * Fan-out aggregation: aggregate_part and friends, the parts as background
 * subrequests started all at once, their bodies captured, and the
 * deadline.  The response itself is made in ngx_http_aggregate_response.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aggregate.h"
#include "ngx_gw_decision.h"


#define ngx_http_aggregate_space(c)                                          \
    ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')


static ngx_int_t ngx_http_aggregate_handler(ngx_http_request_t *r);
static void ngx_http_aggregate_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_aggregate_start(ngx_http_request_t *r);
static ngx_int_t ngx_http_aggregate_start_part(ngx_http_request_t *r,
    ngx_http_aggregate_part_t *part);
static ngx_int_t ngx_http_aggregate_part_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_aggregate_judge(ngx_http_request_t *sr,
    ngx_http_aggregate_part_t *part, ngx_int_t rc);
static void ngx_http_aggregate_fail(ngx_http_aggregate_part_t *part,
    ngx_http_aggregate_outcome_e outcome, ngx_uint_t status, const char *why);
static void ngx_http_aggregate_deadline(ngx_event_t *ev);
static void ngx_http_aggregate_cleanup(void *data);
static void ngx_http_aggregate_respond(ngx_http_request_t *r);
static ngx_http_aggregate_part_t *ngx_http_aggregate_part_of(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_aggregate_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_aggregate_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_aggregate_parts_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_aggregate_add_variables(ngx_conf_t *cf);
static void *ngx_http_aggregate_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aggregate_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_aggregate_part(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_aggregate_check_uri(ngx_conf_t *cf,
    ngx_http_aggregate_part_conf_t *part);
static ngx_int_t ngx_http_aggregate_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_aggregate_commands[] = {

    { ngx_string("aggregate_part"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_aggregate_part,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aggregate_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aggregate_loc_conf_t, timeout),
      NULL },

    { ngx_string("aggregate_merge"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aggregate_loc_conf_t, merge),
      NULL },

    { ngx_string("aggregate_part_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aggregate_loc_conf_t, part_max_size),
      NULL },

    { ngx_string("aggregate_pass_request_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aggregate_loc_conf_t, pass_request_body),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aggregate_module_ctx = {
    ngx_http_aggregate_add_variables,      /* preconfiguration */
    ngx_http_aggregate_init,               /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aggregate_create_loc_conf,    /* create location configuration */
    ngx_http_aggregate_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_aggregate_module = {
    NGX_MODULE_V1,
    &ngx_http_aggregate_module_ctx,        /* module context */
    ngx_http_aggregate_commands,           /* module directives */
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


/* what $aggregate_parts says, by ngx_http_aggregate_outcome_e */

static ngx_str_t  ngx_http_aggregate_outcome_names[] = {
    ngx_string("OK"),
    ngx_string("STATUS"),
    ngx_string("TOO_BIG"),
    ngx_string("INCOMPLETE"),
    ngx_string("INVALID"),
    ngx_string("TIMEOUT"),
    ngx_string("UNSAFE_URI"),
    ngx_string("ERROR")
};


static ngx_http_variable_t  ngx_http_aggregate_vars[] = {

    { ngx_string(NGX_GW_DECISION_AGGREGATE_PARTS), NULL,
      ngx_http_aggregate_parts_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_aggregate_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_http_aggregate_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aggregate_module);

    if (alcf->pass_request_body) {
        rc = ngx_http_read_client_request_body(r,
                                               ngx_http_aggregate_body_read);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    /* the reference that reading the body would have taken */

    r->main->count++;

    ngx_http_aggregate_body_read(r);

    return NGX_DONE;
}


static void
ngx_http_aggregate_body_read(ngx_http_request_t *r)
{
    if (ngx_http_aggregate_start(r) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/*
 * Every part starts now, as a background subrequest: the response does
 * not wait for a part the deadline gave up on, which finishes on its own,
 * bounded by its location's proxy timeouts.
 */

static ngx_int_t
ngx_http_aggregate_start(ngx_http_request_t *r)
{
    ngx_uint_t                       i;
    ngx_pool_cleanup_t              *cln;
    ngx_http_aggregate_ctx_t        *ctx;
    ngx_http_aggregate_part_t       *part;
    ngx_http_aggregate_loc_conf_t   *alcf;
    ngx_http_aggregate_part_conf_t  *pc;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aggregate_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_aggregate_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->parts = ngx_pcalloc(r->pool, alcf->parts->nelts
                                      * sizeof(ngx_http_aggregate_part_t));
    if (ctx->parts == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ctx->request = r;
    ctx->conf = alcf;
    ctx->nparts = alcf->parts->nelts;

    cln->handler = ngx_http_aggregate_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_aggregate_module);

    pc = alcf->parts->elts;

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];
        part->conf = &pc[i];
        part->ctx = ctx;
        part->capture.max = alcf->part_max_size;

        if (ngx_http_aggregate_start_part(r, part) != NGX_OK) {

            /* the parts started already must not answer a second time */

            ctx->responded = 1;
            return NGX_ERROR;
        }
    }

    if (ctx->pending == 0) {
        ngx_http_aggregate_respond(r);
        return NGX_OK;
    }

    ctx->deadline.handler = ngx_http_aggregate_deadline;
    ctx->deadline.data = ctx;
    ctx->deadline.log = r->connection->log;

    ngx_add_timer(&ctx->deadline, alcf->timeout);

    return NGX_OK;
}


static ngx_int_t
ngx_http_aggregate_start_part(ngx_http_request_t *r,
    ngx_http_aggregate_part_t *part)
{
    ngx_str_t                    uri, args;
    ngx_uint_t                   flags;
    ngx_table_elt_t             *h;
    ngx_http_request_t          *sr;
    ngx_http_post_subrequest_t  *ps;

    if (part->conf->checked) {
        uri = part->conf->path;
        args = part->conf->args;
        goto start;
    }

    if (ngx_http_complex_value(r, &part->conf->uri, &uri) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_null(&args);
    flags = NGX_HTTP_LOG_UNSAFE;

    if (uri.len == 0 || uri.data[0] != '/'
        || ngx_http_parse_unsafe_uri(r, &uri, &args, &flags) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aggregate: part \"%V\" has an unsafe URI \"%V\"",
                      &part->conf->name, &uri);
        part->done = 1;
        part->status = NGX_HTTP_BAD_GATEWAY;
        part->failure = "unsafe URI";
        part->outcome = NGX_HTTP_AGGREGATE_UNSAFE_URI;
        return NGX_OK;
    }

start:

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_aggregate_part_done;
    ps->data = part;

    if (ngx_http_subrequest(r, &uri, &args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the client's credentials go along, what breaks capture does not */

    if (ngx_gw_subrequest_own_headers(sr, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a subrequest is a GET, unless told to be the client's request */

    if (part->ctx->conf->pass_request_body) {
        sr->method = r->method;
        sr->method_name = r->method_name;
        sr->request_body = r->request_body;
        sr->headers_in.content_length_n = r->headers_in.content_length_n;

        if (r->headers_in.content_type) {
            h = ngx_gw_header_copy(&sr->headers_in.headers,
                                   r->headers_in.content_type);
            if (h == NULL) {
                return NGX_ERROR;
            }

            sr->headers_in.content_type = h;
        }
    }

    part->ctx->pending++;

    return NGX_OK;
}


/*
 * Called on each finalization of a part.  An error status is followed by
 * its error page (which error_page may turn into a good answer): only the
 * finalization after it decides.
 */

static ngx_int_t
ngx_http_aggregate_part_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_aggregate_part_t *part = data;

    ngx_http_aggregate_ctx_t  *ctx;

    if (part->done
        || (rc >= NGX_HTTP_SPECIAL_RESPONSE && rc != NGX_HTTP_CLOSE))
    {
        return rc;
    }

    ctx = part->ctx;

    part->done = 1;
    ctx->pending--;

    ngx_http_aggregate_judge(sr, part, rc);

    if (ctx->pending == 0 && !ctx->responded) {

        /* the client request answers from its own context */

        ctx->request->write_event_handler = ngx_http_aggregate_respond;

        if (ngx_http_post_request(ctx->request, NULL) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return rc;
}


static void
ngx_http_aggregate_judge(ngx_http_request_t *sr,
    ngx_http_aggregate_part_t *part, ngx_int_t rc)
{
    u_char         *p;
    ngx_buf_t      *b;
    ngx_str_t       doc;
    ngx_int_t       n;
    ngx_uint_t      status;
    const char     *error;
    ngx_gw_json_t   json;

    status = sr->headers_out.status;

    if (status == 0) {
        status = (rc >= NGX_HTTP_OK) ? (ngx_uint_t) rc : NGX_HTTP_BAD_GATEWAY;
    }

    part->status = status;

    if (status < NGX_HTTP_OK || status >= NGX_HTTP_SPECIAL_RESPONSE
        || rc == NGX_ERROR)
    {
        ngx_http_aggregate_fail(part, NGX_HTTP_AGGREGATE_STATUS, status,
                                "answered with an error status");
        return;
    }

    if (part->capture.too_big) {
        ngx_http_aggregate_fail(part, NGX_HTTP_AGGREGATE_TOO_BIG,
                                NGX_HTTP_BAD_GATEWAY,
                                "is larger than aggregate_part_max_size");
        return;
    }

    if (part->capture.failed || !part->capture.done
        || part->capture.buf == NULL)
    {
        /* a capture fails on no memory or a temporary file not read back */

        ngx_http_aggregate_fail(part,
                                part->capture.failed
                                ? NGX_HTTP_AGGREGATE_ERROR
                                : NGX_HTTP_AGGREGATE_INCOMPLETE,
                                NGX_HTTP_BAD_GATEWAY,
                                part->capture.buf ? "answered incompletely"
                                                  : "answered an empty body");
        return;
    }

    doc.data = part->capture.buf->pos;
    doc.len = part->capture.buf->last - part->capture.buf->pos;

    if (part->ctx->conf->merge) {

        /* merged members need their names, and a part must be an object */

        if (ngx_array_init(&part->members, sr->pool, 8,
                           sizeof(ngx_gw_json_member_t))
            != NGX_OK)
        {
            ngx_http_aggregate_fail(part, NGX_HTTP_AGGREGATE_ERROR,
                                    NGX_HTTP_BAD_GATEWAY, "no memory");
            return;
        }

        n = ngx_gw_json_object_members(sr->pool, &doc, NGX_GW_JSON_MAX_DEPTH,
                                       &part->members, &error);

        if (n == NGX_ERROR) {
            ngx_http_aggregate_fail(part, NGX_HTTP_AGGREGATE_INVALID,
                                    NGX_HTTP_BAD_GATEWAY, error);

        } else if (n != NGX_OK) {
            ngx_http_aggregate_fail(part, NGX_HTTP_AGGREGATE_ERROR,
                                    NGX_HTTP_BAD_GATEWAY, "no memory");
        }

        return;
    }

    /* only the top-level value's end is told */

    ngx_gw_json_init(&json, NGX_GW_JSON_MAX_DEPTH, NULL, 0);
    json.quiet = 1;
    json.quiet_level = 0;

    p = doc.data;

    do {
        n = ngx_gw_json_next(&json, &p, doc.data + doc.len);
    } while (n == NGX_OK || (n == NGX_DONE && p < doc.data + doc.len));

    if (n == NGX_AGAIN || n == NGX_DONE) {
        n = ngx_gw_json_finish(&json);
    }

    if (n != NGX_DONE) {
        ngx_http_aggregate_fail(part, NGX_HTTP_AGGREGATE_INVALID,
                                NGX_HTTP_BAD_GATEWAY, json.error);
        return;
    }

    /* the value as sent, without the whitespace around it */

    b = part->capture.buf;

    while (ngx_http_aggregate_space(*b->pos)) {
        b->pos++;
    }

    while (ngx_http_aggregate_space(b->last[-1])) {
        b->last--;
    }
}


static void
ngx_http_aggregate_fail(ngx_http_aggregate_part_t *part,
    ngx_http_aggregate_outcome_e outcome, ngx_uint_t status, const char *why)
{
    ngx_uint_t           level;
    ngx_http_request_t  *r;

    r = part->ctx->request;
    level = part->conf->required ? NGX_LOG_ERR : NGX_LOG_WARN;

    ngx_log_error(level, r->connection->log, 0,
                  "aggregate: %s part \"%V\" failed with status %ui: %s",
                  part->conf->required ? "required" : "optional",
                  &part->conf->name, part->status, why);

    part->status = status;
    part->failure = why;
    part->outcome = outcome;
}


static void
ngx_http_aggregate_deadline(ngx_event_t *ev)
{
    ngx_uint_t                  i;
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_aggregate_ctx_t   *ctx;
    ngx_http_aggregate_part_t  *part;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];

        if (part->done) {
            continue;
        }

        part->done = 1;
        part->timed_out = 1;
        part->status = NGX_HTTP_GATEWAY_TIME_OUT;
        ngx_http_aggregate_fail(part, NGX_HTTP_AGGREGATE_TIMEOUT,
                                NGX_HTTP_GATEWAY_TIME_OUT,
                                "no answer within aggregate_timeout");
    }

    ctx->pending = 0;

    ngx_http_aggregate_respond(r);

    ngx_http_run_posted_requests(c);
}


/* a client request that goes first takes its deadline along */

static void
ngx_http_aggregate_cleanup(void *data)
{
    ngx_http_aggregate_ctx_t *ctx = data;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }
}


static void
ngx_http_aggregate_respond(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_chain_t               *out;
    ngx_http_aggregate_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aggregate_module);

    if (ctx == NULL || ctx->responded) {
        return;
    }

    ctx->responded = 1;
    r->write_event_handler = ngx_http_request_empty_handler;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    if (ngx_http_aggregate_build(ctx, &out) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* from here on, add_header and the log phase may read the outcomes */

    ctx->built = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_output_filter(r, out));
}


/* a part's own context goes with an internal redirect: its handler stays */

static ngx_http_aggregate_part_t *
ngx_http_aggregate_part_of(ngx_http_request_t *r)
{
    if (r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_aggregate_part_done)
    {
        return NULL;
    }

    return r->post_subrequest->data;
}


/* an error page after a failure replaces what the part sent before it */

static ngx_int_t
ngx_http_aggregate_header_filter(ngx_http_request_t *r)
{
    ngx_http_aggregate_part_t  *part;

    part = ngx_http_aggregate_part_of(r);

    if (part && part->capture.buf) {
        part->capture.buf->last = part->capture.buf->pos;
        part->capture.too_big = 0;
        part->capture.failed = 0;
        part->capture.done = 0;
    }

    return ngx_http_next_header_filter(r);
}


/* the bodies of parts are captured here, not sent anywhere */

static ngx_int_t
ngx_http_aggregate_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_aggregate_part_t  *part;

    part = ngx_http_aggregate_part_of(r);

    if (part == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    return ngx_gw_capture_body(r, &part->capture, in);
}


/*
 * "name:OUTCOME, ..." in configuration order, made when first read: the
 * outcomes are final once the response is built, and most requests are
 * never asked.  A metrics module parses it (ngx_gw_decision.h).
 */

static ngx_int_t
ngx_http_aggregate_parts_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                     *p;
    size_t                      size;
    ngx_uint_t                  i;
    ngx_http_aggregate_ctx_t   *ctx;
    ngx_http_aggregate_part_t  *part;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_aggregate_module);

    if (ctx == NULL || !ctx->built) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ctx->outcomes.data == NULL) {
        size = 0;

        for (i = 0; i < ctx->nparts; i++) {
            part = &ctx->parts[i];
            size += sizeof(NGX_GW_DECISION_ENTRY_SEP) - 1
                    + part->conf->name.len + 1
                    + ngx_http_aggregate_outcome_names[part->outcome].len;
        }

        p = ngx_pnalloc(r->main->pool, size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ctx->outcomes.data = p;

        for (i = 0; i < ctx->nparts; i++) {
            part = &ctx->parts[i];
            p = ngx_sprintf(p, "%s%V%c%V", i ? NGX_GW_DECISION_ENTRY_SEP : "",
                            &part->conf->name, NGX_GW_DECISION_FIELD_SEP,
                            &ngx_http_aggregate_outcome_names[part->outcome]);
        }

        ctx->outcomes.len = p - ctx->outcomes.data;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->outcomes.data;
    v->len = ctx->outcomes.len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aggregate_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_aggregate_vars; v->name.len; v++) {
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
ngx_http_aggregate_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aggregate_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aggregate_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->parts = NULL;
     */

    conf->timeout = NGX_CONF_UNSET_MSEC;
    conf->merge = NGX_CONF_UNSET;
    conf->part_max_size = NGX_CONF_UNSET_SIZE;
    conf->pass_request_body = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_aggregate_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aggregate_loc_conf_t *prev = parent;
    ngx_http_aggregate_loc_conf_t *conf = child;

    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 10000);
    ngx_conf_merge_value(conf->merge, prev->merge, 0);
    ngx_conf_merge_size_value(conf->part_max_size, prev->part_max_size,
                              1024 * 1024);
    ngx_conf_merge_value(conf->pass_request_body, prev->pass_request_body, 0);

    if (conf->timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"aggregate_timeout\" must be more than 0");
        return NGX_CONF_ERROR;
    }

    if (conf->part_max_size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"aggregate_part_max_size\" must be more than 0");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* aggregate_part name uri [required] */

static char *
ngx_http_aggregate_part(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aggregate_loc_conf_t *alcf = conf;

    u_char                            *p;
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_aggregate_part_conf_t    *part;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    /* a name goes into the body and a header as it is: keep it plain */

    if (value[1].len == 0 || value[1].len > 64) {
        return "has a name that is empty or longer than 64 characters";
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
              || *p == '.'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid part name \"%V\": letters, digits, "
                               "\"_\", \"-\" and \".\" only", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (alcf->parts == NULL) {
        alcf->parts = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_aggregate_part_conf_t));
        if (alcf->parts == NULL) {
            return NGX_CONF_ERROR;
        }

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->handler = ngx_http_aggregate_handler;

    } else {
        part = alcf->parts->elts;

        for (i = 0; i < alcf->parts->nelts; i++) {
            if (part[i].name.len == value[1].len
                && ngx_strncmp(part[i].name.data, value[1].data,
                               value[1].len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate part \"%V\"", &value[1]);
                return NGX_CONF_ERROR;
            }
        }
    }

    part = ngx_array_push(alcf->parts);
    if (part == NULL) {
        return NGX_CONF_ERROR;
    }

    part->name = value[1];
    part->required = 0;

    if (value[2].len == 0 || (value[2].data[0] != '/'
                              && value[2].data[0] != '$'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URI \"%V\" of part \"%V\": a local URI "
                           "such as \"/_svc/products\"", &value[2], &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &part->uri;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_aggregate_check_uri(cf, part) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "required") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": only \"required\" "
                               "may follow the URI", &value[3]);
            return NGX_CONF_ERROR;
        }

        part->required = 1;
    }

    return NGX_CONF_OK;
}


/*
 * A URI without variables is split and checked once, as each request
 * would: ngx_http_parse_unsafe_uri() reads the request only to log and
 * to unescape, so a URI with "%" in it, or one it refuses, is left to
 * each request, which logs it as it always did.
 */

static ngx_int_t
ngx_http_aggregate_check_uri(ngx_conf_t *cf,
    ngx_http_aggregate_part_conf_t *part)
{
    ngx_str_t            uri, args;
    ngx_uint_t           flags;
    ngx_connection_t     c;
    ngx_http_request_t   r;

    part->checked = 0;

    if (part->uri.lengths != NULL
        || part->uri.value.len == 0 || part->uri.value.data[0] != '/'
        || ngx_strlchr(part->uri.value.data,
                       part->uri.value.data + part->uri.value.len, '%'))
    {
        return NGX_OK;
    }

    ngx_memzero(&c, sizeof(ngx_connection_t));
    ngx_memzero(&r, sizeof(ngx_http_request_t));
    c.log = cf->log;
    r.connection = &c;
    r.pool = cf->pool;

    uri = part->uri.value;
    ngx_str_null(&args);
    flags = 0;

    if (ngx_http_parse_unsafe_uri(&r, &uri, &args, &flags) != NGX_OK) {
        return NGX_OK;
    }

    part->path = uri;
    part->args = args;
    part->checked = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aggregate_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_aggregate_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_aggregate_body_filter;

    return NGX_OK;
}
