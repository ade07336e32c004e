
/*
 * Headers the gateway's modules add to a request or a response.
 */


#ifndef _NGX_GW_HEADER_H_INCLUDED_
#define _NGX_GW_HEADER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Since nginx 1.23.0 headers of one name are a list through "next", which
 * nginx follows (under "satisfy any", in $http_ and $sent_http_ variables)
 * and ngx_list_push() leaves unset: a header of ours starts a list of one.
 */

static ngx_inline ngx_table_elt_t *
ngx_gw_header_push(ngx_list_t *headers)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(headers);

#if (nginx_version >= 1023000)
    if (h) {
        h->next = NULL;
    }
#endif

    return h;
}


/* a copy of another request's header, not linked to that request's list */

static ngx_inline ngx_table_elt_t *
ngx_gw_header_copy(ngx_list_t *headers, ngx_table_elt_t *header)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(headers);

    if (h) {
        *h = *header;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
    }

    return h;
}


#endif /* _NGX_GW_HEADER_H_INCLUDED_ */
