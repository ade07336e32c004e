
/*
 * Token-bucket rate limiting: what the module's files share.
 *
 * The files call one another in one direction only: the module's
 * directives and phase handler, then the Redis deployments of redis=
 * (redis_conf.c: one server, Sentinel's primary in sentinel.c, a
 * Cluster's slots in cluster.c), then their connections (redis.c), which
 * read RESP (resp.c) and speak TLS (redis_ssl.c).  What goes back up, a
 * failure, a Cluster's redirect, goes through the handler the owner of a
 * connection sets.
 */


#ifndef _NGX_HTTP_RATE_LIMIT_H_INCLUDED_
#define _NGX_HTTP_RATE_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>
#include <ngx_event_connect.h>
#include "ngx_gw_hidden.h"


/* each zone is locked for the decision; a few per location is plenty */
#define NGX_HTTP_RATE_LIMIT_MAX_LIMITS     8

/*
 * After a failure, an outage's backoff (ms), doubling: of a connection, of
 * asking the sentinels, of asking for a slot map
 */
#define NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_RATE_LIMIT_REDIS_BACKOFF_MAX  5000

/* Redis Cluster's key slots */
#define NGX_HTTP_RATE_LIMIT_CLUSTER_SLOTS  16384


/* a bucket: GCRA keeps one theoretical arrival time (TAT) per key */
typedef struct {
    u_char                          color;
    u_char                          dummy;
    u_short                         len;
    ngx_queue_t                     queue;
    uint64_t                        tat;        /* us */
    uint64_t                        known;      /* Redis's TAT is later */
    u_char                          data[1];
} ngx_http_rate_limit_node_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;      /* least recently used last */
} ngx_http_rate_limit_shctx_t;


typedef struct ngx_http_rate_limit_redis_s  ngx_http_rate_limit_redis_t;
typedef struct ngx_http_rate_limit_link_s   ngx_http_rate_limit_link_t;
typedef struct ngx_http_rate_limit_call_s   ngx_http_rate_limit_call_t;

typedef void (*ngx_http_rate_limit_call_pt)(ngx_http_rate_limit_call_t *call,
    ngx_int_t rc);
typedef void (*ngx_http_rate_limit_link_pt)(ngx_http_rate_limit_link_t *link);

/*
 * A complete reply on a control connection: NGX_OK, read on; NGX_DONE, the
 * handler closed the connection; NGX_ERROR, it failed it.
 */
typedef ngx_int_t (*ngx_http_rate_limit_reply_pt)(
    ngx_http_rate_limit_link_t *link, u_char *p, u_char *last);

/* NGX_AGAIN: queued, its handler will run; NGX_DECLINED: not queued */
typedef ngx_int_t (*ngx_http_rate_limit_submit_pt)(
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_call_t *call);

typedef void (*ngx_http_rate_limit_redis_pt)(ngx_http_rate_limit_redis_t *rd);

/*
 * A Cluster's -MOVED or -ASK for a call taken off its connection: NGX_OK,
 * sent on where its slot is; NGX_ERROR, the caller fails it
 */
typedef ngx_int_t (*ngx_http_rate_limit_redirect_pt)(
    ngx_http_rate_limit_call_t *call, ngx_uint_t ask, ngx_str_t *addr);


typedef enum {
    NGX_HTTP_RATE_LIMIT_REDIS_SERVER = 0,   /* host:port, unix:, redis:// */
    NGX_HTTP_RATE_LIMIT_REDIS_SENTINEL,
    NGX_HTTP_RATE_LIMIT_REDIS_CLUSTER
} ngx_http_rate_limit_redis_mode_e;


typedef enum {
    NGX_HTTP_RATE_LIMIT_LINK_CLOSED = 0,
    NGX_HTTP_RATE_LIMIT_LINK_CONNECTING,
    NGX_HTTP_RATE_LIMIT_LINK_TLS,
    NGX_HTTP_RATE_LIMIT_LINK_SETUP,         /* AUTH, SELECT, ROLE answered */
    NGX_HTTP_RATE_LIMIT_LINK_READY
} ngx_http_rate_limit_link_state_e;


/* what a connection's setup asks, in order */
typedef enum {
    NGX_HTTP_RATE_LIMIT_SETUP_AUTH = 1,
    NGX_HTTP_RATE_LIMIT_SETUP_SELECT,
    NGX_HTTP_RATE_LIMIT_SETUP_ROLE
} ngx_http_rate_limit_setup_e;


/* a server redis= names */
typedef struct {
    ngx_addr_t                      addr;
    ngx_str_t                       host;       /* as written: TLS's name */
} ngx_http_rate_limit_server_t;


/*
 * One deployment, what a redis= value names: zones naming the same one
 * share it.  Made by the configuration; what changes at run time is each
 * worker's own.
 */
struct ngx_http_rate_limit_redis_s {
    ngx_str_t                       uri;        /* as written */
    ngx_str_t                       password_file;
    ngx_str_t                       name;       /* for logs: no password */
    ngx_uint_t                      mode;
    ngx_array_t                     servers;    /* server_t */
    ngx_str_t                       master;     /* Sentinel's name for it */
    ngx_str_t                       auth;       /* AUTH in RESP, or empty */
    ngx_str_t                       select;     /* SELECT in RESP, or empty */
    u_char                          sha1[40];   /* of the script */

#if (NGX_SSL)
    ngx_ssl_t                      *ssl;        /* NULL: plain TCP */
#endif
    ngx_flag_t                      tls;
    ngx_flag_t                      verify;

    ngx_http_rate_limit_submit_pt   submit;
    ngx_http_rate_limit_redirect_pt redirect;   /* a Cluster's */
    ngx_http_rate_limit_redis_pt    close;      /* the worker exits */

    ngx_http_rate_limit_link_t     *link;       /* one server's connection */
    void                           *data;       /* Sentinel's, Cluster's */
};


/* one connection of a worker to one server */
struct ngx_http_rate_limit_link_s {
    ngx_http_rate_limit_redis_t    *redis;
    const char                     *role;       /* "", "primary", "sentinel",
                                                   "node" */
    ngx_sockaddr_t                  sockaddr;
    socklen_t                       socklen;
    ngx_str_t                       name;       /* "address:port" */
    u_char                          name_data[NGX_SOCKADDR_STRLEN];
    ngx_str_t                       host;       /* TLS's name */
    u_char                          host_data[NGX_SOCKADDR_STRLEN];
    ngx_log_t                       log;        /* with its own action */
    ngx_peer_connection_t           peer;
    ngx_connection_t               *connection;
    ngx_buf_t                       out;
    ngx_buf_t                       in;
    size_t                          in_max;     /* 0: in stays as it is */
    ngx_queue_t                     unsent;     /* calls not written yet */
    ngx_queue_t                     waiting;    /* written, as answered */
    ngx_uint_t                      state;
    ngx_uint_t                      setup;      /* setup replies read */
    ngx_uint_t                      nsetup;
    u_char                          setups[4];

    /* a control connection: its commands after the setup, its replies */
    ngx_str_t                       commands;
    ngx_http_rate_limit_reply_pt    reply;

    ngx_http_rate_limit_link_pt     failed;     /* the owner hears of it */
    void                           *data;       /* the owner's */

    ngx_event_t                     timer;      /* setup, control replies */
    ngx_event_t                     retry;      /* no connecting until then */
    ngx_msec_t                      backoff;

#if (NGX_SSL)
    ngx_ssl_session_t              *ssl_session;
#endif

    unsigned                        down:1;     /* logged, not answered yet */
    unsigned                        control:1;
    unsigned                        sentinel:1; /* no AUTH, no SELECT */
    unsigned                        role_check:1;
};


/*
 * A request's limits whose keys are on one deployment: outlives the
 * request.  Its handler always runs from a
 * posted event of its own, never from within the function that queues it
 * or from another call's I/O.
 */
struct ngx_http_rate_limit_call_s {
    ngx_queue_t                     queue;      /* in one queue at a time */
    ngx_http_rate_limit_redis_t    *redis;
    ngx_http_rate_limit_link_t     *link;       /* written on it */
    ngx_http_rate_limit_call_pt     handler;
    void                           *data;       /* NULL: nobody waits */
    ngx_event_t                     timer;
    ngx_event_t                     done;
    ngx_uint_t                      n;          /* keys */
    ngx_uint_t                      batch;      /* calls its reply answers */
    ngx_uint_t                      batch_keys;
    ngx_uint_t                      slot;       /* a Cluster's, of its keys */
    ngx_uint_t                      redirects;
    ngx_str_t                       keys;       /* KEYS, RESP */
    ngx_str_t                       argv;       /* its limits, RESP */
    u_char                          limit_len[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    u_char                          index[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    int64_t                         reply[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    unsigned                        sent:1;
    unsigned                        eval:1;
    unsigned                        failed:1;
    unsigned                        asking:1;   /* after -ASK: alone */
    unsigned                        asked:1;    /* ASKING's +OK read */
};


typedef struct {
    ngx_http_rate_limit_shctx_t    *sh;
    ngx_slab_pool_t                *shpool;
    ngx_http_complex_value_t        key;
    uint64_t                        interval;   /* microseconds a token */
    ngx_uint_t                      burst;
    ngx_shm_zone_t                 *shm_zone;
    ngx_http_rate_limit_redis_t    *redis;      /* NULL: local only */
    ngx_str_t                       redis_key;  /* prefix, name, ":" */
} ngx_http_rate_limit_zone_t;


/* one limit as it applies to one request */
typedef struct {
    ngx_http_rate_limit_zone_t     *zone;
    ngx_str_t                       key;
    uint32_t                        hash;
    uint64_t                        interval;
    ngx_uint_t                      burst;
    ngx_uint_t                      cost;
    ngx_uint_t                      dry_run;

    /* the decision */
    ngx_uint_t                      admitted;
    uint64_t                        tat;        /* after this request */
    uint64_t                        remaining;  /* whole tokens left */
    uint64_t                        reset;      /* us until full again */
    uint64_t                        retry;      /* us until admitted */
    ngx_uint_t                      dropped_live;
    unsigned                        in_redis:1; /* Redis decided it */
    unsigned                        redis_failed:1;
} ngx_http_rate_limit_check_t;


/* a RESP value's head: ngx_http_rate_limit_resp_next() */
typedef struct {
    u_char                          type;       /* + - : $ * */
    int64_t                         n;          /* the integer, length,
                                                   count; -1: null */
    ngx_str_t                       text;       /* + - $ */
} ngx_http_rate_limit_resp_t;


NGX_GW_HIDDEN_BEGIN

/* ngx_http_rate_limit_zone.c */
ngx_int_t ngx_http_rate_limit_parse_rate(ngx_str_t *text,
    uint64_t *interval);
ngx_int_t ngx_http_rate_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
/* rejected: another limit rejected the request already, charge nothing */
void ngx_http_rate_limit_decide(ngx_http_rate_limit_check_t *checks,
    ngx_uint_t n, uint64_t now, ngx_uint_t rejected);
void ngx_http_rate_limit_values(ngx_http_rate_limit_check_t *check,
    uint64_t fill, uint64_t wait);
ngx_uint_t ngx_http_rate_limit_known(ngx_http_rate_limit_check_t *checks,
    ngx_uint_t n, uint64_t now);
void ngx_http_rate_limit_learn(ngx_http_rate_limit_check_t *check,
    uint64_t tat, uint64_t now);

/* ngx_http_rate_limit_redis_conf.c */
ngx_http_rate_limit_redis_t *ngx_http_rate_limit_redis_create(ngx_conf_t *cf,
    ngx_str_t *uri, ngx_str_t *password_file);

/* ngx_http_rate_limit_sentinel.c */
ngx_int_t ngx_http_rate_limit_sentinel_init(ngx_conf_t *cf,
    ngx_http_rate_limit_redis_t *rd);

/* ngx_http_rate_limit_cluster.c */
ngx_int_t ngx_http_rate_limit_cluster_init(ngx_conf_t *cf,
    ngx_http_rate_limit_redis_t *rd);
ngx_uint_t ngx_http_rate_limit_cluster_slot(ngx_http_rate_limit_zone_t *zone,
    ngx_str_t *key);

/* ngx_http_rate_limit_redis.c: calls */
void ngx_http_rate_limit_redis_script(ngx_http_rate_limit_redis_t *rd);
ngx_http_rate_limit_call_t *ngx_http_rate_limit_redis_call_create(
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_check_t *checks,
    u_char *index, ngx_uint_t n, ngx_uint_t slot, ngx_log_t *log);
ngx_int_t ngx_http_rate_limit_redis_call(ngx_http_rate_limit_call_t *call,
    ngx_msec_t timeout);
void ngx_http_rate_limit_redis_cancel(ngx_http_rate_limit_call_t *call);
void ngx_http_rate_limit_redis_close(ngx_http_rate_limit_redis_t *rd);
ngx_int_t ngx_http_rate_limit_redis_server_submit(
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_call_t *call);
void ngx_http_rate_limit_redis_server_close(ngx_http_rate_limit_redis_t *rd);
void ngx_http_rate_limit_call_hold(ngx_http_rate_limit_call_t *call,
    ngx_queue_t *queue);
void ngx_http_rate_limit_call_done(ngx_http_rate_limit_call_t *call,
    ngx_int_t rc);
void ngx_http_rate_limit_calls_fail(ngx_queue_t *queue);
void ngx_http_rate_limit_calls_free(ngx_queue_t *queue);

/* ngx_http_rate_limit_redis.c: connections */
ngx_http_rate_limit_link_t *ngx_http_rate_limit_link_create(
    ngx_http_rate_limit_redis_t *rd, const char *role, ngx_pool_t *pool);
void ngx_http_rate_limit_link_address(ngx_http_rate_limit_link_t *link,
    struct sockaddr *sockaddr, socklen_t socklen, ngx_str_t *host);
ngx_int_t ngx_http_rate_limit_link_send(ngx_http_rate_limit_link_t *link,
    ngx_http_rate_limit_call_t *call);
ngx_int_t ngx_http_rate_limit_link_connect(ngx_http_rate_limit_link_t *link);
void ngx_http_rate_limit_link_idle(ngx_http_rate_limit_link_t *link);
void ngx_http_rate_limit_link_fail(ngx_http_rate_limit_link_t *link,
    const char *why, ngx_str_t *text);
void ngx_http_rate_limit_link_drop(ngx_http_rate_limit_link_t *link);
void ngx_http_rate_limit_link_close(ngx_http_rate_limit_link_t *link);

/* ngx_http_rate_limit_resp.c */
ngx_int_t ngx_http_rate_limit_resp_end(u_char *p, u_char *last,
    u_char **end);
ngx_int_t ngx_http_rate_limit_resp_next(u_char **p, u_char *last,
    ngx_http_rate_limit_resp_t *v);
ngx_int_t ngx_http_rate_limit_resp_skip(u_char **p, u_char *last);
ngx_int_t ngx_http_rate_limit_resp_address(ngx_str_t *host, ngx_int_t port,
    ngx_sockaddr_t *sa, socklen_t *socklen);

/* ngx_http_rate_limit_redis_ssl.c */
#if (NGX_SSL)
ngx_int_t ngx_http_rate_limit_redis_ssl_conf(ngx_conf_t *cf, ngx_ssl_t *ssl,
    ngx_str_t *trusted, ngx_flag_t verify);
ngx_int_t ngx_http_rate_limit_link_ssl(ngx_http_rate_limit_link_t *link,
    ngx_connection_handler_pt handshaked);
ngx_int_t ngx_http_rate_limit_link_ssl_check(
    ngx_http_rate_limit_link_t *link, const char **why, ngx_str_t *reason);
void ngx_http_rate_limit_link_ssl_close(ngx_connection_t *c);
#endif

NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_RATE_LIMIT_H_INCLUDED_ */
