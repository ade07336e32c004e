
/*
 * OAuth 2.0 token introspection (RFC 7662): what the module's files share.
 */


#ifndef _NGX_HTTP_AUTH_INTROSPECT_H_INCLUDED_
#define _NGX_HTTP_AUTH_INTROSPECT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_json.h"
#include "ngx_gw_claim.h"
#include "ngx_gw_sha256.h"
#include "ngx_gw_subrequest.h"
#include "ngx_gw_hidden.h"


/* tokens are capped before they are hashed or sent anywhere */
#define NGX_HTTP_AUTH_INTROSPECT_MAX_TOKEN   16384

/* the largest answer taken from the authorization server */
#define NGX_HTTP_AUTH_INTROSPECT_MAX_ANSWER  16384

#define NGX_HTTP_AUTH_INTROSPECT_MAX_DEPTH   16

/*
 * How long another worker's introspection of a token is waited for, and
 * how often its answer is looked for in the zone meanwhile, in ms.
 */
#define NGX_HTTP_AUTH_INTROSPECT_PENDING     5000
#define NGX_HTTP_AUTH_INTROSPECT_POLL        10


/*
 * What auth_introspect decided about a client request, as
 * $introspect_status shows it; the order is that of the names in
 * ngx_http_auth_introspect_module.c.
 */
typedef enum {
    NGX_HTTP_AUTH_INTROSPECT_UNCHECKED = 0,
    NGX_HTTP_AUTH_INTROSPECT_VALID,
    NGX_HTTP_AUTH_INTROSPECT_MISSING,
    NGX_HTTP_AUTH_INTROSPECT_MALFORMED,
    NGX_HTTP_AUTH_INTROSPECT_INACTIVE,
    NGX_HTTP_AUTH_INTROSPECT_EXPIRED,
    NGX_HTTP_AUTH_INTROSPECT_NOT_YET_VALID,
    NGX_HTTP_AUTH_INTROSPECT_INVALID_ANSWER,
    NGX_HTTP_AUTH_INTROSPECT_REQUIRE_FAILED,
    NGX_HTTP_AUTH_INTROSPECT_UNAVAILABLE,
    NGX_HTTP_AUTH_INTROSPECT_ERROR
} ngx_http_auth_introspect_status_e;


/* what the authorization server said of a token; 0 in the zone: asking */
typedef enum {
    NGX_HTTP_AUTH_INTROSPECT_ACTIVE = 1,
    NGX_HTTP_AUTH_INTROSPECT_NOT_ACTIVE,
    NGX_HTTP_AUTH_INTROSPECT_NOT_AN_ANSWER  /* no answer RFC 7662 allows */
} ngx_http_auth_introspect_kind_e;


typedef struct {
    ngx_http_auth_introspect_kind_e   kind;
    ngx_gw_claim_clock_t              clock;
    ngx_str_t                         json;     /* ACTIVE: the answer */
} ngx_http_auth_introspect_answer_t;


/*
 * A token's place in a tree by its digest, and in a queue: entries of the
 * zone, and the requests of a worker that ask about a token, both start
 * with one.
 */
typedef struct {
    ngx_rbtree_node_t                 node;     /* key: the digest's start */
    ngx_queue_t                       queue;
    u_char                            digest[NGX_GW_SHA256_LEN];
} ngx_http_auth_introspect_key_t;


/* an answer in the zone, or a mark that a worker is asking for one */
typedef struct {
    ngx_http_auth_introspect_key_t    key;      /* queue: least recent last */
    ngx_msec_t                        deadline; /* of a mark */
    time_t                            expires;  /* of an answer */
    ngx_gw_claim_clock_t              clock;
    u_char                            kind;     /* 0: a mark */
    u_short                           len;
    u_char                            json[1];
} ngx_http_auth_introspect_node_t;


typedef struct {
    ngx_rbtree_t                      rbtree;
    ngx_rbtree_node_t                 sentinel;
    ngx_queue_t                       lru;
} ngx_http_auth_introspect_shctx_t;


typedef struct {
    ngx_http_auth_introspect_shctx_t *sh;
    ngx_slab_pool_t                  *shpool;
    ngx_shm_zone_t                   *shm_zone;
} ngx_http_auth_introspect_zone_t;


/* an auth_introspect_cache directive */
typedef struct {
    ngx_http_auth_introspect_zone_t  *zone;
    time_t                            valid;
    time_t                            invalid;
} ngx_http_auth_introspect_cache_t;


/*
 * The URI of an auth_introspect_request, one for all the locations that
 * name it, and in each worker the tokens being asked about through it.
 * failing: its failure was logged, and it has not answered since.
 */
typedef struct {
    ngx_str_t                         uri;
    ngx_str_t                         args;
    ngx_str_t                         name;     /* uri?args, as written */
    ngx_str_t                         hint;     /* token_type_hint */
    ngx_rbtree_t                      asking;   /* of ctx_t */
    ngx_rbtree_node_t                 sentinel;
    unsigned                          failing:1;
} ngx_http_auth_introspect_endpoint_t;


typedef struct {
    ngx_http_complex_value_t         *realm;    /* NULL: off */
    ngx_http_complex_value_t         *token;    /* NULL: Authorization */
    ngx_http_auth_introspect_endpoint_t
                                     *endpoint;
    ngx_http_auth_introspect_cache_t *cache;    /* NULL: off */
    time_t                            leeway;
    ngx_uint_t                        fail;     /* 500 or 503 */
    ngx_array_t                      *require;  /* of ngx_gw_require_t */

    /* where "auth_introspect" was set, for the error without a request */
    ngx_str_t                         file;
    ngx_uint_t                        line;
} ngx_http_auth_introspect_loc_conf_t;


/* how far the request got with asking about its token */
typedef enum {
    NGX_HTTP_AUTH_INTROSPECT_IDLE = 0,
    NGX_HTTP_AUTH_INTROSPECT_ASKING,        /* its own subrequest */
    NGX_HTTP_AUTH_INTROSPECT_WAITING,       /* for another request's */
    NGX_HTTP_AUTH_INTROSPECT_POLLING,       /* for another worker's */
    NGX_HTTP_AUTH_INTROSPECT_ANSWERED,
    NGX_HTTP_AUTH_INTROSPECT_FAILED
} ngx_http_auth_introspect_state_e;


typedef struct ngx_http_auth_introspect_ctx_s  ngx_http_auth_introspect_ctx_t;

/*
 * The verdict on the client request, shared by its subrequests.  key is
 * in the endpoint's tree while the request asks, with the requests that
 * wait for its answer in waiting; a request that waits is in the asker's
 * queue by key.queue.  denied keeps a refusal by auth_introspect_require
 * (401, 403) of a valid token, or 500 if a value could not be had.
 */
struct ngx_http_auth_introspect_ctx_s {
    ngx_http_auth_introspect_key_t       key;
    ngx_http_request_t                  *request;
    ngx_http_auth_introspect_loc_conf_t *conf;      /* the verdict is for */
    ngx_http_auth_introspect_status_e    status;
    ngx_uint_t                           denied;
    ngx_str_t                            token;
    ngx_http_auth_introspect_state_e     state;
    ngx_http_auth_introspect_endpoint_t *endpoint;  /* asked, or waited on */
    ngx_http_auth_introspect_zone_t     *marked;    /* holds its mark */
    ngx_http_auth_introspect_answer_t    answer;
    ngx_array_t                         *members;   /* of the answer */
    ngx_queue_t                          waiting;
    ngx_event_t                          wake;
    ngx_gw_capture_t                     capture;
    ngx_table_elt_t                     *challenge;
    ngx_uint_t                           control_logged;
    unsigned                             read:1;
};


NGX_GW_HIDDEN_BEGIN

ngx_int_t ngx_http_auth_introspect_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

/*
 * NGX_OK: an answer, its JSON copied into the pool; NGX_BUSY: another
 * worker is asking for it; NGX_DECLINED: none; NGX_DONE: none, and (with
 * ask) the caller is marked as asking; NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_auth_introspect_cache_lookup(
    ngx_http_auth_introspect_zone_t *zone, u_char *digest, ngx_uint_t ask,
    ngx_pool_t *pool, ngx_http_auth_introspect_answer_t *answer);

/* replaces the mark with the answer until expires, if that is to come */
void ngx_http_auth_introspect_cache_store(
    ngx_http_auth_introspect_zone_t *zone, u_char *digest,
    ngx_http_auth_introspect_answer_t *answer, time_t expires);

/* drops the mark: no answer came */
void ngx_http_auth_introspect_cache_forget(
    ngx_http_auth_introspect_zone_t *zone, u_char *digest);

/* the trees of keys: a lookup, and insertion in the order it walks */
ngx_http_auth_introspect_key_t *ngx_http_auth_introspect_key_find(
    ngx_rbtree_t *tree, u_char *digest);
void ngx_http_auth_introspect_key_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);

/* asking: ngx_http_auth_introspect_request.c */
ngx_int_t ngx_http_auth_introspect_ask(ngx_http_request_t *r,
    ngx_http_auth_introspect_ctx_t *ctx);
ngx_int_t ngx_http_auth_introspect_capture(ngx_http_request_t *r,
    ngx_chain_t *in);
void ngx_http_auth_introspect_leave(ngx_http_auth_introspect_ctx_t *ctx);
ngx_http_auth_introspect_status_e ngx_http_auth_introspect_judge(
    ngx_http_auth_introspect_answer_t *answer, time_t leeway, time_t now,
    const char **reason);

NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_AUTH_INTROSPECT_H_INCLUDED_ */
