
/*
 * redis-cluster://: each key goes to the primary of its slot, on a
 * connection of the worker's to each primary.  The slot map comes from
 * CLUSTER SLOTS, asked of the servers the URI names and then of the
 * nodes the map names, one at a time, on a connection of its own; it is
 * asked for again after a MOVED (whose slot moves at once) or a node's
 * failure.  An ASK sends one call, after ASKING, to the node that
 * imports the slot, and leaves the map as it is.  A node's loss fails the
 * limits of its slots only; slots the map leaves uncovered fail theirs,
 * with one line, until a new map covers them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>
#include "ngx_http_rate_limit.h"


#define NGX_HTTP_RATE_LIMIT_CLUSTER_NONE         0xffff
#define NGX_HTTP_RATE_LIMIT_CLUSTER_NODES        1024
#define NGX_HTTP_RATE_LIMIT_CLUSTER_REDIRECTS    5

/* CLUSTER SLOTS of a thousand nodes, each range with a few replicas */
#define NGX_HTTP_RATE_LIMIT_CLUSTER_MAP_MAX      (1024 * 1024)

/* a new map at most this often, however many MOVED come */
#define NGX_HTTP_RATE_LIMIT_CLUSTER_REFRESH      100


typedef struct {
    ngx_http_rate_limit_redis_t    *redis;
    uint16_t                       *slots;      /* a node's index each */
    uint16_t                       *scratch;    /* the next map */
    ngx_array_t                     nodes;      /* link_t *, the primaries */
    ngx_queue_t                     pending;    /* calls until a first map */
    ngx_http_rate_limit_link_t     *control;    /* asks for the map */
    ngx_uint_t                      next;       /* the server to ask */
    ngx_uint_t                      tries;      /* asked in vain in a row */
    ngx_uint_t                      covered;    /* slots, of the last map */
    ngx_event_t                     again;      /* the next server to ask */
    ngx_event_t                     retry;      /* a new map, later */
    ngx_msec_t                      backoff;
    unsigned                        loaded:1;   /* a map, whole or not */
    unsigned                        loading:1;
    unsigned                        stale:1;    /* a new one is needed */
    unsigned                        down:1;     /* logged */
} ngx_http_rate_limit_cluster_t;


static ngx_int_t ngx_http_rate_limit_cluster_submit(
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_call_t *call);
static ngx_int_t ngx_http_rate_limit_cluster_route(
    ngx_http_rate_limit_cluster_t *cl, ngx_http_rate_limit_call_t *call);
static size_t ngx_http_rate_limit_cluster_find(ngx_str_t *parts, size_t from,
    u_char c);
static uint16_t ngx_http_rate_limit_cluster_crc(ngx_str_t *parts,
    size_t from, size_t to);
static ngx_int_t ngx_http_rate_limit_cluster_redirect(
    ngx_http_rate_limit_call_t *call, ngx_uint_t ask, ngx_str_t *addr);
static void ngx_http_rate_limit_cluster_refresh(
    ngx_http_rate_limit_cluster_t *cl);
static void ngx_http_rate_limit_cluster_load(ngx_http_rate_limit_cluster_t *cl);
static void ngx_http_rate_limit_cluster_again(ngx_event_t *ev);
static void ngx_http_rate_limit_cluster_control_failed(
    ngx_http_rate_limit_link_t *link);
static void ngx_http_rate_limit_cluster_retry(ngx_event_t *ev);
static ngx_int_t ngx_http_rate_limit_cluster_reply(
    ngx_http_rate_limit_link_t *link, u_char *p, u_char *last);
static ngx_int_t ngx_http_rate_limit_cluster_map(
    ngx_http_rate_limit_cluster_t *cl, u_char *p, u_char *last);
static void ngx_http_rate_limit_cluster_loaded(
    ngx_http_rate_limit_cluster_t *cl);
static ngx_uint_t ngx_http_rate_limit_cluster_node(
    ngx_http_rate_limit_cluster_t *cl, ngx_sockaddr_t *sa, socklen_t socklen);
static void ngx_http_rate_limit_cluster_node_failed(
    ngx_http_rate_limit_link_t *link);
static void ngx_http_rate_limit_cluster_close(ngx_http_rate_limit_redis_t *rd);


/* CRC16-CCITT (XMODEM), Redis's key hash */
static uint16_t  ngx_http_rate_limit_crc16[256];


ngx_int_t
ngx_http_rate_limit_cluster_init(ngx_conf_t *cf,
    ngx_http_rate_limit_redis_t *rd)
{
    uint16_t                        crc;
    ngx_uint_t                      i, k;
    ngx_http_rate_limit_link_t     *link;
    ngx_http_rate_limit_cluster_t  *cl;

    for (i = 0; i < 256; i++) {
        crc = (uint16_t) (i << 8);

        for (k = 0; k < 8; k++) {
            crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                 : (uint16_t) (crc << 1);
        }

        ngx_http_rate_limit_crc16[i] = crc;
    }

    cl = ngx_pcalloc(cf->pool, sizeof(ngx_http_rate_limit_cluster_t));
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->redis = rd;
    ngx_queue_init(&cl->pending);

    link = ngx_http_rate_limit_link_create(rd, "node", cf->pool);
    if (link == NULL) {
        return NGX_ERROR;
    }

    link->control = 1;
    link->in_max = NGX_HTTP_RATE_LIMIT_CLUSTER_MAP_MAX;
    link->reply = ngx_http_rate_limit_cluster_reply;
    link->failed = ngx_http_rate_limit_cluster_control_failed;
    link->data = cl;
    ngx_str_set(&link->commands, "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n");

    cl->control = link;

    rd->data = cl;
    rd->submit = ngx_http_rate_limit_cluster_submit;
    rd->redirect = ngx_http_rate_limit_cluster_redirect;
    rd->close = ngx_http_rate_limit_cluster_close;

    return NGX_OK;
}


/*
 * The slot of the key a call writes, zone->redis_key "{" key "}", as
 * Redis computes it: the CRC16 of the text between its first "{" and the
 * first "}" after it, if that is not empty, or else of the whole key.  The
 * key in braces is the hash tag unless the prefix has one of its own.
 */

ngx_uint_t
ngx_http_rate_limit_cluster_slot(ngx_http_rate_limit_zone_t *zone,
    ngx_str_t *key)
{
    size_t     open, close, len;
    ngx_str_t  parts[4];

    parts[0] = zone->redis_key;
    ngx_str_set(&parts[1], "{");
    parts[2] = *key;
    ngx_str_set(&parts[3], "}");

    len = parts[0].len + 1 + key->len + 1;

    open = ngx_http_rate_limit_cluster_find(parts, 0, '{');
    close = ngx_http_rate_limit_cluster_find(parts, open + 1, '}');

    if (close == open + 1) {
        open = (size_t) -1;
        close = len;
    }

    return ngx_http_rate_limit_cluster_crc(parts, open + 1, close)
           & (NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS - 1);
}


/* where c is first found in the parts, from an offset in the whole */

static size_t
ngx_http_rate_limit_cluster_find(ngx_str_t *parts, size_t from, u_char c)
{
    u_char      *p;
    size_t       off;
    ngx_uint_t   i;

    off = 0;

    for (i = 0; i < 4; i++) {
        if (from < off + parts[i].len) {
            p = ngx_strlchr(parts[i].data + (from > off ? from - off : 0),
                            parts[i].data + parts[i].len, c);

            if (p) {
                return off + (p - parts[i].data);
            }
        }

        off += parts[i].len;
    }

    /* the last part is "}": "{" is always found, and "}" after it */

    return off;
}


static uint16_t
ngx_http_rate_limit_cluster_crc(ngx_str_t *parts, size_t from, size_t to)
{
    u_char      *p, *last;
    size_t       off;
    uint16_t     crc;
    ngx_uint_t   i;

    crc = 0;
    off = 0;

    for (i = 0; i < 4; i++) {
        p = parts[i].data + (from > off ? ngx_min(from - off, parts[i].len)
                                        : 0);
        last = parts[i].data + (to > off ? ngx_min(to - off, parts[i].len)
                                         : 0);

        for ( /* void */ ; p < last; p++) {
            crc = (uint16_t) (crc << 8)
                  ^ ngx_http_rate_limit_crc16[((crc >> 8) ^ *p) & 0xff];
        }

        off += parts[i].len;
    }

    return crc;
}


/*
 * Until a first map, calls wait for it (their timers run); then each goes
 * to its slot's node, or is declined if none covers it
 */

static ngx_int_t
ngx_http_rate_limit_cluster_submit(ngx_http_rate_limit_redis_t *rd,
    ngx_http_rate_limit_call_t *call)
{
    ngx_http_rate_limit_cluster_t  *cl;

    cl = rd->data;

    if (cl->loaded) {
        return ngx_http_rate_limit_cluster_route(cl, call);
    }

    if (!cl->loading) {
        if (cl->retry.timer_set) {
            return NGX_DECLINED;
        }

        ngx_http_rate_limit_cluster_load(cl);

        if (!cl->loading) {
            return NGX_DECLINED;
        }
    }

    ngx_http_rate_limit_call_hold(call, &cl->pending);

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_rate_limit_cluster_route(ngx_http_rate_limit_cluster_t *cl,
    ngx_http_rate_limit_call_t *call)
{
    ngx_uint_t                   i;
    ngx_http_rate_limit_link_t **nodes;

    i = cl->slots[call->slot];

    if (i == NGX_HTTP_RATE_LIMIT_CLUSTER_NONE) {
        return NGX_DECLINED;
    }

    nodes = cl->nodes.elts;

    return ngx_http_rate_limit_link_send(nodes[i], call);
}


/*
 * "MOVED 3999 127.0.0.1:6381": the slot is that node's now, the map is
 * asked for again; "ASK ...": this call alone goes there, after ASKING.
 * NGX_ERROR: the call fails (a node beyond the map's bounds, too many
 * redirects, the node down).
 */

static ngx_int_t
ngx_http_rate_limit_cluster_redirect(ngx_http_rate_limit_call_t *call,
    ngx_uint_t ask, ngx_str_t *addr)
{
    u_char                         *colon;
    socklen_t                       socklen;
    ngx_str_t                       host;
    ngx_uint_t                      i;
    ngx_sockaddr_t                  sa;
    ngx_http_rate_limit_link_t    **nodes;
    ngx_http_rate_limit_cluster_t  *cl;

    cl = call->redis->data;

    if (++call->redirects > NGX_HTTP_RATE_LIMIT_CLUSTER_REDIRECTS) {
        return NGX_ERROR;
    }

    /* "ip:port", an IPv6 address without brackets */

    colon = NULL;

    for (i = 0; i < addr->len; i++) {
        if (addr->data[i] == ':') {
            colon = &addr->data[i];
        }
    }

    if (colon == NULL) {
        return NGX_ERROR;
    }

    host.data = addr->data;
    host.len = colon - addr->data;

    if (ngx_http_rate_limit_resp_address(&host,
                                         ngx_atoi(colon + 1,
                                                  addr->data + addr->len
                                                  - (colon + 1)),
                                         &sa, &socklen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    i = ngx_http_rate_limit_cluster_node(cl, &sa, socklen);

    if (i == NGX_HTTP_RATE_LIMIT_CLUSTER_NONE) {
        return NGX_ERROR;
    }

    if (!ask) {
        cl->slots[call->slot] = (uint16_t) i;
        cl->stale = 1;
        ngx_http_rate_limit_cluster_refresh(cl);
    }

    call->asking = ask;

    nodes = cl->nodes.elts;

    if (ngx_http_rate_limit_link_send(nodes[i], call) != NGX_AGAIN) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a new map, unless one is asked for or the last try backs off */

static void
ngx_http_rate_limit_cluster_refresh(ngx_http_rate_limit_cluster_t *cl)
{
    if (cl->loading || cl->retry.timer_set) {
        return;
    }

    ngx_http_rate_limit_cluster_load(cl);
}


static void
ngx_http_rate_limit_cluster_load(ngx_http_rate_limit_cluster_t *cl)
{
    ngx_uint_t                      n, i;
    ngx_http_rate_limit_link_t    **nodes, *node;
    ngx_http_rate_limit_server_t   *server;

    cl->loading = 1;
    cl->stale = 0;

    if (cl->slots == NULL) {
        cl->slots = ngx_alloc(2 * NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS
                              * sizeof(uint16_t), ngx_cycle->log);

        if (cl->slots == NULL
            || ngx_array_init(&cl->nodes, ngx_cycle->pool, 4,
                              sizeof(ngx_http_rate_limit_link_t *))
               != NGX_OK)
        {
            cl->loading = 0;
            return;
        }

        cl->scratch = cl->slots + NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS;
    }

    /* the servers of the URI, then the nodes of the map, in turn */

    n = cl->redis->servers.nelts;
    i = cl->next % (n + cl->nodes.nelts);

    if (i < n) {
        server = cl->redis->servers.elts;
        server += i;

        ngx_http_rate_limit_link_address(cl->control, server->addr.sockaddr,
                                         server->addr.socklen, &server->host);

    } else {
        nodes = cl->nodes.elts;
        node = nodes[i - n];

        ngx_http_rate_limit_link_address(cl->control,
                                         &node->sockaddr.sockaddr,
                                         node->socklen, NULL);
    }

    /* a failure here comes to control_failed(), which asks the next one */

    (void) ngx_http_rate_limit_link_connect(cl->control);
}


static void
ngx_http_rate_limit_cluster_again(ngx_event_t *ev)
{
    ngx_http_rate_limit_cluster_load(ev->data);
}


/*
 * The server asked for the map failed: the next one, from an event of its
 * own, until each has been asked in vain; then calls waiting for a first
 * map fail, and a new one is asked for after a backoff
 */

static void
ngx_http_rate_limit_cluster_control_failed(ngx_http_rate_limit_link_t *link)
{
    ngx_http_rate_limit_cluster_t  *cl;

    cl = link->data;

    cl->next++;

    if (++cl->tries < cl->redis->servers.nelts + cl->nodes.nelts) {
        cl->again.handler = ngx_http_rate_limit_cluster_again;
        cl->again.data = cl;
        cl->again.log = ngx_cycle->log;
        ngx_post_event(&cl->again, &ngx_posted_events);
        return;
    }

    cl->loading = 0;
    cl->tries = 0;

    if (!cl->down) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" has no slot map: no node "
                      "gives it; retrying with backoff", &cl->redis->name);
        cl->down = 1;
        cl->backoff = NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MIN;

    } else {
        cl->backoff = ngx_min(cl->backoff * 2,
                              NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MAX);
    }

    ngx_http_rate_limit_calls_fail(&cl->pending);

    cl->stale = 1;

    cl->retry.handler = ngx_http_rate_limit_cluster_retry;
    cl->retry.data = cl;
    cl->retry.log = ngx_cycle->log;
    cl->retry.cancelable = 1;
    ngx_add_timer(&cl->retry, cl->backoff);
}


/* with a map, a new one; without, the next call asks for it */

static void
ngx_http_rate_limit_cluster_retry(ngx_event_t *ev)
{
    ngx_http_rate_limit_cluster_t  *cl;

    cl = ev->data;

    if (cl->loaded && cl->stale && !cl->loading) {
        ngx_http_rate_limit_cluster_load(cl);
    }
}


/* CLUSTER SLOTS' reply: the new map, and the connection is done */

static ngx_int_t
ngx_http_rate_limit_cluster_reply(ngx_http_rate_limit_link_t *link,
    u_char *p, u_char *last)
{
    ngx_http_rate_limit_resp_t      v;
    ngx_http_rate_limit_cluster_t  *cl;

    cl = link->data;

    if (*p == '-') {
        (void) ngx_http_rate_limit_resp_next(&p, last, &v);
        ngx_http_rate_limit_link_fail(link, "refused CLUSTER SLOTS:", &v.text);
        return NGX_DONE;
    }

    if (ngx_http_rate_limit_cluster_map(cl, p, last) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rate_limit_link_drop(link);

    ngx_http_rate_limit_cluster_loaded(cl);

    return NGX_DONE;
}


/*
 * [[start, end, [ip, port, id, ...], replica...], ...]: each range to its
 * primary's node; an empty ip is the node asked; a name, "?" or a node
 * past the bound leaves the range uncovered
 */

static ngx_int_t
ngx_http_rate_limit_cluster_map(ngx_http_rate_limit_cluster_t *cl, u_char *p,
    u_char *last)
{
    socklen_t                    socklen;
    int64_t                      ranges;
    ngx_int_t                    m, k;
    ngx_uint_t                   i, s, node;
    ngx_sockaddr_t               sa;
    ngx_http_rate_limit_resp_t   v, start, end, ip, port;

    for (s = 0; s < NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS; s++) {
        cl->scratch[s] = NGX_HTTP_RATE_LIMIT_CLUSTER_NONE;
    }

    if (ngx_http_rate_limit_resp_next(&p, last, &v) != NGX_OK
        || v.type != '*' || v.n < 0)
    {
        return NGX_ERROR;
    }

    for (ranges = v.n; ranges; ranges--) {
        if (ngx_http_rate_limit_resp_next(&p, last, &v) != NGX_OK
            || v.type != '*' || v.n < 3)
        {
            return NGX_ERROR;
        }

        m = v.n;

        if (ngx_http_rate_limit_resp_next(&p, last, &start) != NGX_OK
            || ngx_http_rate_limit_resp_next(&p, last, &end) != NGX_OK
            || ngx_http_rate_limit_resp_next(&p, last, &v) != NGX_OK
            || start.type != ':' || end.type != ':' || v.type != '*'
            || v.n < 2
            || start.n < 0 || end.n < start.n
            || end.n >= NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS)
        {
            return NGX_ERROR;
        }

        k = v.n;

        if (ngx_http_rate_limit_resp_next(&p, last, &ip) != NGX_OK
            || ngx_http_rate_limit_resp_next(&p, last, &port) != NGX_OK
            || ip.type != '$' || port.type != ':' || port.n < 1
            || port.n > 65535)
        {
            return NGX_ERROR;
        }

        /* the node's id and its other fields, then the replicas */

        for (k -= 2; k > 0; k--) {
            if (ngx_http_rate_limit_resp_skip(&p, last) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        for (m -= 3; m > 0; m--) {
            if (ngx_http_rate_limit_resp_skip(&p, last) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        if (ip.text.len == 0) {

            /* the node asked */

            socklen = cl->control->socklen;
            ngx_memcpy(&sa, &cl->control->sockaddr, socklen);
            ngx_inet_set_port(&sa.sockaddr, (in_port_t) port.n);

        } else if (ngx_http_rate_limit_resp_address(&ip.text,
                                                    (ngx_int_t) port.n, &sa,
                                                    &socklen)
                   != NGX_OK)
        {
            continue;
        }

        node = ngx_http_rate_limit_cluster_node(cl, &sa, socklen);

        if (node == NGX_HTTP_RATE_LIMIT_CLUSTER_NONE) {
            continue;
        }

        for (i = start.n; i <= (ngx_uint_t) end.n; i++) {
            cl->scratch[i] = (uint16_t) node;
        }
    }

    return NGX_OK;
}


/*
 * The new map is the map: the calls waiting for it go, the line about
 * uncovered slots is logged when their number changes, and while some
 * are, or a MOVED came meanwhile, a new map is asked for later
 */

static void
ngx_http_rate_limit_cluster_loaded(ngx_http_rate_limit_cluster_t *cl)
{
    u_char                       seen[NGX_HTTP_RATE_LIMIT_CLUSTER_NODES / 8];
    uint16_t                    *map;
    ngx_uint_t                   i, s, covered, primaries;
    ngx_queue_t                 *q;
    ngx_http_rate_limit_call_t  *call;

    map = cl->slots;
    cl->slots = cl->scratch;
    cl->scratch = map;

    covered = 0;
    primaries = 0;
    ngx_memzero(seen, sizeof(seen));

    for (s = 0; s < NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS; s++) {
        i = cl->slots[s];

        if (i == NGX_HTTP_RATE_LIMIT_CLUSTER_NONE) {
            continue;
        }

        covered++;

        /* how many primaries, for the first map's line only */

        if (!cl->loaded && !(seen[i / 8] & (1 << (i % 8)))) {
            seen[i / 8] |= (u_char) (1 << (i % 8));
            primaries++;
        }
    }

    if (!cl->loaded) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" has a slot map of %ui "
                      "primaries", &cl->redis->name, primaries);
    }

    if (covered < NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS
        && (!cl->loaded || covered != cl->covered))
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" covers %ui of 16384 slots: "
                      "the limits on the others fail; retrying with backoff",
                      &cl->redis->name, covered);

    } else if (covered == NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS
               && ((cl->loaded && cl->covered != covered) || cl->down))
    {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" covers every slot again",
                      &cl->redis->name);
    }

    cl->covered = covered;
    cl->loaded = 1;
    cl->loading = 0;
    cl->tries = 0;
    cl->down = 0;

    while (!ngx_queue_empty(&cl->pending)) {
        q = ngx_queue_head(&cl->pending);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);

        if (ngx_http_rate_limit_cluster_route(cl, call) != NGX_AGAIN) {
            ngx_http_rate_limit_call_done(call, NGX_ERROR);
        }
    }

    if (covered < NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS) {
        cl->stale = 1;
        cl->backoff = ngx_max(cl->backoff * 2,
                              NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MIN);
        cl->backoff = ngx_min(cl->backoff,
                              NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MAX);

    } else {
        cl->backoff = 0;
    }

    if (cl->stale && !cl->retry.timer_set) {
        cl->retry.handler = ngx_http_rate_limit_cluster_retry;
        cl->retry.data = cl;
        cl->retry.log = ngx_cycle->log;
        cl->retry.cancelable = 1;
        ngx_add_timer(&cl->retry, cl->backoff ? cl->backoff
                                  : NGX_HTTP_RATE_LIMIT_CLUSTER_REFRESH);
    }
}


/* a node's index, a new node's if need be; NONE past the bound */

static ngx_uint_t
ngx_http_rate_limit_cluster_node(ngx_http_rate_limit_cluster_t *cl,
    ngx_sockaddr_t *sa, socklen_t socklen)
{
    ngx_uint_t                   i;
    ngx_http_rate_limit_link_t  *link, **nodes;

    nodes = cl->nodes.elts;

    for (i = 0; i < cl->nodes.nelts; i++) {
        if (ngx_cmp_sockaddr(&sa->sockaddr, socklen,
                             &nodes[i]->sockaddr.sockaddr, nodes[i]->socklen,
                             1)
            == NGX_OK)
        {
            return i;
        }
    }

    if (cl->nodes.nelts == NGX_HTTP_RATE_LIMIT_CLUSTER_NODES) {
        return NGX_HTTP_RATE_LIMIT_CLUSTER_NONE;
    }

    link = ngx_http_rate_limit_link_create(cl->redis, "node", ngx_cycle->pool);
    if (link == NULL) {
        return NGX_HTTP_RATE_LIMIT_CLUSTER_NONE;
    }

    nodes = ngx_array_push(&cl->nodes);
    if (nodes == NULL) {
        return NGX_HTTP_RATE_LIMIT_CLUSTER_NONE;
    }

    ngx_http_rate_limit_link_address(link, &sa->sockaddr, socklen, NULL);

    link->failed = ngx_http_rate_limit_cluster_node_failed;
    link->data = cl;

    *nodes = link;

    return cl->nodes.nelts - 1;
}


/* a node failed (its link logged it and backs off): a failover, perhaps */

static void
ngx_http_rate_limit_cluster_node_failed(ngx_http_rate_limit_link_t *link)
{
    ngx_http_rate_limit_cluster_t  *cl;

    cl = link->data;

    cl->stale = 1;
    ngx_http_rate_limit_cluster_refresh(cl);
}


static void
ngx_http_rate_limit_cluster_close(ngx_http_rate_limit_redis_t *rd)
{
    ngx_uint_t                      i;
    ngx_http_rate_limit_link_t    **nodes;
    ngx_http_rate_limit_cluster_t  *cl;

    cl = rd->data;

    ngx_http_rate_limit_link_close(cl->control);

    nodes = cl->nodes.elts;

    for (i = 0; i < cl->nodes.nelts; i++) {
        ngx_http_rate_limit_link_close(nodes[i]);
    }

    ngx_http_rate_limit_calls_free(&cl->pending);

    if (cl->retry.timer_set) {
        ngx_del_timer(&cl->retry);
    }

    if (cl->again.posted) {
        ngx_delete_posted_event(&cl->again);
    }

    if (cl->slots) {
        ngx_free(cl->slots < cl->scratch ? cl->slots : cl->scratch);
    }
}
