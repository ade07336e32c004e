
/*
 * Buckets in Redis, for limits shared by several nginx instances: one
 * connection per worker and Redis server, driven by nginx's event loop,
 * pipelined; one atomic script call per request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>
#include <ngx_sha1.h>
#include "ngx_http_rate_limit.h"


#define NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MAX  5000
#define NGX_HTTP_RATE_LIMIT_REDIS_BUF          16384


/*
 * The GCRA of ngx_http_rate_limit_decide(), for n keys at once, on Redis's
 * clock.  ARGV holds interval (us), burst, cost and dry run for each key.
 * A key expires when its bucket is full again.  Replies three integers a
 * key: admitted, the bucket's fill in us, and the wait in us.
 */
static ngx_str_t  ngx_http_rate_limit_redis_script = ngx_string(
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local res, tats, reject = {}, {}, false "
    "for i = 1, #KEYS do "
    "  local a = (i - 1) * 4 "
    "  local interval = tonumber(ARGV[a + 1]) "
    "  local cap = (tonumber(ARGV[a + 2]) + 1) * interval "
    "  local cost = tonumber(ARGV[a + 3]) * interval "
    "  local tat = tonumber(redis.call('GET', KEYS[i])) or now "
    "  if tat < now then tat = now end "
    "  local used = tat - now + cost "
    "  if used <= cap or cost == 0 then "
    "    res[#res + 1] = 1 res[#res + 1] = used res[#res + 1] = 0 "
    "    if cost > 0 then tats[i] = now + used end "
    "  else "
    "    res[#res + 1] = 0 res[#res + 1] = tat - now "
    "    res[#res + 1] = used - cap "
    "    if ARGV[a + 4] ~= '1' then reject = true end "
    "  end "
    "end "
    "if not reject then "
    "  for i, tat in pairs(tats) do "
    "    redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', "
    "               math.ceil((tat - now) / 1000)) "
    "  end "
    "end "
    "return res");


static u_char *ngx_http_rate_limit_redis_arg(u_char *p, uint64_t v);
static void ngx_http_rate_limit_redis_connect(ngx_http_rate_limit_redis_t *rd);
static void ngx_http_rate_limit_redis_write(ngx_event_t *wev);
static void ngx_http_rate_limit_redis_read(ngx_event_t *rev);
static ngx_int_t ngx_http_rate_limit_redis_parse(
    ngx_http_rate_limit_redis_t *rd);
static ngx_int_t ngx_http_rate_limit_redis_reply(
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_call_t *call,
    u_char *p, u_char *last, u_char **end);
static ngx_int_t ngx_http_rate_limit_redis_send(
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_call_t *call);
static void ngx_http_rate_limit_redis_timeout(ngx_event_t *ev);
static void ngx_http_rate_limit_redis_fail(ngx_http_rate_limit_redis_t *rd,
    const char *why);
static void ngx_http_rate_limit_redis_done(ngx_http_rate_limit_call_t *call,
    ngx_int_t rc);
static void ngx_http_rate_limit_redis_finish(ngx_event_t *ev);
static void ngx_http_rate_limit_redis_retry(ngx_event_t *ev);


ngx_http_rate_limit_redis_t *
ngx_http_rate_limit_redis_create(ngx_conf_t *cf, ngx_str_t *addr)
{
    u_char                        hash[20];
    ngx_url_t                     u;
    ngx_sha1_t                    sha1;
    ngx_http_rate_limit_redis_t  *rd;

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_http_rate_limit_redis_t));
    if (rd == NULL) {
        return NULL;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *addr;
    u.default_port = 6379;
    u.no_resolve = 0;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid redis address \"%V\"%s%s", addr,
                           u.err ? ": " : "", u.err ? u.err : "");
        return NULL;
    }

    rd->addr = u.addrs[0];
    rd->name = *addr;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, ngx_http_rate_limit_redis_script.data,
                    ngx_http_rate_limit_redis_script.len);
    ngx_sha1_final(hash, &sha1);
    ngx_hex_dump(rd->sha1, hash, 20);

    ngx_queue_init(&rd->waiting);

    return rd;
}


/*
 * A call of the script for the limits among checks whose zones are on rd:
 * KEYS are each zone's prefix and the limit's key, ARGV the four numbers of
 * each limit.  The call has memory of its own, in which they are written
 * in RESP: it outlives the request if Redis is slow.  The caller sets its
 * handler and data, and frees it with ngx_free() unless
 * ngx_http_rate_limit_redis_call() queued it.
 */

ngx_http_rate_limit_call_t *
ngx_http_rate_limit_redis_call_create(ngx_http_rate_limit_redis_t *rd,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n, ngx_log_t *log)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   i, k;
    ngx_http_rate_limit_zone_t  *zone;
    ngx_http_rate_limit_call_t  *call;

    len = 0;
    k = 0;

    for (i = 0; i < n; i++) {
        zone = checks[i].zone;

        if (zone->redis != rd) {
            continue;
        }

        k++;

        len += 2 * sizeof("$20\r\n\r\n") + zone->redis_key.len
               + checks[i].key.len
               + 4 * sizeof("$20\r\n18446744073709551616\r\n");
    }

    call = ngx_alloc(sizeof(ngx_http_rate_limit_call_t) + len, log);
    if (call == NULL) {
        return NULL;
    }

    ngx_memzero(call, sizeof(ngx_http_rate_limit_call_t));

    call->redis = rd;
    call->n = k;
    call->args.data = (u_char *) (call + 1);

    p = call->args.data;

    for (i = 0; i < n; i++) {
        zone = checks[i].zone;

        if (zone->redis != rd) {
            continue;
        }

        p = ngx_sprintf(p, "$%uz\r\n%V",
                        zone->redis_key.len + checks[i].key.len,
                        &zone->redis_key);
        p = ngx_cpymem(p, checks[i].key.data, checks[i].key.len);
        *p++ = CR;
        *p++ = LF;
    }

    for (i = 0; i < n; i++) {
        if (checks[i].zone->redis != rd) {
            continue;
        }

        p = ngx_http_rate_limit_redis_arg(p, checks[i].interval);
        p = ngx_http_rate_limit_redis_arg(p, checks[i].burst);
        p = ngx_http_rate_limit_redis_arg(p, checks[i].cost);
        p = ngx_http_rate_limit_redis_arg(p, checks[i].dry_run);
    }

    call->args.len = p - call->args.data;

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
 * Queues a call: NGX_AGAIN, its handler runs later, from a posted event,
 * even if the connection fails here (with NGX_OK or NGX_ERROR);
 * NGX_DECLINED, Redis is down, nothing was queued and the caller decides
 * alone.
 */

ngx_int_t
ngx_http_rate_limit_redis_call(ngx_http_rate_limit_call_t *call,
    ngx_msec_t timeout)
{
    ngx_http_rate_limit_redis_t  *rd;

    rd = call->redis;

    if (rd->connection == NULL) {
        if (rd->retry.timer_set) {
            return NGX_DECLINED;
        }

        ngx_http_rate_limit_redis_connect(rd);

        if (rd->connection == NULL) {
            return NGX_DECLINED;
        }
    }

    if (ngx_http_rate_limit_redis_send(rd, call) != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&rd->waiting, &call->queue);

    call->timer.handler = ngx_http_rate_limit_redis_timeout;
    call->timer.data = call;
    call->timer.log = ngx_cycle->log;
    ngx_add_timer(&call->timer, timeout);

    /* at once: calls left for later would soon fill the buffer */

    if (rd->connection->write->ready) {
        ngx_http_rate_limit_redis_write(rd->connection->write);
    }

    return NGX_AGAIN;
}


/*
 * The worker exits: its connection and the calls still waiting go with it
 * (those answered have had their posted handlers run in the same turn of
 * the event loop).
 */

void
ngx_http_rate_limit_redis_close(ngx_http_rate_limit_redis_t *rd)
{
    ngx_queue_t                 *q;
    ngx_http_rate_limit_call_t  *call;

    if (rd->connection) {
        ngx_close_connection(rd->connection);
        rd->connection = NULL;
    }

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    while (!ngx_queue_empty(&rd->waiting)) {
        q = ngx_queue_head(&rd->waiting);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);

        if (call->timer.timer_set) {
            ngx_del_timer(&call->timer);
        }

        ngx_free(call);
    }
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


static void
ngx_http_rate_limit_redis_connect(ngx_http_rate_limit_redis_t *rd)
{
    ngx_int_t                rc;
    ngx_connection_t        *c;
    ngx_peer_connection_t   *pc;

    pc = &rd->peer;
    ngx_memzero(pc, sizeof(ngx_peer_connection_t));

    pc->sockaddr = rd->addr.sockaddr;
    pc->socklen = rd->addr.socklen;
    pc->name = &rd->name;
    pc->get = ngx_event_get_peer;
    pc->log = ngx_cycle->log;
    pc->log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (pc->connection) {
            ngx_close_connection(pc->connection);
        }

        ngx_http_rate_limit_redis_fail(rd, "cannot connect");
        return;
    }

    c = pc->connection;
    c->data = rd;
    c->read->handler = ngx_http_rate_limit_redis_read;
    c->write->handler = ngx_http_rate_limit_redis_write;
    c->log = ngx_cycle->log;
    c->read->log = c->log;
    c->write->log = c->log;

    if (rd->out == NULL) {
        rd->out = ngx_create_temp_buf(ngx_cycle->pool,
                                      NGX_HTTP_RATE_LIMIT_REDIS_BUF);
        rd->in = ngx_create_temp_buf(ngx_cycle->pool,
                                     NGX_HTTP_RATE_LIMIT_REDIS_BUF);

        if (rd->out == NULL || rd->in == NULL) {
            ngx_close_connection(c);
            ngx_http_rate_limit_redis_fail(rd, "no memory");
            return;
        }
    }

    rd->out->pos = rd->out->start;
    rd->out->last = rd->out->start;
    rd->in->pos = rd->in->start;
    rd->in->last = rd->in->start;

    rd->connection = c;
}


/*
 * EVALSHA sha n key ... arg ..., or EVAL with the script itself after a
 * NOSCRIPT; the keys and arguments are those of
 * ngx_http_rate_limit_redis_call_create().
 */

static ngx_int_t
ngx_http_rate_limit_redis_send(ngx_http_rate_limit_redis_t *rd,
    ngx_http_rate_limit_call_t *call)
{
    u_char      num[NGX_INT_T_LEN], *n;
    size_t      len;
    ngx_buf_t  *b;

    b = rd->out;

    len = sizeof("*18446744073709551616\r\n$7\r\nEVALSHA\r\n") - 1
          + sizeof("$18446744073709551616\r\n\r\n") - 1
          + ngx_max(40, ngx_http_rate_limit_redis_script.len)
          + sizeof("$20\r\n18446744073709551616\r\n") - 1
          + call->args.len;

    if ((size_t) (b->end - b->last) < len) {
        if (b->pos > b->start) {
            b->last = ngx_movemem(b->start, b->pos, b->last - b->pos);
            b->pos = b->start;
        }

        if ((size_t) (b->end - b->last) < len) {
            return NGX_ERROR;
        }
    }

    if (call->eval) {
        b->last = ngx_sprintf(b->last, "*%ui\r\n$4\r\nEVAL\r\n$%uz\r\n%V\r\n",
                              3 + 5 * call->n,
                              ngx_http_rate_limit_redis_script.len,
                              &ngx_http_rate_limit_redis_script);

    } else {
        b->last = ngx_sprintf(b->last, "*%ui\r\n$7\r\nEVALSHA\r\n$40\r\n",
                              3 + 5 * call->n);
        b->last = ngx_cpymem(b->last, rd->sha1, 40);
        *b->last++ = CR;
        *b->last++ = LF;
    }

    n = ngx_sprintf(num, "%ui", call->n);
    b->last = ngx_sprintf(b->last, "$%uz\r\n", (size_t) (n - num));
    b->last = ngx_cpymem(b->last, num, n - num);
    *b->last++ = CR;
    *b->last++ = LF;
    b->last = ngx_cpymem(b->last, call->args.data, call->args.len);

    return NGX_OK;
}


static void
ngx_http_rate_limit_redis_write(ngx_event_t *wev)
{
    ssize_t                       n;
    ngx_connection_t             *c;
    ngx_http_rate_limit_redis_t  *rd;

    c = wev->data;
    rd = c->data;

    while (rd->out->pos < rd->out->last) {
        n = c->send(c, rd->out->pos, rd->out->last - rd->out->pos);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            ngx_http_rate_limit_redis_fail(rd, "cannot send");
            return;
        }

        rd->out->pos += n;
    }

    if (rd->out->pos == rd->out->last) {
        rd->out->pos = rd->out->start;
        rd->out->last = rd->out->start;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_rate_limit_redis_fail(rd, "cannot send");
    }
}


static void
ngx_http_rate_limit_redis_read(ngx_event_t *rev)
{
    ssize_t                       n;
    ngx_buf_t                    *b;
    ngx_connection_t             *c;
    ngx_http_rate_limit_redis_t  *rd;

    c = rev->data;
    rd = c->data;
    b = rd->in;

    for ( ;; ) {
        if (b->last == b->end) {
            if (b->pos == b->start) {
                ngx_http_rate_limit_redis_fail(rd, "reply too long");
                return;
            }

            b->last = ngx_movemem(b->start, b->pos, b->last - b->pos);
            b->pos = b->start;
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_rate_limit_redis_fail(rd, n ? "cannot read"
                                                 : "connection closed");
            return;
        }

        b->last += n;

        if (ngx_http_rate_limit_redis_parse(rd) != NGX_OK) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_rate_limit_redis_fail(rd, "cannot read");
    }
}


/* the complete replies read so far go to their calls, in order */

static ngx_int_t
ngx_http_rate_limit_redis_parse(ngx_http_rate_limit_redis_t *rd)
{
    u_char                      *end;
    ngx_int_t                    rc;
    ngx_queue_t                 *q;
    ngx_http_rate_limit_call_t  *call;

    while (rd->in->pos < rd->in->last) {

        if (ngx_queue_empty(&rd->waiting)) {
            ngx_http_rate_limit_redis_fail(rd, "a reply nobody asked for");
            return NGX_ERROR;
        }

        q = ngx_queue_head(&rd->waiting);
        call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);

        rc = ngx_http_rate_limit_redis_reply(rd, call, rd->in->pos,
                                             rd->in->last, &end);

        if (rc == NGX_AGAIN) {
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            ngx_http_rate_limit_redis_fail(rd, "an invalid reply");
            return NGX_ERROR;
        }

        rd->in->pos = end;
        ngx_queue_remove(q);

        if (rc == NGX_DECLINED) {

            /* NOSCRIPT: once more, with the script itself */

            call->eval = 1;

            if (ngx_http_rate_limit_redis_send(rd, call) != NGX_OK) {
                ngx_http_rate_limit_redis_done(call, NGX_ERROR);
                continue;
            }

            ngx_queue_insert_tail(&rd->waiting, &call->queue);
            ngx_http_rate_limit_redis_write(rd->connection->write);

            if (rd->connection == NULL) {
                return NGX_ERROR;
            }

            continue;
        }

        if (rd->down) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "rate_limit: redis \"%V\" answers again",
                          &rd->name);
            rd->down = 0;
        }

        ngx_http_rate_limit_redis_done(call, rc);
    }

    rd->in->pos = rd->in->start;
    rd->in->last = rd->in->start;

    return NGX_OK;
}


/*
 * One reply: an array of 3 integers for each key of the call (NGX_OK), a
 * NOSCRIPT error (NGX_DECLINED), another error (NGX_OK with call->failed:
 * the call fails, the connection stays), incomplete (NGX_AGAIN), or
 * garbage (NGX_ERROR).
 */

static ngx_int_t
ngx_http_rate_limit_redis_reply(ngx_http_rate_limit_redis_t *rd,
    ngx_http_rate_limit_call_t *call, u_char *p, u_char *last, u_char **end)
{
    u_char     *eol, *c;
    int64_t     v;
    ngx_int_t   n, i, sign;

    /* a first line of 1024 bytes at most, however the reads split it */

    eol = ngx_strlchr(p, ngx_min(last, p + 1025), LF);
    if (eol == NULL) {
        return (last - p > 1024) ? NGX_ERROR : NGX_AGAIN;
    }

    if (eol == p || eol[-1] != CR) {
        return NGX_ERROR;
    }

    if (*p == '-') {

        /* its text goes to the log: control characters make it garbage */

        for (c = p + 1; c < eol - 1; c++) {
            if (*c < 0x20 || *c == 0x7f) {
                return NGX_ERROR;
            }
        }

        *end = eol + 1;

        if (eol - p > 9 && ngx_strncmp(p + 1, "NOSCRIPT", 8) == 0
            && !call->eval)
        {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" answered \"%*s\"",
                      &rd->name, eol - p - 2, p + 1);
        call->failed = 1;
        return NGX_OK;
    }

    if (*p != '*') {
        return NGX_ERROR;
    }

    n = ngx_atoi(p + 1, eol - p - 2);

    if (n != (ngx_int_t) (3 * call->n)) {
        return NGX_ERROR;
    }

    p = eol + 1;

    for (i = 0; i < n; i++) {
        eol = ngx_strlchr(p, last, LF);
        if (eol == NULL) {
            return NGX_AGAIN;
        }

        if (*p != ':' || eol - p < 3 || eol[-1] != CR) {
            return NGX_ERROR;
        }

        p++;
        sign = 1;

        if (*p == '-') {
            sign = -1;
            p++;
        }

        if (p == eol - 1) {
            return NGX_ERROR;
        }

        v = 0;

        for ( /* void */ ; p < eol - 1; p++) {
            if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10) {
                return NGX_ERROR;
            }

            v = v * 10 + (*p - '0');
        }

        call->reply[i] = sign * v;
        p = eol + 1;
    }

    *end = p;

    return NGX_OK;
}


static void
ngx_http_rate_limit_redis_timeout(ngx_event_t *ev)
{
    ngx_http_rate_limit_call_t  *call;

    call = ev->data;

    /*
     * a Redis that does not answer in time is as good as down: the call
     * and every other one waiting fail, and the connection is made again
     */

    ngx_http_rate_limit_redis_fail(call->redis, "timed out");
}


/*
 * The connection is dropped, every waiting call fails, and a new one is
 * tried after a backoff.  One line for each outage, not each request.
 */

static void
ngx_http_rate_limit_redis_fail(ngx_http_rate_limit_redis_t *rd,
    const char *why)
{
    ngx_queue_t                 *q;
    ngx_http_rate_limit_call_t  *call;

    if (!rd->down) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" %s; retrying with backoff",
                      &rd->name, why);
        rd->down = 1;
        rd->backoff = NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MIN;

    } else {
        rd->backoff = ngx_min(rd->backoff * 2,
                              NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MAX);
    }

    if (rd->connection) {
        ngx_close_connection(rd->connection);
        rd->connection = NULL;
    }

    /* until the backoff is over, new calls are declined at once */

    if (!rd->retry.timer_set) {
        rd->retry.handler = ngx_http_rate_limit_redis_retry;
        rd->retry.data = rd;
        rd->retry.log = ngx_cycle->log;
        rd->retry.cancelable = 1;
        ngx_add_timer(&rd->retry, rd->backoff);
    }

    while (!ngx_queue_empty(&rd->waiting)) {
        q = ngx_queue_head(&rd->waiting);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);
        ngx_http_rate_limit_redis_done(call, NGX_ERROR);
    }
}


/* after the backoff, the next call connects again */

static void
ngx_http_rate_limit_redis_retry(ngx_event_t *ev)
{
    /* void */
}


/*
 * A call is over, answered or failed.  Its handler may finalize the
 * request: it runs from an event of its own, so that whoever got here (the
 * request's own phase handler, the write or the read for other calls, a
 * timer) finds the request, the call and the connection as they were.
 */

static void
ngx_http_rate_limit_redis_done(ngx_http_rate_limit_call_t *call,
    ngx_int_t rc)
{
    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (rc != NGX_OK) {
        call->failed = 1;
    }

    call->done.handler = ngx_http_rate_limit_redis_finish;
    call->done.data = call;
    call->done.log = ngx_cycle->log;
    ngx_post_event(&call->done, &ngx_posted_events);
}


static void
ngx_http_rate_limit_redis_finish(ngx_event_t *ev)
{
    ngx_http_rate_limit_call_t  *call;

    call = ev->data;

    if (call->data) {
        call->handler(call, call->failed ? NGX_ERROR : NGX_OK);
    }

    ngx_free(call);
}

