
/*
 * The event side of nginx for the fuzzed clients (ngx_event_connect.h,
 * ngx_event_timer.h, ngx_connection.h), written for fuzzing: one peer
 * whose answer arrives in pieces, connections freed when closed, so that
 * AddressSanitizer sees any use after the close, and timers in a list.
 *
 * What a read gives is followed, up to the end of the buffer it was given,
 * by memory poisoned for AddressSanitizer: a parser that looks past the
 * bytes read so far fails at once, even inside its own buffer.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>
#include <sanitizer/asan_interface.h>
#include "ngx_fuzz.h"
#include "ngx_fuzz_event.h"


#define NGX_FUZZ_TIMERS  256


volatile ngx_msec_t   ngx_current_msec;
static ngx_time_t     ngx_fuzz_time;
volatile ngx_time_t  *ngx_cached_time = &ngx_fuzz_time;
ngx_rbtree_t          ngx_event_timer_rbtree;
ngx_queue_t           ngx_posted_events = {
    &ngx_posted_events, &ngx_posted_events
};

static ngx_fuzz_peer_t     *ngx_fuzz_peer;
static ngx_rbtree_node_t   *ngx_fuzz_timer[NGX_FUZZ_TIMERS];
static ngx_uint_t           ngx_fuzz_ntimers;


void
ngx_fuzz_peer_set(ngx_fuzz_peer_t *peer)
{
    ngx_fuzz_peer = peer;
}


static ssize_t
ngx_fuzz_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    size_t            n;
    u_char           *from, *to;
    ngx_fuzz_peer_t  *peer;

    peer = ngx_fuzz_peer;

    ngx_fuzz_assert(peer->connection == c);
    ngx_fuzz_assert(size > 0);

    if (peer->pos == peer->piece) {
        if (peer->pos == peer->len && peer->close) {
            return 0;
        }

        c->read->ready = 0;
        return NGX_AGAIN;
    }

    n = ngx_min(size, peer->piece - peer->pos);

    /*
     * only what an earlier read poisoned is cleared: the rest of the
     * buffer stays as the module's allocation left it
     */

    from = ngx_max(buf, peer->poison);
    to = ngx_min(buf + n, peer->poison_end);

    if (from < to) {
        ASAN_UNPOISON_MEMORY_REGION(from, to - from);
    }

    ngx_memcpy(buf, peer->data + peer->pos, n);

    ASAN_POISON_MEMORY_REGION(buf + n, size - n);
    peer->poison = buf + n;
    peer->poison_end = buf + size;

    peer->pos += n;

    return n;
}


static ssize_t
ngx_fuzz_send(ngx_connection_t *c, u_char *buf, size_t size)
{
    ngx_fuzz_peer_t  *peer;

    peer = ngx_fuzz_peer;

    ngx_fuzz_assert(peer->connection == c);

    if (size == 0) {
        return 0;
    }

    peer->out = realloc(peer->out, peer->sent + size);
    ngx_fuzz_assert(peer->out != NULL);

    ngx_memcpy(peer->out + peer->sent, buf, size);
    peer->sent += size;

    return size;
}


ngx_int_t
ngx_event_connect_peer(ngx_peer_connection_t *pc)
{
    ngx_connection_t  *c;
    ngx_fuzz_peer_t   *peer;

    peer = ngx_fuzz_peer;

    if (peer == NULL || (peer->once && peer->connects)) {
        return NGX_DECLINED;
    }

    ngx_fuzz_assert(peer->connection == NULL);

    c = calloc(1, sizeof(ngx_connection_t));
    ngx_fuzz_assert(c != NULL);
    c->read = calloc(1, sizeof(ngx_event_t));
    c->write = calloc(1, sizeof(ngx_event_t));
    ngx_fuzz_assert(c->read != NULL && c->write != NULL);

    /*
     * a socket of its own, connected, for what asks the socket itself
     * (SO_ERROR once connected): its peer is the other end's only
     */

    ngx_fuzz_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, peer->fds) == 0);
    c->fd = peer->fds[0];
    c->recv = ngx_fuzz_recv;
    c->send = ngx_fuzz_send;
    c->log = pc->log;
    c->read->data = c;
    c->read->log = pc->log;
    c->write->data = c;
    c->write->write = 1;
    c->write->log = pc->log;

    peer->connection = c;
    peer->connects++;
    pc->connection = c;

    /* in progress: the connection becomes writable in the event loop */
    return NGX_AGAIN;
}


ngx_int_t
ngx_event_get_peer(ngx_peer_connection_t *pc, void *data)
{
    return NGX_OK;
}


void
ngx_close_connection(ngx_connection_t *c)
{
    ngx_fuzz_assert(ngx_fuzz_peer->connection == c);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    /* as nginx's: an event posted for the connection goes with it */

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_fuzz_peer->connection = NULL;

    close(ngx_fuzz_peer->fds[0]);
    close(ngx_fuzz_peer->fds[1]);

    free(c->read);
    free(c->write);
    free(c);
}


ngx_int_t
ngx_handle_read_event(ngx_event_t *rev, ngx_uint_t flags)
{
    return NGX_OK;
}


ngx_int_t
ngx_handle_write_event(ngx_event_t *wev, size_t lowat)
{
    return NGX_OK;
}


void
ngx_http_empty_handler(ngx_event_t *wev)
{
    /* void */
}


void
ngx_fuzz_peer_run(ngx_fuzz_peer_t *peer)
{
    size_t             pos;
    uint32_t           seed;
    ngx_uint_t         closed;
    ngx_connection_t  *c;

    c = peer->connection;

    if (c == NULL) {
        return;
    }

    c->write->ready = 1;
    c->write->handler(c->write);
    ngx_fuzz_posted_run();

    seed = peer->seed;
    closed = 0;

    while (peer->connection && !closed) {
        c = peer->connection;

        /* seed 0: all of it at once; else pieces of 1 to 64 bytes */

        if (seed == 0) {
            peer->piece = peer->len;

        } else {
            seed = seed * 1103515245 + 12345;
            peer->piece = ngx_min(peer->pos + (seed >> 16) % 64 + 1,
                                  peer->len);
        }

        if (peer->pos == peer->len) {
            if (!peer->close) {
                break;
            }

            closed = 1;
        }

        pos = peer->pos;

        c->read->ready = 1;
        c->read->handler(c->read);
        ngx_fuzz_posted_run();

        /* a read event is read to the end, or the connection is closed */

        ngx_fuzz_assert(peer->connection == NULL || peer->pos == peer->piece
                        || peer->pos > pos);
    }
}


void
ngx_rbtree_insert(ngx_rbtree_t *tree, ngx_rbtree_node_t *node)
{
    ngx_uint_t  i;

    ngx_fuzz_assert(tree == &ngx_event_timer_rbtree);

    /* in nginx, a node inserted twice breaks the tree */

    for (i = 0; i < ngx_fuzz_ntimers; i++) {
        ngx_fuzz_assert(ngx_fuzz_timer[i] != node);
    }

    ngx_fuzz_assert(ngx_fuzz_ntimers < NGX_FUZZ_TIMERS);
    ngx_fuzz_timer[ngx_fuzz_ntimers++] = node;
}


void
ngx_rbtree_delete(ngx_rbtree_t *tree, ngx_rbtree_node_t *node)
{
    ngx_uint_t  i;

    ngx_fuzz_assert(tree == &ngx_event_timer_rbtree);

    for (i = 0; i < ngx_fuzz_ntimers; i++) {
        if (ngx_fuzz_timer[i] == node) {
            ngx_memmove(&ngx_fuzz_timer[i], &ngx_fuzz_timer[i + 1],
                        (ngx_fuzz_ntimers - i - 1)
                        * sizeof(ngx_rbtree_node_t *));
            ngx_fuzz_ntimers--;
            return;
        }
    }

    ngx_fuzz_assert(0 && "a timer deleted that was not set");
}


ngx_uint_t
ngx_fuzz_timers(void)
{
    ngx_uint_t                   i;
    volatile ngx_rbtree_key_t    key;

    for (i = 0; i < ngx_fuzz_ntimers; i++) {
        key = ngx_fuzz_timer[i]->key;
        (void) key;
    }

    return ngx_fuzz_ntimers;
}


ngx_uint_t
ngx_fuzz_timer_expire(void)
{
    ngx_uint_t          i, first;
    ngx_event_t        *ev;
    ngx_rbtree_node_t  *node;

    if (ngx_fuzz_timers() == 0) {
        return 0;
    }

    first = 0;

    for (i = 1; i < ngx_fuzz_ntimers; i++) {
        if ((ngx_msec_int_t) (ngx_fuzz_timer[i]->key
                              - ngx_fuzz_timer[first]->key)
            < 0)
        {
            first = i;
        }
    }

    node = ngx_fuzz_timer[first];
    ev = ngx_rbtree_data(node, ngx_event_t, timer);

    ngx_rbtree_delete(&ngx_event_timer_rbtree, node);

    ev->timer_set = 0;
    ev->timedout = 1;
    ev->handler(ev);
    ngx_fuzz_posted_run();

    return 1;
}


/* the events posted meanwhile, as ngx_event_process_posted() runs them */

void
ngx_fuzz_posted_run(void)
{
    ngx_queue_t  *q;
    ngx_event_t  *ev;

    while (!ngx_queue_empty(&ngx_posted_events)) {
        q = ngx_queue_head(&ngx_posted_events);
        ev = ngx_queue_data(q, ngx_event_t, queue);

        ngx_delete_posted_event(ev);

        ev->handler(ev);
    }
}
