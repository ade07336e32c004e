
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

/* etcd's revisions are int64 */
#define NGX_HTTP_UPSTREAM_DISCOVERY_MAX_REVISION  0x7fffffffffffffffULL


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
    uint64_t                           digest;      /* of the keys listed */
    uint32_t                           prefix;      /* its CRC32 */
    ngx_msec_t                         backoff;
    ngx_uint_t                         member;      /* the one asked last */
    ngx_uint_t                         failing;     /* told in the log */
    ngx_uint_t                         answered;    /* etcd ever did */
    ngx_uint_t                         empty;       /* told in the log */
} ngx_http_upstream_discovery_shctx_t;


/* one instance as etcd lists it */
typedef struct {
    ngx_addr_t                         addr;
    ngx_uint_t                         weight;
} ngx_http_upstream_discovery_instance_t;


/* a member of the etcd cluster, from etcd= */
typedef struct {
    ngx_addr_t                         addr;        /* name: "host:port" */
    ngx_str_t                          host;        /* checked in its cert */
} ngx_http_upstream_discovery_member_t;


/* a key under the prefix as the worker last heard of it */
typedef struct {
    ngx_str_t                               key;
    uint64_t                                mod_revision;
    ngx_http_upstream_discovery_instance_t  instance;
    ngx_uint_t                              valid;
} ngx_http_upstream_discovery_key_t;


/* every key under the prefix at a revision, sorted as etcd sorts them */
typedef struct {
    ngx_pool_t                        *pool;       /* holds all of it */
    ngx_array_t                        keys;       /* of key_t */
    uint64_t                           revision;
} ngx_http_upstream_discovery_keys_t;


typedef struct ngx_http_upstream_discovery_conf_s
    ngx_http_upstream_discovery_conf_t;


/* one request to an etcd member and its answer, over HTTP/1.0 */
typedef struct {
    ngx_http_upstream_discovery_conf_t    *dcf;
    ngx_peer_connection_t                  pc;
    ngx_pool_t                            *pool;
    ngx_str_t                              request;
    size_t                                 sent;
    ngx_buf_t                             *buf;
    u_char                                *line;       /* watch: next one */
    ngx_uint_t                             kind;
    ngx_event_t                            refused;     /* at connect() */
    unsigned                               streaming:1; /* past its head */
} ngx_http_upstream_discovery_call_t;


/*
 * What etcd said: the instances listed (after a range or a change seen
 * by the watch), or instances NULL with the error that failed a request
 * to a member, or with none when nothing changed.
 */
typedef void (*ngx_http_upstream_discovery_handler_pt)(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_array_t *instances,
    const char *error);


struct ngx_http_upstream_discovery_conf_s {
    ngx_http_upstream_srv_conf_t          *upstream;
    ngx_array_t                            members;     /* of member_t */
    ngx_str_t                              prefix;
    ngx_str_t                              key;         /* base64 */
    ngx_str_t                              range_end;   /* base64 */
    ngx_str_t                              user;
    ngx_str_t                              password;
    ngx_str_t                              auth;        /* its JSON body */
    ngx_http_upstream_discovery_handler_pt answered;
    ngx_msec_t                             interval;
    ngx_shm_zone_t                        *shm_zone;
    ngx_http_upstream_discovery_shctx_t   *sh;
    ngx_slab_pool_t                       *shpool;
    ngx_http_upstream_rr_peers_t          *conf_peers; /* server lines */

#if (NGX_HTTP_SSL)
    ngx_ssl_t                             *ssl;         /* https members */
    ngx_str_t                              ssl_name;
    ngx_str_t                              ssl_certificate;
    ngx_str_t                              ssl_certificate_key;
    ngx_str_t                              ssl_trusted_certificate;
    ngx_flag_t                             ssl_verify;
    ngx_ssl_session_t                     *ssl_session; /* the member's */
#endif

    /* worker 0's client */
    ngx_event_t                            timer;
    ngx_http_upstream_discovery_call_t     unary;       /* auth, range */
    ngx_http_upstream_discovery_call_t     stream;      /* the watch */
    ngx_http_upstream_discovery_keys_t    *keys;
    ngx_str_t                              token;       /* ngx_alloc()ed */
    ngx_uint_t                             member;      /* asked now */
    ngx_str_t                             *failed;      /* the last one */
    ngx_uint_t                             tried;       /* failed in a row */
    uint64_t                               digest;      /* of keys */
    ngx_msec_t                             created;     /* the watch */
    unsigned                               busy:1;      /* a sync */
    unsigned                               watching:1;
    unsigned                               fresh_token:1;
    unsigned                               compacted:1; /* and synced */
};


/*
 * The etcd client, ngx_http_upstream_discovery_etcd.c, which calls nothing
 * in the module's other file: another store would be a sibling file with
 * the same functions.  The directive sets the members, prefix, user and
 * password, the TLS parameters, and answered.
 */

NGX_GW_HIDDEN_BEGIN

/* the parts of every request that the configuration fixes */
ngx_int_t ngx_http_upstream_discovery_etcd_init(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf);

/*
 * Reads every key under the prefix, after authenticating if need be: ends
 * with a call of dcf->answered(), from the event loop or at once if the
 * connection cannot be made.  A failure moves dcf->member to the next
 * member and closes the watch.
 */
void ngx_http_upstream_discovery_etcd_sync(
    ngx_http_upstream_discovery_conf_t *dcf);

/*
 * Watches the prefix from the revision the last sync read: each change is
 * told to dcf->answered() as the instances it leaves, and so is the end
 * of the watch when it fails; a compacted revision or a token that
 * expired syncs again by itself.
 */
void ngx_http_upstream_discovery_etcd_watch(
    ngx_http_upstream_discovery_conf_t *dcf);

/* the worker exits: requests in flight and the watch go, untold */
void ngx_http_upstream_discovery_etcd_close(
    ngx_http_upstream_discovery_conf_t *dcf);


/*
 * The keys, ngx_http_upstream_discovery_keys.c: what etcd lists, as the
 * instances they hold.
 */

/* the "kvs" of a range answer (NULL: none), at the answer's revision */
ngx_int_t ngx_http_upstream_discovery_keys_range(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *kvs,
    uint64_t revision, ngx_http_upstream_discovery_keys_t **keys,
    const char **error);

/* the "events" of a watch answer, applied to dcf->keys, into *keys */
ngx_int_t ngx_http_upstream_discovery_keys_events(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *events,
    ngx_http_upstream_discovery_keys_t **keys, const char **error);

/* the instances of the valid keys, in pool */
ngx_int_t ngx_http_upstream_discovery_keys_instances(ngx_pool_t *pool,
    ngx_http_upstream_discovery_keys_t *keys, ngx_array_t *instances);

/* of the keys and their revisions: equal for the same keys in etcd */
uint64_t ngx_http_upstream_discovery_keys_digest(
    ngx_http_upstream_discovery_keys_t *keys);

ngx_int_t ngx_http_upstream_discovery_keys_revision(ngx_str_t *text,
    uint64_t *revision);

void ngx_http_upstream_discovery_keys_free(
    ngx_http_upstream_discovery_keys_t *keys);


#if (NGX_HTTP_SSL)

/*
 * TLS to the members, ngx_http_upstream_discovery_ssl.c: the context,
 * made in the configuration, and a handshake on a connection made, which
 * ends with handler() called with NGX_OK or NGX_ERROR and *error set.
 */

char *ngx_http_upstream_discovery_ssl_init(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf);

typedef void (*ngx_http_upstream_discovery_ssl_handler_pt)(
    ngx_connection_t *c, ngx_int_t rc, const char *error);

void ngx_http_upstream_discovery_ssl_handshake(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_connection_t *c,
    ngx_http_upstream_discovery_member_t *member,
    ngx_http_upstream_discovery_ssl_handler_pt handler);

/* a connection's TLS goes, without waiting for the peer */
void ngx_http_upstream_discovery_ssl_close(ngx_connection_t *c);

/* the member's session is of no more use */
void ngx_http_upstream_discovery_ssl_forget(
    ngx_http_upstream_discovery_conf_t *dcf);

#endif

NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_UPSTREAM_DISCOVERY_H_INCLUDED_ */
