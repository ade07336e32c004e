
/*
 * JSON response trimming: a body filter that copies through the members a
 * selection keeps, as the body streams.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_json.h"
#include "ngx_http_json_filter.h"


#define NGX_HTTP_JSON_FILTER_MAX_DEPTH  NGX_GW_JSON_MAX_DEPTH

/* what may wait undecided: the separator before a member and its name */
#define NGX_HTTP_JSON_FILTER_PENDING    4096

#define NGX_HTTP_JSON_FILTER_NAME       256


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


/* what the selections keep of the value at hand */
typedef struct {
    ngx_http_json_sel_t          *fields;
    ngx_http_json_sel_t          *allow;
    ngx_http_json_sel_t          *deny;        /* NULL: nothing below */
} ngx_http_json_filter_view_t;


typedef struct {
    ngx_http_json_filter_view_t   view;
    unsigned                      object:1;
    unsigned                      kept:1;       /* a member was kept */
} ngx_http_json_filter_level_t;


typedef enum {
    NGX_HTTP_JSON_FILTER_EMIT = 0,
    NGX_HTTP_JSON_FILTER_HOLD,
    NGX_HTTP_JSON_FILTER_DROP
} ngx_http_json_filter_mode_e;


typedef struct {
    ngx_http_json_filter_view_t   root;
    ngx_gw_json_t                 json;

    ngx_http_json_filter_mode_e   mode;
    unsigned                      quiet:1;      /* till a value's end */
    unsigned                      active:1;
    unsigned                      broken:1;     /* copies the rest as is */
    unsigned                      error_page:1;

    ngx_http_json_filter_view_t   member;       /* the kept member's view */
    ngx_buf_t                    *error_body;   /* sent instead of it all */
    off_t                         offset;       /* of the buffer at hand */

    ngx_buf_t                    *buf;          /* output being filled */
    ngx_chain_t                  *out;
    ngx_chain_t                 **last_out;
    ngx_chain_t                  *free;
    ngx_chain_t                  *busy;

    size_t                        pending_len;
    u_char                        pending[NGX_HTTP_JSON_FILTER_PENDING];
    u_char                        name[NGX_HTTP_JSON_FILTER_NAME];
    ngx_http_json_filter_level_t  levels[NGX_HTTP_JSON_FILTER_MAX_DEPTH + 1];
} ngx_http_json_filter_ctx_t;


static ngx_int_t ngx_http_json_filter_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_json_filter_selection(ngx_http_request_t *r,
    ngx_http_json_filter_loc_conf_t *jlcf, ngx_http_json_filter_ctx_t *ctx,
    const char **error);
static ngx_int_t ngx_http_json_filter_bad_fields(ngx_http_request_t *r,
    const char *error);
static ngx_buf_t *ngx_http_json_filter_error_body(ngx_http_request_t *r,
    const char *error);
static ngx_int_t ngx_http_json_filter_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_json_filter_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_json_filter_process(ngx_http_request_t *r,
    ngx_http_json_filter_ctx_t *ctx, u_char *pos, u_char *last);
static void ngx_http_json_filter_event(ngx_http_json_filter_ctx_t *ctx);
static void ngx_http_json_filter_quiet(ngx_http_json_filter_ctx_t *ctx,
    ngx_uint_t level);
static void ngx_http_json_filter_range(ngx_http_json_filter_ctx_t *ctx,
    u_char *from, u_char *to);
static void ngx_http_json_filter_emit(ngx_http_json_filter_ctx_t *ctx,
    u_char *p, size_t len);
static void ngx_http_json_filter_flush_pending(
    ngx_http_json_filter_ctx_t *ctx, ngx_uint_t first);
static void ngx_http_json_filter_broken(ngx_http_request_t *r,
    ngx_http_json_filter_ctx_t *ctx, const char *why, off_t where);
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

    switch (ngx_http_json_filter_selection(r, jlcf, ctx, &error)) {

    case NGX_OK:
        return NGX_DECLINED;

    case NGX_DECLINED:
        return ngx_http_json_filter_bad_fields(r, error);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
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
    ctx->root.allow = jlcf->allow ? jlcf->allow : &ngx_http_json_sel_whole;
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

    if (ngx_http_json_sel_finish(r->pool, sel) != NGX_OK) {
        return NGX_ERROR;
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
    u_char                           *type;
    size_t                            len;
    const char                       *error;
    ngx_http_json_filter_ctx_t       *ctx;
    ngx_http_json_filter_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_json_filter_module);

    if (jlcf->fields == NULL && jlcf->allow == NULL && jlcf->deny == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.status != NGX_HTTP_OK || r->header_only
        || r->method == NGX_HTTP_HEAD)
    {
        return ngx_http_next_header_filter(r);
    }

    len = r->headers_out.content_type_len;
    type = r->headers_out.content_type.data;

    if (ngx_http_test_content_type(r, &jlcf->types) == NULL
        && !(jlcf->plus_json && len > 5
             && ngx_strncasecmp(type + len - 5, (u_char *) "+json", 5) == 0))
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_json_filter_module);

    if (ctx == NULL) {

        /* the precontent phase was skipped: a "return", say */

        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_json_filter_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_json_filter_module);

        switch (ngx_http_json_filter_selection(r, jlcf, ctx, &error)) {

        case NGX_OK:
            break;

        case NGX_DECLINED:

            /* the response is already on its way: it turns into the 400 */

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

            return ngx_http_next_header_filter(r);

        default:
            return NGX_ERROR;
        }
    }

    if (ctx->error_page
        || (ngx_http_json_sel_is_whole(ctx->root.fields)
            && ngx_http_json_sel_is_whole(ctx->root.allow)
            && ctx->root.deny == NULL))
    {
        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->value.len)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "json_filter: a compressed response passes untrimmed; "
                      "send the upstream \"Accept-Encoding\" \"\"");
        return ngx_http_next_header_filter(r);
    }

    ngx_gw_json_init(&ctx->json, NGX_HTTP_JSON_FILTER_MAX_DEPTH, ctx->name,
                     NGX_HTTP_JSON_FILTER_NAME);
    ctx->json.name_starts = 1;
    ctx->last_out = &ctx->out;
    ctx->active = 1;

    r->filter_need_in_memory = 1;

    if (r == r->main) {
        ngx_http_clear_content_length(r);
        ngx_http_clear_accept_ranges(r);
        ngx_http_weak_etag(r);
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_json_filter_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                       size;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_chain_t                 *cl, *tail;
    ngx_http_json_filter_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_json_filter_module);

    if (ctx && ctx->error_body) {
        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

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

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;
        size = b->last - b->pos;

        /* room for this buffer and what waited from the ones before */

        tail = ngx_chain_get_free_buf(r->pool, &ctx->free);
        if (tail == NULL) {
            return NGX_ERROR;
        }

        ctx->buf = tail->buf;

        if (ctx->buf->start == NULL
            || (size_t) (ctx->buf->end - ctx->buf->start)
               < size + NGX_HTTP_JSON_FILTER_PENDING)
        {
            ctx->buf->start = ngx_palloc(r->pool,
                                         size + NGX_HTTP_JSON_FILTER_PENDING);
            if (ctx->buf->start == NULL) {
                return NGX_ERROR;
            }

            ctx->buf->end = ctx->buf->start + size
                            + NGX_HTTP_JSON_FILTER_PENDING;
        }

        ctx->buf->pos = ctx->buf->start;
        ctx->buf->last = ctx->buf->start;
        ctx->buf->temporary = 1;
        ctx->buf->tag = (ngx_buf_tag_t) &ngx_http_json_filter_module;

        if (size
            && ngx_http_json_filter_process(r, ctx, b->pos, b->last)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        b->pos = b->last;
        ctx->offset += size;

        if (b->last_buf || b->last_in_chain) {

            if (!ctx->broken && ngx_gw_json_finish(&ctx->json) != NGX_DONE) {
                ngx_http_json_filter_broken(r, ctx, ctx->json.error, -1);
            }

            /* what is still undecided is whitespace, or a broken tail */
            ngx_http_json_filter_flush_pending(ctx, 0);
        }

        ctx->buf->last_buf = b->last_buf;
        ctx->buf->last_in_chain = b->last_in_chain;
        ctx->buf->flush = b->flush;

        if (ctx->buf->pos == ctx->buf->last) {

            /* nothing kept: a bare mark, if there is one to pass on */

            if (!b->last_buf && !b->last_in_chain && !b->flush) {
                tail->next = ctx->free;
                ctx->free = tail;
                continue;
            }

            ctx->buf->temporary = 0;
        }

        *ctx->last_out = tail;
        ctx->last_out = &tail->next;
        tail->next = NULL;
    }

    rc = ngx_http_next_body_filter(r, ctx->out);

    ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &ctx->out,
                            (ngx_buf_tag_t) &ngx_http_json_filter_module);

    ctx->last_out = &ctx->out;

    return rc;
}


/*
 * Walks one buffer.  The bytes between two tokenizer events go the way of
 * the current mode: out, into pending (a separator and member name whose
 * fate is not yet known), or nowhere.
 */

static ngx_int_t
ngx_http_json_filter_process(ngx_http_request_t *r,
    ngx_http_json_filter_ctx_t *ctx, u_char *pos, u_char *last)
{
    u_char     *from, *p;
    ngx_int_t   rc;

    if (ctx->broken) {
        ngx_http_json_filter_emit(ctx, pos, last - pos);
        return NGX_OK;
    }

    from = pos;
    p = pos;

    for ( ;; ) {
        rc = ngx_gw_json_next(&ctx->json, &p, last);

        if (rc == NGX_AGAIN) {
            ngx_http_json_filter_range(ctx, from, last);
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            ngx_http_json_filter_range(ctx, from, p);
            ngx_http_json_filter_broken(r, ctx, ctx->json.error,
                                        ctx->offset + (p - pos));
            ngx_http_json_filter_emit(ctx, p, last - p);
            return NGX_OK;
        }

        if (rc == NGX_DONE) {
            ngx_http_json_filter_range(ctx, from, p);
            from = p;

            if (p == last) {
                return NGX_OK;
            }

            continue;
        }

        ngx_http_json_filter_range(ctx, from, ctx->json.mark);
        from = ctx->json.mark;

        ngx_http_json_filter_event(ctx);

        if (ctx->broken) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "json_filter: a member name or the space before "
                          "it is longer than 4k; the rest passes untrimmed");
            ngx_http_json_filter_emit(ctx, from, last - from);
            return NGX_OK;
        }

        /* the opening brace of a filtered object is out already */

        if (ctx->json.event == NGX_GW_JSON_VALUE_START
            && ctx->json.type == NGX_GW_JSON_OBJECT
            && ctx->mode == NGX_HTTP_JSON_FILTER_HOLD)
        {
            from++;
        }
    }
}


static void
ngx_http_json_filter_event(ngx_http_json_filter_ctx_t *ctx)
{
    ngx_uint_t                     l;
    ngx_http_json_sel_t           *f, *a, *d;
    ngx_http_json_filter_view_t    view;
    ngx_http_json_filter_level_t  *level;

    l = ctx->json.level;
    level = &ctx->levels[l];

    switch (ctx->json.event) {

    case NGX_GW_JSON_NAME_START:
        return;

    case NGX_GW_JSON_MEMBER_NAME:

        /* a member is kept if both selections keep it and no deny drops it */

        f = ngx_http_json_sel_find(level->view.fields, &ctx->json.name);
        a = ngx_http_json_sel_find(level->view.allow, &ctx->json.name);
        d = level->view.deny ? ngx_http_json_sel_find(level->view.deny,
                                                      &ctx->json.name)
                             : NULL;

        if (ctx->json.name_truncated && f && a) {
            /* a long name can only be kept by "*" */
            f = ngx_http_json_sel_is_whole(level->view.fields)
                ? f : level->view.fields->wildcard;
            a = ngx_http_json_sel_is_whole(level->view.allow)
                ? a : level->view.allow->wildcard;
            d = level->view.deny ? level->view.deny->wildcard : NULL;
        }

        if (f == NULL || a == NULL || (d && ngx_http_json_sel_is_whole(d))) {
            ctx->pending_len = 0;
            ctx->mode = NGX_HTTP_JSON_FILTER_DROP;
            ngx_http_json_filter_quiet(ctx, l);
            return;
        }

        ngx_http_json_filter_flush_pending(ctx, !level->kept);
        level->kept = 1;

        ctx->member.fields = f;
        ctx->member.allow = a;
        ctx->member.deny = d;
        ctx->mode = NGX_HTTP_JSON_FILTER_EMIT;
        return;

    case NGX_GW_JSON_VALUE_START:

        if (l == 0) {
            view = ctx->root;

        } else if (level->object) {
            view = ctx->member;

        } else {
            view = level->view;
        }

        ctx->mode = NGX_HTTP_JSON_FILTER_EMIT;

        if (ngx_http_json_sel_is_whole(view.fields)
            && ngx_http_json_sel_is_whole(view.allow) && view.deny == NULL)
        {
            /* nothing inside is removed: copy it whole */
            ngx_http_json_filter_quiet(ctx, l);
            return;
        }

        if (ctx->json.type != NGX_GW_JSON_OBJECT
            && ctx->json.type != NGX_GW_JSON_ARRAY)
        {
            return;
        }

        level = &ctx->levels[l + 1];
        level->view = view;
        level->object = (ctx->json.type == NGX_GW_JSON_OBJECT);
        level->kept = 0;

        if (level->object) {
            ngx_http_json_filter_emit(ctx, ctx->json.mark, 1);
            ctx->mode = NGX_HTTP_JSON_FILTER_HOLD;
        }

        return;

    case NGX_GW_JSON_VALUE_END:

        if (ctx->quiet) {
            ctx->quiet = 0;

        } else if (ctx->json.type == NGX_GW_JSON_OBJECT) {

            /* before the closing brace only whitespace can wait */
            ngx_http_json_filter_flush_pending(ctx, 0);
            ctx->mode = NGX_HTTP_JSON_FILTER_EMIT;
        }

        ctx->mode = (l > 0 && level->object) ? NGX_HTTP_JSON_FILTER_HOLD
                                             : NGX_HTTP_JSON_FILTER_EMIT;
        return;
    }
}


/*
 * What is inside the value that begins goes one way, whole: the tokenizer
 * still checks it, but says nothing until its end.
 */

static void
ngx_http_json_filter_quiet(ngx_http_json_filter_ctx_t *ctx, ngx_uint_t level)
{
    ctx->quiet = 1;
    ctx->json.quiet = 1;
    ctx->json.quiet_level = level;
}


static void
ngx_http_json_filter_range(ngx_http_json_filter_ctx_t *ctx, u_char *from,
    u_char *to)
{
    size_t  len;

    len = to - from;

    if (len == 0) {
        return;
    }

    switch (ctx->mode) {

    case NGX_HTTP_JSON_FILTER_EMIT:
        ngx_http_json_filter_emit(ctx, from, len);
        break;

    case NGX_HTTP_JSON_FILTER_HOLD:

        if (len > NGX_HTTP_JSON_FILTER_PENDING - ctx->pending_len) {
            ngx_http_json_filter_flush_pending(ctx, 0);
            ngx_http_json_filter_emit(ctx, from, len);
            ctx->broken = 1;
            break;
        }

        ngx_memcpy(ctx->pending + ctx->pending_len, from, len);
        ctx->pending_len += len;
        break;

    default:
        break;
    }
}


static void
ngx_http_json_filter_emit(ngx_http_json_filter_ctx_t *ctx, u_char *p,
    size_t len)
{
    ctx->buf->last = ngx_cpymem(ctx->buf->last, p, len);
}


/*
 * The first member kept in an object goes out without the comma that
 * separated it from the members dropped before it; the comma, if any,
 * comes before the quote that opens the member's name.
 */

static void
ngx_http_json_filter_flush_pending(ngx_http_json_filter_ctx_t *ctx,
    ngx_uint_t first)
{
    u_char  *p, *last;

    p = ctx->pending;
    last = p + ctx->pending_len;

    if (first) {
        while (p < last && *p != ',' && *p != '"') {
            p++;
        }

        if (p < last && *p == ',') {
            ngx_http_json_filter_emit(ctx, ctx->pending, p - ctx->pending);
            ngx_http_json_filter_emit(ctx, p + 1, last - p - 1);
            ctx->pending_len = 0;
            return;
        }
    }

    ngx_http_json_filter_emit(ctx, ctx->pending, ctx->pending_len);
    ctx->pending_len = 0;
}


/*
 * The headers are gone: a body that stops being JSON is not cut short but
 * sent on as it comes, with one line saying where it broke.
 */

static void
ngx_http_json_filter_broken(ngx_http_request_t *r,
    ngx_http_json_filter_ctx_t *ctx, const char *why, off_t where)
{
    ctx->broken = 1;

    if (where < 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "json_filter: malformed JSON from upstream: %s at "
                      "its end", why);

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "json_filter: malformed JSON from upstream: %s at "
                      "byte %O; the rest passes untrimmed", why, where);
    }

    ngx_http_json_filter_flush_pending(ctx, 0);
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

    if (ngx_http_json_sel_finish(cf->pool, jlcf->fields_sel) != NGX_OK) {
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

    if (ngx_http_json_sel_finish(cf->pool, jlcf->allow) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* every path denies its last member: one tree, whose leaves are removed */

static char *
ngx_http_json_filter_deny(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_json_filter_loc_conf_t *jlcf = conf;

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

        if (ngx_http_json_filter_parse_conf(cf, &value[i], jlcf->deny)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_json_sel_finish(cf->pool, jlcf->deny) != NGX_OK) {
        return NGX_CONF_ERROR;
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
