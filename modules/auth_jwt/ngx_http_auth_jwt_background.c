
/*
 * The module's own requests, for fetches in the background.  A refresh
 * must not be the subrequest of a client's request: the client may end
 * it, and nginx keeps a connection whose request has a background
 * subrequest from its next request until that ends.  Here a request of
 * the module's own, on a connection of its own that no client holds,
 * makes the subrequest to the key location, so proxy_pass, proxy_cache
 * and the rest apply as for a client's fetch.  The connection has a
 * socket of its own, never connected nor read, so that nginx closes it
 * the way it closes any other, whichever way the subrequest ends.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_jwt.h"


static void ngx_http_auth_jwt_background_end(ngx_http_request_t *r);
static u_char *ngx_http_auth_jwt_background_log(ngx_log_t *log, u_char *buf,
    size_t len);


/*
 * A request in the server srv_conf belongs to, that nothing but its
 * subrequest will use; its pool holds what the fetch needs, and its
 * cleanups run whichever way it ends.
 */

ngx_http_request_t *
ngx_http_auth_jwt_background_create(void **srv_conf)
{
    ngx_log_t                 *log;
    ngx_pool_t                *pool;
    ngx_socket_t               s;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    struct sockaddr_in        *sin;
    ngx_http_log_ctx_t        *ctx;
    ngx_http_connection_t     *hc;
    ngx_http_core_srv_conf_t  *cscf;

    cscf = srv_conf[ngx_http_core_module.ctx_index];

    s = ngx_socket(AF_INET, SOCK_DGRAM, 0);

    if (s == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_socket_errno,
                      "auth_jwt: " ngx_socket_n " failed");
        return NULL;
    }

    if (ngx_nonblocking(s) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_socket_errno,
                      "auth_jwt: " ngx_nonblocking_n " failed");
        (void) ngx_close_socket(s);
        return NULL;
    }

    c = ngx_get_connection(s, ngx_cycle->log);

    if (c == NULL) {
        (void) ngx_close_socket(s);
        return NULL;
    }

    pool = ngx_create_pool(cscf->connection_pool_size, ngx_cycle->log);
    if (pool == NULL) {
        ngx_close_connection(c);
        return NULL;
    }

    c->pool = pool;

#if (NGX_STAT_STUB)
    /* as if accepted: ngx_http_close_connection() counts it out */
    (void) ngx_atomic_fetch_add(ngx_stat_active, 1);
#endif

    log = ngx_palloc(pool, sizeof(ngx_log_t));
    ctx = ngx_pcalloc(pool, sizeof(ngx_http_log_ctx_t));
    hc = ngx_pcalloc(pool, sizeof(ngx_http_connection_t));
    sin = ngx_pcalloc(pool, sizeof(struct sockaddr_in));

    if (log == NULL || ctx == NULL || hc == NULL || sin == NULL) {
        goto failed;
    }

    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    *log = *ngx_cycle->log;
    log->connection = c->number;
    log->handler = ngx_http_auth_jwt_background_log;
    log->data = ctx;
    log->action = "fetching keys in the background";

    ctx->connection = c;

    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->log_error = NGX_ERROR_INFO;

    /* the fetch is the server's own: from the loopback, in variables */

    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    c->sockaddr = (struct sockaddr *) sin;
    c->socklen = sizeof(struct sockaddr_in);
    c->local_sockaddr = c->sockaddr;
    c->local_socklen = c->socklen;
    ngx_str_set(&c->addr_text, "127.0.0.1");

    c->recv = ngx_recv;
    c->send = ngx_send;
    c->recv_chain = ngx_recv_chain;
    c->send_chain = ngx_send_chain;

    c->read->handler = ngx_http_empty_handler;
    c->write->handler = ngx_http_empty_handler;
    c->write->ready = 1;

    c->start_time = ngx_current_msec;

    hc->conf_ctx = cscf->ctx;
    c->data = hc;

    r = ngx_http_create_request(c);
    if (r == NULL) {
        goto failed;
    }

    c->data = r;

    if (ngx_list_init(&r->headers_in.headers, r->pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        ngx_http_free_request(r, 0);
        goto failed;
    }

    r->method = NGX_HTTP_GET;
    ngx_str_set(&r->method_name, "GET");
    ngx_str_set(&r->http_protocol, "HTTP/1.0");

    /* neither the access log nor metrics know of it: only its subrequest */

    r->logged = 1;

    r->write_event_handler = ngx_http_auth_jwt_background_end;

    return r;

failed:

    ngx_http_close_connection(c);

    return NULL;
}


/*
 * Starts the subrequest; ps->handler is called as it ends, unless its
 * start fails here (the request is then closed, with its pool).
 */

ngx_int_t
ngx_http_auth_jwt_background_start(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_str_t *args, ngx_http_post_subrequest_t *ps)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *sr;

    c = r->connection;

    r->uri = *uri;

    if (args->len) {
        r->args = *args;
    }

    if (ngx_http_subrequest(r, uri, args->len ? args : NULL, &sr, ps, 0)
        != NGX_OK
        || ngx_gw_subrequest_own_headers(sr, 0) != NGX_OK)
    {
        /* the subrequest, if made, is only posted: it goes with the pool */

        ngx_http_auth_jwt_background_close(r);
        return NGX_ERROR;
    }

    ngx_http_run_posted_requests(c);

    return NGX_OK;
}


void
ngx_http_auth_jwt_background_close(ngx_http_request_t *r)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_free_request(r, 0);
    ngx_http_close_connection(c);
}


/* the subrequest is over: so is the request, as nginx ends any */

static void
ngx_http_auth_jwt_background_end(ngx_http_request_t *r)
{
    /* nothing more will come from the client there never was */

    r->connection->read->eof = 1;

    ngx_http_finalize_request(r, NGX_DONE);
}


static u_char *
ngx_http_auth_jwt_background_log(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char              *p;
    ngx_http_request_t  *r;
    ngx_http_log_ctx_t  *ctx;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    ctx = log->data;
    r = ctx->current_request ? ctx->current_request : ctx->request;

    if (r == NULL) {
        return p;
    }

    p = ngx_snprintf(buf, len, ", key request: \"%V%s%V\"", &r->uri,
                     r->args.len ? "?" : "", &r->args);
    len -= p - buf;
    buf = p;

    if (r->upstream && r->upstream->peer.name) {
        p = ngx_snprintf(buf, len, ", upstream: \"%V\"",
                         r->upstream->peer.name);
    }

    return p;
}
