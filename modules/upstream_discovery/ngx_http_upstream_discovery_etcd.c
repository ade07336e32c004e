
/*
 * The etcd side: one range request on nginx's event loop per poll, over
 * HTTP/1.0 so that the answer comes whole, ended by the connection's
 * close, and its JSON read into a list of instances for the poll's
 * handler, dcf->answered().
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_upstream_discovery.h"
#include "ngx_gw_json.h"


/* a bigger answer is refused: 512 instances take a tenth of it */
#define NGX_HTTP_UPSTREAM_DISCOVERY_MAX_ANSWER  (1024 * 1024)


static void ngx_http_upstream_discovery_write(ngx_event_t *wev);
static void ngx_http_upstream_discovery_read(ngx_event_t *rev);
static void ngx_http_upstream_discovery_done(
    ngx_http_upstream_discovery_conf_t *dcf, const char *error);
static ngx_int_t ngx_http_upstream_discovery_parse(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *response,
    ngx_array_t *instances, const char **error);
static ngx_int_t ngx_http_upstream_discovery_kv(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *kv,
    ngx_array_t *instances);
static ngx_int_t ngx_http_upstream_discovery_value(ngx_pool_t *pool,
    ngx_str_t *value, ngx_http_upstream_discovery_instance_t *instance);
static ngx_int_t ngx_http_upstream_discovery_string(ngx_pool_t *pool,
    ngx_gw_json_member_t *member, ngx_uint_t base64, ngx_str_t *text);
static ngx_int_t ngx_http_upstream_discovery_revision(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_array_t *members);


/*
 * POST /v3/kv/range of every key that starts with the prefix: etcd's JSON
 * gateway takes the key and the end of the range in base64.
 */

ngx_int_t
ngx_http_upstream_discovery_etcd_request(ngx_pool_t *pool,
    ngx_http_upstream_discovery_conf_t *dcf)
{
    u_char     *p;
    size_t      b64;
    ngx_str_t   body, t, key, end;

    key = dcf->prefix;

    end.len = key.len;
    end.data = ngx_pnalloc(pool, end.len);
    if (end.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(end.data, key.data, key.len);
    end.data[end.len - 1]++;

    b64 = ngx_base64_encoded_length(key.len);

    dcf->request.data = ngx_pnalloc(pool,
                                    sizeof("POST /v3/kv/range HTTP/1.0" CRLF
                                           "Host: " CRLF
                                           "Content-Type: application/json"
                                           CRLF
                                           "Content-Length: " CRLF CRLF
                                           "{\"key\":\"\",\"range_end\":\"\"}")
                                    + dcf->etcd.name.len + NGX_SIZE_T_LEN
                                    + 2 * b64);
    if (dcf->request.data == NULL) {
        return NGX_ERROR;
    }

    body.data = ngx_pnalloc(pool, 2 * b64 + sizeof("{\"key\":\"\","
                                                   "\"range_end\":\"\"}"));
    if (body.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(body.data, "{\"key\":\"", sizeof("{\"key\":\"") - 1);

    t.data = p;
    ngx_encode_base64(&t, &key);
    p += t.len;

    p = ngx_cpymem(p, "\",\"range_end\":\"",
                   sizeof("\",\"range_end\":\"") - 1);

    t.data = p;
    ngx_encode_base64(&t, &end);
    p += t.len;

    p = ngx_cpymem(p, "\"}", 2);

    body.len = p - body.data;

    p = ngx_sprintf(dcf->request.data,
                    "POST /v3/kv/range HTTP/1.0" CRLF
                    "Host: %V" CRLF
                    "Content-Type: application/json" CRLF
                    "Content-Length: %uz" CRLF CRLF
                    "%V",
                    &dcf->etcd.name, body.len, &body);

    dcf->request.len = p - dcf->request.data;

    return NGX_OK;
}


void
ngx_http_upstream_discovery_etcd_poll(ngx_http_upstream_discovery_conf_t *dcf)
{
    ngx_int_t                rc;
    ngx_msec_t               timeout;
    ngx_connection_t        *c;
    ngx_peer_connection_t   *pc;

    dcf->pool = ngx_create_pool(4096, ngx_cycle->log);
    if (dcf->pool == NULL) {
        return;
    }

    dcf->buf = ngx_create_temp_buf(dcf->pool, 16384);
    if (dcf->buf == NULL) {
        ngx_destroy_pool(dcf->pool);
        dcf->pool = NULL;
        return;
    }

    pc = &dcf->pc;
    ngx_memzero(pc, sizeof(ngx_peer_connection_t));

    pc->sockaddr = dcf->etcd.sockaddr;
    pc->socklen = dcf->etcd.socklen;
    pc->name = &dcf->etcd.name;
    pc->get = ngx_event_get_peer;
    pc->log = ngx_cycle->log;

    /* the module tells an outage once; nginx's own lines stay at info */
    pc->log_error = NGX_ERROR_INFO;

    dcf->busy = 1;

    rc = ngx_event_connect_peer(pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_upstream_discovery_done(dcf, "cannot connect");
        return;
    }

    c = pc->connection;
    c->data = dcf;
    c->log = ngx_cycle->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->log_error = NGX_ERROR_INFO;
    c->read->handler = ngx_http_upstream_discovery_read;
    c->write->handler = ngx_http_upstream_discovery_write;

    timeout = ngx_max(dcf->interval, 1000);

    ngx_add_timer(c->read, timeout);

    if (rc == NGX_OK) {
        ngx_http_upstream_discovery_write(c->write);
    }
}


/*
 * A poll's connection and memory go; its end is told by the caller, if at
 * all: a worker that exits does not tell it.
 */

void
ngx_http_upstream_discovery_etcd_close(ngx_http_upstream_discovery_conf_t *dcf)
{
    if (dcf->pc.connection) {
        ngx_close_connection(dcf->pc.connection);
        dcf->pc.connection = NULL;
    }

    if (dcf->pool) {
        ngx_destroy_pool(dcf->pool);
        dcf->pool = NULL;
    }
}


static void
ngx_http_upstream_discovery_write(ngx_event_t *wev)
{
    ssize_t                               n;
    ngx_connection_t                     *c;
    ngx_http_upstream_discovery_conf_t   *dcf;

    c = wev->data;
    dcf = c->data;

    /* the request is small: it goes out whole or the poll fails */

    n = c->send(c, dcf->request.data, dcf->request.len);

    if (n == NGX_AGAIN) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_upstream_discovery_done(dcf, "cannot send");
        }

        return;
    }

    if (n != (ssize_t) dcf->request.len) {
        ngx_http_upstream_discovery_done(dcf, "cannot send");
        return;
    }

    wev->handler = ngx_http_empty_handler;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_upstream_discovery_done(dcf, "cannot read");
    }
}


static void
ngx_http_upstream_discovery_read(ngx_event_t *rev)
{
    size_t                                size;
    ssize_t                               n;
    ngx_int_t                             rc;
    ngx_buf_t                            *b, *nb;
    ngx_str_t                             response;
    ngx_array_t                           instances;
    const char                           *error;
    ngx_connection_t                     *c;
    ngx_http_upstream_discovery_conf_t   *dcf;

    c = rev->data;
    dcf = c->data;

    if (rev->timedout) {
        ngx_http_upstream_discovery_done(dcf, "timed out");
        return;
    }

    b = dcf->buf;

    for ( ;; ) {

        if (b->last == b->end) {
            size = 2 * (b->end - b->start);

            if (size > NGX_HTTP_UPSTREAM_DISCOVERY_MAX_ANSWER) {
                ngx_http_upstream_discovery_done(dcf, "answer too big");
                return;
            }

            nb = ngx_create_temp_buf(dcf->pool, size);
            if (nb == NULL) {
                ngx_http_upstream_discovery_done(dcf, "no memory");
                return;
            }

            nb->last = ngx_cpymem(nb->last, b->pos, b->last - b->pos);
            dcf->buf = nb;
            b = nb;
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_upstream_discovery_done(dcf, "cannot read");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_upstream_discovery_done(dcf, "connection failed");
            return;
        }

        if (n == 0) {
            break;
        }

        b->last += n;
    }

    /* HTTP/1.0: the answer ends where the connection does */

    response.data = b->pos;
    response.len = b->last - b->pos;

    if (ngx_array_init(&instances, dcf->pool, 8,
                       sizeof(ngx_http_upstream_discovery_instance_t))
        != NGX_OK)
    {
        ngx_http_upstream_discovery_done(dcf, "no memory");
        return;
    }

    error = NULL;

    rc = ngx_http_upstream_discovery_parse(dcf, &response, &instances,
                                           &error);

    if (rc == NGX_ERROR) {
        ngx_http_upstream_discovery_done(dcf, error);
        return;
    }

    ngx_close_connection(c);
    dcf->pc.connection = NULL;

    dcf->answered(dcf, (rc == NGX_OK) ? &instances : NULL, NULL);

    ngx_destroy_pool(dcf->pool);
    dcf->pool = NULL;
    dcf->busy = 0;
}


/* a failed poll: its errors are static strings, which outlive its pool */

static void
ngx_http_upstream_discovery_done(ngx_http_upstream_discovery_conf_t *dcf,
    const char *error)
{
    ngx_http_upstream_discovery_etcd_close(dcf);

    dcf->answered(dcf, NULL, error);

    dcf->busy = 0;
}


/*
 * "HTTP/1.x 200 ...", headers, then {"header": {...}, "kvs": [{"key":
 * base64, "value": base64, ...}, ...], "count": "2"}; without "kvs",
 * nothing is under the prefix.  NGX_OK: the instances; NGX_DECLINED:
 * nothing changed since the list was made; NGX_ERROR: *error says why.
 */

static ngx_int_t
ngx_http_upstream_discovery_parse(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_str_t *response, ngx_array_t *instances, const char **error)
{
    u_char                  *p, *last;
    ngx_int_t                rc;
    ngx_str_t                body;
    ngx_array_t              members;
    ngx_gw_json_member_t    *kvs, kv;
    ngx_gw_json_elements_t   elements;

    p = response->data;
    last = p + response->len;

    if (response->len < sizeof("HTTP/1.0 200") - 1
        || ngx_strncmp(p, "HTTP/1.", 7) != 0
        || ngx_strncmp(p + 8, " 200", 4) != 0)
    {
        *error = "not a 200 answer";
        return NGX_ERROR;
    }

    body.data = ngx_strlcasestrn(p, last, (u_char *) "\r\n\r\n", 4 - 1);

    if (body.data == NULL) {
        *error = "an incomplete answer";
        return NGX_ERROR;
    }

    body.data += 4;
    body.len = last - body.data;

    if (ngx_array_init(&members, dcf->pool, 4, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        *error = "no memory";
        return NGX_ERROR;
    }

    rc = ngx_gw_json_object_members(dcf->pool, &body, 16, &members, error);

    if (rc != NGX_OK) {
        if (rc != NGX_ERROR) {
            *error = "no memory";
        }

        return NGX_ERROR;
    }

    if (ngx_http_upstream_discovery_revision(dcf, &members) != NGX_OK) {
        *error = "no revision in the answer";
        return NGX_ERROR;
    }

    kvs = ngx_gw_json_member(&members, (u_char *) "kvs", 3);

    /*
     * etcd's revision moves with a write to any key; the keys under the
     * prefix, each with its own revisions, change only with the list
     */

    dcf->digest = kvs ? (uint64_t) kvs->value.len << 32
                        | ngx_crc32_long(kvs->value.data, kvs->value.len)
                      : 0;

    /* nothing changed under the prefix since the list was made */

    if (dcf->sh->answered && dcf->digest == dcf->sh->digest) {
        return NGX_DECLINED;
    }

    if (kvs == NULL) {
        return NGX_OK;
    }

    if (kvs->type != NGX_GW_JSON_ARRAY) {
        *error = "\"kvs\" is not an array";
        return NGX_ERROR;
    }

    /* each element of the array, an object, is read on its own */

    ngx_gw_json_elements_init(&elements, &kvs->value, 16);

    for ( ;; ) {
        rc = ngx_gw_json_element(&elements, &kv);

        if (rc == NGX_DONE) {
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            *error = elements.json.error;
            return NGX_ERROR;
        }

        if (ngx_http_upstream_discovery_kv(dcf, &kv.value, instances)
            != NGX_OK)
        {
            *error = "no memory";
            return NGX_ERROR;
        }
    }
}


/* one key: an instance, or a warning and nothing */

static ngx_int_t
ngx_http_upstream_discovery_kv(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_str_t *kv, ngx_array_t *instances)
{
    u_char                                  *p;
    uintptr_t                                n;
    ngx_str_t                                key, value;
    ngx_array_t                              members;
    const char                              *error;
    ngx_http_upstream_discovery_instance_t  *instance;

    if (ngx_array_init(&members, dcf->pool, 8, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&key, "?");

    if (ngx_gw_json_object_members(dcf->pool, kv, 16, &members, &error)
            != NGX_OK
        || ngx_http_upstream_discovery_string(dcf->pool,
               ngx_gw_json_member(&members, (u_char *) "key", 3), 1, &key)
           != NGX_OK
        || ngx_http_upstream_discovery_string(dcf->pool,
               ngx_gw_json_member(&members, (u_char *) "value", 5), 1,
               &value)
           != NGX_OK)
    {
        goto invalid;
    }

    instance = ngx_array_push(instances);
    if (instance == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_upstream_discovery_value(dcf->pool, &value, instance)
        == NGX_OK)
    {
        return NGX_OK;
    }

    instances->nelts--;

invalid:

    /* the key is any bytes etcd holds: escaped, it cannot break the log */

    n = ngx_escape_uri(NULL, key.data, key.len, NGX_ESCAPE_MEMCACHED);

    if (n) {
        p = ngx_pnalloc(dcf->pool, key.len + 2 * n);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_escape_uri(p, key.data, key.len, NGX_ESCAPE_MEMCACHED);
        key.data = p;
        key.len += 2 * n;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "discovery: upstream \"%V\": etcd key \"%V\" has an "
                  "invalid value, skipped", &dcf->upstream->host, &key);

    return NGX_OK;
}


/* "10.0.0.1:8080", "[::1]:8080", or {"host": ..., "port": ..., ...} */

static ngx_int_t
ngx_http_upstream_discovery_value(ngx_pool_t *pool, ngx_str_t *value,
    ngx_http_upstream_discovery_instance_t *instance)
{
    u_char                *p;
    ngx_int_t              n, port;
    ngx_str_t              host, text;
    ngx_array_t            members;
    const char            *error;
    ngx_gw_json_member_t  *m;

    instance->weight = 1;

    if (value->len && value->data[0] == '{') {

        if (ngx_array_init(&members, pool, 4, sizeof(ngx_gw_json_member_t))
            != NGX_OK
            || ngx_gw_json_object_members(pool, value, 4, &members, &error)
               != NGX_OK
            || ngx_http_upstream_discovery_string(pool,
                   ngx_gw_json_member(&members, (u_char *) "host", 4), 0,
                   &host)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        m = ngx_gw_json_member(&members, (u_char *) "port", 4);

        if (m == NULL || m->type != NGX_GW_JSON_NUMBER) {
            return NGX_ERROR;
        }

        port = ngx_atoi(m->value.data, m->value.len);

        if (port < 1 || port > 65535) {
            return NGX_ERROR;
        }

        m = ngx_gw_json_member(&members, (u_char *) "weight", 6);

        if (m) {
            n = (m->type == NGX_GW_JSON_NUMBER)
                ? ngx_atoi(m->value.data, m->value.len) : NGX_ERROR;

            if (n < 1 || n > NGX_HTTP_UPSTREAM_DISCOVERY_MAX_WEIGHT) {
                return NGX_ERROR;
            }

            instance->weight = n;
        }

        text.data = ngx_pnalloc(pool, host.len + sizeof("[]:65535"));
        if (text.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_strlchr(host.data, host.data + host.len, ':')
            ? ngx_sprintf(text.data, "[%V]:%i", &host, port)
            : ngx_sprintf(text.data, "%V:%i", &host, port);

        text.len = p - text.data;

    } else {
        text = *value;
    }

    /* a name would need a resolver; localhost is the one spared */

    if (text.len > sizeof("localhost:") - 1
        && ngx_strncasecmp(text.data, (u_char *) "localhost:",
                           sizeof("localhost:") - 1)
           == 0)
    {
        p = ngx_pnalloc(pool, text.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        text.len = ngx_sprintf(p, "127.0.0.1%*s",
                               text.len - (sizeof("localhost") - 1),
                               text.data + sizeof("localhost") - 1)
                   - p;
        text.data = p;
    }

    if (ngx_parse_addr_port(pool, &instance->addr, text.data, text.len)
        != NGX_OK
        || ngx_inet_get_port(instance->addr.sockaddr) == 0)
    {
        return NGX_ERROR;
    }

    instance->addr.name.data = ngx_pnalloc(pool, NGX_SOCKADDR_STRLEN);
    if (instance->addr.name.data == NULL) {
        return NGX_ERROR;
    }

    instance->addr.name.len = ngx_sock_ntop(instance->addr.sockaddr,
                                            instance->addr.socklen,
                                            instance->addr.name.data,
                                            NGX_SOCKADDR_STRLEN, 1);

    return NGX_OK;
}


/* a JSON string member's text, unescaped, and base64-decoded if asked */

static ngx_int_t
ngx_http_upstream_discovery_string(ngx_pool_t *pool,
    ngx_gw_json_member_t *member, ngx_uint_t base64, ngx_str_t *text)
{
    ngx_str_t  raw;

    if (member == NULL || member->type != NGX_GW_JSON_STRING
        || ngx_gw_json_member_text(pool, member, &raw) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!base64) {
        *text = raw;
        return NGX_OK;
    }

    text->data = ngx_pnalloc(pool, ngx_base64_decoded_length(raw.len));
    if (text->data == NULL) {
        return NGX_ERROR;
    }

    return ngx_decode_base64(text, &raw);
}


/*
 * An answer from etcd has "header": {"revision": "42", ...}; the number
 * itself is of no use here (see the digest), only that it is there.
 */

static ngx_int_t
ngx_http_upstream_discovery_revision(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_array_t *members)
{
    ngx_array_t            header;
    const char            *error;
    ngx_gw_json_member_t  *m;

    m = ngx_gw_json_member(members, (u_char *) "header", 6);

    if (m == NULL || m->type != NGX_GW_JSON_OBJECT
        || ngx_array_init(&header, dcf->pool, 8,
                          sizeof(ngx_gw_json_member_t))
           != NGX_OK
        || ngx_gw_json_object_members(dcf->pool, &m->value, 4, &header,
                                      &error)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    m = ngx_gw_json_member(&header, (u_char *) "revision", 8);

    if (m == NULL || m->type != NGX_GW_JSON_STRING || m->value.len < 3) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
