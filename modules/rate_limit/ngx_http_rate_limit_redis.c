
/*
 * Buckets in Redis, for limits shared by several nginx instances: the
 * script that decides, the calls that carry a request's limits to it, and
 * the connections they go on.  One connection per worker and server,
 * driven by nginx's event loop: TCP, TLS, then the setup (AUTH, SELECT,
 * ROLE), then the calls, pipelined; the calls queued during one turn of
 * the event loop go in one write, and those on one key slot (all of
 * them, but in a Cluster) in one script call.  A failure
 * fails every call waiting on the connection, with one error line for
 * each outage, and the connection is tried again after a backoff.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>
#include <ngx_sha1.h>
#include "ngx_http_rate_limit.h"


#define NGX_HTTP_RATE_LIMIT_REDIS_BUF          16384

/* TCP, TLS and the setup; a control connection's replies */
#define NGX_HTTP_RATE_LIMIT_REDIS_SETUP_TIME   1000

/*
 * The keys of one script call, of as many requests as wait: their reply
 * (an integer of 23 bytes at most each) fits in the buffer, and a byte
 * names each one's limit
 */
#ifndef NGX_HTTP_RATE_LIMIT_REDIS_BATCH_KEYS
#define NGX_HTTP_RATE_LIMIT_REDIS_BATCH_KEYS   128
#endif

#define NGX_HTTP_RATE_LIMIT_REDIS_HEADER       128


/*
 * The GCRA of ngx_http_rate_limit_decide() on Redis's clock, for the
 * limits of several requests at once, each request's in a group of its
 * own: a group is all or nothing, and the groups are decided in turn, as
 * if each were a call of its own.  ARGV[1] holds a byte for each group,
 * its number of keys; ARGV[2] a byte for each key, the index of its limit
 * among those that follow, each limit's four numbers given once: interval
 * (us), burst, cost and dry run.  A key expires when its bucket is full
 * again.  Replies an integer a key: the bucket's fill in us if admitted,
 * or else minus the fill before, minus one.
 */
static ngx_str_t  ngx_http_rate_limit_redis_lua = ngx_string(
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local groups, index = ARGV[1], ARGV[2] "
    "local res, cur, new, lim = {}, {}, {}, {} "
    "local k = 0 "
    "for g = 1, #groups do "
    "  local n = string.byte(groups, g) "
    "  local charge, reject = {}, false "
    "  for i = k + 1, k + n do "
    "    local key = KEYS[i] "
    "    local l = string.byte(index, i) "
    "    local L = lim[l] "
    "    if L == nil then "
    "      local a = 3 + 4 * l "
    "      local interval = tonumber(ARGV[a]) "
    "      L = { (tonumber(ARGV[a + 1]) + 1) * interval, "
    "            tonumber(ARGV[a + 2]) * interval, ARGV[a + 3] == '1' } "
    "      lim[l] = L "
    "    end "
    "    local cost = L[2] "
    "    local tat = cur[key] "
    "    if tat == nil then "
    "      tat = tonumber(redis.call('GET', key)) or 0 "
    "      cur[key] = tat "
    "    end "
    "    if tat < now then tat = now end "
    "    local used = tat - now + cost "
    "    if used <= L[1] or cost == 0 then "
    "      res[i] = used "
    "      if cost > 0 then charge[key] = now + used end "
    "    else "
    "      res[i] = now - tat - 1 "
    "      if not L[3] then reject = true end "
    "    end "
    "  end "
    "  if not reject then "
    "    for key, tat in pairs(charge) do cur[key] = tat new[key] = tat end "
    "  end "
    "  k = k + n "
    "end "
    "for key, tat in pairs(new) do "
    "  redis.call('SET', key, string.format('%d', tat), 'PX', "
    "             math.ceil((tat - now) / 1000)) "
    "end "
    "return res");


static u_char *ngx_http_rate_limit_redis_arg(u_char *p, uint64_t v);
static size_t ngx_http_rate_limit_call_args(ngx_http_rate_limit_call_t *call);
static size_t ngx_http_rate_limit_call_size(ngx_http_rate_limit_call_t *call);
static void ngx_http_rate_limit_call_timeout(ngx_event_t *ev);
static void ngx_http_rate_limit_call_finish(ngx_event_t *ev);
static void ngx_http_rate_limit_link_connected(
    ngx_http_rate_limit_link_t *link);
#if (NGX_SSL)
static void ngx_http_rate_limit_link_handshaked(ngx_connection_t *c);
#endif
static void ngx_http_rate_limit_link_secured(ngx_http_rate_limit_link_t *link);
static void ngx_http_rate_limit_link_ready(ngx_http_rate_limit_link_t *link);
static void ngx_http_rate_limit_link_flush(ngx_http_rate_limit_link_t *link);
static ngx_int_t ngx_http_rate_limit_link_test_connect(ngx_connection_t *c);
static void ngx_http_rate_limit_link_write(ngx_event_t *wev);
static ngx_int_t ngx_http_rate_limit_link_serialize(
    ngx_http_rate_limit_link_t *link);
static void ngx_http_rate_limit_link_put(ngx_http_rate_limit_link_t *link,
    ngx_http_rate_limit_call_t **batch, ngx_uint_t n, ngx_uint_t keys);
static void ngx_http_rate_limit_link_read(ngx_event_t *rev);
static ngx_int_t ngx_http_rate_limit_link_parse(
    ngx_http_rate_limit_link_t *link);
static ngx_int_t ngx_http_rate_limit_link_take(
    ngx_http_rate_limit_link_t *link, u_char **p, u_char **end);
static ngx_int_t ngx_http_rate_limit_link_parse_setup(
    ngx_http_rate_limit_link_t *link);
static ngx_int_t ngx_http_rate_limit_link_parse_control(
    ngx_http_rate_limit_link_t *link);
static ngx_int_t ngx_http_rate_limit_link_parse_calls(
    ngx_http_rate_limit_link_t *link);
static ngx_int_t ngx_http_rate_limit_link_reply(
    ngx_http_rate_limit_call_t *head, u_char *p, u_char *last, u_char **end,
    ngx_str_t *error);
static ngx_int_t ngx_http_rate_limit_link_error(
    ngx_http_rate_limit_link_t *link, ngx_http_rate_limit_call_t *head,
    ngx_str_t *error);
static void ngx_http_rate_limit_link_answered(ngx_http_rate_limit_link_t *link);
static void ngx_http_rate_limit_link_timeout(ngx_event_t *ev);
static void ngx_http_rate_limit_link_retry(ngx_event_t *ev);
static void ngx_http_rate_limit_link_close_connection(
    ngx_http_rate_limit_link_t *link);


/* the script's SHA1, for EVALSHA */

void
ngx_http_rate_limit_redis_script(ngx_http_rate_limit_redis_t *rd)
{
    u_char      hash[20];
    ngx_sha1_t  sha1;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, ngx_http_rate_limit_redis_lua.data,
                    ngx_http_rate_limit_redis_lua.len);
    ngx_sha1_final(hash, &sha1);
    ngx_hex_dump(rd->sha1, hash, 20);
}


/*
 * A call of the script for the limits checks[index[0..n-1]], all on rd
 * and, in a Cluster, in slot: KEYS are each zone's prefix and the limit's
 * key (in braces in a Cluster: the hash tag, see
 * ngx_http_rate_limit_cluster_slot()), and the four numbers of each
 * limit, which go to ARGV once a batch.  The call has memory
 * of its own, in which they are written in RESP: it outlives the request
 * if Redis is slow.  The caller sets its handler and data, and frees it with
 * ngx_free() unless ngx_http_rate_limit_redis_call() queued it.
 */

ngx_http_rate_limit_call_t *
ngx_http_rate_limit_redis_call_create(ngx_http_rate_limit_redis_t *rd,
    ngx_http_rate_limit_check_t *checks, u_char *index, ngx_uint_t n,
    ngx_uint_t slot, ngx_log_t *log)
{
    u_char                       *p, *start;
    size_t                        len, tag;
    ngx_uint_t                    i;
    ngx_http_rate_limit_call_t   *call;
    ngx_http_rate_limit_check_t  *check;

    tag = (rd->mode == NGX_HTTP_RATE_LIMIT_REDIS_CLUSTER) ? 2 : 0;
    len = 0;

    for (i = 0; i < n; i++) {
        check = &checks[index[i]];

        len += sizeof("$20\r\n\r\n") + check->zone->redis_key.len + tag
               + check->key.len
               + 4 * sizeof("$20\r\n18446744073709551616\r\n");
    }

    call = ngx_alloc(sizeof(ngx_http_rate_limit_call_t) + len, log);
    if (call == NULL) {
        return NULL;
    }

    ngx_memzero(call, sizeof(ngx_http_rate_limit_call_t));

    call->redis = rd;
    call->n = n;
    call->slot = slot;
    ngx_memcpy(call->index, index, n);

    p = (u_char *) (call + 1);
    call->keys.data = p;

    for (i = 0; i < n; i++) {
        check = &checks[index[i]];

        p = ngx_sprintf(p, "$%uz\r\n%V",
                        check->zone->redis_key.len + tag + check->key.len,
                        &check->zone->redis_key);

        if (tag) {
            *p++ = '{';
        }

        p = ngx_cpymem(p, check->key.data, check->key.len);

        if (tag) {
            *p++ = '}';
        }

        *p++ = CR;
        *p++ = LF;
    }

    call->keys.len = p - call->keys.data;
    call->argv.data = p;

    for (i = 0; i < n; i++) {
        check = &checks[index[i]];
        start = p;

        p = ngx_http_rate_limit_redis_arg(p, check->interval);
        p = ngx_http_rate_limit_redis_arg(p, check->burst);
        p = ngx_http_rate_limit_redis_arg(p, check->cost);
        p = ngx_http_rate_limit_redis_arg(p, check->dry_run);

        call->limit_len[i] = (u_char) (p - start);
    }

    call->argv.len = p - call->argv.data;

    return call;
}


/* a number as a bulk string */

static u_char *
ngx_http_rate_limit_redis_arg(u_char *p, uint64_t v)
{
    u_char  num[NGX_INT64_LEN], *last;

    last = ngx_sprintf(num, "%uL", v);
    p = ngx_sprintf(p, "$%uz\r\n", (size_t) (last - num));
    p = ngx_cpymem(p, num, last - num);
    *p++ = CR;
    *p++ = LF;

    return p;
}


/*
 * The most a call adds to a batch: its keys, its limits if none is
 * another's, a byte for its group and one for each key
 */

static size_t
ngx_http_rate_limit_call_args(ngx_http_rate_limit_call_t *call)
{
    return call->keys.len + call->argv.len + 1 + call->n;
}


/* the most a call alone takes in the buffer, with the script itself */

static size_t
ngx_http_rate_limit_call_size(ngx_http_rate_limit_call_t *call)
{
    return NGX_HTTP_RATE_LIMIT_REDIS_HEADER
           + ngx_http_rate_limit_redis_lua.len
           + ngx_http_rate_limit_call_args(call);
}


/*
 * Queues a call: NGX_AGAIN, its handler runs later, from a posted event,
 * even if the connection fails here (with NGX_OK or NGX_ERROR);
 * NGX_DECLINED, Redis is down, nothing was queued and the caller decides
 * alone.
 */

ngx_int_t
ngx_http_rate_limit_redis_call(ngx_http_rate_limit_call_t *call,
    ngx_msec_t timeout)
{
    call->timer.handler = ngx_http_rate_limit_call_timeout;
    call->timer.data = call;
    call->timer.log = ngx_cycle->log;
    ngx_add_timer(&call->timer, timeout);

    if (call->redis->submit(call->redis, call) != NGX_AGAIN) {
        ngx_del_timer(&call->timer);
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


/*
 * The request is gone: the reply, when it comes, goes nowhere.  The timer
 * stays, so that a Redis that stopped answering is still found out.
 */

void
ngx_http_rate_limit_redis_cancel(ngx_http_rate_limit_call_t *call)
{
    call->data = NULL;
}


/* the worker exits */

void
ngx_http_rate_limit_redis_close(ngx_http_rate_limit_redis_t *rd)
{
    rd->close(rd);
}


/* one server's calls go on its one connection */

ngx_int_t
ngx_http_rate_limit_redis_server_submit(ngx_http_rate_limit_redis_t *rd,
    ngx_http_rate_limit_call_t *call)
{
    return ngx_http_rate_limit_link_send(rd->link, call);
}


void
ngx_http_rate_limit_redis_server_close(ngx_http_rate_limit_redis_t *rd)
{
    ngx_http_rate_limit_link_close(rd->link);
}


/* a call waits in its owner's queue (for Sentinel to name the primary) */

void
ngx_http_rate_limit_call_hold(ngx_http_rate_limit_call_t *call,
    ngx_queue_t *queue)
{
    call->link = NULL;
    call->sent = 0;
    ngx_queue_insert_tail(queue, &call->queue);
}


static void
ngx_http_rate_limit_call_timeout(ngx_event_t *ev)
{
    ngx_http_rate_limit_call_t  *call;

    call = ev->data;

    /*
     * a Redis that does not answer a call in time is as good as down: the
     * call and every other one waiting on it fail, and the connection is
     * made again; a call that was not written yet fails alone
     */

    if (call->sent) {
        ngx_http_rate_limit_link_fail(call->link, "timed out", NULL);
        return;
    }

    ngx_queue_remove(&call->queue);
    ngx_http_rate_limit_call_done(call, NGX_ERROR);
}


void
ngx_http_rate_limit_calls_fail(ngx_queue_t *queue)
{
    ngx_queue_t                 *q;
    ngx_http_rate_limit_call_t  *call;

    while (!ngx_queue_empty(queue)) {
        q = ngx_queue_head(queue);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);
        ngx_http_rate_limit_call_done(call, NGX_ERROR);
    }
}


/*
 * The worker exits: the calls still waiting go with it (those answered
 * have had their posted handlers run in the same turn of the event loop)
 */

void
ngx_http_rate_limit_calls_free(ngx_queue_t *queue)
{
    ngx_queue_t                 *q;
    ngx_http_rate_limit_call_t  *call;

    while (!ngx_queue_empty(queue)) {
        q = ngx_queue_head(queue);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);

        if (call->timer.timer_set) {
            ngx_del_timer(&call->timer);
        }

        ngx_free(call);
    }
}


/*
 * A call is over, answered or failed.  Its handler may finalize the
 * request: it runs from an event of its own, so that whoever got here (the
 * request's own phase handler, the write or the read for other calls, a
 * timer) finds the request, the call and the connection as they were.
 */

void
ngx_http_rate_limit_call_done(ngx_http_rate_limit_call_t *call, ngx_int_t rc)
{
    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (rc != NGX_OK) {
        call->failed = 1;
    }

    call->done.handler = ngx_http_rate_limit_call_finish;
    call->done.data = call;
    call->done.log = ngx_cycle->log;
    ngx_post_event(&call->done, &ngx_posted_events);
}


static void
ngx_http_rate_limit_call_finish(ngx_event_t *ev)
{
    ngx_http_rate_limit_call_t  *call;

    call = ev->data;

    if (call->data) {
        call->handler(call, call->failed ? NGX_ERROR : NGX_OK);
    }

    ngx_free(call);
}


/* a connection of a worker, closed until a call needs it */

ngx_http_rate_limit_link_t *
ngx_http_rate_limit_link_create(ngx_http_rate_limit_redis_t *rd,
    const char *role, ngx_pool_t *pool)
{
    ngx_http_rate_limit_link_t  *link;

    link = ngx_pcalloc(pool, sizeof(ngx_http_rate_limit_link_t));
    if (link == NULL) {
        return NULL;
    }

    link->redis = rd;
    link->role = role;

    ngx_queue_init(&link->unsent);
    ngx_queue_init(&link->waiting);

    return link;
}


/*
 * Where the connection goes, while it is closed; host is the name TLS
 * checks, its address when NULL
 */

void
ngx_http_rate_limit_link_address(ngx_http_rate_limit_link_t *link,
    struct sockaddr *sockaddr, socklen_t socklen, ngx_str_t *host)
{
    ngx_memcpy(&link->sockaddr, sockaddr, socklen);
    link->socklen = socklen;

    link->name.data = link->name_data;
    link->name.len = ngx_sock_ntop(sockaddr, socklen, link->name_data,
                                   NGX_SOCKADDR_STRLEN, 1);

    link->host.data = link->host_data;

    if (host && host->len <= NGX_SOCKADDR_STRLEN) {
        link->host.len = host->len;
        ngx_memcpy(link->host_data, host->data, host->len);

    } else {
        link->host.len = ngx_sock_ntop(sockaddr, socklen, link->host_data,
                                       NGX_SOCKADDR_STRLEN, 0);
    }
}


/*
 * Queues a call on the connection, connecting first if it is closed:
 * NGX_AGAIN, or NGX_DECLINED if it is down (in its backoff, or the
 * connection failed here).  The calls queued in one turn of the event
 * loop are written together once it is over, from a posted write event.
 */

ngx_int_t
ngx_http_rate_limit_link_send(ngx_http_rate_limit_link_t *link,
    ngx_http_rate_limit_call_t *call)
{
    if (ngx_http_rate_limit_call_size(call) > NGX_HTTP_RATE_LIMIT_REDIS_BUF) {
        return NGX_DECLINED;
    }

    if (link->state == NGX_HTTP_RATE_LIMIT_LINK_CLOSED) {
        if (link->retry.timer_set) {
            return NGX_DECLINED;
        }

        (void) ngx_http_rate_limit_link_connect(link);

        if (link->state == NGX_HTTP_RATE_LIMIT_LINK_CLOSED) {
            return NGX_DECLINED;
        }
    }

    call->link = link;
    call->sent = 0;
    ngx_queue_insert_tail(&link->unsent, &call->queue);

    if (link->state == NGX_HTTP_RATE_LIMIT_LINK_READY) {
        ngx_http_rate_limit_link_flush(link);
    }

    return NGX_AGAIN;
}


/* the write at the end of this turn of the event loop */

static void
ngx_http_rate_limit_link_flush(ngx_http_rate_limit_link_t *link)
{
    ngx_post_event(link->connection->write, &ngx_posted_events);
}


/* NGX_OK: connecting (or connected); NGX_ERROR: failed, see link_fail() */

ngx_int_t
ngx_http_rate_limit_link_connect(ngx_http_rate_limit_link_t *link)
{
    ngx_int_t               rc;
    ngx_connection_t       *c;
    ngx_peer_connection_t  *pc;

    if (link->out.start == NULL) {
        link->out.start = ngx_alloc(NGX_HTTP_RATE_LIMIT_REDIS_BUF,
                                    ngx_cycle->log);
        link->in.start = ngx_alloc(NGX_HTTP_RATE_LIMIT_REDIS_BUF,
                                   ngx_cycle->log);

        if (link->out.start == NULL || link->in.start == NULL) {
            ngx_http_rate_limit_link_fail(link, "no memory", NULL);
            return NGX_ERROR;
        }

        link->out.end = link->out.start + NGX_HTTP_RATE_LIMIT_REDIS_BUF;
        link->in.end = link->in.start + NGX_HTTP_RATE_LIMIT_REDIS_BUF;
    }

    link->out.pos = link->out.start;
    link->out.last = link->out.start;
    link->in.pos = link->in.start;
    link->in.last = link->in.start;

    link->log = *ngx_cycle->log;
    link->log.action = "connecting to redis";

    pc = &link->peer;
    ngx_memzero(pc, sizeof(ngx_peer_connection_t));

    pc->sockaddr = &link->sockaddr.sockaddr;
    pc->socklen = link->socklen;
    pc->name = &link->name;
    pc->get = ngx_event_get_peer;
    pc->log = &link->log;
    pc->log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (pc->connection) {
            ngx_close_connection(pc->connection);
        }

        ngx_http_rate_limit_link_fail(link, "cannot connect", NULL);
        return NGX_ERROR;
    }

    c = pc->connection;
    c->data = link;
    c->read->handler = ngx_http_rate_limit_link_read;
    c->write->handler = ngx_http_rate_limit_link_write;
    c->log = &link->log;
    c->read->log = c->log;
    c->write->log = c->log;

    link->connection = c;
    link->state = NGX_HTTP_RATE_LIMIT_LINK_CONNECTING;
    link->setup = 0;

    /* pipelined calls never wait for an acknowledgement */

    if (link->sockaddr.sockaddr.sa_family != AF_UNIX) {
        (void) ngx_tcp_nodelay(c);
    }

    link->timer.handler = ngx_http_rate_limit_link_timeout;
    link->timer.data = link;
    link->timer.log = ngx_cycle->log;
    ngx_add_timer(&link->timer, NGX_HTTP_RATE_LIMIT_REDIS_SETUP_TIME);

    if (rc == NGX_OK) {
        ngx_http_rate_limit_link_connected(link);
    }

    return NGX_OK;
}


static void
ngx_http_rate_limit_link_connected(ngx_http_rate_limit_link_t *link)
{
#if (NGX_SSL)
    ngx_int_t  rc;

    if (link->redis->ssl) {
        link->state = NGX_HTTP_RATE_LIMIT_LINK_TLS;
        link->log.action = "SSL handshaking to redis";

        rc = ngx_http_rate_limit_link_ssl(link,
                                          ngx_http_rate_limit_link_handshaked);

        if (rc == NGX_AGAIN) {
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_http_rate_limit_link_fail(link, "TLS handshake failed", NULL);
            return;
        }

        ngx_http_rate_limit_link_handshaked(link->connection);
        return;
    }
#endif

    ngx_http_rate_limit_link_secured(link);
}


#if (NGX_SSL)

static void
ngx_http_rate_limit_link_handshaked(ngx_connection_t *c)
{
    ngx_str_t                    reason;
    const char                  *why;
    ngx_http_rate_limit_link_t  *link;

    link = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_rate_limit_link_fail(link, "TLS handshake failed", NULL);
        return;
    }

    if (ngx_http_rate_limit_link_ssl_check(link, &why, &reason) != NGX_OK) {
        ngx_http_rate_limit_link_fail(link, why, &reason);
        return;
    }

    c->read->handler = ngx_http_rate_limit_link_read;
    c->write->handler = ngx_http_rate_limit_link_write;

    ngx_http_rate_limit_link_secured(link);
}

#endif


/* the setup: AUTH, SELECT and, for Sentinel's primary, ROLE */

static void
ngx_http_rate_limit_link_secured(ngx_http_rate_limit_link_t *link)
{
    ngx_buf_t                    *b;
    ngx_http_rate_limit_redis_t  *rd;

    rd = link->redis;
    b = &link->out;

    link->log.action = NULL;
    link->state = NGX_HTTP_RATE_LIMIT_LINK_SETUP;
    link->nsetup = 0;

    if (rd->auth.len && !link->sentinel) {
        b->last = ngx_cpymem(b->last, rd->auth.data, rd->auth.len);
        link->setups[link->nsetup++] = NGX_HTTP_RATE_LIMIT_SETUP_AUTH;
    }

    if (rd->select.len && !link->control && !link->sentinel) {
        b->last = ngx_cpymem(b->last, rd->select.data, rd->select.len);
        link->setups[link->nsetup++] = NGX_HTTP_RATE_LIMIT_SETUP_SELECT;
    }

    if (link->role_check) {
        b->last = ngx_cpymem(b->last, "*1\r\n$4\r\nROLE\r\n",
                             sizeof("*1\r\n$4\r\nROLE\r\n") - 1);
        link->setups[link->nsetup++] = NGX_HTTP_RATE_LIMIT_SETUP_ROLE;
    }

    if (link->nsetup == 0) {
        ngx_http_rate_limit_link_ready(link);
        return;
    }

    ngx_http_rate_limit_link_flush(link);
}


static void
ngx_http_rate_limit_link_ready(ngx_http_rate_limit_link_t *link)
{
    link->state = NGX_HTTP_RATE_LIMIT_LINK_READY;

    if (link->control) {

        /* its commands; the timer waits for their replies */

        link->out.last = ngx_cpymem(link->out.last, link->commands.data,
                                    link->commands.len);
        ngx_http_rate_limit_link_flush(link);
        return;
    }

    if (link->timer.timer_set) {
        ngx_del_timer(&link->timer);
    }

    if (!ngx_queue_empty(&link->unsent)) {
        ngx_http_rate_limit_link_flush(link);
    }
}


/* a control connection has its replies: no timer any more */

void
ngx_http_rate_limit_link_idle(ngx_http_rate_limit_link_t *link)
{
    if (link->timer.timer_set) {
        ngx_del_timer(&link->timer);
    }
}


static ngx_int_t
ngx_http_rate_limit_link_test_connect(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

#if (NGX_HAVE_KQUEUE)

    if (ngx_event_flags & NGX_USE_KQUEUE_EVENT)  {
        if (c->write->pending_eof || c->read->pending_eof) {
            err = c->write->pending_eof ? c->write->kq_errno
                                        : c->read->kq_errno;

            (void) ngx_connection_error(c, err,
                                    "kevent() reported that connect() failed");
            return NGX_ERROR;
        }

    } else
#endif
    {
        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            (void) ngx_connection_error(c, err, "connect() failed");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_rate_limit_link_write(ngx_event_t *wev)
{
    ssize_t                      n;
    ngx_buf_t                   *b;
    ngx_connection_t            *c;
    ngx_http_rate_limit_link_t  *link;

    c = wev->data;
    link = c->data;
    b = &link->out;

    if (link->state == NGX_HTTP_RATE_LIMIT_LINK_CONNECTING) {
        if (ngx_http_rate_limit_link_test_connect(c) != NGX_OK) {
            ngx_http_rate_limit_link_fail(link, "cannot connect", NULL);
            return;
        }

        ngx_http_rate_limit_link_connected(link);
        return;
    }

    for ( ;; ) {
        if (link->state == NGX_HTTP_RATE_LIMIT_LINK_READY
            && !ngx_queue_empty(&link->unsent))
        {
            if (ngx_http_rate_limit_link_serialize(link) != NGX_OK) {
                return;
            }
        }

        if (b->pos == b->last) {
            break;
        }

        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            ngx_http_rate_limit_link_fail(link, "cannot send", NULL);
            return;
        }

        b->pos += n;

        if (b->pos == b->last) {
            b->pos = b->start;
            b->last = b->start;
        }
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_rate_limit_link_fail(link, "cannot send", NULL);
    }
}


/*
 * The calls not written yet go into the buffer, as many as it takes: those
 * on one slot together, in one script call, up to BATCH_KEYS keys; a call
 * after -ASK alone, after ASKING.  Their order among the calls waiting is
 * the order of the replies.
 */

static ngx_int_t
ngx_http_rate_limit_link_serialize(ngx_http_rate_limit_link_t *link)
{
    size_t                       size, space;
    ngx_buf_t                   *b;
    ngx_uint_t                   n, keys;
    ngx_queue_t                 *q, *next;
    ngx_http_rate_limit_call_t  *call, *first;
    ngx_http_rate_limit_call_t  *batch[NGX_HTTP_RATE_LIMIT_REDIS_BATCH_KEYS];

    b = &link->out;

    while (!ngx_queue_empty(&link->unsent)) {

        if (b->pos > b->start) {
            b->last = ngx_movemem(b->start, b->pos, b->last - b->pos);
            b->pos = b->start;
        }

        space = b->end - b->last;

        q = ngx_queue_head(&link->unsent);
        first = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);

        size = ngx_http_rate_limit_call_size(first);

        if (size > space) {
            break;
        }

        space -= size;
        batch[0] = first;
        n = 1;
        keys = first->n;

        for (q = ngx_queue_next(q);
             !first->asking && q != ngx_queue_sentinel(&link->unsent);
             q = next)
        {
            next = ngx_queue_next(q);
            call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);

            if (call->eval != first->eval || call->slot != first->slot
                || call->asking)
            {
                continue;
            }

            if (keys + call->n > NGX_HTTP_RATE_LIMIT_REDIS_BATCH_KEYS) {
                break;
            }

            size = ngx_http_rate_limit_call_args(call);

            if (size > space) {
                break;
            }

            space -= size;
            batch[n++] = call;
            keys += call->n;
        }

        ngx_http_rate_limit_link_put(link, batch, n, keys);
    }

    return NGX_OK;
}


/*
 * [ASKING] EVALSHA sha keys key... groups index limit..., or EVAL with
 * the script itself after a NOSCRIPT: the keys of each call of the batch,
 * which goes to the calls waiting, a byte a call (its number of keys), a
 * byte a key (its limit's index), and each distinct limit once: on a hot
 * key, Redis reads one key and two bytes a decision, not six values
 */

static void
ngx_http_rate_limit_link_put(ngx_http_rate_limit_link_t *link,
    ngx_http_rate_limit_call_t **batch, ngx_uint_t n, ngx_uint_t keys)
{
    u_char                      *p, *limit;
    ngx_uint_t                   i, k, l, m, argc, nlimits;
    ngx_http_rate_limit_call_t  *call;
    u_char                       index[NGX_HTTP_RATE_LIMIT_REDIS_BATCH_KEYS];
    u_char                      *limits[NGX_HTTP_RATE_LIMIT_REDIS_BATCH_KEYS];
    u_char                       lens[NGX_HTTP_RATE_LIMIT_REDIS_BATCH_KEYS];

    /* the distinct limits: their RESP is canonical, equal if they are */

    nlimits = 0;
    m = 0;

    for (i = 0; i < n; i++) {
        call = batch[i];
        limit = call->argv.data;

        for (k = 0; k < call->n; k++) {
            for (l = 0; l < nlimits; l++) {
                if (lens[l] == call->limit_len[k]
                    && ngx_memcmp(limits[l], limit, lens[l]) == 0)
                {
                    break;
                }
            }

            if (l == nlimits) {
                limits[l] = limit;
                lens[l] = call->limit_len[k];
                nlimits++;
            }

            index[m++] = (u_char) l;
            limit += call->limit_len[k];
        }
    }

    p = link->out.last;

    argc = 5 + keys + 4 * nlimits;

    if (batch[0]->asking) {
        p = ngx_cpymem(p, "*1\r\n$6\r\nASKING\r\n",
                       sizeof("*1\r\n$6\r\nASKING\r\n") - 1);
        batch[0]->asked = 0;
    }

    if (batch[0]->eval) {
        p = ngx_sprintf(p, "*%ui\r\n$4\r\nEVAL\r\n$%uz\r\n%V\r\n", argc,
                        ngx_http_rate_limit_redis_lua.len,
                        &ngx_http_rate_limit_redis_lua);

    } else {
        p = ngx_sprintf(p, "*%ui\r\n$7\r\nEVALSHA\r\n$40\r\n", argc);
        p = ngx_cpymem(p, link->redis->sha1, 40);
        *p++ = CR;
        *p++ = LF;
    }

    p = ngx_http_rate_limit_redis_arg(p, keys);

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, batch[i]->keys.data, batch[i]->keys.len);
    }

    p = ngx_sprintf(p, "$%ui\r\n", n);

    for (i = 0; i < n; i++) {
        *p++ = (u_char) batch[i]->n;
    }

    p = ngx_sprintf(p, "\r\n$%ui\r\n", keys);
    p = ngx_cpymem(p, index, keys);
    *p++ = CR;
    *p++ = LF;

    for (l = 0; l < nlimits; l++) {
        p = ngx_cpymem(p, limits[l], lens[l]);
    }

    for (i = 0; i < n; i++) {
        call = batch[i];

        ngx_queue_remove(&call->queue);
        ngx_queue_insert_tail(&link->waiting, &call->queue);

        call->sent = 1;
        call->batch = (i == 0) ? n : 0;
        call->batch_keys = (i == 0) ? keys : 0;
    }

    link->out.last = p;
}


static void
ngx_http_rate_limit_link_read(ngx_event_t *rev)
{
    u_char                      *p;
    size_t                       size;
    ssize_t                      n;
    ngx_buf_t                   *b;
    ngx_connection_t            *c;
    ngx_http_rate_limit_link_t  *link;

    c = rev->data;
    link = c->data;
    b = &link->in;

    if (link->state == NGX_HTTP_RATE_LIMIT_LINK_CONNECTING) {
        if (ngx_http_rate_limit_link_test_connect(c) != NGX_OK) {
            ngx_http_rate_limit_link_fail(link, "cannot connect", NULL);
            return;
        }

        ngx_http_rate_limit_link_connected(link);

        if (link->connection == NULL
            || link->state == NGX_HTTP_RATE_LIMIT_LINK_TLS)
        {
            return;
        }
    }

    for ( ;; ) {
        if (b->last == b->end) {
            if (b->pos > b->start) {
                b->last = ngx_movemem(b->start, b->pos, b->last - b->pos);
                b->pos = b->start;

            } else if ((size_t) (b->end - b->start) < link->in_max) {

                /* a long reply on a control connection: a slot map */

                size = ngx_min(2 * (size_t) (b->end - b->start),
                               link->in_max);

                p = ngx_alloc(size, ngx_cycle->log);
                if (p == NULL) {
                    ngx_http_rate_limit_link_fail(link, "no memory", NULL);
                    return;
                }

                b->last = ngx_cpymem(p, b->start, b->last - b->start);
                b->pos = p;
                ngx_free(b->start);
                b->start = p;
                b->end = p + size;

            } else {
                ngx_http_rate_limit_link_fail(link, "sent a reply too long",
                                              NULL);
                return;
            }
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_rate_limit_link_fail(link, n ? "cannot read"
                                                  : "connection closed",
                                          NULL);
            return;
        }

        b->last += n;

        if (ngx_http_rate_limit_link_parse(link) != NGX_OK) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_rate_limit_link_fail(link, "cannot read", NULL);
    }
}


/* NGX_OK: read on; NGX_ERROR: the connection is closed */

static ngx_int_t
ngx_http_rate_limit_link_parse(ngx_http_rate_limit_link_t *link)
{
    ngx_int_t  rc;

    for ( ;; ) {
        switch (link->state) {

        case NGX_HTTP_RATE_LIMIT_LINK_SETUP:
            rc = ngx_http_rate_limit_link_parse_setup(link);
            break;

        case NGX_HTTP_RATE_LIMIT_LINK_READY:
            rc = link->control ? ngx_http_rate_limit_link_parse_control(link)
                               : ngx_http_rate_limit_link_parse_calls(link);
            break;

        default:
            ngx_http_rate_limit_link_fail(link, "sent a reply nobody asked for",
                                          NULL);
            return NGX_ERROR;
        }

        if (rc != NGX_AGAIN) {
            return rc;
        }

        /* the setup is over: the rest is for the calls */
    }
}


/* the next complete reply, from *p to *end, taken off the buffer */

static ngx_int_t
ngx_http_rate_limit_link_take(ngx_http_rate_limit_link_t *link, u_char **p,
    u_char **end)
{
    ngx_int_t  rc;

    rc = ngx_http_rate_limit_resp_end(link->in.pos, link->in.last, end);

    if (rc == NGX_ERROR) {
        ngx_http_rate_limit_link_fail(link, "sent an invalid reply", NULL);
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        *p = link->in.pos;
        link->in.pos = *end;
    }

    return rc;
}


/*
 * The replies to the setup, in order: AUTH and SELECT say +OK, ROLE says
 * "master".  NGX_AGAIN: the setup is over, more may follow.
 */

static ngx_int_t
ngx_http_rate_limit_link_parse_setup(ngx_http_rate_limit_link_t *link)
{
    u_char                      *p, *end;
    ngx_int_t                    rc;
    ngx_uint_t                   kind;
    ngx_http_rate_limit_resp_t   v, role;

    while (link->in.pos < link->in.last) {

        rc = ngx_http_rate_limit_link_take(link, &p, &end);

        if (rc != NGX_OK) {
            return (rc == NGX_AGAIN) ? NGX_OK : NGX_ERROR;
        }

        (void) ngx_http_rate_limit_resp_next(&p, end, &v);

        kind = link->setups[link->setup++];

        if (v.type == '-') {
            ngx_http_rate_limit_link_fail(link,
                    (kind == NGX_HTTP_RATE_LIMIT_SETUP_AUTH) ? "refused AUTH:"
                    : (kind == NGX_HTTP_RATE_LIMIT_SETUP_SELECT)
                      ? "refused SELECT:" : "refused ROLE:", &v.text);
            return NGX_ERROR;
        }

        if (kind == NGX_HTTP_RATE_LIMIT_SETUP_ROLE) {

            /* never a replica: its writes, if it takes any, are lost */

            if (v.type != '*' || v.n < 1
                || ngx_http_rate_limit_resp_next(&p, end, &role) != NGX_OK
                || role.type != '$')
            {
                ngx_http_rate_limit_link_fail(link, "sent an invalid reply",
                                              NULL);
                return NGX_ERROR;
            }

            if (role.text.len != 6
                || ngx_strncmp(role.text.data, "master", 6) != 0)
            {
                ngx_http_rate_limit_link_fail(link,
                                              "is not the primary, its ROLE is",
                                              &role.text);
                return NGX_ERROR;
            }

        } else if (v.type != '+') {
            ngx_http_rate_limit_link_fail(link, "sent an invalid reply", NULL);
            return NGX_ERROR;
        }

        ngx_http_rate_limit_link_answered(link);

        if (link->setup == link->nsetup) {
            ngx_http_rate_limit_link_ready(link);
            return NGX_AGAIN;
        }
    }

    link->in.pos = link->in.start;
    link->in.last = link->in.start;

    return NGX_OK;
}


/* a control connection's replies go to its owner, each once complete */

static ngx_int_t
ngx_http_rate_limit_link_parse_control(ngx_http_rate_limit_link_t *link)
{
    u_char     *p, *end;
    ngx_int_t   rc;

    while (link->in.pos < link->in.last) {

        rc = ngx_http_rate_limit_link_take(link, &p, &end);

        if (rc != NGX_OK) {
            return (rc == NGX_AGAIN) ? NGX_OK : NGX_ERROR;
        }

        link->down = 0;

        rc = link->reply(link, p, end);

        if (rc == NGX_ERROR) {
            ngx_http_rate_limit_link_fail(link, "sent an unexpected reply",
                                          NULL);
            return NGX_ERROR;
        }

        if (rc == NGX_DONE || link->connection == NULL) {
            return NGX_ERROR;
        }
    }

    link->in.pos = link->in.start;
    link->in.last = link->in.start;

    return NGX_OK;
}


/* the complete replies read so far go to their calls, in order */

static ngx_int_t
ngx_http_rate_limit_link_parse_calls(ngx_http_rate_limit_link_t *link)
{
    u_char                      *end;
    ngx_int_t                    rc;
    ngx_uint_t                   i, n;
    ngx_str_t                    error;
    ngx_queue_t                 *q;
    ngx_http_rate_limit_call_t  *head, *call;

    while (link->in.pos < link->in.last) {

        if (ngx_queue_empty(&link->waiting)) {
            ngx_http_rate_limit_link_fail(link, "sent a reply nobody asked for",
                                          NULL);
            return NGX_ERROR;
        }

        q = ngx_queue_head(&link->waiting);
        head = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);

        if (head->asking && !head->asked) {

            /* ASKING's +OK before the call's own reply */

            rc = ngx_http_rate_limit_resp_end(link->in.pos, link->in.last,
                                              &end);
            if (rc == NGX_AGAIN) {
                return NGX_OK;
            }

            if (rc == NGX_ERROR || end - link->in.pos != 5
                || ngx_strncmp(link->in.pos, "+OK\r\n", 5) != 0)
            {
                goto invalid;
            }

            link->in.pos = end;
            head->asked = 1;
            continue;
        }

        rc = ngx_http_rate_limit_link_reply(head, link->in.pos,
                                            link->in.last, &end, &error);

        if (rc == NGX_AGAIN) {
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            goto invalid;
        }

        link->in.pos = end;

        if (rc == NGX_DECLINED) {
            if (ngx_http_rate_limit_link_error(link, head, &error) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        ngx_http_rate_limit_link_answered(link);

        n = head->batch;

        for (i = 0; i < n; i++) {
            q = ngx_queue_head(&link->waiting);
            call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);
            ngx_queue_remove(q);
            ngx_http_rate_limit_call_done(call, NGX_OK);
        }
    }

    link->in.pos = link->in.start;
    link->in.last = link->in.start;

    return NGX_OK;

invalid:

    ngx_http_rate_limit_link_fail(link, "sent an invalid reply", NULL);
    return NGX_ERROR;
}


/*
 * One reply to a batch of calls, head first: an array of an integer for
 * each key of each call (NGX_OK, the calls have them), an error
 * (NGX_DECLINED, its text), incomplete (NGX_AGAIN), or garbage
 * (NGX_ERROR).
 */

static ngx_int_t
ngx_http_rate_limit_link_reply(ngx_http_rate_limit_call_t *head, u_char *p,
    u_char *last, u_char **end, ngx_str_t *error)
{
    ngx_int_t                    rc, n, i, k;
    ngx_queue_t                 *q;
    ngx_http_rate_limit_resp_t   v;
    ngx_http_rate_limit_call_t  *call;

    /* a bulk string is garbage here: it must not be waited for */

    if (p < last && *p != '-' && *p != '*') {
        return NGX_ERROR;
    }

    rc = ngx_http_rate_limit_resp_next(&p, last, &v);

    if (rc != NGX_OK) {
        return (rc == NGX_AGAIN) ? NGX_AGAIN : NGX_ERROR;
    }

    if (v.type == '-') {
        *end = p;
        *error = v.text;
        return NGX_DECLINED;
    }

    if (v.type != '*' || v.n != (int64_t) head->batch_keys) {
        return NGX_ERROR;
    }

    n = (ngx_int_t) v.n;

    /* the integers go to the calls of the batch, in order */

    q = &head->queue;
    call = head;
    k = 0;

    for (i = 0; i < n; i++) {
        if (p < last && *p != ':') {
            return NGX_ERROR;
        }

        rc = ngx_http_rate_limit_resp_next(&p, last, &v);

        if (rc != NGX_OK) {
            return (rc == NGX_AGAIN) ? NGX_AGAIN : NGX_ERROR;
        }

        if (v.type != ':') {
            return NGX_ERROR;
        }

        if (k == (ngx_int_t) call->n) {
            q = ngx_queue_next(q);
            call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);
            k = 0;
        }

        call->reply[k++] = v.n;
    }

    *end = p;

    return NGX_OK;
}


/*
 * An error reply to a batch: NOSCRIPT sends it again with the script
 * itself; a Cluster's MOVED and ASK send its calls where their slot is; an
 * error of the whole server (a replica's READONLY, LOADING,
 * CLUSTERDOWN, a password refused...) fails the connection, with one line
 * for the outage (and, on Sentinel's primary, asks the sentinels again);
 * any other fails the calls (a key of another type, a script error), with
 * a line.  NGX_ERROR: the connection is closed.
 */

static ngx_int_t
ngx_http_rate_limit_link_error(ngx_http_rate_limit_link_t *link,
    ngx_http_rate_limit_call_t *head, ngx_str_t *error)
{
    u_char                       *p, *last, *digits;
    size_t                        size;
    ngx_buf_t                    *b;
    ngx_str_t                     word, addr;
    ngx_uint_t                    i, n, ask, slot, keys;
    ngx_queue_t                  *q;
    ngx_http_rate_limit_call_t   *call;
    ngx_http_rate_limit_redis_t  *rd;
    ngx_http_rate_limit_call_t   *batch[NGX_HTTP_RATE_LIMIT_REDIS_BATCH_KEYS];

    static ngx_str_t  down[] = {
        ngx_string("READONLY"), ngx_string("LOADING"),
        ngx_string("CLUSTERDOWN"), ngx_string("MASTERDOWN"),
        ngx_string("NOAUTH"), ngx_string("WRONGPASS"),
        ngx_string("NOPERM"), ngx_string("OOM"), ngx_string("BUSY"),
        ngx_null_string
    };

    rd = link->redis;
    n = head->batch;
    size = 0;

    p = error->data;
    last = error->data + error->len;

    word.data = p;
    while (p < last && *p != ' ') { p++; }
    word.len = p - word.data;

    if (word.len == 8 && ngx_strncmp(word.data, "NOSCRIPT", 8) == 0
        && !head->eval)
    {
        /* once more, the same batch, with the script itself */

        keys = head->batch_keys;
        q = &head->queue;

        for (i = 0; i < n; i++) {
            call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);
            q = ngx_queue_next(q);

            call->eval = 1;
            batch[i] = call;
            size += ngx_http_rate_limit_call_args(call);
        }

        b = &link->out;

        if (b->pos > b->start) {
            b->last = ngx_movemem(b->start, b->pos, b->last - b->pos);
            b->pos = b->start;
        }

        if ((size_t) (b->end - b->last)
            < size + ngx_http_rate_limit_call_size(head))
        {
            for (i = 0; i < n; i++) {
                ngx_queue_remove(&batch[i]->queue);
                ngx_http_rate_limit_call_done(batch[i], NGX_ERROR);
            }

            return NGX_OK;
        }

        /* from the head of the calls waiting to their tail, written now */

        ngx_http_rate_limit_link_put(link, batch, n, keys);
        ngx_http_rate_limit_link_write(link->connection->write);

        return (link->connection == NULL) ? NGX_ERROR : NGX_OK;
    }

    if (rd->redirect
        && ((word.len == 5 && ngx_strncmp(word.data, "MOVED", 5) == 0)
            || (word.len == 3 && ngx_strncmp(word.data, "ASK", 3) == 0)))
    {
        /* "MOVED 3999 127.0.0.1:6381": the slot must be the batch's */

        ask = (word.len == 3);
        slot = 0;
        digits = (p < last) ? ++p : p;

        for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
            slot = slot * 10 + (*p - '0');

            if (slot >= NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS) {
                break;
            }
        }

        if (p == digits || p == last || *p != ' ' || slot != head->slot) {
            ngx_http_rate_limit_link_fail(link, "sent an invalid redirect",
                                          error);
            return NGX_ERROR;
        }

        addr.data = p + 1;
        addr.len = last - addr.data;

        for (i = 0; i < n; i++) {
            q = ngx_queue_head(&link->waiting);
            call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);
            ngx_queue_remove(q);

            call->link = NULL;
            call->sent = 0;

            if (rd->redirect(call, ask, &addr) != NGX_OK) {
                ngx_http_rate_limit_call_done(call, NGX_ERROR);
            }
        }

        return NGX_OK;
    }

    for (i = 0; down[i].len; i++) {
        if (word.len == down[i].len
            && ngx_strncmp(word.data, down[i].data, word.len) == 0)
        {
            ngx_http_rate_limit_link_fail(link, "answered", error);
            return NGX_ERROR;
        }
    }

    if (link->role[0]) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" %s %V answered \"%V\"",
                      &rd->name, link->role, &link->name, error);

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" answered \"%V\"",
                      &rd->name, error);
    }

    for (i = 0; i < n; i++) {
        q = ngx_queue_head(&link->waiting);
        call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);
        ngx_queue_remove(q);
        ngx_http_rate_limit_call_done(call, NGX_ERROR);
    }

    return NGX_OK;
}


/* Redis answers: an outage is over */

static void
ngx_http_rate_limit_link_answered(ngx_http_rate_limit_link_t *link)
{
    if (!link->down) {
        return;
    }

    link->down = 0;

    if (link->role[0]) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" %s %V answers again",
                      &link->redis->name, link->role, &link->name);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" answers again",
                      &link->redis->name);
    }
}


static void
ngx_http_rate_limit_link_timeout(ngx_event_t *ev)
{
    ngx_http_rate_limit_link_t  *link;

    static const char  *why[] = {
        "timed out",                            /* closed: not reached */
        "timed out connecting",
        "timed out in the TLS handshake",
        "timed out in the setup (AUTH, SELECT, ROLE)",
        "timed out"                             /* a control reply */
    };

    link = ev->data;

    ngx_http_rate_limit_link_fail(link, why[link->state], NULL);
}


/*
 * The connection is dropped, every call waiting on it fails, and a new
 * one is tried after a backoff; its owner hears of it (Sentinel asks for
 * the primary again).  One line for each
 * outage, not each request; a control connection's at warn, its owner
 * says when it gives up.
 */

void
ngx_http_rate_limit_link_fail(ngx_http_rate_limit_link_t *link,
    const char *why, ngx_str_t *text)
{
    ngx_uint_t                    level;
    ngx_str_t                     quoted;
    const char                   *retry;
    ngx_http_rate_limit_redis_t  *rd;

    rd = link->redis;

    if (!link->down) {
        level = link->control ? NGX_LOG_WARN : NGX_LOG_ERR;
        retry = link->control ? "" : "; retrying with backoff";

        if (text) {
            quoted = *text;

        } else {
            ngx_str_set(&quoted, "");
        }

        if (link->role[0]) {
            ngx_log_error(level, ngx_cycle->log, 0,
                          "rate_limit: redis \"%V\" %s %V %s%s%V%s%s",
                          &rd->name, link->role, &link->name, why,
                          text ? " \"" : "", &quoted, text ? "\"" : "",
                          retry);

        } else {
            ngx_log_error(level, ngx_cycle->log, 0,
                          "rate_limit: redis \"%V\" %s%s%V%s%s",
                          &rd->name, why, text ? " \"" : "", &quoted,
                          text ? "\"" : "", retry);
        }

        link->down = 1;
        link->backoff = NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MIN;

    } else {
        link->backoff = ngx_min(link->backoff * 2,
                                NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MAX);
    }

    ngx_http_rate_limit_link_close_connection(link);

    /* until the backoff is over, new calls are declined at once */

    if (!link->control && !link->retry.timer_set) {
        link->retry.handler = ngx_http_rate_limit_link_retry;
        link->retry.data = link;
        link->retry.log = ngx_cycle->log;
        link->retry.cancelable = 1;
        ngx_add_timer(&link->retry, link->backoff);
    }

    ngx_http_rate_limit_calls_fail(&link->waiting);
    ngx_http_rate_limit_calls_fail(&link->unsent);

    if (link->failed) {
        link->failed(link);
    }
}


/* after the backoff, the next call connects again */

static void
ngx_http_rate_limit_link_retry(ngx_event_t *ev)
{
    /* void */
}


/*
 * The server is another one now (Sentinel's primary): the connection is
 * closed, its calls fail, and the next call connects at once
 */

void
ngx_http_rate_limit_link_drop(ngx_http_rate_limit_link_t *link)
{
    ngx_http_rate_limit_link_close_connection(link);

    if (link->retry.timer_set) {
        ngx_del_timer(&link->retry);
    }

    ngx_http_rate_limit_calls_fail(&link->waiting);
    ngx_http_rate_limit_calls_fail(&link->unsent);
}


/* the worker exits, or a control connection is done */

void
ngx_http_rate_limit_link_close(ngx_http_rate_limit_link_t *link)
{
    ngx_http_rate_limit_link_close_connection(link);

    if (link->retry.timer_set) {
        ngx_del_timer(&link->retry);
    }

    ngx_http_rate_limit_calls_free(&link->waiting);
    ngx_http_rate_limit_calls_free(&link->unsent);

    if (link->out.start) {
        ngx_free(link->out.start);
        ngx_free(link->in.start);
        ngx_memzero(&link->out, sizeof(ngx_buf_t));
        ngx_memzero(&link->in, sizeof(ngx_buf_t));
    }

#if (NGX_SSL)
    if (link->ssl_session) {
        ngx_ssl_free_session(link->ssl_session);
        link->ssl_session = NULL;
    }
#endif
}


static void
ngx_http_rate_limit_link_close_connection(ngx_http_rate_limit_link_t *link)
{
    if (link->connection) {
#if (NGX_SSL)
        if (link->redis->ssl) {
            ngx_http_rate_limit_link_ssl_close(link->connection);
        }
#endif

        ngx_close_connection(link->connection);
        link->connection = NULL;
    }

    link->state = NGX_HTTP_RATE_LIMIT_LINK_CLOSED;

    if (link->timer.timer_set) {
        ngx_del_timer(&link->timer);
    }

    link->out.pos = link->out.start;
    link->out.last = link->out.start;
    link->in.pos = link->in.start;
    link->in.last = link->in.start;
}
