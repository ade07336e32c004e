
/*
 * JSON response trimming: a body filter that copies through the members a
 * selection keeps, as the body streams.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_json.h"
#include "ngx_gw_header.h"
#include "ngx_http_json_filter.h"


typedef struct {
    ngx_http_complex_value_t     *fields;
    ngx_http_json_sel_t          *fields_sel;   /* parsed when static */
    ngx_http_json_sel_t          *allow;
    ngx_http_json_sel_t          *deny;
    ngx_hash_t                    types;
    ngx_array_t                  *types_keys;
    ngx_uint_t                    plus_json;
    ngx_uint_t                    max_length;
    ngx_uint_t                    max_depth;
} ngx_http_json_filter_loc_conf_t;


/* json_deny and json_allow: what they remove must never be sent */
#define ngx_http_json_filter_strict(jlcf)                                    \
    ((jlcf)->allow != NULL || (jlcf)->deny != NULL)


typedef struct {
    ngx_http_json_filter_sels_t    root;
    ngx_http_json_filter_stream_t *stream;      /* once trimming begins */

    unsigned                       active:1;
    unsigned                       error_page:1;
    unsigned                       cut:1;        /* the body ended early */
    unsigned                       refused:1;    /* a 502 in its place */

    ngx_buf_t                     *error_body;   /* sent instead of it all */

    ngx_chain_t                   *held;         /* filled, not yet sent */
    ngx_chain_t                   *out;
    ngx_chain_t                  **last_out;
    ngx_chain_t                   *free;
    ngx_chain_t                   *busy;
} ngx_http_json_filter_ctx_t;


static ngx_int_t ngx_http_json_filter_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_json_filter_whole_body(ngx_http_request_t *r);
static ngx_uint_t ngx_http_json_filter_range_header(ngx_table_elt_t *h);
static ngx_int_t ngx_http_json_filter_selection(ngx_http_request_t *r,
    ngx_http_json_filter_loc_conf_t *jlcf, ngx_http_json_filter_ctx_t *ctx,
    const char **error);
static ngx_int_t ngx_http_json_filter_bad_fields(ngx_http_request_t *r,
    const char *error);
static ngx_buf_t *ngx_http_json_filter_error_body(ngx_http_request_t *r,
    const char *error);
static ngx_int_t ngx_http_json_filter_header_filter(ngx_http_request_t *r);
static ngx_uint_t ngx_http_json_filter_listed(ngx_http_request_t *r,
    ngx_http_json_filter_loc_conf_t *jlcf);
static ngx_int_t ngx_http_json_filter_start(ngx_http_request_t *r,
    ngx_http_json_filter_loc_conf_t *jlcf, ngx_http_json_filter_ctx_t **ctxp);
static ngx_int_t ngx_http_json_filter_refuse(ngx_http_request_t *r,
    ngx_http_json_filter_ctx_t *ctx);
static ngx_uint_t ngx_http_json_filter_token(ngx_str_t *value);
static void ngx_http_json_filter_trimmed_headers(ngx_http_request_t *r);
static ngx_int_t ngx_http_json_filter_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_json_filter_discard(ngx_chain_t *in);
static void *ngx_http_json_filter_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_json_filter_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_json_filter_fields(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_json_filter_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_json_filter_deny(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_json_filter_init(ngx_conf_t *cf);


static ngx_str_t  ngx_http_json_filter_default_types[] = {
    ngx_string("application/json"),
    ngx_null_string
};


static ngx_command_t  ngx_http_json_filter_commands[] = {

    { ngx_string("json_fields"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_json_filter_fields,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("json_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_json_filter_allow,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("json_deny"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_json_filter_deny,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("json_filter_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_types_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_json_filter_loc_conf_t, types_keys),
      &ngx_http_json_filter_default_types[0] },

    { ngx_string("json_fields_max_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_json_filter_loc_conf_t, max_length),
      NULL },

    { ngx_string("json_fields_max_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_json_filter_loc_conf_t, max_depth),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_json_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_json_filter_init,             /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_json_filter_create_loc_conf,  /* create location configuration */
    ngx_http_json_filter_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_json_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_json_filter_module_ctx,      /* module context */
    ngx_http_json_filter_commands,         /* module directives */
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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * Checks the selection before the request goes anywhere: a client's bad
 * selection gets its 400 without the upstream being asked.
 */

static ngx_int_t
ngx_http_json_filter_handler(ngx_http_request_t *r)
{
    const char                       *error;
    ngx_http_json_filter_ctx_t       *ctx;
    ngx_http_json_filter_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_json_filter_module);

    if (jlcf->fields == NULL && jlcf->allow == NULL && jlcf->deny == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_json_filter_module);

    if (ctx) {
        return NGX_DECLINED;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_json_filter_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_json_filter_module);

    if (ngx_http_json_filter_strict(jlcf)
        && ngx_http_json_filter_whole_body(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ngx_http_json_filter_selection(r, jlcf, ctx, &error)) {

    case NGX_OK:
        return NGX_DECLINED;

    case NGX_DECLINED:
        return ngx_http_json_filter_bad_fields(r, error);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/*
 * Under json_deny or json_allow only a whole body can be trimmed, so Range
 * and If-Range are not passed on, as proxy_cache does: the request gets a
 * list of headers without them (a list cannot lose an element), the one
 * proxy_pass and the other modules that pass a request on copy from.
 * r->headers_in.range stays, for nginx's range filter: it still slices
 * the responses that are not trimmed.
 */

static ngx_int_t
ngx_http_json_filter_whole_body(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_t        headers;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (r->headers_in.range == NULL && r->headers_in.if_range == NULL) {
        return NGX_OK;
    }

    if (ngx_list_init(&headers, r->pool, 16, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (!ngx_http_json_filter_range_header(&h[i])
            && ngx_gw_header_copy(&headers, &h[i]) == NULL)
        {
            return NGX_ERROR;
        }
    }

    r->headers_in.headers = headers;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_json_filter_range_header(ngx_table_elt_t *h)
{
    return (h->key.len == sizeof("Range") - 1
            && ngx_strncasecmp(h->key.data, (u_char *) "Range",
                               sizeof("Range") - 1) == 0)
           || (h->key.len == sizeof("If-Range") - 1
               && ngx_strncasecmp(h->key.data, (u_char *) "If-Range",
                                  sizeof("If-Range") - 1) == 0);
}


static ngx_int_t
ngx_http_json_filter_selection(ngx_http_request_t *r,
    ngx_http_json_filter_loc_conf_t *jlcf, ngx_http_json_filter_ctx_t *ctx,
    const char **error)
{
    u_char               *dst, *src;
    ngx_str_t             text;
    ngx_http_json_sel_t  *sel;

    ctx->root.fields = &ngx_http_json_sel_whole;
    ctx->root.allow = jlcf->allow ? jlcf->allow
                                         : &ngx_http_json_sel_whole;
    ctx->root.deny = jlcf->deny;

    if (jlcf->fields_sel) {
        ctx->root.fields = jlcf->fields_sel;
        return NGX_OK;
    }

    if (jlcf->fields == NULL) {
        return NGX_OK;
    }

    if (ngx_http_complex_value(r, jlcf->fields, &text) != NGX_OK) {
        return NGX_ERROR;
    }

    if (text.len == 0) {
        return NGX_OK;
    }

    if (text.len > jlcf->max_length) {
        *error = "too long";
        return NGX_DECLINED;
    }

    /* from a query string, commas and parentheses may come escaped */

    if (ngx_strlchr(text.data, text.data + text.len, '%')) {
        dst = ngx_pnalloc(r->pool, text.len);
        if (dst == NULL) {
            return NGX_ERROR;
        }

        src = text.data;
        text.data = dst;
        ngx_unescape_uri(&dst, &src, text.len, 0);
        text.len = dst - text.data;
    }

    sel = ngx_pcalloc(r->pool, sizeof(ngx_http_json_sel_t));
    if (sel == NULL) {
        return NGX_ERROR;
    }

    sel->members = ngx_array_create(r->pool, 4, sizeof(ngx_http_json_sel_t));
    if (sel->members == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_json_sel_parse(r->pool, &text, jlcf->max_depth, sel, error)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ctx->root.fields = sel;

    return NGX_OK;
}


static ngx_int_t
ngx_http_json_filter_bad_fields(ngx_http_request_t *r, const char *error)
{
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_chain_t                  out;
    ngx_http_json_filter_ctx_t  *ctx;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "json_filter: invalid fields: %s", error);

    ctx = ngx_http_get_module_ctx(r, ngx_http_json_filter_module);
    ctx->error_page = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_http_json_filter_error_body(r, error);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_BAD_REQUEST;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));

    return NGX_DONE;
}


static ngx_buf_t *
ngx_http_json_filter_error_body(ngx_http_request_t *r, const char *error)
{
    size_t      len;
    ngx_buf_t  *b;

    len = sizeof("{\"error\":\"invalid fields: \"}\n") - 1 + ngx_strlen(error);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->pos, "{\"error\":\"invalid fields: %s\"}\n",
                          error);

    return b;
}


static ngx_int_t
ngx_http_json_filter_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                        status, strict, encoded;
    ngx_http_json_filter_ctx_t       *ctx;
    ngx_http_json_filter_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_json_filter_module);

    if (jlcf->fields == NULL && jlcf->allow == NULL && jlcf->deny == NULL) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_json_filter_module);

    /* our own 400, or nginx's 502 in place of a response refused */

    if (ctx && (ctx->error_page || ctx->refused)) {
        return ngx_http_next_header_filter(r);
    }

    status = r->headers_out.status;
    strict = ngx_http_json_filter_strict(jlcf);

    /* 1xx, 204 and 304 have no body */

    if (status < NGX_HTTP_OK
        || status == NGX_HTTP_NO_CONTENT
        || status == NGX_HTTP_NOT_MODIFIED)
    {
        return ngx_http_next_header_filter(r);
    }

    /* json_fields alone shapes the body of a 200 */

    if (!strict
        && (status != NGX_HTTP_OK || r->header_only
            || r->method == NGX_HTTP_HEAD))
    {
        return ngx_http_next_header_filter(r);
    }

    if (!ngx_http_json_filter_listed(r, jlcf)) {

        /* the parts of a multipart/byteranges response may be JSON */

        if (strict
            && status == NGX_HTTP_PARTIAL_CONTENT
            && r->headers_out.content_type.len
               >= sizeof("multipart/byteranges") - 1
            && ngx_strncasecmp(r->headers_out.content_type.data,
                               (u_char *) "multipart/byteranges",
                               sizeof("multipart/byteranges") - 1)
               == 0)
        {
            return ngx_http_json_filter_refuse(r, ctx);
        }

        return ngx_http_next_header_filter(r);
    }

    switch (ngx_http_json_filter_start(r, jlcf, &ctx)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        return ngx_http_next_header_filter(r);

    default:
        return NGX_ERROR;
    }

    /* json_fields shapes a 200; json_deny and json_allow, every body */

    if (status != NGX_HTTP_OK) {
        ctx->root.fields = &ngx_http_json_sel_whole;
    }

    if (ngx_http_json_sel_is_whole(ctx->root.fields) && !strict) {
        return ngx_http_next_header_filter(r);
    }

    encoded = (r->headers_out.content_encoding
               && r->headers_out.content_encoding->value.len);

    if (strict && (status == NGX_HTTP_PARTIAL_CONTENT || encoded)) {
        return ngx_http_json_filter_refuse(r, ctx);
    }

    if (encoded) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "json_filter: a compressed response passes untrimmed; "
                      "send the upstream \"Accept-Encoding\" \"\"");
        return ngx_http_next_header_filter(r);
    }

    if (r->header_only || r->method == NGX_HTTP_HEAD) {

        /* json_deny or json_allow: the headers a GET would get */

        ngx_http_json_filter_trimmed_headers(r);
        return ngx_http_next_header_filter(r);
    }

    /* only a response being trimmed pays for the stream's buffers */

    ctx->stream = ngx_palloc(r->pool, sizeof(ngx_http_json_filter_stream_t));
    if (ctx->stream == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_json_filter_stream_init(ctx->stream, &ctx->root, r->pool,
                                         r->connection->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->last_out = &ctx->out;
    ctx->active = 1;

    r->filter_need_in_memory = 1;

    ngx_http_json_filter_trimmed_headers(r);

    return ngx_http_next_header_filter(r);
}


static ngx_uint_t
ngx_http_json_filter_listed(ngx_http_request_t *r,
    ngx_http_json_filter_loc_conf_t *jlcf)
{
    size_t   len;
    u_char  *type;

    if (ngx_http_test_content_type(r, &jlcf->types) != NULL) {
        return 1;
    }

    len = r->headers_out.content_type_len;
    type = r->headers_out.content_type.data;

    return jlcf->plus_json && len > 5
           && ngx_strncasecmp(type + len - 5, (u_char *) "+json", 5) == 0;
}


/*
 * The context, made here when the precontent phase was skipped (a
 * "return", say).  NGX_DECLINED: the client's selection is bad, and the
 * response turns into the 400.
 */

static ngx_int_t
ngx_http_json_filter_start(ngx_http_request_t *r,
    ngx_http_json_filter_loc_conf_t *jlcf, ngx_http_json_filter_ctx_t **ctxp)
{
    const char                  *error;
    ngx_http_json_filter_ctx_t  *ctx;

    if (*ctxp) {
        return NGX_OK;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_json_filter_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_json_filter_module);
    *ctxp = ctx;

    switch (ngx_http_json_filter_selection(r, jlcf, ctx, &error)) {

    case NGX_OK:
        return NGX_OK;

    case NGX_DECLINED:
        break;

    default:
        return NGX_ERROR;
    }

    /* json_fields shapes only a 200: a bad selection spoils no other */

    if (r->headers_out.status != NGX_HTTP_OK) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "json_filter: invalid fields: %s", error);

    ctx->error_body = ngx_http_json_filter_error_body(r, error);
    if (ctx->error_body == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.status = NGX_HTTP_BAD_REQUEST;
    r->headers_out.content_length_n = ngx_buf_size(ctx->error_body);
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    r->headers_out.content_type_lowcase = NULL;
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);
    ngx_http_clear_accept_ranges(r);

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return NGX_DECLINED;
}


/*
 * Under json_deny or json_allow, a response that cannot be trimmed (a
 * part of a body, a compressed one) is not sent: the status can still
 * change, and nginx answers 502 in its place, error_page included, with
 * none of its headers.
 */

static ngx_int_t
ngx_http_json_filter_refuse(ngx_http_request_t *r,
    ngx_http_json_filter_ctx_t *ctx)
{
    ngx_str_t  *encoding;

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_json_filter_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_json_filter_module);
    }

    if (r->headers_out.status == NGX_HTTP_PARTIAL_CONTENT) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "json_filter: a partial response (206) cannot be "
                      "trimmed: 502 instead");

    } else {
        encoding = &r->headers_out.content_encoding->value;

        if (ngx_http_json_filter_token(encoding)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "json_filter: a response compressed with \"%V\" "
                          "cannot be trimmed: 502 instead; send the "
                          "upstream \"Accept-Encoding\" \"\"", encoding);

        } else {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "json_filter: a compressed response cannot be "
                          "trimmed: 502 instead; send the upstream "
                          "\"Accept-Encoding\" \"\"");
        }
    }

    ctx->refused = 1;

    ngx_http_clean_header(r);

    return NGX_HTTP_BAD_GATEWAY;
}


/* a value from upstream that may go into the log as it is */

static ngx_uint_t
ngx_http_json_filter_token(ngx_str_t *value)
{
    size_t  i;

    if (value->len > 32) {
        return 0;
    }

    for (i = 0; i < value->len; i++) {
        if (value->data[i] <= ' ' || value->data[i] >= 0x7f
            || value->data[i] == '"' || value->data[i] == '\\')
        {
            return 0;
        }
    }

    return 1;
}


/* what the body will be is not known: no length, no ranges, a weak ETag */

static void
ngx_http_json_filter_trimmed_headers(ngx_http_request_t *r)
{
    r->allow_ranges = 0;

    if (r == r->main) {
        ngx_http_clear_content_length(r);
        ngx_http_clear_accept_ranges(r);
        ngx_http_weak_etag(r);
    }
}


static ngx_int_t
ngx_http_json_filter_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                       size, room;
    ngx_int_t                    rc;
    ngx_buf_t                   *b, *out;
    ngx_chain_t                 *cl, *tail;
    ngx_http_json_filter_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_json_filter_module);

    if (ctx && ctx->error_body) {
        ngx_http_json_filter_discard(in);

        if (ctx->error_body->last_buf) {
            return NGX_OK;
        }

        ctx->error_body->last_buf = 1;
        tail = ngx_alloc_chain_link(r->pool);
        if (tail == NULL) {
            return NGX_ERROR;
        }

        tail->buf = ctx->error_body;
        tail->next = NULL;

        return ngx_http_next_body_filter(r, tail);
    }

    if (ctx == NULL || !ctx->active || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->cut) {
        ngx_http_json_filter_discard(in);
        return NGX_ERROR;
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;
        size = b->last - b->pos;

        /*
         * What is kept of several buffers goes out together, in a buffer
         * of twice the input's size, as gzip holds its output: every send
         * costs a system call and a wakeup of the reader, and a fifth of
         * 32 KB is a small write.  A flush or the end sends it at once.
         */

        tail = ctx->held;
        ctx->held = NULL;

        if (tail
            && (size_t) (tail->buf->end - tail->buf->last)
               < size + NGX_HTTP_JSON_FILTER_PENDING)
        {
            *ctx->last_out = tail;
            ctx->last_out = &tail->next;
            tail->next = NULL;
            tail = NULL;
        }

        if (tail == NULL) {

            /* room for this buffer and what waited from the ones before */

            tail = ngx_chain_get_free_buf(r->pool, &ctx->free);
            if (tail == NULL) {
                return NGX_ERROR;
            }

            out = tail->buf;

            room = size + NGX_HTTP_JSON_FILTER_PENDING;

            if (!b->last_buf && !b->last_in_chain && !b->flush) {
                room += size;
            }

            if (out->start == NULL || (size_t) (out->end - out->start) < room)
            {
                out->start = ngx_palloc(r->pool, room);
                if (out->start == NULL) {
                    return NGX_ERROR;
                }

                out->end = out->start + room;
            }

            out->pos = out->start;
            out->last = out->start;
            out->temporary = 1;
            out->tag = (ngx_buf_tag_t) &ngx_http_json_filter_module;
        }

        out = tail->buf;
        ctx->stream->buf = out;

        if (size) {
            ngx_http_json_filter_stream_feed(ctx->stream, b->pos, b->last);
        }

        b->pos = b->last;

        if (b->last_buf || b->last_in_chain) {
            ngx_http_json_filter_stream_end(ctx->stream);
        }

        if (ngx_http_json_filter_stream_cut(ctx->stream)) {

            /*
             * What was kept goes out, and the response ends there as one
             * that failed mid-body: no last chunk, the connection closed
             * (a reset stream on HTTP/2), as when an upstream breaks off
             */

            ctx->cut = 1;
            ngx_http_json_filter_discard(cl->next);

            out->last_buf = 0;
            out->last_in_chain = 0;
            out->flush = 1;

        } else {
            out->last_buf = b->last_buf;
            out->last_in_chain = b->last_in_chain;
            out->flush = b->flush;
        }

        if (!out->last_buf && !out->last_in_chain && !out->flush) {

            /* kept for the next buffers, or free again if nothing is kept */

            if (out->pos == out->last) {
                tail->next = ctx->free;
                ctx->free = tail;

            } else {
                ctx->held = tail;
            }

            continue;
        }

        if (out->pos == out->last) {

            /* nothing kept: a bare mark to pass on */

            out->temporary = 0;
        }

        *ctx->last_out = tail;
        ctx->last_out = &tail->next;
        tail->next = NULL;

        if (ctx->cut) {
            break;
        }
    }

    rc = ngx_http_next_body_filter(r, ctx->out);

    ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &ctx->out,
                            (ngx_buf_tag_t) &ngx_http_json_filter_module);

    ctx->last_out = &ctx->out;

    return ctx->cut ? NGX_ERROR : rc;
}


static void
ngx_http_json_filter_discard(ngx_chain_t *in)
{
    for ( /* void */ ; in; in = in->next) {
        in->buf->pos = in->buf->last;
        in->buf->file_pos = in->buf->file_last;
    }
}


static void *
ngx_http_json_filter_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_json_filter_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_json_filter_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->types = { NULL };
     *     conf->types_keys = NULL;
     */

    conf->fields = NGX_CONF_UNSET_PTR;
    conf->fields_sel = NGX_CONF_UNSET_PTR;
    conf->allow = NGX_CONF_UNSET_PTR;
    conf->deny = NGX_CONF_UNSET_PTR;
    conf->max_length = NGX_CONF_UNSET_UINT;
    conf->max_depth = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_json_filter_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_json_filter_loc_conf_t  *prev = parent;
    ngx_http_json_filter_loc_conf_t  *conf = child;

    if (conf->fields == NGX_CONF_UNSET_PTR) {
        conf->fields = prev->fields;
        conf->fields_sel = prev->fields_sel;
    }

    ngx_conf_merge_ptr_value(conf->fields, NULL, NULL);
    ngx_conf_merge_ptr_value(conf->fields_sel, NULL, NULL);
    ngx_conf_merge_ptr_value(conf->allow, prev->allow, NULL);
    ngx_conf_merge_ptr_value(conf->deny, prev->deny, NULL);
    ngx_conf_merge_uint_value(conf->max_length, prev->max_length, 1024);
    ngx_conf_merge_uint_value(conf->max_depth, prev->max_depth, 8);

    if (ngx_http_merge_types(cf, &conf->types_keys, &conf->types,
                             &prev->types_keys, &prev->types,
                             ngx_http_json_filter_default_types)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* "application/json" covers the "+json" types too ("*" covers all) */

    conf->plus_json = (conf->types_keys != (void *) -1
                       && ngx_hash_find(&conf->types,
                                        ngx_hash_key((u_char *)
                                                     "application/json",
                                                     16),
                                        (u_char *) "application/json", 16)
                          != NULL);

    return NGX_CONF_OK;
}


static char *
ngx_http_json_filter_parse_conf(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_json_sel_t *sel)
{
    const char  *error;

    if (ngx_http_json_sel_parse(cf->pool, value, NGX_HTTP_JSON_FILTER_MAX_DEPTH,
                                sel, &error)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid selection \"%V\": %s", value, error);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_http_json_sel_t *
ngx_http_json_filter_root(ngx_conf_t *cf)
{
    ngx_http_json_sel_t  *sel;

    sel = ngx_pcalloc(cf->pool, sizeof(ngx_http_json_sel_t));
    if (sel == NULL) {
        return NULL;
    }

    sel->members = ngx_array_create(cf->pool, 4, sizeof(ngx_http_json_sel_t));

    return sel->members ? sel : NULL;
}


static char *
ngx_http_json_filter_fields(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_json_filter_loc_conf_t *jlcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (jlcf->fields != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    jlcf->fields = NULL;
    jlcf->fields_sel = NULL;

    if (value[1].len == 0) {
        return NGX_CONF_OK;
    }

    jlcf->fields = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (jlcf->fields == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = jlcf->fields;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (jlcf->fields->lengths) {
        return NGX_CONF_OK;
    }

    /* a selection in the configuration itself is checked now */

    jlcf->fields_sel = ngx_http_json_filter_root(cf);
    if (jlcf->fields_sel == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_json_filter_parse_conf(cf, &value[1], jlcf->fields_sel)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_json_filter_allow(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_json_filter_loc_conf_t *jlcf = conf;

    ngx_str_t  *value;

    if (jlcf->allow != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    jlcf->allow = ngx_http_json_filter_root(cf);
    if (jlcf->allow == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_json_filter_parse_conf(cf, &value[1], jlcf->allow)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* every path denies its last member: one tree, whose leaves are removed */

static char *
ngx_http_json_filter_deny(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_json_filter_loc_conf_t *jlcf = conf;

    u_char      *p, *last, *slash;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (jlcf->deny != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    jlcf->deny = ngx_http_json_filter_root(cf);
    if (jlcf->deny == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '(')
            || ngx_strlchr(value[i].data, value[i].data + value[i].len, ','))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid path \"%V\": one path an argument, "
                               "as \"a/b\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        /* the stream tells names apart by their first bytes only */

        last = value[i].data + value[i].len;

        for (p = value[i].data; p < last; p = slash + 1) {
            slash = ngx_strlchr(p, last, '/');

            if (slash == NULL) {
                slash = last;
            }

            if (slash - p > NGX_HTTP_JSON_FILTER_NAME) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid path \"%V\": a name longer than "
                                   "%d bytes cannot be matched", &value[i],
                                   NGX_HTTP_JSON_FILTER_NAME);
                return NGX_CONF_ERROR;
            }
        }

        if (ngx_http_json_filter_parse_conf(cf, &value[i], jlcf->deny)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_json_filter_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_json_filter_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_json_filter_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_json_filter_body_filter;

    return NGX_OK;
}
