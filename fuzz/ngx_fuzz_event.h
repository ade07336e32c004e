
/*
 * A peer and an event loop for the targets whose code talks to a server
 * (Redis, etcd) through nginx's connections: ngx_event_connect_peer()
 * connects to the peer set last, whose answer arrives in pieces, one read
 * event each; timers are kept in a list the target can check and expire.
 */


#ifndef _NGX_FUZZ_EVENT_H_INCLUDED_
#define _NGX_FUZZ_EVENT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>


typedef struct {
    /* the server's answer, and how it arrives */
    u_char                 *data;
    size_t                  len;
    uint32_t                seed;       /* 0: all of it in one read */
    unsigned                close:1;    /* then the server closes */
    unsigned                once:1;     /* then it refuses connections */

    /* what happened */
    size_t                  pos;        /* of the answer, read */
    size_t                  piece;      /* end of this read event's piece */
    u_char                 *out;        /* what the client sent: free() */
    size_t                  sent;
    u_char                 *poison;     /* past the bytes read, poisoned */
    u_char                 *poison_end;
    ngx_uint_t              connects;
    ngx_connection_t       *connection; /* open, or NULL */
    int                     fds[2];     /* its socket, and the other end */
} ngx_fuzz_peer_t;


/* the next ngx_event_connect_peer() connects to it, NULL: refused */
void ngx_fuzz_peer_set(ngx_fuzz_peer_t *peer);

/*
 * The event loop: the connection is writable, then each piece of the
 * answer is a read event, and the close is one more, until the connection
 * is closed or the answer is all read.
 */
void ngx_fuzz_peer_run(ngx_fuzz_peer_t *peer);

/* timers set now; each is read, so one left on freed memory fails */
ngx_uint_t ngx_fuzz_timers(void);

/* the earliest timer set fires, as ngx_event_expire_timers() does it */
ngx_uint_t ngx_fuzz_timer_expire(void);

/*
 * The events posted by the handlers, run after each event of the loop and
 * each timer, as nginx runs them once its events are processed.
 */
void ngx_fuzz_posted_run(void);


#endif /* _NGX_FUZZ_EVENT_H_INCLUDED_ */
