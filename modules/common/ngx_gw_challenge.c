
/*
 * WWW-Authenticate challenges, as the gateway's access modules send them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_challenge.h"


ngx_table_elt_t *
ngx_gw_challenge(ngx_http_request_t *r, const char *scheme, ngx_str_t *realm,
    const char *params)
{
    u_char           *p;
    size_t            len;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    len = ngx_strlen(scheme) + sizeof(" realm=\"\"") - 1 + 2 * realm->len
          + ngx_strlen(params);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value.data = p;

    p = ngx_sprintf(p, "%s realm=\"", scheme);

    /* a quoted-string: quotes and backslashes in the realm are escaped */

    for (i = 0; i < realm->len; i++) {
        if (realm->data[i] == '"' || realm->data[i] == '\\') {
            *p++ = '\\';
        }

        *p++ = realm->data[i];
    }

    *p++ = '"';

    p = ngx_sprintf(p, "%s", params);

    h->value.len = p - h->value.data;

    return h;
}
