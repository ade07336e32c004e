
/*
 * The etcd side, on nginx's event loop: requests to one member of the
 * cluster at a time, through etcd's JSON gateway, over HTTP/1.0 so that
 * an answer comes whole, ended by the connection's close, and a watch
 * comes as it is written, one JSON object a line.  A sync authenticates
 * when it has no token, then reads every key under the prefix; the watch
 * then follows the keys from the revision the sync read.  Any failure
 * ends both and moves to the next member; the handler, dcf->answered(),
 * says when to sync again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_upstream_discovery.h"
#include "ngx_gw_json.h"


/* a bigger answer is refused: 512 instances take a tenth of it */
#define NGX_HTTP_UPSTREAM_DISCOVERY_MAX_ANSWER  (1024 * 1024)

/* etcd's tokens are tens of bytes: a "simple" one, or a JWT */
#define NGX_HTTP_UPSTREAM_DISCOVERY_MAX_TOKEN   4096

#define NGX_HTTP_UPSTREAM_DISCOVERY_AUTH   1
#define NGX_HTTP_UPSTREAM_DISCOVERY_RANGE  2
#define NGX_HTTP_UPSTREAM_DISCOVERY_WATCH  3


typedef struct {
    ngx_str_t                           error;
    const char                         *text;
} ngx_http_upstream_discovery_error_t;


static void ngx_http_upstream_discovery_start(
    ngx_http_upstream_discovery_conf_t *dcf,
    ngx_http_upstream_discovery_call_t *call, ngx_uint_t kind);
static ngx_int_t ngx_http_upstream_discovery_request(
    ngx_http_upstream_discovery_conf_t *dcf,
    ngx_http_upstream_discovery_call_t *call);
static void ngx_http_upstream_discovery_refused(ngx_event_t *ev);
static void ngx_http_upstream_discovery_write(ngx_event_t *wev);
#if (NGX_HTTP_SSL)
static void ngx_http_upstream_discovery_handshaked(ngx_connection_t *c,
    ngx_int_t rc, const char *error);
#endif
static ngx_http_upstream_discovery_call_t *
    ngx_http_upstream_discovery_event(ngx_event_t *rev);
static void ngx_http_upstream_discovery_read(ngx_event_t *rev);
static void ngx_http_upstream_discovery_stream(ngx_event_t *rev);
static ngx_int_t ngx_http_upstream_discovery_recv(ngx_connection_t *c,
    ngx_http_upstream_discovery_call_t *call);
static ngx_int_t ngx_http_upstream_discovery_head(ngx_buf_t *b,
    ngx_uint_t *status, u_char **body);
static void ngx_http_upstream_discovery_authenticated(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_uint_t status,
    ngx_str_t *body);
static void ngx_http_upstream_discovery_ranged(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_uint_t status,
    ngx_str_t *body);
static const char *ngx_http_upstream_discovery_refusal(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_uint_t status,
    ngx_str_t *body);
static ngx_int_t ngx_http_upstream_discovery_message(
    ngx_http_upstream_discovery_conf_t *dcf, u_char *line, u_char *last);
static ngx_int_t ngx_http_upstream_discovery_result(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_pool_t *temp,
    ngx_array_t *result);
static ngx_int_t ngx_http_upstream_discovery_revision(ngx_pool_t *pool,
    ngx_array_t *members, uint64_t *revision);
static void ngx_http_upstream_discovery_resync(
    ngx_http_upstream_discovery_conf_t *dcf);
static void ngx_http_upstream_discovery_end(
    ngx_http_upstream_discovery_call_t *call);
static void ngx_http_upstream_discovery_fail(
    ngx_http_upstream_discovery_conf_t *dcf, const char *error);
static void ngx_http_upstream_discovery_forget_token(
    ngx_http_upstream_discovery_conf_t *dcf);


/* what etcd's refusals mean here: its "error" text is etcd's API */

static ngx_http_upstream_discovery_error_t  ngx_http_upstream_discovery_errors[]
    = {
    { ngx_string("etcdserver: user name is empty"),
      "etcd asks for a user and password" },
    { ngx_string("etcdserver: authentication failed, invalid user ID or "
                 "password"),
      "user or password rejected" },
    { ngx_string("etcdserver: permission denied"),
      "permission denied" },
    { ngx_string("etcdserver: authentication is not enabled"),
      "authentication is not enabled in etcd" },
    { ngx_null_string, NULL }
};


/*
 * The range of every key that starts with the prefix: etcd's JSON
 * gateway takes the key and the end of the range in base64.  And the
 * body of an authentication, the user and password being free of control
 * characters (the directive checks).
 */

ngx_int_t
ngx_http_upstream_discovery_etcd_init(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   end;
    ngx_uint_t  i, j;
    ngx_str_t  *s[2];

    end.len = dcf->prefix.len;
    end.data = ngx_pnalloc(cf->pool, end.len);
    if (end.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(end.data, dcf->prefix.data, end.len);
    end.data[end.len - 1]++;

    dcf->key.data = ngx_pnalloc(cf->pool,
                                ngx_base64_encoded_length(dcf->prefix.len));
    dcf->range_end.data = ngx_pnalloc(cf->pool,
                                      ngx_base64_encoded_length(end.len));
    if (dcf->key.data == NULL || dcf->range_end.data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64(&dcf->key, &dcf->prefix);
    ngx_encode_base64(&dcf->range_end, &end);

    if (dcf->user.len == 0) {
        return NGX_OK;
    }

    s[0] = &dcf->user;
    s[1] = &dcf->password;

    len = sizeof("{\"name\":\"\",\"password\":\"\"}")
          + 2 * (dcf->user.len + dcf->password.len);

    dcf->auth.data = ngx_pnalloc(cf->pool, len);
    if (dcf->auth.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(dcf->auth.data, "{\"name\":\"", sizeof("{\"name\":\"") - 1);

    for (i = 0; i < 2; i++) {
        if (i) {
            p = ngx_cpymem(p, "\",\"password\":\"",
                           sizeof("\",\"password\":\"") - 1);
        }

        for (j = 0; j < s[i]->len; j++) {
            if (s[i]->data[j] == '"' || s[i]->data[j] == '\\') {
                *p++ = '\\';
            }

            *p++ = s[i]->data[j];
        }
    }

    p = ngx_cpymem(p, "\"}", 2);

    dcf->auth.len = p - dcf->auth.data;

    return NGX_OK;
}


void
ngx_http_upstream_discovery_etcd_sync(ngx_http_upstream_discovery_conf_t *dcf)
{
    if (dcf->busy) {
        return;
    }

    dcf->busy = 1;

    ngx_http_upstream_discovery_start(dcf, &dcf->unary,
                                      (dcf->auth.len && dcf->token.len == 0)
                                      ? NGX_HTTP_UPSTREAM_DISCOVERY_AUTH
                                      : NGX_HTTP_UPSTREAM_DISCOVERY_RANGE);
}


void
ngx_http_upstream_discovery_etcd_watch(ngx_http_upstream_discovery_conf_t *dcf)
{
    if (dcf->watching || dcf->keys == NULL) {
        return;
    }

    dcf->watching = 1;
    dcf->created = 0;

    ngx_http_upstream_discovery_start(dcf, &dcf->stream,
                                      NGX_HTTP_UPSTREAM_DISCOVERY_WATCH);
}


void
ngx_http_upstream_discovery_etcd_close(ngx_http_upstream_discovery_conf_t *dcf)
{
    ngx_http_upstream_discovery_end(&dcf->unary);
    ngx_http_upstream_discovery_end(&dcf->stream);

    dcf->busy = 0;
    dcf->watching = 0;

    ngx_http_upstream_discovery_keys_free(dcf->keys);
    dcf->keys = NULL;

    ngx_http_upstream_discovery_forget_token(dcf);

#if (NGX_HTTP_SSL)
    if (dcf->ssl) {
        ngx_http_upstream_discovery_ssl_forget(dcf);
    }
#endif
}


/*
 * A request to the member asked now.  A connection refused at once is
 * told from the event loop, as any other failure is: the caller may be
 * the handler of an earlier answer.
 */

static void
ngx_http_upstream_discovery_start(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_http_upstream_discovery_call_t *call, ngx_uint_t kind)
{
    ngx_int_t                              rc;
    ngx_connection_t                      *c;
    ngx_peer_connection_t                 *pc;
    ngx_http_upstream_discovery_member_t  *member;

    member = dcf->members.elts;
    member = &member[dcf->member];

    call->dcf = dcf;
    call->kind = kind;
    call->sent = 0;
    call->streaming = 0;

    call->refused.handler = ngx_http_upstream_discovery_refused;
    call->refused.data = call;
    call->refused.log = ngx_cycle->log;

    call->pool = ngx_create_pool(4096, ngx_cycle->log);
    if (call->pool == NULL) {
        goto refused;
    }

    call->buf = ngx_create_temp_buf(call->pool, 16384);
    if (call->buf == NULL
        || ngx_http_upstream_discovery_request(dcf, call) != NGX_OK)
    {
        goto refused;
    }

    call->line = call->buf->pos;

    pc = &call->pc;
    ngx_memzero(pc, sizeof(ngx_peer_connection_t));

    pc->sockaddr = member->addr.sockaddr;
    pc->socklen = member->addr.socklen;
    pc->name = &member->addr.name;
    pc->get = ngx_event_get_peer;
    pc->log = ngx_cycle->log;

    /* the module tells an outage once; nginx's own lines stay at info */
    pc->log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        pc->connection = NULL;
        goto refused;
    }

    c = pc->connection;
    c->data = call;
    c->pool = call->pool;
    c->log = ngx_cycle->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->log_error = NGX_ERROR_INFO;
    c->read->handler = (kind == NGX_HTTP_UPSTREAM_DISCOVERY_WATCH)
                       ? ngx_http_upstream_discovery_stream
                       : ngx_http_upstream_discovery_read;
    c->write->handler = ngx_http_upstream_discovery_write;

    /* a worker told to quit closes it at once, as an idle keepalive one */
    c->idle = 1;

    /* the watch's timer runs until etcd has made it, then it has none */

    ngx_add_timer(c->read, ngx_max(dcf->interval, 1000));

    if (rc == NGX_OK) {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return;

refused:

    ngx_post_event(&call->refused, &ngx_posted_events);
}


static void
ngx_http_upstream_discovery_refused(ngx_event_t *ev)
{
    ngx_http_upstream_discovery_call_t  *call;

    call = ev->data;

    ngx_http_upstream_discovery_fail(call->dcf, call->pool ? "cannot connect"
                                                           : "no memory");
}


/*
 * POST path HTTP/1.0, with the token once there is one; the watch asks
 * etcd to end it if the member loses the cluster's leader, as etcd's own
 * clients do (the gateway passes Grpc-Metadata- headers on to etcd).
 */

static ngx_int_t
ngx_http_upstream_discovery_request(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_http_upstream_discovery_call_t *call)
{
    u_char                                *p;
    size_t                                 len;
    ngx_str_t                              path, body;
    ngx_http_upstream_discovery_member_t  *member;

    static u_char  watch_revision[] = "\",\"start_revision\":\"";
    static u_char  watch_end[] = "\",\"progress_notify\":true}}";

    member = dcf->members.elts;
    member = &member[dcf->member];

    switch (call->kind) {

    case NGX_HTTP_UPSTREAM_DISCOVERY_AUTH:
        ngx_str_set(&path, "/v3/auth/authenticate");
        body = dcf->auth;
        break;

    case NGX_HTTP_UPSTREAM_DISCOVERY_RANGE:
        ngx_str_set(&path, "/v3/kv/range");

        body.data = ngx_pnalloc(call->pool, dcf->key.len + dcf->range_end.len
                                + sizeof("{\"key\":\"\",\"range_end\":\"\"}"));
        if (body.data == NULL) {
            return NGX_ERROR;
        }

        body.len = ngx_sprintf(body.data, "{\"key\":\"%V\",\"range_end\":"
                               "\"%V\"}", &dcf->key, &dcf->range_end)
                   - body.data;
        break;

    default: /* NGX_HTTP_UPSTREAM_DISCOVERY_WATCH */
        ngx_str_set(&path, "/v3/watch");

        body.data = ngx_pnalloc(call->pool, dcf->key.len + dcf->range_end.len
                                + sizeof("{\"create_request\":{\"key\":\"\","
                                         "\"range_end\":\"") - 1
                                + sizeof(watch_revision) + sizeof(watch_end)
                                + NGX_INT64_LEN);
        if (body.data == NULL) {
            return NGX_ERROR;
        }

        body.len = ngx_sprintf(body.data, "{\"create_request\":{\"key\":"
                               "\"%V\",\"range_end\":\"%V%s%uL%s",
                               &dcf->key, &dcf->range_end, watch_revision,
                               dcf->keys->revision + 1, watch_end)
                   - body.data;
        break;
    }

    len = sizeof("POST  HTTP/1.0" CRLF "Host: " CRLF
                 "Authorization: " CRLF
                 "Grpc-Metadata-hasleader: true" CRLF
                 "Content-Type: application/json" CRLF
                 "Content-Length: " CRLF CRLF)
          + path.len + member->addr.name.len + dcf->token.len
          + NGX_SIZE_T_LEN + body.len;

    call->request.data = ngx_pnalloc(call->pool, len);
    if (call->request.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(call->request.data, "POST %V HTTP/1.0" CRLF "Host: %V"
                    CRLF, &path, &member->addr.name);

    if (dcf->token.len && call->kind != NGX_HTTP_UPSTREAM_DISCOVERY_AUTH) {
        p = ngx_sprintf(p, "Authorization: %V" CRLF, &dcf->token);
    }

    if (call->kind == NGX_HTTP_UPSTREAM_DISCOVERY_WATCH) {
        p = ngx_cpymem(p, "Grpc-Metadata-hasleader: true" CRLF,
                       sizeof("Grpc-Metadata-hasleader: true" CRLF) - 1);
    }

    p = ngx_sprintf(p, "Content-Type: application/json" CRLF
                    "Content-Length: %uz" CRLF CRLF "%V", body.len, &body);

    call->request.len = p - call->request.data;

    return NGX_OK;
}


static void
ngx_http_upstream_discovery_write(ngx_event_t *wev)
{
    ssize_t                              n;
    ngx_connection_t                    *c;
    ngx_http_upstream_discovery_call_t  *call;

    c = wev->data;
    call = c->data;

#if (NGX_HTTP_SSL)

    if (call->dcf->ssl && c->ssl == NULL) {
        int        err;
        socklen_t  len;

        /* a connection refused is told as such, not as TLS failing */

        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            ngx_http_upstream_discovery_fail(call->dcf, "connection failed");
            return;
        }

        ngx_http_upstream_discovery_ssl_handshake(call->dcf, c,
            &((ngx_http_upstream_discovery_member_t *)
                  call->dcf->members.elts)[call->dcf->member],
            ngx_http_upstream_discovery_handshaked);
        return;
    }

#endif

    /* the request is small, but the socket's buffer may take it in parts */

    while (call->sent < call->request.len) {
        n = c->send(c, call->request.data + call->sent,
                    call->request.len - call->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_upstream_discovery_fail(call->dcf, "cannot send");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_upstream_discovery_fail(call->dcf, "cannot send");
            return;
        }

        call->sent += n;
    }

    wev->handler = ngx_http_empty_handler;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_upstream_discovery_fail(call->dcf, "cannot read");
    }
}


#if (NGX_HTTP_SSL)

static void
ngx_http_upstream_discovery_handshaked(ngx_connection_t *c, ngx_int_t rc,
    const char *error)
{
    ngx_http_upstream_discovery_call_t  *call;

    call = c->data;

    if (rc != NGX_OK) {
        ngx_http_upstream_discovery_fail(call->dcf, error);
        return;
    }

    c->read->handler = (call->kind == NGX_HTTP_UPSTREAM_DISCOVERY_WATCH)
                       ? ngx_http_upstream_discovery_stream
                       : ngx_http_upstream_discovery_read;
    c->write->handler = ngx_http_upstream_discovery_write;

    ngx_http_upstream_discovery_write(c->write);
}

#endif


/*
 * A read event's call, or NULL when it has ended: the worker quits (it
 * closes idle connections, which these are), or etcd took too long.
 */

static ngx_http_upstream_discovery_call_t *
ngx_http_upstream_discovery_event(ngx_event_t *rev)
{
    ngx_connection_t                    *c;
    ngx_http_upstream_discovery_conf_t  *dcf;
    ngx_http_upstream_discovery_call_t  *call;

    c = rev->data;
    call = c->data;
    dcf = call->dcf;

    if (c->close) {
        if (call == &dcf->stream) {
            dcf->watching = 0;

        } else {
            dcf->busy = 0;
        }

        ngx_http_upstream_discovery_end(call);
        return NULL;
    }

    if (rev->timedout) {
        ngx_http_upstream_discovery_fail(dcf, "timed out");
        return NULL;
    }

    return call;
}


/* an authentication or a range: read until etcd closes */

static void
ngx_http_upstream_discovery_read(ngx_event_t *rev)
{
    ngx_int_t                            rc;
    ngx_str_t                            body;
    ngx_uint_t                           status;
    ngx_connection_t                    *c;
    ngx_http_upstream_discovery_conf_t  *dcf;
    ngx_http_upstream_discovery_call_t  *call;

    c = rev->data;
    call = ngx_http_upstream_discovery_event(rev);

    if (call == NULL) {
        return;
    }

    dcf = call->dcf;

    rc = ngx_http_upstream_discovery_recv(c, call);

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc != NGX_DONE) {
        return;
    }

    /* HTTP/1.0: the answer ends where the connection does */

    rc = ngx_http_upstream_discovery_head(call->buf, &status, &body.data);

    if (rc == NGX_ERROR) {
        ngx_http_upstream_discovery_fail(dcf, "not an HTTP answer");
        return;
    }

    if (rc == NGX_AGAIN) {
        ngx_http_upstream_discovery_fail(dcf, "an incomplete answer");
        return;
    }

    body.len = call->buf->last - body.data;

    if (call->kind == NGX_HTTP_UPSTREAM_DISCOVERY_AUTH) {
        ngx_http_upstream_discovery_authenticated(dcf, status, &body);

    } else {
        ngx_http_upstream_discovery_ranged(dcf, status, &body);
    }
}


/*
 * What etcd sent, in the call's buffer, which grows up to the limit.
 * NGX_DONE: etcd closed the connection; NGX_AGAIN: more to come;
 * NGX_OK: the buffer is full; NGX_ERROR: the call failed, and has ended.
 */

static ngx_int_t
ngx_http_upstream_discovery_recv(ngx_connection_t *c,
    ngx_http_upstream_discovery_call_t *call)
{
    size_t      size, kept;
    ssize_t     n;
    ngx_buf_t  *b, *nb;

    b = call->buf;

    for ( ;; ) {

        if (b->last == b->end) {

            /* the watch's lines already read make room first */

            kept = b->last - call->line;

            if (call->streaming && call->line > b->start) {
                b->last = ngx_movemem(b->start, call->line, kept);
                call->line = b->start;
                continue;
            }

            size = 2 * (b->end - b->start);

            if (size > NGX_HTTP_UPSTREAM_DISCOVERY_MAX_ANSWER) {
                ngx_http_upstream_discovery_fail(call->dcf, "answer too big");
                return NGX_ERROR;
            }

            nb = ngx_create_temp_buf(call->pool, size);
            if (nb == NULL) {
                ngx_http_upstream_discovery_fail(call->dcf, "no memory");
                return NGX_ERROR;
            }

            nb->last = ngx_cpymem(nb->last, b->pos, b->last - b->pos);
            call->line = nb->start + (call->line - b->start);
            call->buf = nb;
            b = nb;
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                ngx_http_upstream_discovery_fail(call->dcf, "cannot read");
                return NGX_ERROR;
            }

            return NGX_AGAIN;
        }

        if (n == NGX_ERROR) {
            ngx_http_upstream_discovery_fail(call->dcf, "connection failed");
            return NGX_ERROR;
        }

        if (n == 0) {
            return NGX_DONE;
        }

        b->last += n;

        if (call->streaming || call->kind == NGX_HTTP_UPSTREAM_DISCOVERY_WATCH)
        {
            return NGX_OK;
        }
    }
}


/*
 * "HTTP/1.x 200 ...", headers, an empty line: NGX_OK with the status and
 * where the body begins, NGX_AGAIN if the head is not all there.
 */

static ngx_int_t
ngx_http_upstream_discovery_head(ngx_buf_t *b, ngx_uint_t *status,
    u_char **body)
{
    u_char  *p, *last;

    p = b->pos;
    last = b->last;

    if (last - p < (ssize_t) sizeof("HTTP/1.0 200") - 1) {
        return (ngx_strncmp(p, "HTTP/1.", ngx_min(last - p, 7)) == 0)
               ? NGX_AGAIN : NGX_ERROR;
    }

    if (ngx_strncmp(p, "HTTP/1.", 7) != 0
        || p[8] != ' '
        || p[9] < '1' || p[9] > '5'
        || p[10] < '0' || p[10] > '9'
        || p[11] < '0' || p[11] > '9')
    {
        return NGX_ERROR;
    }

    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

    *body = ngx_strlcasestrn(p, last, (u_char *) "\r\n\r\n", 4 - 1);

    if (*body == NULL) {
        return NGX_AGAIN;
    }

    *body += 4;

    return NGX_OK;
}


/* {"header": {...}, "token": "..."}: then the range, on the same member */

static void
ngx_http_upstream_discovery_authenticated(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_uint_t status,
    ngx_str_t *body)
{
    u_char                *p;
    ngx_int_t              rc;
    ngx_str_t              token;
    ngx_array_t            members;
    const char            *error;
    ngx_gw_json_member_t  *m;

    if (status != 200) {
        ngx_http_upstream_discovery_fail(dcf,
            ngx_http_upstream_discovery_refusal(dcf, status, body));
        return;
    }

    if (ngx_array_init(&members, dcf->unary.pool, 4,
                       sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        ngx_http_upstream_discovery_fail(dcf, "no memory");
        return;
    }

    rc = ngx_gw_json_object_members(dcf->unary.pool, body, 16, &members,
                                    &error);
    if (rc != NGX_OK) {
        ngx_http_upstream_discovery_fail(dcf, (rc == NGX_ERROR) ? error
                                                                : "no memory");
        return;
    }

    m = ngx_gw_json_member(&members, (u_char *) "token", 5);

    if (m == NULL || m->type != NGX_GW_JSON_STRING
        || ngx_gw_json_member_text(dcf->unary.pool, m, &token) != NGX_OK)
    {
        ngx_http_upstream_discovery_fail(dcf, "no token in the answer");
        return;
    }

    /* it goes in a header line: visible ASCII only */

    for (p = token.data; p < token.data + token.len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            break;
        }
    }

    if (token.len == 0 || token.len > NGX_HTTP_UPSTREAM_DISCOVERY_MAX_TOKEN
        || p != token.data + token.len)
    {
        ngx_http_upstream_discovery_fail(dcf, "an invalid token");
        return;
    }

    ngx_http_upstream_discovery_forget_token(dcf);

    dcf->token.data = ngx_alloc(token.len, ngx_cycle->log);
    if (dcf->token.data == NULL) {
        ngx_http_upstream_discovery_fail(dcf, "no memory");
        return;
    }

    ngx_memcpy(dcf->token.data, token.data, token.len);
    dcf->token.len = token.len;
    dcf->fresh_token = 1;

    ngx_http_upstream_discovery_end(&dcf->unary);

    ngx_http_upstream_discovery_start(dcf, &dcf->unary,
                                      NGX_HTTP_UPSTREAM_DISCOVERY_RANGE);
}


/*
 * {"header": {"revision": "42", ...}, "kvs": [{"key": base64, "value":
 * base64, "mod_revision": "7", ...}, ...], "count": "2"}; without "kvs",
 * nothing is under the prefix.  A token etcd no longer takes is renewed
 * once.
 */

static void
ngx_http_upstream_discovery_ranged(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_uint_t status, ngx_str_t *body)
{
    uint64_t                             revision;
    ngx_int_t                            rc;
    ngx_uint_t                           changed;
    ngx_pool_t                          *pool;
    ngx_array_t                          members, instances;
    const char                          *error;
    ngx_gw_json_member_t                *kvs;
    ngx_http_upstream_discovery_keys_t  *keys;

    if (status == 401 && dcf->token.len && !dcf->fresh_token) {
        ngx_http_upstream_discovery_forget_token(dcf);
        ngx_http_upstream_discovery_end(&dcf->unary);
        ngx_http_upstream_discovery_start(dcf, &dcf->unary,
                                          NGX_HTTP_UPSTREAM_DISCOVERY_AUTH);
        return;
    }

    if (status != 200) {
        ngx_http_upstream_discovery_fail(dcf,
            ngx_http_upstream_discovery_refusal(dcf, status, body));
        return;
    }

    pool = dcf->unary.pool;

    if (ngx_array_init(&members, pool, 4, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        ngx_http_upstream_discovery_fail(dcf, "no memory");
        return;
    }

    rc = ngx_gw_json_object_members(pool, body, 16, &members, &error);

    if (rc != NGX_OK) {
        ngx_http_upstream_discovery_fail(dcf, (rc == NGX_ERROR) ? error
                                                                : "no memory");
        return;
    }

    if (ngx_http_upstream_discovery_revision(pool, &members, &revision)
        != NGX_OK)
    {
        ngx_http_upstream_discovery_fail(dcf, "no revision in the answer");
        return;
    }

    kvs = ngx_gw_json_member(&members, (u_char *) "kvs", 3);

    if (kvs && kvs->type != NGX_GW_JSON_ARRAY) {
        ngx_http_upstream_discovery_fail(dcf, "\"kvs\" is not an array");
        return;
    }

    if (ngx_http_upstream_discovery_keys_range(dcf, kvs ? &kvs->value : NULL,
                                               revision, &keys, &error)
        != NGX_OK)
    {
        ngx_http_upstream_discovery_fail(dcf, error);
        return;
    }

    ngx_http_upstream_discovery_keys_free(dcf->keys);
    dcf->keys = keys;
    dcf->digest = ngx_http_upstream_discovery_keys_digest(keys);

    /* nothing changed under the prefix since the list was made */

    changed = !(dcf->sh->answered && dcf->digest == dcf->sh->digest);

    if (changed
        && ngx_http_upstream_discovery_keys_instances(pool, keys, &instances)
           != NGX_OK)
    {
        ngx_http_upstream_discovery_fail(dcf, "no memory");
        return;
    }

    /* the answer's memory lasts until the handler is done with it */

    dcf->unary.pool = NULL;
    ngx_http_upstream_discovery_end(&dcf->unary);

    dcf->busy = 0;

    /*
     * A read while the watch runs: both work, the failures are over.  A
     * member that answers reads but ends every watch is still failing.
     */

    if (dcf->watching && dcf->created) {
        dcf->tried = 0;
    }

    dcf->answered(dcf, changed ? &instances : NULL, NULL);

    ngx_destroy_pool(pool);
}


/* a refusal's reason: etcd's {"error": "...", "code": n, ...} */

static const char *
ngx_http_upstream_discovery_refusal(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_uint_t status, ngx_str_t *body)
{
    ngx_str_t                             text;
    ngx_array_t                           members;
    const char                           *error;
    ngx_gw_json_member_t                 *m;
    ngx_http_upstream_discovery_error_t  *e;

    if (status == 401) {
        return dcf->token.len ? "token refused"
                              : "etcd asks for a user and password";
    }

    if (ngx_array_init(&members, dcf->unary.pool, 4,
                       sizeof(ngx_gw_json_member_t))
            == NGX_OK
        && ngx_gw_json_object_members(dcf->unary.pool, body, 4, &members,
                                      &error)
           == NGX_OK)
    {
        m = ngx_gw_json_member(&members, (u_char *) "error", 5);

        if (m && m->type == NGX_GW_JSON_STRING
            && ngx_gw_json_member_text(dcf->unary.pool, m, &text) == NGX_OK)
        {
            for (e = ngx_http_upstream_discovery_errors; e->text; e++) {
                if (text.len == e->error.len
                    && ngx_strncmp(text.data, e->error.data, text.len) == 0)
                {
                    return e->text;
                }
            }
        }
    }

    return "not a 200 answer";
}


/* the watch: its head, then one JSON object a line, each told at once */

static void
ngx_http_upstream_discovery_stream(ngx_event_t *rev)
{
    u_char                              *nl;
    ngx_int_t                            rc;
    ngx_uint_t                           status;
    ngx_buf_t                           *b;
    ngx_connection_t                    *c;
    ngx_http_upstream_discovery_conf_t  *dcf;
    ngx_http_upstream_discovery_call_t  *call;

    c = rev->data;
    call = ngx_http_upstream_discovery_event(rev);

    if (call == NULL) {
        return;
    }

    dcf = call->dcf;

    for ( ;; ) {
        rc = ngx_http_upstream_discovery_recv(c, call);

        if (rc == NGX_AGAIN || rc == NGX_ERROR) {
            return;
        }

        if (rc == NGX_DONE) {

            /*
             * A watch that ran for an interval, closed by etcd (a member
             * that stops, a proxy's idle timeout): read the list again,
             * which fails if the member is gone.  One that ends sooner
             * is a failure, lest nginx loop on it.
             */

            if (dcf->created
                && ngx_current_msec - dcf->created >= dcf->interval)
            {
                ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                              "discovery: upstream \"%V\": the watch ended, "
                              "reading the list again", &dcf->upstream->host);

                ngx_http_upstream_discovery_resync(dcf);
                return;
            }

            ngx_http_upstream_discovery_fail(dcf, call->streaming
                                                  ? "the watch ended"
                                                  : "an incomplete answer");
            return;
        }

        b = call->buf;

        if (!call->streaming) {
            rc = ngx_http_upstream_discovery_head(b, &status, &call->line);

            if (rc == NGX_AGAIN) {
                continue;
            }

            if (rc == NGX_ERROR) {
                ngx_http_upstream_discovery_fail(dcf, "not an HTTP answer");
                return;
            }

            if (status != 200) {
                ngx_http_upstream_discovery_fail(dcf, "not a 200 answer");
                return;
            }

            call->streaming = 1;
        }

        for ( ;; ) {
            nl = ngx_strlchr(call->line, b->last, LF);

            if (nl == NULL) {
                break;
            }

            rc = ngx_http_upstream_discovery_message(dcf, call->line, nl);

            if (rc != NGX_OK) {
                /* the watch has ended, and its buffer with it */
                return;
            }

            call->line = nl + 1;
        }
    }
}


/*
 * {"result": {...}}, or {"error": {...}} when the gateway fails the
 * stream.  NGX_OK: the watch goes on; otherwise it has ended.
 */

static ngx_int_t
ngx_http_upstream_discovery_message(ngx_http_upstream_discovery_conf_t *dcf,
    u_char *line, u_char *last)
{
    ngx_int_t              rc;
    ngx_str_t              text;
    ngx_pool_t            *temp;
    ngx_array_t            members, result;
    const char            *error;
    ngx_gw_json_member_t  *m;

    while (last > line && (last[-1] == CR || last[-1] == ' ')) {
        last--;
    }

    if (last == line) {
        return NGX_OK;
    }

    /* each message's memory goes with it: the watch may run for days */

    temp = ngx_create_pool(4096, ngx_cycle->log);
    if (temp == NULL) {
        ngx_http_upstream_discovery_fail(dcf, "no memory");
        return NGX_ERROR;
    }

    text.data = line;
    text.len = last - line;

    if (ngx_array_init(&members, temp, 2, sizeof(ngx_gw_json_member_t))
        != NGX_OK
        || ngx_array_init(&result, temp, 8, sizeof(ngx_gw_json_member_t))
           != NGX_OK)
    {
        error = "no memory";
        goto failed;
    }

    rc = ngx_gw_json_object_members(temp, &text, 16, &members, &error);

    if (rc != NGX_OK) {
        if (rc != NGX_ERROR) {
            error = "no memory";
        }

        goto failed;
    }

    m = ngx_gw_json_member(&members, (u_char *) "result", 6);

    if (m == NULL || m->type != NGX_GW_JSON_OBJECT) {
        error = "the watch failed";
        goto failed;
    }

    rc = ngx_gw_json_object_members(temp, &m->value, 16, &result, &error);

    if (rc != NGX_OK) {
        if (rc != NGX_ERROR) {
            error = "no memory";
        }

        goto failed;
    }

    rc = ngx_http_upstream_discovery_result(dcf, temp, &result);

    ngx_destroy_pool(temp);

    return rc;

failed:

    ngx_destroy_pool(temp);

    ngx_http_upstream_discovery_fail(dcf, error);

    return NGX_ERROR;
}


/*
 * A watch response: "created", "events" (the changes), "compact_revision"
 * (the revision asked for is gone), "canceled" with its "cancel_reason",
 * or only a "header", a progress notification: every change up to its
 * revision has been sent.
 */

static ngx_int_t
ngx_http_upstream_discovery_result(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_pool_t *temp, ngx_array_t *result)
{
    uint64_t                             revision;
    ngx_int_t                            rc;
    ngx_str_t                            text;
    ngx_array_t                          instances;
    const char                          *error;
    ngx_connection_t                    *c;
    ngx_gw_json_member_t                *m;
    ngx_http_upstream_discovery_keys_t  *keys;

    /*
     * The revision asked for is compacted: the keys are read anew, at a
     * revision that cannot be.  Unless it was that revision: such an
     * etcd would have nginx loop.
     */

    m = ngx_gw_json_member(result, (u_char *) "compact_revision", 16);

    if (m) {
        if (dcf->compacted) {
            ngx_http_upstream_discovery_fail(dcf, "compacted again");
            return NGX_ERROR;
        }

        dcf->compacted = 1;
        ngx_http_upstream_discovery_resync(dcf);
        return NGX_DONE;
    }

    m = ngx_gw_json_member(result, (u_char *) "canceled", 8);

    if (m && m->type == NGX_GW_JSON_TRUE) {
        m = ngx_gw_json_member(result, (u_char *) "cancel_reason", 13);

        if (m && m->type == NGX_GW_JSON_STRING
            && ngx_gw_json_member_text(temp, m, &text) == NGX_OK
            && ngx_strlcasestrn(text.data, text.data + text.len,
                                (u_char *) "code = Unauthenticated",
                                sizeof("code = Unauthenticated") - 2)
               != NULL
            && dcf->auth.len && !dcf->fresh_token)
        {
            /* the token expired since the sync */
            ngx_http_upstream_discovery_forget_token(dcf);
            ngx_http_upstream_discovery_resync(dcf);
            return NGX_DONE;
        }

        ngx_http_upstream_discovery_fail(dcf, "the watch was canceled");
        return NGX_ERROR;
    }

    m = ngx_gw_json_member(result, (u_char *) "created", 7);

    if (m && m->type == NGX_GW_JSON_TRUE) {
        c = dcf->stream.pc.connection;

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        dcf->fresh_token = 0;
        dcf->created = ngx_current_msec;

        return NGX_OK;
    }

    /* etcd has written since: the watch works */

    dcf->compacted = 0;

    m = ngx_gw_json_member(result, (u_char *) "events", 6);

    if (m == NULL) {
        if (ngx_http_upstream_discovery_revision(temp, result, &revision)
                == NGX_OK
            && revision > dcf->keys->revision)
        {
            dcf->keys->revision = revision;
        }

        return NGX_OK;
    }

    if (m->type != NGX_GW_JSON_ARRAY) {
        ngx_http_upstream_discovery_fail(dcf, "\"events\" is not an array");
        return NGX_ERROR;
    }

    rc = ngx_http_upstream_discovery_keys_events(dcf, &m->value, &keys,
                                                 &error);

    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        ngx_http_upstream_discovery_fail(dcf, error);
        return NGX_ERROR;
    }

    ngx_http_upstream_discovery_keys_free(dcf->keys);
    dcf->keys = keys;
    dcf->digest = ngx_http_upstream_discovery_keys_digest(keys);

    if (ngx_http_upstream_discovery_keys_instances(temp, keys, &instances)
        != NGX_OK)
    {
        ngx_http_upstream_discovery_fail(dcf, "no memory");
        return NGX_ERROR;
    }

    dcf->answered(dcf, &instances, NULL);

    return NGX_OK;
}


/* the "header"'s "revision": a positive int64, as a string */

static ngx_int_t
ngx_http_upstream_discovery_revision(ngx_pool_t *pool, ngx_array_t *members,
    uint64_t *revision)
{
    ngx_str_t              text;
    ngx_array_t            header;
    const char            *error;
    ngx_gw_json_member_t  *m;

    m = ngx_gw_json_member(members, (u_char *) "header", 6);

    if (m == NULL || m->type != NGX_GW_JSON_OBJECT
        || ngx_array_init(&header, pool, 8, sizeof(ngx_gw_json_member_t))
           != NGX_OK
        || ngx_gw_json_object_members(pool, &m->value, 4, &header, &error)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    m = ngx_gw_json_member(&header, (u_char *) "revision", 8);

    if (m == NULL || m->type != NGX_GW_JSON_STRING
        || ngx_gw_json_member_text(pool, m, &text) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upstream_discovery_keys_revision(&text, revision);
}


/* the watch ends without a failure: read the keys anew, then watch again */

static void
ngx_http_upstream_discovery_resync(ngx_http_upstream_discovery_conf_t *dcf)
{
    ngx_http_upstream_discovery_end(&dcf->stream);
    dcf->watching = 0;

    ngx_http_upstream_discovery_etcd_sync(dcf);
}


static void
ngx_http_upstream_discovery_end(ngx_http_upstream_discovery_call_t *call)
{
    if (call->refused.posted) {
        ngx_delete_posted_event(&call->refused);
    }

    if (call->pc.connection) {
#if (NGX_HTTP_SSL)
        ngx_http_upstream_discovery_ssl_close(call->pc.connection);
#endif
        ngx_close_connection(call->pc.connection);
        call->pc.connection = NULL;
    }

    if (call->pool) {
        ngx_destroy_pool(call->pool);
        call->pool = NULL;
    }

    call->buf = NULL;
    call->line = NULL;
    call->streaming = 0;
}


/*
 * A request failed: the member is left for the next, and what was
 * started on it goes.  Errors are static strings, which outlive the
 * calls' memory.
 */

static void
ngx_http_upstream_discovery_fail(ngx_http_upstream_discovery_conf_t *dcf,
    const char *error)
{
    ngx_http_upstream_discovery_member_t  *member;

    ngx_http_upstream_discovery_end(&dcf->unary);
    ngx_http_upstream_discovery_end(&dcf->stream);

    dcf->busy = 0;
    dcf->watching = 0;

    member = dcf->members.elts;
    dcf->failed = &member[dcf->member].addr.name;
    dcf->member = (dcf->member + 1) % dcf->members.nelts;
    dcf->tried++;

#if (NGX_HTTP_SSL)
    if (dcf->ssl) {
        ngx_http_upstream_discovery_ssl_forget(dcf);
    }
#endif

    dcf->answered(dcf, NULL, error);
}


static void
ngx_http_upstream_discovery_forget_token(
    ngx_http_upstream_discovery_conf_t *dcf)
{
    if (dcf->token.data) {
        ngx_explicit_memzero(dcf->token.data, dcf->token.len);
        ngx_free(dcf->token.data);
    }

    ngx_str_null(&dcf->token);
    dcf->fresh_token = 0;
}
