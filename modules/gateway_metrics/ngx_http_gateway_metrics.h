
/*
 * Prometheus metrics: what the module's files share.
 */


#ifndef _NGX_HTTP_GATEWAY_METRICS_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_hidden.h"


#define NGX_HTTP_GATEWAY_METRICS_BUCKETS  32

/* the longest key a series can have: its family and label values */
#define NGX_HTTP_GATEWAY_METRICS_MAX_KEY      512


/* what a series counts; its key holds the label values in this order */
typedef enum {
    NGX_HTTP_GATEWAY_METRICS_ROUTE = 0,        /* route */
    NGX_HTTP_GATEWAY_METRICS_JWT,              /* route, status */
    NGX_HTTP_GATEWAY_METRICS_JWT_STALE,        /* route */
    NGX_HTTP_GATEWAY_METRICS_JWT_KEY_WAITS,    /* route */
    NGX_HTTP_GATEWAY_METRICS_RATE_LIMIT,       /* zone, status */
    NGX_HTTP_GATEWAY_METRICS_EVICTIONS,        /* zone */
    NGX_HTTP_GATEWAY_METRICS_REDIS_FAILURES,   /* zone */
    NGX_HTTP_GATEWAY_METRICS_PARTS,            /* route, part, outcome */
    NGX_HTTP_GATEWAY_METRICS_INTROSPECT,       /* route, status */
    NGX_HTTP_GATEWAY_METRICS_FAMILIES
} ngx_http_gateway_metrics_family_e;


/* GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, the others */
#define NGX_HTTP_GATEWAY_METRICS_METHODS   8

/* 1xx to 5xx, and no status or a status beyond 599 */
#define NGX_HTTP_GATEWAY_METRICS_CLASSES   6


/*
 * The counters of a route series, in its values: requests by method and
 * status class, bytes in and out, then two histograms (request time and
 * upstream response time), each as one counter per bucket, one for the
 * requests beyond the last bound, and the sum of milliseconds.
 */
#define NGX_HTTP_GATEWAY_METRICS_REQUESTS  0
#define NGX_HTTP_GATEWAY_METRICS_RECEIVED                                    \
    (NGX_HTTP_GATEWAY_METRICS_METHODS * NGX_HTTP_GATEWAY_METRICS_CLASSES)
#define NGX_HTTP_GATEWAY_METRICS_SENT                                        \
    (NGX_HTTP_GATEWAY_METRICS_RECEIVED + 1)
#define NGX_HTTP_GATEWAY_METRICS_DURATION                                    \
    (NGX_HTTP_GATEWAY_METRICS_SENT + 1)

/* the counters of a histogram: nbuckets + 1 buckets, and the sum */
#define ngx_http_gateway_metrics_histogram_size(nbuckets)  ((nbuckets) + 2)

#define ngx_http_gateway_metrics_upstream(nbuckets)                          \
    (NGX_HTTP_GATEWAY_METRICS_DURATION                                       \
     + ngx_http_gateway_metrics_histogram_size(nbuckets))

#define ngx_http_gateway_metrics_route_size(nbuckets)                        \
    (ngx_http_gateway_metrics_upstream(nbuckets)                             \
     + ngx_http_gateway_metrics_histogram_size(nbuckets))


typedef struct ngx_http_gateway_metrics_series_s
    ngx_http_gateway_metrics_series_t;

/*
 * Series are never freed, and a series is complete before it is linked
 * in: readers walk the lists without the zone's lock.
 */
struct ngx_http_gateway_metrics_series_s {
    ngx_http_gateway_metrics_series_t * volatile   next;      /* same slot */
    ngx_http_gateway_metrics_series_t * volatile   sibling;   /* family's */
    uint32_t                                       hash;
    u_short                                        family;
    u_short                                        len;       /* of key */
    u_char                                        *key;
    ngx_atomic_t                                   values[1];
};


/* histogram bounds in milliseconds, increasing */
typedef struct {
    ngx_uint_t                      nbuckets;
    ngx_msec_t                      bounds[NGX_HTTP_GATEWAY_METRICS_BUCKETS];
} ngx_http_gateway_metrics_buckets_t;


typedef ngx_http_gateway_metrics_series_t * volatile
    ngx_http_gateway_metrics_link_t;


typedef struct {
    ngx_http_gateway_metrics_buckets_t buckets;
    ngx_atomic_t                       dropped;    /* updates without room */
    ngx_uint_t                         full;       /* told in the log */
    ngx_uint_t                         mask;       /* of the table */
    ngx_http_gateway_metrics_link_t   *table;
    ngx_http_gateway_metrics_link_t    first[NGX_HTTP_GATEWAY_METRICS_FAMILIES];
    ngx_http_gateway_metrics_series_t *last[NGX_HTTP_GATEWAY_METRICS_FAMILIES];
} ngx_http_gateway_metrics_shctx_t;


/* a counter another module keeps, read when metrics are scraped */
typedef struct {
    ngx_str_t                           label;
    ngx_atomic_uint_t                   value;
} ngx_http_gateway_metrics_sample_t;


typedef struct {
    ngx_http_gateway_metrics_shctx_t   *sh;
    ngx_slab_pool_t                    *shpool;
    ngx_http_gateway_metrics_buckets_t  buckets;
    ngx_shm_zone_t                     *shm_zone;
} ngx_http_gateway_metrics_zone_t;


NGX_GW_HIDDEN_BEGIN

ngx_int_t ngx_http_gateway_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
/* NULL: the zone is full, or the key too long; counted as dropped */
ngx_http_gateway_metrics_series_t *ngx_http_gateway_metrics_series(
    ngx_http_gateway_metrics_zone_t *zone, ngx_uint_t family,
    ngx_str_t *labels, ngx_uint_t n);
ngx_int_t ngx_http_gateway_metrics_output(ngx_http_request_t *r,
    ngx_http_gateway_metrics_zone_t *zone,
    ngx_http_gateway_metrics_sample_t *key_fetches, ngx_uint_t n,
    ngx_chain_t **out);

NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_GATEWAY_METRICS_H_INCLUDED_ */
