
/*
 * Token-bucket rate limiting: what the module's files share.
 */


#ifndef _NGX_HTTP_RATE_LIMIT_H_INCLUDED_
#define _NGX_HTTP_RATE_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
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


typedef struct {
    ngx_http_rate_limit_shctx_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_http_complex_value_t      key;
    uint64_t                      interval;     /* microseconds a token */
    ngx_uint_t                    burst;
    ngx_shm_zone_t               *shm_zone;
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
void ngx_http_rate_limit_decide(ngx_http_rate_limit_check_t *checks,
    ngx_uint_t n, uint64_t now);


NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_RATE_LIMIT_H_INCLUDED_ */
