
/*
 * Subrequests whose response is read by a module: see ngx_gw_subrequest.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_subrequest.h"
#include "ngx_gw_header.h"


static ngx_str_t  ngx_gw_subrequest_dropped[] = {
    ngx_string("Range"),
    ngx_string("If-Range"),
    ngx_string("If-Match"),
    ngx_string("If-None-Match"),
    ngx_string("If-Modified-Since"),
    ngx_string("If-Unmodified-Since"),
    ngx_string("Accept-Encoding"),
    ngx_string("Content-Length"),
    ngx_string("Content-Type"),
    ngx_string("Transfer-Encoding"),
    ngx_string("Expect"),
    ngx_null_string
};


static ngx_str_t  ngx_gw_subrequest_credentials[] = {
    ngx_string("Authorization"),
    ngx_string("Proxy-Authorization"),
    ngx_string("Cookie"),
    ngx_null_string
};


static ngx_uint_t ngx_gw_subrequest_listed(ngx_str_t *list, ngx_str_t *key);


ngx_int_t
ngx_gw_subrequest_own_headers(ngx_http_request_t *sr,
    ngx_uint_t credentials)
{
    ngx_uint_t         i, n;
    ngx_list_part_t   *part;
    ngx_table_elt_t   *h;

    /* room for what the parent has, not more: a part is made per request */

    n = 0;

    for (part = &sr->parent->headers_in.headers.part; part; part = part->next)
    {
        n += part->nelts;
    }

    if (ngx_list_init(&sr->headers_in.headers, sr->pool, ngx_max(n, 1),
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = &sr->parent->headers_in.headers.part;
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

        if (ngx_gw_subrequest_listed(ngx_gw_subrequest_dropped, &h[i].key)
            || (!credentials
                && ngx_gw_subrequest_listed(ngx_gw_subrequest_credentials,
                                            &h[i].key)))
        {
            continue;
        }

        if (ngx_gw_header_copy(&sr->headers_in.headers, &h[i]) == NULL) {
            return NGX_ERROR;
        }
    }

    sr->headers_in.range = NULL;
    sr->headers_in.if_range = NULL;
    sr->headers_in.if_match = NULL;
    sr->headers_in.if_none_match = NULL;
    sr->headers_in.if_modified_since = NULL;
    sr->headers_in.if_unmodified_since = NULL;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    sr->headers_in.accept_encoding = NULL;
#endif
    sr->headers_in.content_length = NULL;
    sr->headers_in.content_length_n = -1;
    sr->headers_in.content_type = NULL;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.expect = NULL;
    sr->headers_in.chunked = 0;
#if (NGX_HTTP_GZIP)
    sr->gzip_tested = 0;
    sr->gzip_ok = 0;
#endif
    sr->request_body = NULL;

    if (!credentials) {
        sr->headers_in.authorization = NULL;
#if (nginx_version < 1023000)
        sr->headers_in.cookies.nelts = 0;
#else
        sr->headers_in.cookie = NULL;
#endif
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_gw_subrequest_listed(ngx_str_t *list, ngx_str_t *key)
{
    for ( /* void */ ; list->len; list++) {
        if (key->len == list->len
            && ngx_strncasecmp(key->data, list->data, list->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t ngx_gw_capture_room(ngx_http_request_t *sr,
    ngx_gw_capture_t *cap, size_t size);


ngx_int_t
ngx_gw_capture_body(ngx_http_request_t *sr, ngx_gw_capture_t *cap,
    ngx_chain_t *in)
{
    off_t       size;
    ssize_t     n;
    ngx_buf_t  *b;

    for ( /* void */ ; in; in = in->next) {
        b = in->buf;

        if (b->last_buf || b->last_in_chain) {
            cap->done = 1;
        }

        size = ngx_buf_size(b);

        if (size == 0 || cap->too_big || cap->failed) {
            b->pos = b->last;
            b->file_pos = b->file_last;
            continue;
        }

        if (ngx_gw_capture_room(sr, cap, size) != NGX_OK) {
            b->pos = b->last;
            b->file_pos = b->file_last;
            continue;
        }

        if (ngx_buf_in_memory(b)) {
            cap->buf->last = ngx_cpymem(cap->buf->last, b->pos, size);
            b->pos = b->last;

        } else {
            n = ngx_read_file(b->file, cap->buf->last, size, b->file_pos);

            if (n != size) {
                cap->failed = 1;

            } else {
                cap->buf->last += n;
            }

            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_gw_capture_room(ngx_http_request_t *sr, ngx_gw_capture_t *cap,
    size_t size)
{
    size_t      have, want;
    ngx_buf_t  *b;

    have = cap->buf ? (size_t) (cap->buf->last - cap->buf->pos) : 0;

    if (size > cap->max - have) {
        cap->too_big = 1;
        return NGX_DECLINED;
    }

    if (cap->buf && (size_t) (cap->buf->end - cap->buf->last) >= size) {
        return NGX_OK;
    }

    /* the announced length, or doubling, within the cap */

    want = have + size;

    if (sr->headers_out.content_length_n > (off_t) want) {
        want = (size_t) sr->headers_out.content_length_n;
    }

    if (cap->buf && want < 2 * have) {
        want = 2 * have;
    }

    /* an announced length is taken as it is: most parts are small */

    if (sr->headers_out.content_length_n < 0 || cap->buf) {
        want = ngx_max(want, 4096);
    }

    want = ngx_min(want, cap->max);

    b = ngx_create_temp_buf(sr->pool, want);
    if (b == NULL) {
        cap->failed = 1;
        return NGX_ERROR;
    }

    if (have) {
        b->last = ngx_cpymem(b->last, cap->buf->pos, have);
    }

    cap->buf = b;

    return NGX_OK;
}
