
/*
 * Token-bucket rate limiting: what the module's files share.
 */


#ifndef _NGX_HTTP_RATE_LIMIT_H_INCLUDED_
#define _NGX_HTTP_RATE_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_event_connect.h>
#include "ngx_gw_hidden.h"


/* a bucket: GCRA keeps one theoretical arrival time (TAT) per key */
typedef struct {
    u_char                        color;
    u_char                        dummy;
    u_short                       len;
    ngx_queue_t                   queue;
    uint64_t                      tat;          /* microseconds */
    u_char                        data[1];
} ngx_http_rate_limit_node_t;


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   queue;        /* least recently used last */
} ngx_http_rate_limit_shctx_t;


typedef struct ngx_http_rate_limit_call_s  ngx_http_rate_limit_call_t;

typedef void (*ngx_http_rate_limit_call_pt)(ngx_http_rate_limit_call_t *call,
    ngx_int_t rc);


/* one Redis server as one worker sees it */
typedef struct {
    ngx_addr_t                    addr;
    ngx_str_t                     name;
    u_char                        sha1[40];     /* of the script */
    ngx_peer_connection_t         peer;
    ngx_connection_t             *connection;
    ngx_buf_t                    *out;
    ngx_buf_t                    *in;
    ngx_queue_t                   waiting;      /* calls sent, in order */
    ngx_event_t                   retry;
    ngx_msec_t                    backoff;
    unsigned                      down:1;
} ngx_http_rate_limit_redis_t;


/*
 * A request's limits on one Redis server: outlives the request.  Its
 * handler always runs from a posted event of its own, never from within
 * ngx_http_rate_limit_redis_call() or another call's I/O.
 */
struct ngx_http_rate_limit_call_s {
    ngx_queue_t                   queue;
    ngx_http_rate_limit_redis_t  *redis;
    ngx_http_rate_limit_call_pt   handler;
    void                         *data;         /* NULL: nobody waits */
    ngx_event_t                   timer;
    ngx_event_t                   done;
    ngx_uint_t                    n;
    ngx_str_t                     args;         /* keys, arguments: RESP */
    int64_t                       reply[3 * 8]; /* admitted, fill, wait */
    unsigned                      eval:1;
    unsigned                      failed:1;
};


typedef struct {
    ngx_http_rate_limit_shctx_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_http_complex_value_t      key;
    uint64_t                      interval;     /* microseconds a token */
    ngx_uint_t                    burst;
    ngx_shm_zone_t               *shm_zone;
    ngx_http_rate_limit_redis_t  *redis;        /* NULL: local only */
    ngx_str_t                     redis_key;    /* prefix, name, ":" */
} ngx_http_rate_limit_zone_t;


/* one limit as it applies to one request */
typedef struct {
    ngx_http_rate_limit_zone_t   *zone;
    ngx_str_t                     key;
    uint32_t                      hash;
    uint64_t                      interval;
    ngx_uint_t                    burst;
    ngx_uint_t                    cost;
    ngx_uint_t                    dry_run;

    /* the decision */
    ngx_uint_t                    admitted;
    uint64_t                      tat;          /* after this request */
    uint64_t                      remaining;    /* whole tokens left */
    uint64_t                      reset;        /* us until full again */
    uint64_t                      retry;        /* us until admitted */
    ngx_uint_t                    dropped_live;
} ngx_http_rate_limit_check_t;


NGX_GW_HIDDEN_BEGIN

ngx_int_t ngx_http_rate_limit_parse_rate(ngx_str_t *text,
    uint64_t *interval);
ngx_int_t ngx_http_rate_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
/* rejected: another limit rejected the request already, charge nothing */
void ngx_http_rate_limit_decide(ngx_http_rate_limit_check_t *checks,
    ngx_uint_t n, uint64_t now, ngx_uint_t rejected);
void ngx_http_rate_limit_values(ngx_http_rate_limit_check_t *check,
    uint64_t fill, uint64_t wait);
ngx_http_rate_limit_redis_t *ngx_http_rate_limit_redis_create(ngx_conf_t *cf,
    ngx_str_t *addr);
ngx_http_rate_limit_call_t *ngx_http_rate_limit_redis_call_create(
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_check_t *checks,
    ngx_uint_t n, ngx_log_t *log);
ngx_int_t ngx_http_rate_limit_redis_call(ngx_http_rate_limit_call_t *call,
    ngx_msec_t timeout);
void ngx_http_rate_limit_redis_cancel(ngx_http_rate_limit_call_t *call);
void ngx_http_rate_limit_redis_close(ngx_http_rate_limit_redis_t *rd);


NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_RATE_LIMIT_H_INCLUDED_ */
