
/*
 * The aggregated response: the parts' bodies as they came, grouped under
 * their names or merged into one object, or an error naming the required
 * part that failed; and the headers telling how each part went.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aggregate.h"


static size_t ngx_http_aggregate_group_size(ngx_http_aggregate_ctx_t *ctx);
static u_char *ngx_http_aggregate_group(ngx_http_aggregate_ctx_t *ctx,
    u_char *p);
static ngx_int_t ngx_http_aggregate_overridden(ngx_http_aggregate_ctx_t *ctx,
    ngx_pool_t *pool, u_char **skip);
static size_t ngx_http_aggregate_merge_size(ngx_http_aggregate_ctx_t *ctx,
    u_char *skip);
static u_char *ngx_http_aggregate_merge(ngx_http_aggregate_ctx_t *ctx,
    u_char *skip, u_char *p);
static size_t ngx_http_aggregate_escaped_len(ngx_str_t *s);
static u_char *ngx_http_aggregate_escape(u_char *p, ngx_str_t *s);
static ngx_int_t ngx_http_aggregate_headers(ngx_http_aggregate_ctx_t *ctx,
    ngx_uint_t complete);
static ngx_int_t ngx_http_aggregate_header(ngx_http_request_t *r,
    char *name, ngx_str_t *value);


#define ngx_http_aggregate_good(part)  ((part)->failure == NULL)


ngx_int_t
ngx_http_aggregate_build(ngx_http_aggregate_ctx_t *ctx, ngx_chain_t **out)
{
    u_char                     *skip;
    size_t                      size;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, complete;
    ngx_chain_t                *cl;
    ngx_http_request_t         *r;
    ngx_http_aggregate_part_t  *part, *failed;

    r = ctx->request;
    complete = 1;
    failed = NULL;

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];

        if (ngx_http_aggregate_good(part)) {
            continue;
        }

        complete = 0;

        /* the deadline, if it took a required part, says 504 */

        if (part->conf->required
            && (failed == NULL || (part->timed_out && !failed->timed_out)))
        {
            failed = part;
        }
    }

    skip = NULL;

    if (failed) {
        size = sizeof("{\"error\":\"a required part failed\",\"part\":\"\","
                      "\"status\":}") - 1
               + failed->conf->name.len + NGX_INT_T_LEN;

    } else if (ctx->conf->merge) {
        if (ngx_http_aggregate_overridden(ctx, r->pool, &skip) != NGX_OK) {
            return NGX_ERROR;
        }

        size = ngx_http_aggregate_merge_size(ctx, skip);

    } else {
        size = ngx_http_aggregate_group_size(ctx);
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (failed) {
        b->last = ngx_sprintf(b->last, "{\"error\":\"a required part failed\","
                              "\"part\":\"%V\",\"status\":%ui}",
                              &failed->conf->name, failed->status);

    } else if (ctx->conf->merge) {
        b->last = ngx_http_aggregate_merge(ctx, skip, b->last);

    } else {
        b->last = ngx_http_aggregate_group(ctx, b->last);
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;
    *out = cl;

    if (failed == NULL) {
        r->headers_out.status = NGX_HTTP_OK;

    } else if (failed->timed_out) {
        r->headers_out.status = NGX_HTTP_GATEWAY_TIME_OUT;

    } else {
        r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
    }
    r->headers_out.content_length_n = b->last - b->pos;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    return ngx_http_aggregate_headers(ctx, complete);
}


/* {"name":<body>,"other":null} */

static size_t
ngx_http_aggregate_group_size(ngx_http_aggregate_ctx_t *ctx)
{
    size_t                      size;
    ngx_uint_t                  i;
    ngx_http_aggregate_part_t  *part;

    size = sizeof("{}") - 1;

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];

        size += sizeof(",\"\":") - 1 + part->conf->name.len;
        size += ngx_http_aggregate_good(part)
                ? (size_t) (part->capture.buf->last - part->capture.buf->pos)
                : sizeof("null") - 1;
    }

    return size;
}


static u_char *
ngx_http_aggregate_group(ngx_http_aggregate_ctx_t *ctx, u_char *p)
{
    ngx_uint_t                  i;
    ngx_http_aggregate_part_t  *part;

    *p++ = '{';

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];

        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, part->conf->name.data, part->conf->name.len);
        *p++ = '"';
        *p++ = ':';

        if (ngx_http_aggregate_good(part)) {
            p = ngx_cpymem(p, part->capture.buf->pos,
                           part->capture.buf->last - part->capture.buf->pos);

        } else {
            p = ngx_cpymem(p, "null", sizeof("null") - 1);
        }
    }

    *p++ = '}';

    return p;
}


/*
 * Marks the members a later part replaces: the parts are walked from the
 * last, and a name seen already is overridden where it comes earlier.
 * skip has one byte for each member of each good part, in order.
 */

static ngx_int_t
ngx_http_aggregate_overridden(ngx_http_aggregate_ctx_t *ctx,
    ngx_pool_t *pool, u_char **skip)
{
    u_char                     *marks;
    ngx_str_t                 **table, *name;
    ngx_uint_t                  i, k, n, size, total, key, at;
    ngx_gw_json_member_t       *m;
    ngx_http_aggregate_part_t  *part;

    total = 0;

    for (i = 0; i < ctx->nparts; i++) {
        if (ngx_http_aggregate_good(&ctx->parts[i])) {
            total += ctx->parts[i].members.nelts;
        }
    }

    for (size = 16; size < 2 * total; size *= 2) { /* void */ }

    table = ngx_pcalloc(pool, size * sizeof(ngx_str_t *));
    marks = ngx_pcalloc(pool, total + 1);

    if (table == NULL || marks == NULL) {
        return NGX_ERROR;
    }

    at = total;

    for (i = ctx->nparts; i-- > 0; /* void */) {
        part = &ctx->parts[i];

        if (!ngx_http_aggregate_good(part)) {
            continue;
        }

        m = part->members.elts;
        n = part->members.nelts;
        at -= n;

        for (k = 0; k < n; k++) {
            key = ngx_hash_key(m[k].name.data, m[k].name.len) & (size - 1);

            for ( ;; ) {
                name = table[key];

                if (name == NULL) {
                    table[key] = &m[k].name;
                    break;
                }

                if (name->len == m[k].name.len
                    && ngx_memcmp(name->data, m[k].name.data, name->len) == 0)
                {
                    /* within one part names are unique: a later part's */
                    marks[at + k] = 1;
                    break;
                }

                key = (key + 1) & (size - 1);
            }
        }
    }

    *skip = marks;

    return NGX_OK;
}


static size_t
ngx_http_aggregate_merge_size(ngx_http_aggregate_ctx_t *ctx, u_char *skip)
{
    size_t                      size;
    ngx_uint_t                  i, k;
    ngx_gw_json_member_t       *m;
    ngx_http_aggregate_part_t  *part;

    size = sizeof("{}") - 1;

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];

        if (!ngx_http_aggregate_good(part)) {
            continue;
        }

        m = part->members.elts;

        for (k = 0; k < part->members.nelts; k++, skip++) {
            if (*skip == 0) {
                size += sizeof(",\"\":") - 1
                        + ngx_http_aggregate_escaped_len(&m[k].name)
                        + m[k].value.len;
            }
        }
    }

    return size;
}


static u_char *
ngx_http_aggregate_merge(ngx_http_aggregate_ctx_t *ctx, u_char *skip,
    u_char *p)
{
    u_char                     *start;
    ngx_uint_t                  i, k;
    ngx_gw_json_member_t       *m;
    ngx_http_aggregate_part_t  *part;

    start = p;
    *p++ = '{';

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];

        if (!ngx_http_aggregate_good(part)) {
            continue;
        }

        m = part->members.elts;

        for (k = 0; k < part->members.nelts; k++, skip++) {
            if (*skip) {
                continue;
            }

            if (p != start + 1) {
                *p++ = ',';
            }

            *p++ = '"';
            p = ngx_http_aggregate_escape(p, &m[k].name);
            *p++ = '"';
            *p++ = ':';
            p = ngx_cpymem(p, m[k].value.data, m[k].value.len);
        }
    }

    *p++ = '}';

    return p;
}


/*
 * A name comes unescaped from the tokenizer: what JSON requires escaped
 * is escaped again, the rest (UTF-8 included) goes as it is.
 */

static size_t
ngx_http_aggregate_escaped_len(ngx_str_t *s)
{
    size_t   len;
    u_char  *p, *last;

    len = s->len;
    last = s->data + s->len;

    for (p = s->data; p < last; p++) {
        if (*p == '"' || *p == '\\') {
            len++;

        } else if (*p < 0x20) {
            len += sizeof("\\u0000") - 2;
        }
    }

    return len;
}


static u_char *
ngx_http_aggregate_escape(u_char *p, ngx_str_t *s)
{
    u_char  *c, *last;

    last = s->data + s->len;

    for (c = s->data; c < last; c++) {
        if (*c == '"' || *c == '\\') {
            *p++ = '\\';
            *p++ = *c;

        } else if (*c < 0x20) {
            p = ngx_sprintf(p, "\\u%04xd", (ngx_uint_t) *c);

        } else {
            *p++ = *c;
        }
    }

    return p;
}


/*
 * X-Aggregate-Completed and X-Aggregate-Parts on every response; an
 * incomplete one must not be cached anywhere.
 */

static ngx_int_t
ngx_http_aggregate_headers(ngx_http_aggregate_ctx_t *ctx, ngx_uint_t complete)
{
    u_char                     *p;
    size_t                      size;
    ngx_str_t                   value;
    ngx_uint_t                  i;
    ngx_http_request_t         *r;
    ngx_http_aggregate_part_t  *part;

    r = ctx->request;

    if (complete) {
        ngx_str_set(&value, "true");

    } else {
        ngx_str_set(&value, "false");
    }

    if (ngx_http_aggregate_header(r, "X-Aggregate-Completed", &value)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    size = 0;

    for (i = 0; i < ctx->nparts; i++) {
        size += sizeof(", =") - 1 + ctx->parts[i].conf->name.len
                + NGX_INT_T_LEN;
    }

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];

        if (i) {
            *p++ = ',';
            *p++ = ' ';
        }

        p = ngx_cpymem(p, part->conf->name.data, part->conf->name.len);
        *p++ = '=';

        /* the three digits of a status without a round of ngx_sprintf() */

        if (part->status >= 100 && part->status <= 999) {
            *p++ = (u_char) ('0' + part->status / 100);
            *p++ = (u_char) ('0' + part->status / 10 % 10);
            *p++ = (u_char) ('0' + part->status % 10);

        } else {
            p = ngx_sprintf(p, "%ui", part->status);
        }
    }

    value.len = p - value.data;

    if (ngx_http_aggregate_header(r, "X-Aggregate-Parts", &value) != NGX_OK) {
        return NGX_ERROR;
    }

    if (complete) {
        return NGX_OK;
    }

    ngx_str_set(&value, "no-store");

    return ngx_http_aggregate_header(r, "Cache-Control", &value);
}


static ngx_int_t
ngx_http_aggregate_header(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_gw_header_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}
