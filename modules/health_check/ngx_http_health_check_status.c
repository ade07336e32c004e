
/*
 * health_check_status: the checked upstreams and their servers as JSON,
 * in the shape of NGINX Plus's API for upstream peers:
 *
 *   {"backend":{"peers":[{"server":"10.0.0.1:80","state":"up",
 *    "health_checks":{"checks":12,"fails":0,"unhealthy":0,
 *    "last_passed":true}}]}}
 *
 * read from the zone without its lock, as gateway_metrics reads it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_health_check.h"


/* a server's object at most: its name escaped, and four numbers */
#define NGX_HTTP_HEALTH_CHECK_SERVER_JSON                                    \
    (6 * NGX_SOCKADDR_STRLEN + 4 * NGX_ATOMIC_T_LEN + 160)


static u_char *ngx_http_health_check_json_server(u_char *p,
    ngx_gw_health_server_t *server);


static ngx_str_t  ngx_http_health_check_states[] = {
    ngx_null_string,
    ngx_string("up"),
    ngx_string("unhealthy"),
    ngx_string("checking")
};


ngx_int_t
ngx_http_health_check_status_handler(ngx_http_request_t *r)
{
    u_char                              *p;
    size_t                               len;
    ngx_int_t                            rc;
    ngx_buf_t                           *b;
    ngx_uint_t                           i, first;
    ngx_chain_t                          out;
    ngx_gw_health_server_t              *server;
    ngx_http_health_check_upstream_t   **hcu;
    ngx_http_health_check_main_conf_t   *hmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_health_check_module);

    hcu = hmcf->table.upstreams.elts;

    /* the lists may grow meanwhile: what was counted is what is written */

    len = sizeof("{}\n");

    for (i = 0; i < hmcf->table.upstreams.nelts; i++) {
        len += sizeof("\"\":{\"peers\":[]},") - 1
               + hcu[i]->pub.name.len
               + ngx_escape_json(NULL, hcu[i]->pub.name.data,
                                 hcu[i]->pub.name.len);

        for (server = *hcu[i]->pub.servers; server; server = server->next) {
            len += NGX_HTTP_HEALTH_CHECK_SERVER_JSON;
        }
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    *p++ = '{';

    for (i = 0; i < hmcf->table.upstreams.nelts; i++) {

        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = (u_char *) ngx_escape_json(p, hcu[i]->pub.name.data,
                                       hcu[i]->pub.name.len);
        p = ngx_cpymem(p, "\":{\"peers\":[", sizeof("\":{\"peers\":[") - 1);

        first = 1;

        for (server = *hcu[i]->pub.servers; server; server = server->next) {

            if (server->state == NGX_GW_HEALTH_GONE) {
                continue;
            }

            if ((size_t) (b->end - p) < NGX_HTTP_HEALTH_CHECK_SERVER_JSON
                                        + sizeof("]}}\n"))
            {
                break;
            }

            if (!first) {
                *p++ = ',';
            }

            first = 0;

            p = ngx_http_health_check_json_server(p, server);
        }

        p = ngx_cpymem(p, "]}", 2);
    }

    p = ngx_cpymem(p, "}\n", 2);

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static u_char *
ngx_http_health_check_json_server(u_char *p, ngx_gw_health_server_t *server)
{
    size_t      len;
    ngx_uint_t  state, checks;

    state = server->state;
    checks = server->checks;

    if (state >= sizeof(ngx_http_health_check_states) / sizeof(ngx_str_t)) {
        state = NGX_GW_HEALTH_UNHEALTHY;
    }

    len = ngx_min(server->name_len, NGX_SOCKADDR_STRLEN);

    p = ngx_cpymem(p, "{\"server\":\"", sizeof("{\"server\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, server->name, len);

    p = ngx_sprintf(p, "\",\"state\":\"%V\",\"health_checks\":"
                    "{\"checks\":%ui,\"fails\":%uA,\"unhealthy\":%uA",
                    &ngx_http_health_check_states[state], checks,
                    server->fails, server->unhealthy);

    /* as NGINX Plus: no last_passed before the first check */

    if (checks) {
        p = ngx_sprintf(p, ",\"last_passed\":%s",
                        server->last_passed ? "true" : "false");
    }

    return ngx_cpymem(p, "}}", 2);
}
