
/*
 * redis-sentinel://: the primary that Sentinel names.  Each worker asks
 * one sentinel at a time (the next one when it fails) for the primary's
 * address (SENTINEL get-master-addr-by-name) and, on the same connection,
 * listens for +switch-master.  The connection to the primary checks with
 * ROLE that it is one before a call goes on it, so that nothing is ever
 * written to a replica; a -READONLY, a ROLE other than master or a
 * dropped connection asks the sentinels again.  Sentinels are asked
 * without AUTH: the credentials are the primary's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>
#include "ngx_http_rate_limit.h"


typedef struct {
    ngx_http_rate_limit_redis_t    *redis;
    ngx_http_rate_limit_link_t     *primary;
    ngx_http_rate_limit_link_t     *control;    /* to a sentinel */
    ngx_queue_t                     pending;    /* calls until it answers */
    ngx_uint_t                      next;       /* the sentinel to ask */
    ngx_uint_t                      tries;      /* asked in vain in a row */
    ngx_uint_t                      replies;    /* on the control connection */
    ngx_event_t                     again;      /* the next sentinel */
    ngx_event_t                     retry;      /* after a backoff */
    ngx_msec_t                      backoff;
    unsigned                        known:1;    /* the primary's address */
    unsigned                        asking:1;
    unsigned                        down:1;     /* logged */
} ngx_http_rate_limit_sentinel_t;


static ngx_int_t ngx_http_rate_limit_sentinel_submit(
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_call_t *call);
static void ngx_http_rate_limit_sentinel_ask(
    ngx_http_rate_limit_sentinel_t *st);
static void ngx_http_rate_limit_sentinel_again(ngx_event_t *ev);
static void ngx_http_rate_limit_sentinel_control_failed(
    ngx_http_rate_limit_link_t *link);
static void ngx_http_rate_limit_sentinel_give_up(
    ngx_http_rate_limit_sentinel_t *st);
static void ngx_http_rate_limit_sentinel_retry(ngx_event_t *ev);
static ngx_int_t ngx_http_rate_limit_sentinel_reply(
    ngx_http_rate_limit_link_t *link, u_char *p, u_char *last);
static ngx_int_t ngx_http_rate_limit_sentinel_message(
    ngx_http_rate_limit_sentinel_t *st, ngx_str_t *text);
static void ngx_http_rate_limit_sentinel_found(
    ngx_http_rate_limit_sentinel_t *st, ngx_sockaddr_t *sa, socklen_t socklen,
    ngx_uint_t switched);
static void ngx_http_rate_limit_sentinel_primary_failed(
    ngx_http_rate_limit_link_t *link);
static void ngx_http_rate_limit_sentinel_close(ngx_http_rate_limit_redis_t *rd);


ngx_int_t
ngx_http_rate_limit_sentinel_init(ngx_conf_t *cf,
    ngx_http_rate_limit_redis_t *rd)
{
    u_char                          *p;
    ngx_http_rate_limit_link_t      *link;
    ngx_http_rate_limit_sentinel_t  *st;

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_rate_limit_sentinel_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    st->redis = rd;
    ngx_queue_init(&st->pending);

    st->primary = ngx_http_rate_limit_link_create(rd, "primary", cf->pool);
    st->control = ngx_http_rate_limit_link_create(rd, "sentinel", cf->pool);

    if (st->primary == NULL || st->control == NULL) {
        return NGX_ERROR;
    }

    st->primary->role_check = 1;
    st->primary->failed = ngx_http_rate_limit_sentinel_primary_failed;
    st->primary->data = st;

    link = st->control;
    link->control = 1;
    link->sentinel = 1;
    link->reply = ngx_http_rate_limit_sentinel_reply;
    link->failed = ngx_http_rate_limit_sentinel_control_failed;
    link->data = st;

    /* one write: the address, then the subscription */

    link->commands.len = sizeof("*3\r\n$8\r\nSENTINEL\r\n"
                                "$23\r\nget-master-addr-by-name\r\n"
                                "$\r\n\r\n"
                                "*2\r\n$9\r\nSUBSCRIBE\r\n"
                                "$14\r\n+switch-master\r\n") - 1
                         + NGX_SIZE_T_LEN + rd->master.len;

    p = ngx_pnalloc(cf->pool, link->commands.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    link->commands.data = p;

    p = ngx_sprintf(p, "*3\r\n$8\r\nSENTINEL\r\n"
                       "$23\r\nget-master-addr-by-name\r\n"
                       "$%uz\r\n%V\r\n"
                       "*2\r\n$9\r\nSUBSCRIBE\r\n"
                       "$14\r\n+switch-master\r\n",
                    rd->master.len, &rd->master);

    link->commands.len = p - link->commands.data;

    rd->data = st;
    rd->submit = ngx_http_rate_limit_sentinel_submit;
    rd->close = ngx_http_rate_limit_sentinel_close;

    return NGX_OK;
}


/*
 * A call goes to the primary once known; until a sentinel answers, it
 * waits (its timer runs); after the sentinels failed, it is declined
 * until the backoff is over
 */

static ngx_int_t
ngx_http_rate_limit_sentinel_submit(ngx_http_rate_limit_redis_t *rd,
    ngx_http_rate_limit_call_t *call)
{
    ngx_http_rate_limit_sentinel_t  *st;

    st = rd->data;

    if (st->known) {
        return ngx_http_rate_limit_link_send(st->primary, call);
    }

    if (!st->asking) {
        if (st->retry.timer_set) {
            return NGX_DECLINED;
        }

        st->tries = 0;
        ngx_http_rate_limit_sentinel_ask(st);
    }

    ngx_http_rate_limit_call_hold(call, &st->pending);

    return NGX_AGAIN;
}


/* a connection to the next sentinel: its reply comes to sentinel_reply() */

static void
ngx_http_rate_limit_sentinel_ask(ngx_http_rate_limit_sentinel_t *st)
{
    ngx_http_rate_limit_server_t  *server;

    st->asking = 1;
    st->replies = 0;

    server = st->redis->servers.elts;
    server += st->next;

    ngx_http_rate_limit_link_address(st->control, server->addr.sockaddr,
                                     server->addr.socklen, &server->host);

    /* a failure here comes to control_failed(), which asks the next one */

    (void) ngx_http_rate_limit_link_connect(st->control);
}


static void
ngx_http_rate_limit_sentinel_again(ngx_event_t *ev)
{
    ngx_http_rate_limit_sentinel_ask(ev->data);
}


/*
 * A sentinel failed (it is down, slow, does not know the primary, or its
 * subscription dropped): the next one, from an event of its own, until
 * each has been asked in vain
 */

static void
ngx_http_rate_limit_sentinel_control_failed(ngx_http_rate_limit_link_t *link)
{
    ngx_http_rate_limit_sentinel_t  *st;

    st = link->data;

    st->next = (st->next + 1) % st->redis->servers.nelts;

    if (++st->tries >= st->redis->servers.nelts) {
        ngx_http_rate_limit_sentinel_give_up(st);
        return;
    }

    st->asking = 1;
    st->again.handler = ngx_http_rate_limit_sentinel_again;
    st->again.data = st;
    st->again.log = ngx_cycle->log;
    ngx_post_event(&st->again, &ngx_posted_events);
}


/*
 * No sentinel answered: without a primary, the calls waiting fail and new
 * ones are declined until the backoff is over; with one, it is still used,
 * but a failover would go unseen until the sentinels are asked again
 */

static void
ngx_http_rate_limit_sentinel_give_up(ngx_http_rate_limit_sentinel_t *st)
{
    st->asking = 0;
    st->tries = 0;

    if (!st->down) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" %s; retrying with backoff",
                      &st->redis->name,
                      st->known ? "has no sentinel answering"
                                : "has no primary: no sentinel names it");
        st->down = 1;
        st->backoff = NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MIN;

    } else {
        st->backoff = ngx_min(st->backoff * 2,
                              NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MAX);
    }

    ngx_http_rate_limit_calls_fail(&st->pending);

    st->retry.handler = ngx_http_rate_limit_sentinel_retry;
    st->retry.data = st;
    st->retry.log = ngx_cycle->log;
    st->retry.cancelable = 1;
    ngx_add_timer(&st->retry, st->backoff);
}


/* with a primary, the sentinels are asked again to listen to them */

static void
ngx_http_rate_limit_sentinel_retry(ngx_event_t *ev)
{
    ngx_http_rate_limit_sentinel_t  *st;

    st = ev->data;

    if (st->known && !st->asking) {
        ngx_http_rate_limit_sentinel_ask(st);
    }
}


/*
 * The control connection's replies: the primary's address (or a null:
 * this sentinel does not know it), the subscription, then its messages
 */

static ngx_int_t
ngx_http_rate_limit_sentinel_reply(ngx_http_rate_limit_link_t *link,
    u_char *p, u_char *last)
{
    socklen_t                        socklen;
    ngx_sockaddr_t                   sa;
    ngx_http_rate_limit_resp_t       v, host, port, kind;
    ngx_http_rate_limit_sentinel_t  *st;

    st = link->data;

    if (ngx_http_rate_limit_resp_next(&p, last, &v) != NGX_OK) {
        return NGX_ERROR;
    }

    if (++st->replies == 1) {

        if (v.type == '-') {
            ngx_http_rate_limit_link_fail(link, "refused SENTINEL:", &v.text);
            return NGX_DONE;
        }

        if (v.type == '*' && v.n == -1) {
            ngx_http_rate_limit_link_fail(link, "does not know the primary",
                                          &st->redis->master);
            return NGX_DONE;
        }

        if (v.type != '*' || v.n != 2
            || ngx_http_rate_limit_resp_next(&p, last, &host) != NGX_OK
            || ngx_http_rate_limit_resp_next(&p, last, &port) != NGX_OK
            || host.type != '$' || port.type != '$')
        {
            return NGX_ERROR;
        }

        if (ngx_http_rate_limit_resp_address(&host.text,
                                             ngx_atoi(port.text.data,
                                                      port.text.len),
                                             &sa, &socklen)
            != NGX_OK)
        {
            ngx_http_rate_limit_link_fail(link,
                                          "names a primary that is not an "
                                          "IP address and port:", &host.text);
            return NGX_DONE;
        }

        /* it answered: no timer on the subscription */

        ngx_http_rate_limit_link_idle(link);

        st->asking = 0;
        st->tries = 0;

        if (st->retry.timer_set) {
            ngx_del_timer(&st->retry);
        }

        if (st->down) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "rate_limit: redis \"%V\" sentinel %V answers again",
                          &st->redis->name, &link->name);
            st->down = 0;
        }

        ngx_http_rate_limit_sentinel_found(st, &sa, socklen, 0);

        return NGX_OK;
    }

    /* ["subscribe", channel, count], then ["message", channel, text] */

    if (v.type != '*' || v.n != 3
        || ngx_http_rate_limit_resp_next(&p, last, &kind) != NGX_OK
        || kind.type != '$')
    {
        return NGX_ERROR;
    }

    if (st->replies == 2) {
        return (kind.text.len == 9
                && ngx_strncmp(kind.text.data, "subscribe", 9) == 0)
               ? NGX_OK : NGX_ERROR;
    }

    if (kind.text.len != 7 || ngx_strncmp(kind.text.data, "message", 7) != 0
        || ngx_http_rate_limit_resp_skip(&p, last) != NGX_OK
        || ngx_http_rate_limit_resp_next(&p, last, &v) != NGX_OK
        || v.type != '$')
    {
        return NGX_ERROR;
    }

    return ngx_http_rate_limit_sentinel_message(st, &v.text);
}


/* "+switch-master": "<master> <old ip> <old port> <new ip> <new port>" */

static ngx_int_t
ngx_http_rate_limit_sentinel_message(ngx_http_rate_limit_sentinel_t *st,
    ngx_str_t *text)
{
    u_char          *p, *last;
    socklen_t        socklen;
    ngx_str_t        word[5];
    ngx_uint_t       i;
    ngx_sockaddr_t   sa;

    p = text->data;
    last = text->data + text->len;

    for (i = 0; i < 5; i++) {
        word[i].data = p;

        while (p < last && *p != ' ') {
            p++;
        }

        word[i].len = p - word[i].data;

        if (p < last) {
            p++;
        }
    }

    if (word[0].len != st->redis->master.len
        || ngx_strncmp(word[0].data, st->redis->master.data, word[0].len)
           != 0)
    {
        /* another primary the sentinels watch */
        return NGX_OK;
    }

    if (ngx_http_rate_limit_resp_address(&word[3],
                                         ngx_atoi(word[4].data, word[4].len),
                                         &sa, &socklen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_rate_limit_sentinel_found(st, &sa, socklen, 1);

    return NGX_OK;
}


/*
 * The primary's address: if it is another one, the connection to the old
 * one is closed (its calls fail: they may have gone to a replica's lost
 * writes) and the next call connects to the new one at once; the calls
 * waiting for it go to it
 */

static void
ngx_http_rate_limit_sentinel_found(ngx_http_rate_limit_sentinel_t *st,
    ngx_sockaddr_t *sa, socklen_t socklen, ngx_uint_t switched)
{
    ngx_uint_t                   level;
    ngx_queue_t                 *q;
    ngx_http_rate_limit_link_t  *primary;
    ngx_http_rate_limit_call_t  *call;

    primary = st->primary;

    if (!st->known
        || ngx_cmp_sockaddr(&sa->sockaddr, socklen,
                            &primary->sockaddr.sockaddr, primary->socklen, 1)
           != NGX_OK)
    {
        ngx_http_rate_limit_link_drop(primary);
        ngx_http_rate_limit_link_address(primary, &sa->sockaddr, socklen,
                                         NULL);

        level = st->known ? NGX_LOG_NOTICE : NGX_LOG_INFO;

        ngx_log_error(level, ngx_cycle->log, 0,
                      "rate_limit: redis \"%V\" primary is %V%s",
                      &st->redis->name, &primary->name,
                      switched ? " (+switch-master)" : "");

        st->known = 1;
    }

    while (!ngx_queue_empty(&st->pending)) {
        q = ngx_queue_head(&st->pending);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_http_rate_limit_call_t, queue);

        if (ngx_http_rate_limit_link_send(primary, call) != NGX_AGAIN) {
            ngx_http_rate_limit_call_done(call, NGX_ERROR);
        }
    }
}


/*
 * The primary failed (its link logged it and backs off): perhaps it is
 * one no more; the sentinels are asked again
 */

static void
ngx_http_rate_limit_sentinel_primary_failed(ngx_http_rate_limit_link_t *link)
{
    ngx_http_rate_limit_sentinel_t  *st;

    st = link->data;

    if (st->asking || st->retry.timer_set) {
        return;
    }

    ngx_http_rate_limit_link_drop(st->control);

    st->tries = 0;
    ngx_http_rate_limit_sentinel_ask(st);
}


static void
ngx_http_rate_limit_sentinel_close(ngx_http_rate_limit_redis_t *rd)
{
    ngx_http_rate_limit_sentinel_t  *st;

    st = rd->data;

    ngx_http_rate_limit_link_close(st->primary);
    ngx_http_rate_limit_link_close(st->control);
    ngx_http_rate_limit_calls_free(&st->pending);

    if (st->retry.timer_set) {
        ngx_del_timer(&st->retry);
    }

    if (st->again.posted) {
        ngx_delete_posted_event(&st->again);
    }
}
