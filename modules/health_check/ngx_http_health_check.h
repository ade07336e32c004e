
/*
 * Active health checks: what the module's files share.
 */


#ifndef _NGX_HTTP_HEALTH_CHECK_H_INCLUDED_
#define _NGX_HTTP_HEALTH_CHECK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_hidden.h"
#include "ngx_gw_health.h"


/* the first bytes of a body that "body" tests see, as NGINX Plus's */
#define NGX_HTTP_HEALTH_CHECK_MAX_BODY     (256 * 1024)

/* servers followed at once in one upstream, removed ones included */
#define NGX_HTTP_HEALTH_CHECK_MAX_SERVERS  512

/* "connect() failed (111: Connection refused)" and the like */
#define NGX_HTTP_HEALTH_CHECK_REASON_LEN   160


/* what a check says of a server */
#define NGX_HTTP_HEALTH_CHECK_UP           0
#define NGX_HTTP_HEALTH_CHECK_UNHEALTHY    1
#define NGX_HTTP_HEALTH_CHECK_CHECKING     2


typedef enum {
    NGX_HTTP_HEALTH_CHECK_PRESENT = 0,      /* header Name */
    NGX_HTTP_HEALTH_CHECK_ABSENT,           /* header ! Name */
    NGX_HTTP_HEALTH_CHECK_EQUAL,            /* header Name = value */
    NGX_HTTP_HEALTH_CHECK_NOT_EQUAL,        /* header Name != value */
    NGX_HTTP_HEALTH_CHECK_MATCHES,          /* header Name ~ regex */
    NGX_HTTP_HEALTH_CHECK_NOT_MATCHES       /* header Name !~ regex */
} ngx_http_health_check_op_e;


typedef struct {
    ngx_uint_t                          low;
    ngx_uint_t                          high;
} ngx_http_health_check_range_t;


typedef struct {
    ngx_str_t                           name;       /* lower case */
    ngx_uint_t                          op;
    ngx_str_t                           value;
#if (NGX_PCRE)
    ngx_regex_t                        *regex;
#endif
} ngx_http_health_check_header_t;


typedef struct {
    ngx_str_t                           name;
    ngx_array_t                         status;     /* of ranges */
    ngx_array_t                         headers;    /* of header tests */
#if (NGX_PCRE)
    ngx_regex_t                        *body;
#endif
    unsigned                            has_status:1;
    unsigned                            status_not:1;
    unsigned                            has_body:1;
    unsigned                            body_not:1;
} ngx_http_health_check_match_t;


typedef struct ngx_http_health_check_upstream_s
    ngx_http_health_check_upstream_t;


/* proxy_set_header as the check sends it */
typedef struct {
    ngx_str_t                           key;
    ngx_http_complex_value_t            value;
} ngx_http_health_check_header_set_t;


/* one health_check directive */
typedef struct {
    ngx_msec_t                          interval;
    ngx_msec_t                          jitter;
    ngx_msec_t                          keepalive_time;   /* 0: off */
    ngx_uint_t                          fails;
    ngx_uint_t                          passes;
    ngx_str_t                           uri;
    in_port_t                           port;             /* 0: the peer's */
    unsigned                            mandatory:1;
    unsigned                            persistent:1;
    unsigned                            ssl:1;
    ngx_str_t                           match_name;
    ngx_http_health_check_match_t      *match;

    /* where it was written, for errors found after parsing */
    ngx_str_t                           file;
    ngx_uint_t                          line;

    /* the location's: its proxy_pass, timeouts and headers */
    ngx_http_conf_ctx_t                 ctx;
    ngx_str_t                           url;
    ngx_str_t                           host;             /* $proxy_host */
    ngx_http_upstream_conf_t           *proxy;
    ngx_uint_t                          http_version;
    ngx_array_t                        *headers;          /* header_set_t */

    ngx_http_health_check_upstream_t   *upstream;
    ngx_uint_t                          slot;   /* among its upstream's */

    /* the worker's */
    ngx_event_t                         timer;
    ngx_queue_t                         probes;     /* in flight */
    ngx_queue_t                         idle;       /* kept connections */
} ngx_http_health_check_t;


/* what one check says of one server, in the zone */
typedef struct {
    ngx_uint_t                          state;
    ngx_uint_t                          fails;      /* in a row */
    ngx_uint_t                          passes;     /* in a row */
    ngx_msec_t                          next;       /* due then */
    ngx_msec_t                          busy;       /* probe out until */
} ngx_http_health_check_slot_t;


/*
 * A server of the upstream, in the module's zone: first what
 * gateway_metrics reads, then the module's own.  Nodes are never freed
 * while the cycle lives; a node reused for another server gets another
 * generation, so that a probe of the old one finds it changed.
 */
typedef struct {
    ngx_gw_health_server_t              pub;
    struct sockaddr                    *peer;       /* the list's, last seen */
    ngx_sockaddr_t                      sockaddr;
    socklen_t                           socklen;
    ngx_uint_t                          generation;
    ngx_uint_t                          seen;       /* sync round */
    ngx_http_health_check_slot_t        slots[1];   /* one per check */
} ngx_http_health_check_node_t;


typedef struct {
    ngx_gw_health_server_t * volatile   servers;
    ngx_atomic_t                        held_out;   /* not UP, in the list */
    ngx_uint_t                          nservers;   /* nodes */
    ngx_uint_t                          round;
    ngx_uint_t                          generation;
    ngx_uint_t                          full;       /* told in the log */
} ngx_http_health_check_shared_t;


/* a checked upstream, in each process */
struct ngx_http_health_check_upstream_s {
    ngx_gw_health_upstream_t            pub;
    ngx_http_upstream_srv_conf_t       *uscf;
    ngx_http_upstream_init_peer_pt      init;       /* the balancer's */
    ngx_array_t                         checks;     /* of pointers */
    ngx_uint_t                          mandatory;  /* any check is */
    size_t                              node_size;
    ngx_slab_pool_t                    *shpool;     /* the module's zone */
    ngx_http_health_check_shared_t     *sh;
    ngx_http_upstream_rr_peers_t       *peers;      /* the live list */
};


typedef struct {
    ngx_gw_health_table_t               table;      /* first: the zone's data */
    ngx_array_t                         checks;     /* of pointers */
    ngx_array_t                         matches;    /* of pointers */
    ngx_shm_zone_t                     *shm_zone;
    ngx_slab_pool_t                    *shpool;
    ngx_cycle_t                        *cycle;
    ngx_module_t                       *proxy;      /* nginx's, if built */
    ngx_uint_t                          ahead;      /* of it in the list */
} ngx_http_health_check_main_conf_t;


/* in upstream blocks: the upstream as checked, if it is */
typedef struct {
    ngx_http_health_check_upstream_t   *upstream;
} ngx_http_health_check_srv_conf_t;


/* in locations: what the module reads of the proxy module's directives */
typedef struct {
    ngx_str_t                           url;        /* proxy_pass */
    ngx_array_t                        *headers;    /* proxy_set_header */
    ngx_uint_t                          http_version;
} ngx_http_health_check_loc_conf_t;


extern ngx_module_t  ngx_http_health_check_module;


NGX_GW_HIDDEN_BEGIN

/* match blocks (ngx_http_health_check_match.c) */
char *ngx_http_health_check_match_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_health_check_match_t *ngx_http_health_check_match_find(
    ngx_http_health_check_main_conf_t *hmcf, ngx_str_t *name);
/* a response header against the tests: sets bit i of seen and passed */
void ngx_http_health_check_match_header(ngx_http_health_check_match_t *match,
    ngx_str_t *name, ngx_str_t *value, uint64_t *seen, uint64_t *passed);
/* NULL if the response passes, else the end of what failed, in reason */
u_char *ngx_http_health_check_match_test(ngx_http_health_check_match_t *match,
    ngx_uint_t status, uint64_t seen, uint64_t passed, ngx_str_t *body,
    u_char *reason, size_t len);

/* the zone and the balancer (ngx_http_health_check_state.c) */
ngx_int_t ngx_http_health_check_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
ngx_int_t ngx_http_health_check_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
void ngx_http_health_check_tick(ngx_event_t *ev);
void ngx_http_health_check_result(ngx_http_health_check_t *hc,
    ngx_http_health_check_node_t *node, ngx_uint_t generation,
    ngx_str_t *name, u_char *reason, size_t len);

/* one check of one server (ngx_http_health_check_probe.c) */
ngx_int_t ngx_http_health_check_probe(ngx_http_health_check_t *hc,
    ngx_http_health_check_node_t *node, ngx_uint_t generation,
    struct sockaddr *sockaddr, socklen_t socklen, ngx_str_t *name);
void ngx_http_health_check_close_all(ngx_http_health_check_t *hc);
ngx_msec_t ngx_http_health_check_duration(ngx_http_health_check_t *hc);

/* the status page (ngx_http_health_check_status.c) */
ngx_int_t ngx_http_health_check_status_handler(ngx_http_request_t *r);

NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_HEALTH_CHECK_H_INCLUDED_ */
