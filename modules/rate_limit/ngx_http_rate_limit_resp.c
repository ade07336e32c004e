
/*
 * The replies of Redis and Sentinel in RESP (version 2, which a
 * connection speaks until it says HELLO): whether one is complete, and
 * its values one after the other: the script's replies, and what a
 * connection's setup and its control commands get (ROLE, SENTINEL,
 * SUBSCRIBE's messages).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_rate_limit.h"


/* a line other than a bulk string's data, which its length bounds */
#define NGX_HTTP_RATE_LIMIT_RESP_LINE      1024

/* values in one reply: far more than any reply a connection reads */
#define NGX_HTTP_RATE_LIMIT_RESP_VALUES    (1024 * 1024)


static ngx_int_t ngx_http_rate_limit_resp_head(u_char **p, u_char *last,
    ngx_http_rate_limit_resp_t *v);


/*
 * The end of the reply at p: NGX_OK and *end past it, once it is all
 * read; NGX_AGAIN until then; NGX_ERROR if it is not RESP, a line is
 * longer than 1024 bytes, a simple string holds a control character (it
 * may be logged), or it holds more than a million values.  Arrays are
 * counted, not recursed into: each adds its elements to those to read.
 */

ngx_int_t
ngx_http_rate_limit_resp_end(u_char *p, u_char *last, u_char **end)
{
    ngx_int_t                   rc;
    ngx_uint_t                  left, seen;
    ngx_http_rate_limit_resp_t  v;

    left = 1;
    seen = 0;

    while (left) {
        rc = ngx_http_rate_limit_resp_head(&p, last, &v);

        if (rc != NGX_OK) {
            return rc;
        }

        left--;

        if (v.type == '*' && v.n > 0) {
            if ((ngx_uint_t) v.n > NGX_HTTP_RATE_LIMIT_RESP_VALUES - seen) {
                return NGX_ERROR;
            }

            left += v.n;
            seen += v.n;
        }
    }

    *end = p;

    return NGX_OK;
}


/*
 * The value at *p of a reply known to be complete, *p past it: an array's
 * head only, whose elements follow
 */

ngx_int_t
ngx_http_rate_limit_resp_next(u_char **p, u_char *last,
    ngx_http_rate_limit_resp_t *v)
{
    return ngx_http_rate_limit_resp_head(p, last, v);
}


/* past the value at *p, its elements with it */

ngx_int_t
ngx_http_rate_limit_resp_skip(u_char **p, u_char *last)
{
    u_char  *end;

    if (ngx_http_rate_limit_resp_end(*p, last, &end) != NGX_OK) {
        return NGX_ERROR;
    }

    *p = end;

    return NGX_OK;
}


static ngx_int_t
ngx_http_rate_limit_resp_head(u_char **p, u_char *last,
    ngx_http_rate_limit_resp_t *v)
{
    u_char   *s, *eol, *c;
    int64_t   n;
    ngx_int_t sign;

    s = *p;

    if (s == last) {
        return NGX_AGAIN;
    }

    eol = ngx_strlchr(s, ngx_min(last, s + NGX_HTTP_RATE_LIMIT_RESP_LINE + 1),
                      LF);

    if (eol == NULL) {
        return (last - s > NGX_HTTP_RATE_LIMIT_RESP_LINE) ? NGX_ERROR
                                                           : NGX_AGAIN;
    }

    if (eol - s < 2 || eol[-1] != CR) {
        return NGX_ERROR;
    }

    v->type = *s;
    v->n = 0;
    v->text.data = s + 1;
    v->text.len = eol - 1 - (s + 1);

    switch (*s) {

    case '+':
    case '-':
        for (c = s + 1; c < eol - 1; c++) {
            if (*c < 0x20 || *c == 0x7f) {
                return NGX_ERROR;
            }
        }

        *p = eol + 1;
        return NGX_OK;

    case ':':
    case '$':
    case '*':
        break;

    default:
        return NGX_ERROR;
    }

    c = s + 1;
    sign = 1;

    if (*c == '-') {
        sign = -1;
        c++;
    }

    if (c == eol - 1) {
        return NGX_ERROR;
    }

    for (n = 0; c < eol - 1; c++) {
        if (*c < '0' || *c > '9' || n > (INT64_MAX - 9) / 10) {
            return NGX_ERROR;
        }

        n = n * 10 + (*c - '0');
    }

    n *= sign;
    v->n = n;
    ngx_str_null(&v->text);

    if (*s != ':' && n < 0) {

        /* a null: only -1 */

        if (n != -1) {
            return NGX_ERROR;
        }

        *p = eol + 1;
        return NGX_OK;
    }

    if (*s == '$') {

        /* the connection's buffer bounds how long it may be */

        if (n > last - (eol + 1) - 2) {
            return NGX_AGAIN;
        }

        c = eol + 1 + n;

        if (c[0] != CR || c[1] != LF) {
            return NGX_ERROR;
        }

        v->text.data = eol + 1;
        v->text.len = n;
        *p = c + 2;
        return NGX_OK;
    }

    *p = eol + 1;

    return NGX_OK;
}


/*
 * An address Redis gives (Sentinel's primary): an IPv4
 * or IPv6 address and a port, never a name, which only a resolver could
 * turn into one without blocking the worker
 */

ngx_int_t
ngx_http_rate_limit_resp_address(ngx_str_t *host, ngx_int_t n,
    ngx_sockaddr_t *sa, socklen_t *socklen)
{
    in_addr_t  inaddr;

    if (n < 1 || n > 65535 || host->len == 0) {
        return NGX_ERROR;
    }

    ngx_memzero(sa, sizeof(ngx_sockaddr_t));

    inaddr = ngx_inet_addr(host->data, host->len);

    if (inaddr != INADDR_NONE) {
        sa->sockaddr_in.sin_family = AF_INET;
        sa->sockaddr_in.sin_addr.s_addr = inaddr;
        sa->sockaddr_in.sin_port = htons((in_port_t) n);
        *socklen = sizeof(struct sockaddr_in);
        return NGX_OK;
    }

#if (NGX_HAVE_INET6)

    if (ngx_inet6_addr(host->data, host->len,
                       sa->sockaddr_in6.sin6_addr.s6_addr)
        == NGX_OK)
    {
        sa->sockaddr_in6.sin6_family = AF_INET6;
        sa->sockaddr_in6.sin6_port = htons((in_port_t) n);
        *socklen = sizeof(struct sockaddr_in6);
        return NGX_OK;
    }

#endif

    return NGX_ERROR;
}
