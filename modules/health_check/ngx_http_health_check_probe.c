
/*
 * One check of one server: a GET of the check's uri on nginx's event
 * loop, with the location's proxy_set_header, proxy_http_version and
 * timeouts, its response read as far as the check needs and judged by
 * the match block.  A request of its own, never run through nginx's
 * phases, stands for the check where nginx's code wants one: to
 * evaluate the headers' variables (most are empty, as in NGINX Plus) and
 * for nginx's own parsers of status lines, headers and chunks.
 *
 * The connection's errors are not logged: they are the check's result,
 * which the state tells once, when the server changes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_health_check.h"


typedef enum {
    NGX_HTTP_HEALTH_CHECK_CONNECT = 0,
    NGX_HTTP_HEALTH_CHECK_SEND,
    NGX_HTTP_HEALTH_CHECK_STATUS,
    NGX_HTTP_HEALTH_CHECK_HEADERS,
    NGX_HTTP_HEALTH_CHECK_BODY
} ngx_http_health_check_phase_e;


typedef struct {
    ngx_queue_t                     queue;      /* in the check's probes */
    ngx_http_health_check_t        *hc;
    ngx_http_health_check_node_t   *node;
    ngx_uint_t                      generation;
    ngx_str_t                       name;
    ngx_pool_t                     *pool;
    ngx_log_t                       log;
    ngx_peer_connection_t           pc;
    ngx_http_request_t             *r;
    ngx_buf_t                      *request;
    ngx_buf_t                      *buf;
    ngx_buf_t                      *body;       /* for "body" tests */
    ngx_http_status_t               status;
    ngx_http_chunked_t              chunked;
    off_t                           length;     /* left; -1: to the close */
    off_t                           drained;    /* body bytes read */
    uint64_t                        seen;       /* header tests */
    uint64_t                        passed;
    ngx_msec_t                      deadline;
    ngx_msec_t                      opened;     /* the connection */
    ngx_event_t                     delay;      /* jitter */
#if (NGX_HTTP_SSL)
    ngx_str_t                       ssl_name;
#endif
    ngx_uint_t                      phase;
    unsigned                        connected:1;
    unsigned                        cached:1;
    unsigned                        answered:1; /* a byte came back */
    unsigned                        chunked_body:1;
    unsigned                        close:1;    /* not to be kept */
    unsigned                        keep_alive:1;
    size_t                          reason_len;
    u_char                          reason[NGX_HTTP_HEALTH_CHECK_REASON_LEN];
} ngx_http_health_check_probe_t;


/* a connection kept for the next check of its server (keepalive_time) */
typedef struct {
    ngx_queue_t                     queue;
    ngx_http_health_check_node_t   *node;
    ngx_uint_t                      generation;
    ngx_connection_t               *connection;
    ngx_msec_t                      opened;
} ngx_http_health_check_idle_t;


static void ngx_http_health_check_start(ngx_event_t *ev);
static ngx_int_t ngx_http_health_check_connect(
    ngx_http_health_check_probe_t *probe);
static ngx_connection_t *ngx_http_health_check_reuse(
    ngx_http_health_check_probe_t *probe);
static void ngx_http_health_check_connected(
    ngx_http_health_check_probe_t *probe);
#if (NGX_HTTP_SSL)
static void ngx_http_health_check_ssl(ngx_http_health_check_probe_t *probe);
static void ngx_http_health_check_ssl_handshake(ngx_connection_t *c);
#endif
static void ngx_http_health_check_write(ngx_event_t *wev);
static void ngx_http_health_check_send(ngx_http_health_check_probe_t *probe);
static void ngx_http_health_check_read(ngx_event_t *rev);
static ngx_int_t ngx_http_health_check_process(
    ngx_http_health_check_probe_t *probe, ngx_uint_t eof);
static ngx_int_t ngx_http_health_check_header(
    ngx_http_health_check_probe_t *probe);
static ngx_int_t ngx_http_health_check_framing(
    ngx_http_health_check_probe_t *probe);
static ngx_int_t ngx_http_health_check_body(
    ngx_http_health_check_probe_t *probe, ngx_uint_t eof);
static ngx_int_t ngx_http_health_check_capture(
    ngx_http_health_check_probe_t *probe, u_char *p, size_t n);
static ngx_int_t ngx_http_health_check_fail(
    ngx_http_health_check_probe_t *probe, ngx_err_t err, const char *fmt, ...);
static void ngx_http_health_check_done(ngx_http_health_check_probe_t *probe,
    ngx_uint_t complete);
static void ngx_http_health_check_keep(ngx_http_health_check_probe_t *probe);
static void ngx_http_health_check_idle_read(ngx_event_t *rev);
static void ngx_http_health_check_close_idle(
    ngx_http_health_check_idle_t *idle);
static void ngx_http_health_check_close(ngx_connection_t *c);
static void ngx_http_health_check_free(ngx_http_health_check_probe_t *probe);
static ngx_http_request_t *ngx_http_health_check_fake_request(
    ngx_http_health_check_probe_t *probe);
static ngx_int_t ngx_http_health_check_create_request(
    ngx_http_health_check_probe_t *probe);
static ngx_msec_t ngx_http_health_check_timeout(
    ngx_http_health_check_probe_t *probe, ngx_msec_t timeout);


/* the longest a probe may take: its timeouts and jitter, and a second */

ngx_msec_t
ngx_http_health_check_duration(ngx_http_health_check_t *hc)
{
    return hc->jitter + hc->proxy->connect_timeout + hc->proxy->send_timeout
           + hc->proxy->read_timeout + 1000;
}


ngx_int_t
ngx_http_health_check_probe(ngx_http_health_check_t *hc,
    ngx_http_health_check_node_t *node, ngx_uint_t generation,
    struct sockaddr *sockaddr, socklen_t socklen, ngx_str_t *name)
{
    ngx_pool_t                     *pool;
    ngx_http_health_check_probe_t  *probe;

    pool = ngx_create_pool(2048, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    probe = ngx_pcalloc(pool, sizeof(ngx_http_health_check_probe_t));
    if (probe == NULL) {
        goto failed;
    }

    probe->hc = hc;
    probe->node = node;
    probe->generation = generation;
    probe->pool = pool;

    probe->name.len = name->len;
    probe->name.data = ngx_pstrdup(pool, name);
    if (probe->name.data == NULL) {
        goto failed;
    }

    probe->pc.sockaddr = ngx_palloc(pool, socklen);
    if (probe->pc.sockaddr == NULL) {
        goto failed;
    }

    ngx_memcpy(probe->pc.sockaddr, sockaddr, socklen);
    probe->pc.socklen = socklen;
    probe->pc.name = &probe->name;

    if (hc->port && sockaddr->sa_family != AF_UNIX) {
        ngx_inet_set_port(probe->pc.sockaddr, hc->port);
    }

    /*
     * nginx's lines about the connection would come at each check: they
     * are kept out of the log below crit, and the errors become reasons
     */

    probe->log = *ngx_cycle->log;
    probe->log.log_level = ngx_min(probe->log.log_level, NGX_LOG_CRIT);

    probe->r = ngx_http_health_check_fake_request(probe);
    if (probe->r == NULL) {
        goto failed;
    }

    if (ngx_http_health_check_create_request(probe) != NGX_OK) {
        goto failed;
    }

    probe->buf = ngx_create_temp_buf(pool, hc->proxy->buffer_size);
    if (probe->buf == NULL) {
        goto failed;
    }

    probe->length = -1;
    probe->deadline = ngx_current_msec + ngx_http_health_check_duration(hc)
                      - 1000;

    ngx_queue_insert_tail(&hc->probes, &probe->queue);

    probe->delay.handler = ngx_http_health_check_start;
    probe->delay.data = probe;
    probe->delay.log = ngx_cycle->log;
    probe->delay.cancelable = 1;

    if (hc->jitter) {
        ngx_add_timer(&probe->delay, ngx_random() % hc->jitter);

    } else {
        ngx_http_health_check_start(&probe->delay);
    }

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


static void
ngx_http_health_check_start(ngx_event_t *ev)
{
    ngx_http_health_check_probe_t  *probe;

    probe = ev->data;

    if (ngx_http_health_check_connect(probe) != NGX_OK) {
        ngx_http_health_check_done(probe, 0);
    }
}


/* a kept connection to the server, or a new one; NGX_ERROR: failed */

static ngx_int_t
ngx_http_health_check_connect(ngx_http_health_check_probe_t *probe)
{
    ngx_int_t                 rc;
    ngx_err_t                 err;
    ngx_connection_t         *c;
    ngx_http_health_check_t  *hc;

    hc = probe->hc;

    c = ngx_http_health_check_reuse(probe);

    if (c) {
        probe->pc.connection = c;
        probe->cached = 1;
        rc = NGX_OK;

    } else {
        probe->pc.get = ngx_event_get_peer;
        probe->pc.log = &probe->log;
        probe->pc.log_error = NGX_ERROR_ERR;

        rc = ngx_event_connect_peer(&probe->pc);

        if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
            err = ngx_socket_errno;
            probe->pc.connection = NULL;

            return ngx_http_health_check_fail(probe, err, "connect() failed");
        }

        c = probe->pc.connection;
        probe->opened = ngx_current_msec;

        /* TLS keeps its state in the connection's pool */

        if (hc->ssl) {
            c->pool = ngx_create_pool(128, ngx_cycle->log);
            if (c->pool == NULL) {
                return ngx_http_health_check_fail(probe, 0, "no memory");
            }
        }
    }

    c->data = probe;
    c->log = &probe->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->log_error = NGX_ERROR_ERR;

    /* a worker that exits does not wait for its checks: they are closed */

    c->read->cancelable = 1;
    c->write->cancelable = 1;
    c->read->handler = ngx_http_health_check_read;
    c->write->handler = ngx_http_health_check_write;

    if (rc == NGX_AGAIN) {
        ngx_add_timer(c->write,
                      ngx_http_health_check_timeout(probe,
                                               hc->proxy->connect_timeout));
        return NGX_OK;
    }

    ngx_http_health_check_connected(probe);

    return NGX_OK;
}


static ngx_connection_t *
ngx_http_health_check_reuse(ngx_http_health_check_probe_t *probe)
{
    ngx_queue_t                   *q;
    ngx_connection_t              *c;
    ngx_http_health_check_t       *hc;
    ngx_http_health_check_idle_t  *idle;

    hc = probe->hc;

    for (q = ngx_queue_head(&hc->idle);
         q != ngx_queue_sentinel(&hc->idle);
         q = ngx_queue_next(q))
    {
        idle = ngx_queue_data(q, ngx_http_health_check_idle_t, queue);

        if (idle->node != probe->node
            || idle->generation != probe->generation)
        {
            continue;
        }

        if (ngx_current_msec - idle->opened >= hc->keepalive_time) {
            ngx_http_health_check_close_idle(idle);
            return NULL;
        }

        c = idle->connection;
        probe->opened = idle->opened;
        probe->connected = 1;

        ngx_queue_remove(&idle->queue);
        ngx_free(idle);

        c->idle = 0;

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        return c;
    }

    return NULL;
}


static void
ngx_http_health_check_connected(ngx_http_health_check_probe_t *probe)
{
    probe->connected = 1;
    probe->phase = NGX_HTTP_HEALTH_CHECK_SEND;

#if (NGX_HTTP_SSL)
    if (probe->hc->ssl && probe->pc.connection->ssl == NULL) {
        ngx_http_health_check_ssl(probe);
        return;
    }
#endif

    ngx_http_health_check_send(probe);
}


#if (NGX_HTTP_SSL)

/* as proxy_pass https://: the location's TLS settings, SNI, verification */

static void
ngx_http_health_check_ssl(ngx_http_health_check_probe_t *probe)
{
    u_char                    *p, *last;
    ngx_int_t                  rc;
    ngx_str_t                  name;
    ngx_connection_t          *c;
    ngx_http_upstream_conf_t  *conf;

    c = probe->pc.connection;
    conf = probe->hc->proxy;

    if (ngx_ssl_create_connection(conf->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        (void) ngx_http_health_check_fail(probe, 0, "cannot start TLS");
        ngx_http_health_check_done(probe, 0);
        return;
    }

    c->sendfile = 0;

    if (conf->ssl_name) {
        if (ngx_http_complex_value(probe->r, conf->ssl_name, &name)
            != NGX_OK)
        {
            (void) ngx_http_health_check_fail(probe, 0, "no proxy_ssl_name");
            ngx_http_health_check_done(probe, 0);
            return;
        }

    } else {
        name = probe->hc->host;
    }

    /* the name without a port, as nginx's upstream takes it */

    p = name.data;
    last = name.data + name.len;

    if (p < last && *p == '[') {
        p = ngx_strlchr(p, last, ']');

        if (p == NULL) {
            p = name.data;
        }
    }

    p = ngx_strlchr(p, last, ':');

    if (p) {
        name.len = p - name.data;
    }

    probe->ssl_name = name;

#ifdef SSL_CTRL_SET_TLSEXT_HOSTNAME

    if (conf->ssl_server_name && name.len && name.data[0] != '['
        && ngx_inet_addr(name.data, name.len) == INADDR_NONE)
    {
        p = ngx_pnalloc(probe->pool, name.len + 1);
        if (p == NULL) {
            (void) ngx_http_health_check_fail(probe, 0, "no memory");
            ngx_http_health_check_done(probe, 0);
            return;
        }

        (void) ngx_cpystrn(p, name.data, name.len + 1);

        if (SSL_set_tlsext_host_name(c->ssl->connection, (char *) p) == 0) {
            (void) ngx_http_health_check_fail(probe, 0,
                                              "SSL_set_tlsext_host_name() "
                                              "failed");
            ngx_http_health_check_done(probe, 0);
            return;
        }
    }

#endif

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write,
                          ngx_http_health_check_timeout(probe,
                                                conf->connect_timeout));
        }

        c->ssl->handler = ngx_http_health_check_ssl_handshake;
        return;
    }

    ngx_http_health_check_ssl_handshake(c);
}


static void
ngx_http_health_check_ssl_handshake(ngx_connection_t *c)
{
    long                            rc;
    ngx_http_health_check_probe_t  *probe;

    probe = c->data;

    if (!c->ssl->handshaked) {
        (void) ngx_http_health_check_fail(probe, 0,
                                          c->write->timedout
                                          ? "TLS handshake timed out"
                                          : "TLS handshake failed");
        ngx_http_health_check_done(probe, 0);
        return;
    }

    if (probe->hc->proxy->ssl_verify) {
        rc = SSL_get_verify_result(c->ssl->connection);

        if (rc != X509_V_OK) {
            (void) ngx_http_health_check_fail(probe, 0,
                                    "certificate verify error: (%l:%s)",
                                    rc, X509_verify_cert_error_string(rc));
            ngx_http_health_check_done(probe, 0);
            return;
        }

        if (ngx_ssl_check_host(c, &probe->ssl_name) != NGX_OK) {
            (void) ngx_http_health_check_fail(probe, 0,
                                    "certificate does not match \"%V\"",
                                    &probe->ssl_name);
            ngx_http_health_check_done(probe, 0);
            return;
        }
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->read->handler = ngx_http_health_check_read;
    c->write->handler = ngx_http_health_check_write;

    ngx_http_health_check_send(probe);
}

#endif


static void
ngx_http_health_check_write(ngx_event_t *wev)
{
    int                             err;
    socklen_t                       len;
    ngx_connection_t               *c;
    ngx_http_health_check_probe_t  *probe;

    c = wev->data;
    probe = c->data;

    if (wev->timedout) {
        (void) ngx_http_health_check_fail(probe, 0, probe->connected
                                                 ? "send timed out"
                                                 : "connect timed out");
        ngx_http_health_check_done(probe, 0);
        return;
    }

    if (!probe->connected) {
        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            (void) ngx_http_health_check_fail(probe, err, "connect() failed");
            ngx_http_health_check_done(probe, 0);
            return;
        }

        if (wev->timer_set) {
            ngx_del_timer(wev);
        }

        ngx_http_health_check_connected(probe);
        return;
    }

    ngx_http_health_check_send(probe);
}


static void
ngx_http_health_check_send(ngx_http_health_check_probe_t *probe)
{
    ssize_t            n;
    ngx_err_t          err;
    ngx_buf_t         *b;
    ngx_event_t       *wev, *rev;
    ngx_connection_t  *c;

    c = probe->pc.connection;
    wev = c->write;
    rev = c->read;
    b = probe->request;

    while (b->pos < b->last) {

        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_ERROR) {
            err = ngx_socket_errno;
            (void) ngx_http_health_check_fail(probe, err, "send() failed");
            ngx_http_health_check_done(probe, 0);
            return;
        }

        if (n == NGX_AGAIN) {
            if (!wev->timer_set) {
                ngx_add_timer(wev,
                              ngx_http_health_check_timeout(probe,
                                            probe->hc->proxy->send_timeout));
            }

            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                (void) ngx_http_health_check_fail(probe, 0, "cannot send");
                ngx_http_health_check_done(probe, 0);
            }

            return;
        }

        b->pos += n;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    wev->handler = ngx_http_empty_handler;

    if (probe->phase == NGX_HTTP_HEALTH_CHECK_SEND) {
        probe->phase = NGX_HTTP_HEALTH_CHECK_STATUS;
    }

    ngx_add_timer(rev, ngx_http_health_check_timeout(probe,
                                             probe->hc->proxy->read_timeout));

    if (rev->ready) {
        ngx_http_health_check_read(rev);
        return;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        (void) ngx_http_health_check_fail(probe, 0, "cannot read");
        ngx_http_health_check_done(probe, 0);
    }
}


static void
ngx_http_health_check_read(ngx_event_t *rev)
{
    ssize_t                         n;
    ngx_int_t                       rc;
    ngx_err_t                       err;
    ngx_buf_t                      *b;
    ngx_connection_t               *c;
    ngx_http_health_check_probe_t  *probe;

    c = rev->data;
    probe = c->data;

    if (rev->timedout) {
        (void) ngx_http_health_check_fail(probe, 0, probe->connected
                                                 ? "read timed out"
                                                 : "connect timed out");
        ngx_http_health_check_done(probe, 0);
        return;
    }

    if (!probe->connected || probe->phase < NGX_HTTP_HEALTH_CHECK_STATUS) {

        /* an error reported on reading first, or a response too early */

        ngx_http_health_check_write(c->write);
        return;
    }

    b = probe->buf;

    for ( ;; ) {

        if (b->last == b->end) {
            if (probe->phase < NGX_HTTP_HEALTH_CHECK_BODY) {
                (void) ngx_http_health_check_fail(probe, 0,
                                                  "response header too big");
                ngx_http_health_check_done(probe, 0);
                return;
            }

            /* the body read so far was taken: the buffer is reused */

            b->pos = b->start;
            b->last = b->start;
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            err = ngx_socket_errno;

            (void) ngx_http_health_check_fail(probe, err, "recv() failed");
            ngx_http_health_check_done(probe, 0);
            return;
        }

        if (n > 0) {
            probe->answered = 1;
            b->last += n;
        }

        rc = ngx_http_health_check_process(probe, n == 0);

        if (rc == NGX_OK) {
            ngx_http_health_check_done(probe, 1);
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_http_health_check_done(probe, 0);
            return;
        }

        if (n == 0) {
            (void) ngx_http_health_check_fail(probe, 0,
                                              "connection closed early");
            ngx_http_health_check_done(probe, 0);
            return;
        }
    }

    ngx_add_timer(rev, ngx_http_health_check_timeout(probe,
                                             probe->hc->proxy->read_timeout));

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        (void) ngx_http_health_check_fail(probe, 0, "cannot read");
        ngx_http_health_check_done(probe, 0);
    }
}


/*
 * NGX_OK: the response is judged, the reason says if it failed;
 * NGX_ERROR: it failed, a broken response; NGX_AGAIN: more to read.
 */

static ngx_int_t
ngx_http_health_check_process(ngx_http_health_check_probe_t *probe,
    ngx_uint_t eof)
{
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_http_request_t  *r;

    r = probe->r;
    b = probe->buf;

    if (probe->phase == NGX_HTTP_HEALTH_CHECK_STATUS) {

        rc = ngx_http_parse_status_line(r, b, &probe->status);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc != NGX_OK) {
            return ngx_http_health_check_fail(probe, 0, "invalid status line");
        }

        probe->phase = NGX_HTTP_HEALTH_CHECK_HEADERS;
    }

    if (probe->phase == NGX_HTTP_HEALTH_CHECK_HEADERS) {

        for ( ;; ) {
            rc = ngx_http_parse_header_line(r, b, 1);

            if (rc == NGX_OK) {

                /* as nginx's upstream: a name with bad characters is skipped */

                if (r->invalid_header) {
                    continue;
                }

                if (ngx_http_health_check_header(probe) != NGX_OK) {
                    return NGX_ERROR;
                }

                continue;
            }

            if (rc == NGX_HTTP_PARSE_HEADER_DONE) {
                break;
            }

            if (rc == NGX_AGAIN) {
                return NGX_AGAIN;
            }

            return ngx_http_health_check_fail(probe, 0, "invalid header");
        }

        rc = ngx_http_health_check_framing(probe);

        if (rc != NGX_AGAIN) {
            return rc;
        }

        probe->phase = NGX_HTTP_HEALTH_CHECK_BODY;
    }

    return ngx_http_health_check_body(probe, eof);
}


static ngx_int_t
ngx_http_health_check_header(ngx_http_health_check_probe_t *probe)
{
    off_t                length;
    ngx_str_t            name, value;
    ngx_http_request_t  *r;

    r = probe->r;

    name.len = r->header_name_end - r->header_name_start;
    name.data = ngx_pnalloc(probe->pool, name.len);
    if (name.data == NULL) {
        return ngx_http_health_check_fail(probe, 0, "no memory");
    }

    ngx_strlow(name.data, r->header_name_start, name.len);

    value.len = r->header_end - r->header_start;
    value.data = r->header_start;

    if (name.len == sizeof("content-length") - 1
        && ngx_strncmp(name.data, "content-length", name.len) == 0)
    {
        length = ngx_atoof(value.data, value.len);

        if (length == NGX_ERROR
            || (probe->length != -1 && probe->length != length))
        {
            return ngx_http_health_check_fail(probe, 0,
                                              "invalid Content-Length");
        }

        probe->length = length;

    } else if (name.len == sizeof("transfer-encoding") - 1
               && ngx_strncmp(name.data, "transfer-encoding", name.len) == 0)
    {
        if (value.len != 7
            || ngx_strncasecmp(value.data, (u_char *) "chunked", 7) != 0)
        {
            return ngx_http_health_check_fail(probe, 0,
                                          "unknown Transfer-Encoding \"%V\"",
                                          &value);
        }

        probe->chunked_body = 1;

    } else if (name.len == sizeof("connection") - 1
               && ngx_strncmp(name.data, "connection", name.len) == 0)
    {
        if (ngx_strlcasestrn(value.data, value.data + value.len,
                             (u_char *) "close", 5 - 1))
        {
            probe->close = 1;
        }

        if (ngx_strlcasestrn(value.data, value.data + value.len,
                             (u_char *) "keep-alive", 10 - 1))
        {
            probe->keep_alive = 1;
        }
    }

    if (probe->hc->match) {
        ngx_http_health_check_match_header(probe->hc->match, &name, &value,
                                           &probe->seen, &probe->passed);
    }

    return NGX_OK;
}


/*
 * After the headers: whether the body is read, for a "body" test or to
 * keep the connection; NGX_OK if it is not, NGX_AGAIN if it is.
 */

static ngx_int_t
ngx_http_health_check_framing(ngx_http_health_check_probe_t *probe)
{
    size_t                    size;
    ngx_uint_t                code;
    ngx_http_health_check_t  *hc;

    hc = probe->hc;
    code = probe->status.code;

    if (code < 200 || code == 204 || code == 304) {
        probe->length = 0;
        probe->chunked_body = 0;

    } else if (probe->chunked_body) {
        probe->length = -1;
    }

    if (probe->length == -1 && !probe->chunked_body) {
        probe->close = 1;
    }

    if (probe->status.http_version < NGX_HTTP_VERSION_11
        && !probe->keep_alive)
    {
        probe->close = 1;
    }

    if (hc->keepalive_time == 0) {
        probe->close = 1;
    }

    if (!(hc->match && hc->match->has_body)) {
        if (probe->close || probe->length == 0) {
            return NGX_OK;
        }

        return NGX_AGAIN;
    }

    size = NGX_HTTP_HEALTH_CHECK_MAX_BODY;

    if (probe->length >= 0 && probe->length < (off_t) size) {
        size = (size_t) probe->length;
    }

    probe->body = ngx_create_temp_buf(probe->pool, ngx_max(size, 1));
    if (probe->body == NULL) {
        return ngx_http_health_check_fail(probe, 0, "no memory");
    }

    return (probe->length == 0) ? NGX_OK : NGX_AGAIN;
}


static ngx_int_t
ngx_http_health_check_body(ngx_http_health_check_probe_t *probe,
    ngx_uint_t eof)
{
    size_t      n;
    ngx_int_t   rc;
    ngx_buf_t  *b;

    b = probe->buf;

    if (probe->chunked_body) {

        for ( ;; ) {
#if (nginx_version >= 1027002)
            /* proxy_pass_trailers gave the parser a flag for trailers */
            rc = ngx_http_parse_chunked(probe->r, b, &probe->chunked, 0);
#else
            rc = ngx_http_parse_chunked(probe->r, b, &probe->chunked);
#endif

            if (rc == NGX_OK) {
                n = (size_t) ngx_min(probe->chunked.size,
                                     (off_t) (b->last - b->pos));

                rc = ngx_http_health_check_capture(probe, b->pos, n);

                b->pos += n;
                probe->chunked.size -= n;

                if (rc != NGX_AGAIN) {
                    return rc;
                }

                continue;
            }

            if (rc == NGX_DONE) {
                probe->length = 0;
                break;
            }

            if (rc == NGX_AGAIN) {
                return eof ? ngx_http_health_check_fail(probe, 0,
                                                   "connection closed early")
                           : NGX_AGAIN;
            }

            return ngx_http_health_check_fail(probe, 0, "invalid chunked body");
        }

    } else {
        n = b->last - b->pos;

        if (probe->length >= 0) {
            n = (size_t) ngx_min((off_t) n, probe->length);
            probe->length -= n;
        }

        rc = ngx_http_health_check_capture(probe, b->pos, n);

        b->pos += n;

        if (rc != NGX_AGAIN) {
            return rc;
        }

        if (probe->length > 0) {
            return eof ? ngx_http_health_check_fail(probe, 0,
                                                   "connection closed early")
                       : NGX_AGAIN;
        }

        if (probe->length == -1 && !eof) {
            return NGX_AGAIN;
        }
    }

    /* the whole body: another byte after it, and the connection goes */

    if (b->pos != b->last) {
        probe->close = 1;
    }

    return NGX_OK;
}


/* body bytes: kept for a "body" test, or only counted */

static ngx_int_t
ngx_http_health_check_capture(ngx_http_health_check_probe_t *probe,
    u_char *p, size_t n)
{
    size_t      room;
    ngx_buf_t  *body;

    probe->drained += n;
    body = probe->body;

    if (body) {
        room = ngx_min((size_t) (body->end - body->last), n);
        body->last = ngx_cpymem(body->last, p, room);

        if (body->last == body->end && body->end - body->start
                                       == NGX_HTTP_HEALTH_CHECK_MAX_BODY)
        {
            /* the first 256k are judged, the rest is not read */

            probe->close = 1;
            return NGX_OK;
        }
    }

    if (probe->drained > NGX_HTTP_HEALTH_CHECK_MAX_BODY) {

        /* a body too long to read through only to keep the connection */

        probe->close = 1;
        return NGX_OK;
    }

    return NGX_AGAIN;
}


/* the reason, as nginx would log it: "recv() failed (104: ...)" */

static ngx_int_t
ngx_http_health_check_fail(ngx_http_health_check_probe_t *probe,
    ngx_err_t err, const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    last = probe->reason + sizeof(probe->reason);

    va_start(args, fmt);
    p = ngx_vslprintf(probe->reason, last, fmt, args);
    va_end(args);

    if (err && last - p > 16) {
        p = ngx_slprintf(p, last - 1, " (%d: ", err);
        p = ngx_strerror(err, p, last - p - 1);
        *p++ = ')';
    }

    probe->reason_len = p - probe->reason;

    return NGX_ERROR;
}


/*
 * The probe's end: its result to the state, and the connection kept or
 * closed.  A kept connection that fails before an answer is the server's
 * closing an idle one: the check is made again on a new connection.
 */

static void
ngx_http_health_check_done(ngx_http_health_check_probe_t *probe,
    ngx_uint_t complete)
{
    u_char                   *reason;
    ngx_str_t                 body;
    ngx_http_health_check_t  *hc;

    hc = probe->hc;
    reason = NULL;

    if (complete) {
        body.len = 0;
        body.data = NULL;

        if (probe->body) {
            body.len = probe->body->last - probe->body->pos;
            body.data = probe->body->pos;
        }

        reason = ngx_http_health_check_match_test(hc->match,
                                             probe->status.code, probe->seen,
                                             probe->passed, &body,
                                             probe->reason,
                                             sizeof(probe->reason));
        if (reason) {
            probe->reason_len = reason - probe->reason;
            reason = probe->reason;
        }

    } else if (probe->cached && !probe->answered && probe->pc.connection) {

        ngx_http_health_check_close(probe->pc.connection);
        probe->pc.connection = NULL;

        probe->cached = 0;
        probe->connected = 0;
        probe->phase = NGX_HTTP_HEALTH_CHECK_CONNECT;
        probe->request->pos = probe->request->start;
        probe->buf->pos = probe->buf->start;
        probe->buf->last = probe->buf->start;
        probe->r->state = 0;

        if (ngx_http_health_check_connect(probe) == NGX_OK) {
            return;
        }

        reason = probe->reason;

    } else {
        reason = probe->reason;
    }

    if (complete && !probe->close && probe->length == 0
        && ngx_current_msec - probe->opened < hc->keepalive_time)
    {
        ngx_http_health_check_keep(probe);
    }

    ngx_http_health_check_result(hc, probe->node, probe->generation,
                                 &probe->name, reason, probe->reason_len);

    ngx_http_health_check_free(probe);
}


static void
ngx_http_health_check_keep(ngx_http_health_check_probe_t *probe)
{
    u_char                         byte;
    ngx_connection_t              *c;
    ngx_http_health_check_idle_t  *idle;

    c = probe->pc.connection;

    /* bytes the response did not announce: not a connection to reuse */

    if (c->read->eof
        || (c->read->ready && c->recv(c, &byte, 1) != NGX_AGAIN))
    {
        return;
    }

    idle = ngx_alloc(sizeof(ngx_http_health_check_idle_t), ngx_cycle->log);
    if (idle == NULL) {
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    idle->node = probe->node;
    idle->generation = probe->generation;
    idle->connection = c;
    idle->opened = probe->opened;

    c->data = idle;
    c->idle = 1;
    c->log = ngx_cycle->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->read->handler = ngx_http_health_check_idle_read;
    c->write->handler = ngx_http_empty_handler;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_free(idle);
        return;
    }

    ngx_queue_insert_tail(&probe->hc->idle, &idle->queue);

    probe->pc.connection = NULL;
}


/* an idle connection that the server closes, or nginx, when exiting */

static void
ngx_http_health_check_idle_read(ngx_event_t *rev)
{
    ngx_connection_t              *c;
    ngx_http_health_check_idle_t  *idle;

    c = rev->data;
    idle = c->data;

    ngx_http_health_check_close_idle(idle);
}


static void
ngx_http_health_check_close_idle(ngx_http_health_check_idle_t *idle)
{
    ngx_http_health_check_close(idle->connection);

    ngx_queue_remove(&idle->queue);
    ngx_free(idle);
}


static void
ngx_http_health_check_close(ngx_connection_t *c)
{
#if (NGX_HTTP_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    if (c->pool) {
        ngx_destroy_pool(c->pool);
    }

    ngx_close_connection(c);
}


static void
ngx_http_health_check_free(ngx_http_health_check_probe_t *probe)
{
    ngx_connection_t  *c;

    c = probe->pc.connection;

    if (c) {
        ngx_http_health_check_close(c);
    }

    if (probe->delay.timer_set) {
        ngx_del_timer(&probe->delay);
    }

    ngx_queue_remove(&probe->queue);
    ngx_destroy_pool(probe->pool);
}


/* a worker's exit: its probes and kept connections */

void
ngx_http_health_check_close_all(ngx_http_health_check_t *hc)
{
    ngx_queue_t                    *q;
    ngx_http_health_check_idle_t   *idle;
    ngx_http_health_check_probe_t  *probe;

    if (hc->probes.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&hc->probes)) {
        q = ngx_queue_head(&hc->probes);
        probe = ngx_queue_data(q, ngx_http_health_check_probe_t, queue);
        ngx_http_health_check_free(probe);
    }

    while (!ngx_queue_empty(&hc->idle)) {
        q = ngx_queue_head(&hc->idle);
        idle = ngx_queue_data(q, ngx_http_health_check_idle_t, queue);
        ngx_http_health_check_close_idle(idle);
    }
}


/*
 * A request for the check alone: the location's configuration, no
 * client, no address (a unix socket without a path), no headers.
 */

static ngx_http_request_t *
ngx_http_health_check_fake_request(ngx_http_health_check_probe_t *probe)
{
    u_char                     *q;
    ngx_pool_t                 *pool;
    ngx_time_t                 *tp;
    ngx_connection_t           *c;
    struct sockaddr            *sa;
    ngx_http_request_t         *r;
    ngx_http_connection_t      *hcn;
    ngx_http_health_check_t    *hc;
    ngx_http_core_main_conf_t  *cmcf;

    hc = probe->hc;
    pool = probe->pool;

    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));
    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    hcn = ngx_pcalloc(pool, sizeof(ngx_http_connection_t));
    sa = ngx_pcalloc(pool, sizeof(ngx_sockaddr_t));

    if (c == NULL || r == NULL || hcn == NULL || sa == NULL) {
        return NULL;
    }

#if (NGX_HAVE_UNIX_DOMAIN)
    sa->sa_family = AF_UNIX;
    c->socklen = offsetof(struct sockaddr_un, sun_path);
#else
    sa->sa_family = AF_INET;
    c->socklen = sizeof(struct sockaddr_in);
#endif

    c->fd = (ngx_socket_t) -1;
    c->pool = pool;
    c->log = &probe->log;
    c->sockaddr = sa;
    c->local_sockaddr = sa;
    c->local_socklen = c->socklen;
    c->start_time = ngx_current_msec;
    c->data = r;

    hcn->conf_ctx = &hc->ctx;

    r->signature = NGX_HTTP_MODULE;
    r->connection = c;
    r->http_connection = hcn;
    r->pool = pool;
    r->main = r;
    r->count = 1;

    r->main_conf = hc->ctx.main_conf;
    r->srv_conf = hc->ctx.srv_conf;
    r->loc_conf = hc->ctx.loc_conf;

    r->ctx = ngx_pcalloc(pool, sizeof(void *) * ngx_http_max_module);
    if (r->ctx == NULL) {
        return NULL;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

    r->variables = ngx_pcalloc(pool, cmcf->variables.nelts
                                     * sizeof(ngx_http_variable_value_t));
    if (r->variables == NULL) {
        return NULL;
    }

    if (ngx_list_init(&r->headers_in.headers, pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&r->headers_out.headers, pool, 1,
                         sizeof(ngx_table_elt_t))
           != NGX_OK
        || ngx_list_init(&r->headers_out.trailers, pool, 1,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        return NULL;
    }

    r->headers_in.content_length_n = -1;
    r->headers_in.keep_alive_n = -1;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;

    r->method = NGX_HTTP_GET;
    ngx_str_set(&r->method_name, "GET");
    r->http_version = hc->http_version;

    r->unparsed_uri = hc->uri;
    r->uri = hc->uri;

    q = ngx_strlchr(hc->uri.data, hc->uri.data + hc->uri.len, '?');

    if (q) {
        r->uri.len = q - hc->uri.data;
        r->args.data = q + 1;
        r->args.len = hc->uri.data + hc->uri.len - r->args.data;
    }

    tp = ngx_timeofday();
    r->start_sec = tp->sec;
    r->start_msec = tp->msec;

    r->uri_changes = NGX_HTTP_MAX_URI_CHANGES + 1;
    r->subrequests = NGX_HTTP_MAX_SUBREQUESTS + 1;

    return r;
}


/*
 * "GET uri HTTP/1.x", Host ($proxy_host unless set), "Connection:
 * close" unless set, and the other headers set with a value: a value
 * empty, or holding CR, LF or NUL, is not sent.
 */

static ngx_int_t
ngx_http_health_check_create_request(ngx_http_health_check_probe_t *probe)
{
    u_char                              *p;
    size_t                               len;
    ngx_str_t                           *values, host, connection;
    ngx_uint_t                           i, n;
    ngx_buf_t                           *b;
    ngx_http_health_check_t             *hc;
    ngx_http_health_check_header_set_t  *h;

    hc = probe->hc;

    host = hc->host;
    ngx_str_set(&connection, "close");

    n = hc->headers ? hc->headers->nelts : 0;
    h = hc->headers ? hc->headers->elts : NULL;

    values = ngx_pcalloc(probe->pool, (n + 1) * sizeof(ngx_str_t));
    if (values == NULL) {
        return NGX_ERROR;
    }

    len = sizeof("GET  HTTP/1.1" CRLF) - 1 + hc->uri.len
          + sizeof(CRLF) - 1;

    for (i = 0; i < n; i++) {

        if (ngx_http_complex_value(probe->r, &h[i].value, &values[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_strlchr(values[i].data, values[i].data + values[i].len, CR)
            || ngx_strlchr(values[i].data, values[i].data + values[i].len, LF)
            || ngx_strlchr(values[i].data, values[i].data + values[i].len,
                           '\0'))
        {
            values[i].len = 0;
        }

        if (h[i].key.len == 4
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Host", 4) == 0)
        {
            /* $proxy_host and the like are empty here: the default stays */

            if (values[i].len) {
                host = values[i];
            }

            values[i].len = 0;

        } else if (h[i].key.len == 10
                   && ngx_strncasecmp(h[i].key.data, (u_char *) "Connection",
                                      10)
                      == 0)
        {
            connection = values[i];
            values[i].len = 0;
        }

        if (values[i].len) {
            len += h[i].key.len + sizeof(": " CRLF) - 1 + values[i].len;
        }
    }

    len += sizeof("Host: " CRLF) - 1 + host.len;

    if (connection.len) {
        len += sizeof("Connection: " CRLF) - 1 + connection.len;
    }

    b = ngx_create_temp_buf(probe->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(b->last, "GET %V HTTP/1.%d" CRLF "Host: %V" CRLF,
                    &hc->uri, hc->http_version == NGX_HTTP_VERSION_11,
                    &host);

    if (connection.len) {
        p = ngx_sprintf(p, "Connection: %V" CRLF, &connection);
    }

    for (i = 0; i < n; i++) {
        if (values[i].len) {
            p = ngx_sprintf(p, "%V: %V" CRLF, &h[i].key, &values[i]);
        }
    }

    *p++ = CR;
    *p++ = LF;

    b->last = p;
    probe->request = b;

    return NGX_OK;
}


/* a timeout, cut to what is left of the probe's time */

static ngx_msec_t
ngx_http_health_check_timeout(ngx_http_health_check_probe_t *probe,
    ngx_msec_t timeout)
{
    ngx_msec_int_t  left;

    left = (ngx_msec_int_t) (probe->deadline - ngx_current_msec);

    if (left <= 0) {
        return 1;
    }

    return ngx_min(timeout, (ngx_msec_t) left);
}
