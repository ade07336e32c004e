
/*
 * Upstreams from etcd: what the module's files share.
 */


#ifndef _NGX_HTTP_UPSTREAM_DISCOVERY_H_INCLUDED_
#define _NGX_HTTP_UPSTREAM_DISCOVERY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_hidden.h"


/* peers ever listed at once, removed ones included: round robin's bitmap */
#define NGX_HTTP_UPSTREAM_DISCOVERY_MAX_PEERS  512

#define NGX_HTTP_UPSTREAM_DISCOVERY_MAX_WEIGHT  1000


/*
 * A peer as round robin sees it, first, and what the module keeps about
 * it.  A removed peer stays in the list, down, while requests may still
 * use it; its place is taken by a new instance a minute later.
 */
typedef struct {
    ngx_http_upstream_rr_peer_t        peer;
    time_t                             removed;     /* 0: listed */
    unsigned                           from_conf:1; /* a server line */
} ngx_http_upstream_discovery_peer_t;


typedef struct {
    ngx_http_upstream_rr_peers_t       peers;
    ngx_str_t                          name;        /* the upstream's */
    uint64_t                           next_poll;   /* ms since the epoch */
    uint64_t                           digest;      /* of the keys listed */
    uint32_t                           prefix;      /* its CRC32 */
    ngx_msec_t                         backoff;
    ngx_uint_t                         failing;     /* told in the log */
    ngx_uint_t                         answered;    /* etcd ever did */
    ngx_uint_t                         empty;       /* told in the log */
} ngx_http_upstream_discovery_shctx_t;


/* one instance as etcd lists it */
typedef struct {
    ngx_addr_t                         addr;
    ngx_uint_t                         weight;
} ngx_http_upstream_discovery_instance_t;


typedef struct ngx_http_upstream_discovery_conf_s
    ngx_http_upstream_discovery_conf_t;

/*
 * The end of a poll: the instances listed, or instances NULL with the
 * error that failed it, or with none when nothing changed.
 */
typedef void (*ngx_http_upstream_discovery_handler_pt)(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_array_t *instances,
    const char *error);


struct ngx_http_upstream_discovery_conf_s {
    ngx_http_upstream_srv_conf_t          *upstream;
    ngx_addr_t                             etcd;
    ngx_str_t                              prefix;
    ngx_str_t                              request;     /* to etcd, whole */
    ngx_http_upstream_discovery_handler_pt answered;    /* a poll's end */
    ngx_msec_t                             interval;
    ngx_shm_zone_t                        *shm_zone;
    ngx_http_upstream_discovery_shctx_t   *sh;
    ngx_slab_pool_t                       *shpool;
    ngx_http_upstream_rr_peers_t          *conf_peers; /* server lines */

    /* the worker's poll */
    ngx_event_t                            timer;
    ngx_peer_connection_t                  pc;
    ngx_buf_t                             *buf;
    ngx_pool_t                            *pool;
    uint64_t                               digest;      /* of the answer */
    unsigned                               busy:1;
};


/*
 * The etcd client, ngx_http_upstream_discovery_etcd.c, which calls nothing
 * in the module's other file: another store would be a sibling file with
 * the same three functions.  The directive sets etcd, prefix and answered.
 */

NGX_GW_HIDDEN_BEGIN

/* the range request every poll sends, made once, in the configuration */
ngx_int_t ngx_http_upstream_discovery_etcd_request(ngx_pool_t *pool,
    ngx_http_upstream_discovery_conf_t *dcf);

/*
 * starts a poll, which ends with a call of dcf->answered(), from the event
 * loop or at once if the connection cannot be made
 */
void ngx_http_upstream_discovery_etcd_poll(
    ngx_http_upstream_discovery_conf_t *dcf);

/* the worker exits: a poll in flight goes, its end untold */
void ngx_http_upstream_discovery_etcd_close(
    ngx_http_upstream_discovery_conf_t *dcf);

NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_UPSTREAM_DISCOVERY_H_INCLUDED_ */
