
/*
 * Token-bucket rate limiting: rate_limit_zone, rate_limit, the headers and
 * the variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_rate_limit.h"
#include "ngx_gw_conf.h"
#include "ngx_gw_decision.h"
#include "ngx_gw_header.h"


#define NGX_HTTP_RATE_LIMIT_MAX_BURST   1000000
#define NGX_HTTP_RATE_LIMIT_MAX_COST    1000000


typedef enum {
    NGX_HTTP_RATE_LIMIT_NONE = 0,
    NGX_HTTP_RATE_LIMIT_PASSED,
    NGX_HTTP_RATE_LIMIT_REJECTED,
    NGX_HTTP_RATE_LIMIT_REJECTED_DRY_RUN,
    NGX_HTTP_RATE_LIMIT_UNAVAILABLE         /* in $rate_limit_zones only */
} ngx_http_rate_limit_status_e;


/* a limit's byte in $rate_limit_zones: its status, and flags above it */
#define NGX_HTTP_RATE_LIMIT_STATUS_MASK   0x0f
#define NGX_HTTP_RATE_LIMIT_EVICTED       0x10
#define NGX_HTTP_RATE_LIMIT_REDIS_FAILED  0x20


enum {
    NGX_HTTP_RATE_LIMIT_HEADERS_OFF = 0,
    NGX_HTTP_RATE_LIMIT_HEADERS_ON,
    NGX_HTTP_RATE_LIMIT_HEADERS_LEGACY,
    NGX_HTTP_RATE_LIMIT_HEADERS_DRAFT
};


typedef struct {
    ngx_shm_zone_t                *shm_zone;
    ngx_http_complex_value_t      *rate;       /* NULL: the zone's */
    ngx_http_complex_value_t      *burst;
    ngx_http_complex_value_t      *cost;
    uint64_t                       interval;   /* 0: the zone's */
    ngx_int_t                      burst_n;    /* -1: the zone's */
    ngx_uint_t                     cost_n;
    ngx_uint_t                     dry_run;
} ngx_http_rate_limit_limit_t;


/* the Redis deployments the zones name, each once, and their TLS */
typedef struct {
    ngx_array_t                    redis;      /* redis_t * */
    ngx_str_t                      ssl_trusted_certificate;
    ngx_flag_t                     ssl_verify;
#if (NGX_SSL)
    ngx_ssl_t                     *ssl;
#endif
} ngx_http_rate_limit_main_conf_t;


typedef struct {
    ngx_array_t                   *limits;
    ngx_uint_t                     status;
    ngx_uint_t                     log_level;
    ngx_flag_t                     dry_run;
    ngx_uint_t                     headers;
    ngx_msec_t                     redis_timeout;
    ngx_uint_t                     redis_fail_open;
} ngx_http_rate_limit_loc_conf_t;


/*
 * What was decided for the client request, kept where internal redirects
 * do not erase it: see ngx_http_rate_limit_state().
 */
typedef struct {
    ngx_pool_cleanup_t             cleanup;
    ngx_int_t                      rc;         /* the phase's answer */
    ngx_uint_t                     waiting;    /* calls Redis has to answer */
    ngx_http_rate_limit_call_t    *calls[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    ngx_http_rate_limit_check_t   *checks;     /* while Redis is asked */
    ngx_uint_t                     n;          /* limits that apply */
    uint64_t                       asked;      /* when Redis was asked */
    ngx_http_rate_limit_zone_t    *zones[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    u_char                         verdicts[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    ngx_http_rate_limit_status_e   status;
    ngx_uint_t                     headers;
    ngx_str_t                      zone;
    uint64_t                       limit;
    uint64_t                       window;     /* seconds to refill */
    uint64_t                       remaining;
    uint64_t                       reset;      /* seconds */
    uint64_t                       retry;      /* seconds; 0: admitted */
} ngx_http_rate_limit_state_t;


static ngx_http_rate_limit_state_t *ngx_http_rate_limit_state(
    ngx_http_request_t *r);
static void ngx_http_rate_limit_mark(void *data);
static ngx_int_t ngx_http_rate_limit_handler(ngx_http_request_t *r);
static uint64_t ngx_http_rate_limit_now(void);
static ngx_int_t ngx_http_rate_limit_conclude(ngx_http_request_t *r,
    ngx_http_rate_limit_loc_conf_t *rlcf, ngx_http_rate_limit_state_t *state,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n);
static ngx_int_t ngx_http_rate_limit_ask_redis(ngx_http_request_t *r,
    ngx_http_rate_limit_loc_conf_t *rlcf, ngx_http_rate_limit_state_t *state,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n);
static ngx_int_t ngx_http_rate_limit_redis_decided(ngx_http_request_t *r,
    ngx_http_rate_limit_loc_conf_t *rlcf, ngx_http_rate_limit_state_t *state,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n);
static void ngx_http_rate_limit_redis_gone(void *data);
static void ngx_http_rate_limit_redis_answered(ngx_http_rate_limit_call_t *call,
    ngx_int_t rc);
static ngx_int_t ngx_http_rate_limit_prepare(ngx_http_request_t *r,
    ngx_http_rate_limit_limit_t *limit, ngx_http_rate_limit_check_t *check);
static ngx_int_t ngx_http_rate_limit_number(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, ngx_uint_t max, ngx_uint_t *n);
static void ngx_http_rate_limit_report(ngx_http_rate_limit_state_t *state,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n);
static ngx_int_t ngx_http_rate_limit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_rate_limit_set_header(ngx_http_request_t *r,
    ngx_str_t *name, u_char *value, size_t len);
static u_char *ngx_http_rate_limit_number_text(u_char *p, uint64_t n);
static ngx_int_t ngx_http_rate_limit_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_rate_limit_zones_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_rate_limit_add_variables(ngx_conf_t *cf);
static void *ngx_http_rate_limit_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_rate_limit_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_rate_limit_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_rate_limit_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_rate_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_http_rate_limit_redis_t *ngx_http_rate_limit_redis_named(
    ngx_conf_t *cf, ngx_http_rate_limit_main_conf_t *rlmcf, ngx_str_t *addr,
    ngx_str_t *password_file);
static char *ngx_http_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_rate_limit_param(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_complex_value_t **cv);
static char *ngx_http_rate_limit_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_rate_limit_init(ngx_conf_t *cf);
static void ngx_http_rate_limit_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_rate_limit_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_rate_limit_headers_modes[] = {
    { ngx_string("off"), NGX_HTTP_RATE_LIMIT_HEADERS_OFF },
    { ngx_string("on"), NGX_HTTP_RATE_LIMIT_HEADERS_ON },
    { ngx_string("legacy"), NGX_HTTP_RATE_LIMIT_HEADERS_LEGACY },
    { ngx_string("draft"), NGX_HTTP_RATE_LIMIT_HEADERS_DRAFT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_rate_limit_redis_fail_modes[] = {
    { ngx_string("closed"), 0 },
    { ngx_string("open"), 1 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_rate_limit_commands[] = {

    { ngx_string("rate_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_rate_limit_zone,
      0,
      0,
      NULL },

    { ngx_string("rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_rate_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rate_limit_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_rate_limit_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rate_limit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rate_limit_loc_conf_t, log_level),
      &ngx_http_rate_limit_log_levels },

    { ngx_string("rate_limit_dry_run"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rate_limit_loc_conf_t, dry_run),
      NULL },

    { ngx_string("rate_limit_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rate_limit_loc_conf_t, redis_timeout),
      NULL },

    { ngx_string("rate_limit_redis_fail"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rate_limit_loc_conf_t, redis_fail_open),
      &ngx_http_rate_limit_redis_fail_modes },

    { ngx_string("rate_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rate_limit_loc_conf_t, headers),
      &ngx_http_rate_limit_headers_modes },

    { ngx_string("rate_limit_redis_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rate_limit_main_conf_t, ssl_trusted_certificate),
      NULL },

    { ngx_string("rate_limit_redis_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rate_limit_main_conf_t, ssl_verify),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_rate_limit_module_ctx = {
    ngx_http_rate_limit_add_variables,     /* preconfiguration */
    ngx_http_rate_limit_init,              /* postconfiguration */

    ngx_http_rate_limit_create_main_conf,  /* create main configuration */
    ngx_http_rate_limit_init_main_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_rate_limit_create_loc_conf,   /* create location configuration */
    ngx_http_rate_limit_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_rate_limit_module = {
    NGX_MODULE_V1,
    &ngx_http_rate_limit_module_ctx,       /* module context */
    ngx_http_rate_limit_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_rate_limit_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_str_t  ngx_http_rate_limit_status_names[] = {
    ngx_null_string,
    ngx_string("PASSED"),
    ngx_string("REJECTED"),
    ngx_string("REJECTED_DRY_RUN"),
    ngx_string("UNAVAILABLE")
};


static ngx_str_t  ngx_http_rate_limit_legacy_names[] = {
    ngx_string("X-RateLimit-Limit"),
    ngx_string("X-RateLimit-Remaining"),
    ngx_string("X-RateLimit-Reset")
};


static ngx_str_t  ngx_http_rate_limit_retry_after = ngx_string("Retry-After");
static ngx_str_t  ngx_http_rate_limit_policy = ngx_string("RateLimit-Policy");
static ngx_str_t  ngx_http_rate_limit_draft = ngx_string("RateLimit");


static ngx_http_variable_t  ngx_http_rate_limit_vars[] = {

    { ngx_string("rate_limit_status"), NULL, ngx_http_rate_limit_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rate_limit_remaining"), NULL, ngx_http_rate_limit_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rate_limit_reset"), NULL, ngx_http_rate_limit_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string(NGX_GW_DECISION_RATE_LIMIT_ZONES), NULL,
      ngx_http_rate_limit_zones_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * The decision lives in a cleanup of the client request's pool: unlike
 * module contexts, cleanups survive internal redirects, so a request is
 * counted once however often it passes the preaccess phase.
 */

static ngx_http_rate_limit_state_t *
ngx_http_rate_limit_state(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_rate_limit_state_t  *state;

    /*
     * the module context is the shortcut, until a redirect clears it;
     * without a redirect, no context means no decision
     */

    state = ngx_http_get_module_ctx(r->main, ngx_http_rate_limit_module);
    if (state || !r->main->internal) {
        return state;
    }

    for (cln = r->main->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_rate_limit_mark) {
            ngx_http_set_ctx(r->main, cln->data, ngx_http_rate_limit_module);
            return cln->data;
        }
    }

    return NULL;
}


static void
ngx_http_rate_limit_mark(void *data)
{
    /* only marks the state */
}


static ngx_int_t
ngx_http_rate_limit_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_uint_t                        i, n;
    ngx_http_rate_limit_check_t       checks[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    ngx_http_rate_limit_state_t      *state;
    ngx_http_rate_limit_limit_t      *limits;
    ngx_http_rate_limit_loc_conf_t   *rlcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rate_limit_module);

    if (rlcf->limits == NULL) {
        return NGX_DECLINED;
    }

    state = ngx_http_rate_limit_state(r);

    if (state) {

        /* Redis answered: the phase runs again for the decision */

        if (state->waiting) {
            return NGX_AGAIN;
        }

        rc = state->rc;
        state->rc = NGX_DECLINED;

        return rc;
    }

    limits = rlcf->limits->elts;
    n = 0;

    for (i = 0; i < rlcf->limits->nelts; i++) {
        switch (ngx_http_rate_limit_prepare(r, &limits[i], &checks[n])) {

        case NGX_OK:
            checks[n++].dry_run = limits[i].dry_run || rlcf->dry_run;
            break;

        case NGX_DECLINED:
            break;

        default:
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* with every key empty, a later location may still count the request */

    if (n == 0) {
        return NGX_DECLINED;
    }

    /* the cleanup is part of the state: one allocation instead of two */

    state = ngx_pcalloc(r->pool, sizeof(ngx_http_rate_limit_state_t));
    if (state == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    state->cleanup.handler = ngx_http_rate_limit_mark;
    state->cleanup.data = state;
    state->cleanup.next = r->pool->cleanup;
    r->pool->cleanup = &state->cleanup;
    state->rc = NGX_DECLINED;
    state->n = n;

    for (i = 0; i < n; i++) {
        state->zones[i] = checks[i].zone;
    }

    ngx_http_set_ctx(r, state, ngx_http_rate_limit_module);

    for (i = 0; i < n; i++) {
        if (checks[i].zone->redis) {
            return ngx_http_rate_limit_ask_redis(r, rlcf, state, checks, n);
        }
    }

    ngx_http_rate_limit_decide(checks, n, ngx_http_rate_limit_now(), 0);

    return ngx_http_rate_limit_conclude(r, rlcf, state, checks, n);
}


static uint64_t
ngx_http_rate_limit_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000000 + tp->msec * 1000;
}


/* the log lines, the variables and headers, and the phase's answer */

static ngx_int_t
ngx_http_rate_limit_conclude(ngx_http_request_t *r,
    ngx_http_rate_limit_loc_conf_t *rlcf, ngx_http_rate_limit_state_t *state,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n)
{
    ngx_uint_t  i;

    state->headers = rlcf->headers;
    state->status = NGX_HTTP_RATE_LIMIT_PASSED;

    for (i = 0; i < n; i++) {

        if (checks[i].dropped_live) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "rate_limit: zone \"%V\" is full, dropped a bucket "
                          "in use", &checks[i].zone->shm_zone->shm.name);

            state->verdicts[i] |= NGX_HTTP_RATE_LIMIT_EVICTED;
        }

        if (checks[i].admitted) {
            state->verdicts[i] |= NGX_HTTP_RATE_LIMIT_PASSED;

        } else {
            ngx_log_error(rlcf->log_level, r->connection->log, 0,
                          "rate_limit: %s by zone \"%V\", retry after %uLms",
                          checks[i].dry_run ? "would reject, dry run,"
                                            : "rejected",
                          &checks[i].zone->shm_zone->shm.name,
                          (checks[i].retry + 999) / 1000);

            if (checks[i].dry_run) {
                state->verdicts[i] |= NGX_HTTP_RATE_LIMIT_REJECTED_DRY_RUN;

                if (state->status == NGX_HTTP_RATE_LIMIT_PASSED) {
                    state->status = NGX_HTTP_RATE_LIMIT_REJECTED_DRY_RUN;
                }

            } else {
                state->verdicts[i] |= NGX_HTTP_RATE_LIMIT_REJECTED;
                state->status = NGX_HTTP_RATE_LIMIT_REJECTED;
            }
        }
    }

    ngx_http_rate_limit_report(state, checks, n);

    if (state->status == NGX_HTTP_RATE_LIMIT_REJECTED) {
        return rlcf->status;
    }

    return NGX_DECLINED;
}


/*
 * The limits whose zones are in Redis: if what Redis said of a key when
 * it rejected it rejects the request already, it is rejected here, as
 * Redis would, without asking Redis (nor charging the other limits);
 * otherwise they go there, in one call for each deployment (for each key
 * slot of a Cluster), and the request waits for every answer.
 */

static ngx_int_t
ngx_http_rate_limit_ask_redis(ngx_http_request_t *r,
    ngx_http_rate_limit_loc_conf_t *rlcf, ngx_http_rate_limit_state_t *state,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n)
{
    u_char                        index[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    ngx_int_t                     rc;
    ngx_uint_t                    i, k, g, ngroups, slot;
    ngx_uint_t                    group[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    ngx_uint_t                    slots[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    ngx_pool_cleanup_t           *cln;
    ngx_http_rate_limit_call_t   *call;
    ngx_http_rate_limit_redis_t  *rd[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];

    state->asked = ngx_http_rate_limit_now();

    if (ngx_http_rate_limit_known(checks, n, state->asked)) {
        for (i = 0; i < n; i++) {
            checks[i].in_redis = (checks[i].zone->redis != NULL);
        }

        return ngx_http_rate_limit_redis_decided(r, rlcf, state, checks, n);
    }

    /*
     * the calls: one for each deployment, and in a Cluster for each slot
     * (a script's keys must be in one)
     */

    ngroups = 0;

    for (i = 0; i < n; i++) {
        if (checks[i].zone->redis == NULL) {
            continue;
        }

        slot = (checks[i].zone->redis->mode
                == NGX_HTTP_RATE_LIMIT_REDIS_CLUSTER)
               ? ngx_http_rate_limit_cluster_slot(checks[i].zone,
                                                  &checks[i].key)
               : 0;

        for (g = 0; g < ngroups; g++) {
            if (rd[g] == checks[i].zone->redis && slots[g] == slot) {
                break;
            }
        }

        if (g == ngroups) {
            rd[g] = checks[i].zone->redis;
            slots[g] = slot;
            ngroups++;
        }

        group[i] = g;
    }

    /* the checks wait in the request's memory */

    state->checks = ngx_palloc(r->pool,
                               n * sizeof(ngx_http_rate_limit_check_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (state->checks == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(state->checks, checks, n * sizeof(ngx_http_rate_limit_check_t));

    cln->handler = ngx_http_rate_limit_redis_gone;
    cln->data = state;

    for (g = 0; g < ngroups; g++) {
        k = 0;

        for (i = 0; i < n; i++) {
            if (checks[i].zone->redis && group[i] == g) {
                index[k++] = (u_char) i;
            }
        }

        call = ngx_http_rate_limit_redis_call_create(rd[g], state->checks,
                                                     index, k, slots[g],
                                                     r->connection->log);
        if (call == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        call->handler = ngx_http_rate_limit_redis_answered;
        call->data = r;

        /*
         * the answer comes from a posted event, never from within the
         * call: the state is ready for it before
         */

        state->calls[g] = call;
        state->waiting++;

        rc = ngx_http_rate_limit_redis_call(call, rlcf->redis_timeout);

        if (rc != NGX_AGAIN) {

            /* down: decided without it */

            state->calls[g] = NULL;
            state->waiting--;

            for (i = 0; i < k; i++) {
                state->checks[index[i]].redis_failed = 1;
            }

            ngx_free(call);
        }
    }

    if (state->waiting) {
        return NGX_AGAIN;
    }

    return ngx_http_rate_limit_redis_decided(r, rlcf, state, state->checks,
                                             n);
}


/*
 * Every call answered or failed: closed says 503 if one failed, with no
 * verdict for any limit; open decides the failed limits with the zones
 * here, and the limits not in Redis, together, charged only if Redis let
 * the request in.  $rate_limit_zones flags the failed ones.
 */

static ngx_int_t
ngx_http_rate_limit_redis_decided(ngx_http_request_t *r,
    ngx_http_rate_limit_loc_conf_t *rlcf, ngx_http_rate_limit_state_t *state,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n)
{
    ngx_uint_t                   i, k, reject, failed;
    ngx_http_rate_limit_check_t  local[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];

    reject = 0;
    failed = 0;

    for (i = 0; i < n; i++) {
        if (checks[i].redis_failed) {
            state->verdicts[i] |= NGX_HTTP_RATE_LIMIT_REDIS_FAILED;
            failed = 1;

        } else if (checks[i].in_redis && !checks[i].admitted
                   && !checks[i].dry_run)
        {
            reject = 1;
        }
    }

    if (failed && !rlcf->redis_fail_open) {
        for (i = 0; i < n; i++) {
            state->verdicts[i] |= NGX_HTTP_RATE_LIMIT_UNAVAILABLE;
        }

        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        if (!checks[i].in_redis) {
            local[k++] = checks[i];
        }
    }

    ngx_http_rate_limit_decide(local, k, ngx_http_rate_limit_now(), reject);

    k = 0;

    for (i = 0; i < n; i++) {
        if (!checks[i].in_redis) {
            checks[i] = local[k++];
        }
    }

    return ngx_http_rate_limit_conclude(r, rlcf, state, checks, n);
}


static void
ngx_http_rate_limit_redis_gone(void *data)
{
    ngx_http_rate_limit_state_t *state = data;

    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_RATE_LIMIT_MAX_LIMITS; i++) {
        if (state->calls[i]) {
            ngx_http_rate_limit_redis_cancel(state->calls[i]);
            state->calls[i] = NULL;
        }
    }

    state->waiting = 0;
}


/*
 * A call's answer, or its failure, from a posted event: once the last one
 * is in, the request goes on as after any event of its own.  A key Redis
 * rejected is remembered in its zone: Redis decided after the call was
 * made, so its TAT is at least that time plus the fill it answered, on
 * any clock.
 */

static void
ngx_http_rate_limit_redis_answered(ngx_http_rate_limit_call_t *call,
    ngx_int_t rc)
{
    int64_t                          reply;
    uint64_t                         fill, used, cap;
    ngx_uint_t                       i, k;
    ngx_connection_t                *c;
    ngx_http_request_t              *r;
    ngx_http_rate_limit_check_t     *check;
    ngx_http_rate_limit_state_t     *state;
    ngx_http_rate_limit_loc_conf_t  *rlcf;

    r = call->data;
    c = r->connection;
    state = ngx_http_rate_limit_state(r);

    for (i = 0; i < NGX_HTTP_RATE_LIMIT_MAX_LIMITS; i++) {
        if (state->calls[i] == call) {
            state->calls[i] = NULL;
        }
    }

    state->waiting--;

    for (k = 0; k < call->n; k++) {
        check = &state->checks[call->index[k]];

        if (rc != NGX_OK) {
            check->redis_failed = 1;
            continue;
        }

        /*
         * the fill after an admission, or minus one minus the fill that
         * rejected the cost: the wait is what it is beyond the burst
         */

        reply = call->reply[k];

        check->in_redis = 1;
        check->admitted = (reply >= 0);

        if (check->admitted) {
            ngx_http_rate_limit_values(check, reply, 0);
            continue;
        }

        fill = (uint64_t) -(reply + 1);
        used = fill + check->cost * check->interval;
        cap = (check->burst + 1) * check->interval;

        ngx_http_rate_limit_values(check, fill, (used > cap) ? used - cap : 0);

        if (fill > 0) {
            ngx_http_rate_limit_learn(check, state->asked + fill,
                                      ngx_http_rate_limit_now());
        }
    }

    if (state->waiting) {
        return;
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rate_limit_module);

    state->rc = ngx_http_rate_limit_redis_decided(r, rlcf, state,
                                                  state->checks, state->n);

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/* NGX_DECLINED: the key is empty, the request is not limited here */

static ngx_int_t
ngx_http_rate_limit_prepare(ngx_http_request_t *r,
    ngx_http_rate_limit_limit_t *limit, ngx_http_rate_limit_check_t *check)
{
    ngx_str_t                    text;
    ngx_http_rate_limit_zone_t  *zone;

    zone = limit->shm_zone->data;

    ngx_memzero(check, sizeof(ngx_http_rate_limit_check_t));

    if (ngx_http_complex_value(r, &zone->key, &check->key) != NGX_OK) {
        return NGX_ERROR;
    }

    if (check->key.len == 0) {
        return NGX_DECLINED;
    }

    if (check->key.len > 65535) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rate_limit: the key of zone \"%V\" is longer than "
                      "65535 bytes", &limit->shm_zone->shm.name);
        return NGX_DECLINED;
    }

    check->zone = zone;
    check->hash = ngx_crc32_short(check->key.data, check->key.len);
    check->interval = limit->interval ? limit->interval : zone->interval;
    check->burst = (limit->burst_n >= 0) ? (ngx_uint_t) limit->burst_n
                                         : zone->burst;
    check->cost = limit->cost_n;

    if (limit->rate) {
        if (ngx_http_complex_value(r, limit->rate, &text) != NGX_OK) {
            return NGX_ERROR;
        }

        if (text.len
            && ngx_http_rate_limit_parse_rate(&text, &check->interval)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "rate_limit: invalid rate \"%V\" from \"%V\"",
                          &text, &limit->rate->value);
            return NGX_ERROR;
        }
    }

    if (limit->burst
        && ngx_http_rate_limit_number(r, limit->burst,
                                      NGX_HTTP_RATE_LIMIT_MAX_BURST,
                                      &check->burst)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (limit->cost
        && ngx_http_rate_limit_number(r, limit->cost,
                                      NGX_HTTP_RATE_LIMIT_MAX_COST,
                                      &check->cost)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a number from a variable; an empty value leaves *n as it is */

static ngx_int_t
ngx_http_rate_limit_number(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, ngx_uint_t max, ngx_uint_t *n)
{
    ngx_int_t  value;
    ngx_str_t  text;

    if (ngx_http_complex_value(r, cv, &text) != NGX_OK) {
        return NGX_ERROR;
    }

    if (text.len == 0) {
        return NGX_OK;
    }

    value = ngx_atoi(text.data, text.len);

    if (value == NGX_ERROR || (ngx_uint_t) value > max) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rate_limit: invalid number \"%V\" from \"%V\"",
                      &text, &cv->value);
        return NGX_ERROR;
    }

    *n = value;

    return NGX_OK;
}


/*
 * The headers tell of one limit: of those that rejected the request, the
 * one that asks the longest wait; otherwise the one closest to exhaustion,
 * the fewest tokens left, then the longest time to refill.
 */

static void
ngx_http_rate_limit_report(ngx_http_rate_limit_state_t *state,
    ngx_http_rate_limit_check_t *checks, ngx_uint_t n)
{
    ngx_uint_t                    i, rejected;
    ngx_http_rate_limit_check_t  *best, *c;

    rejected = (state->status == NGX_HTTP_RATE_LIMIT_REJECTED);
    best = NULL;

    for (i = 0; i < n; i++) {
        c = &checks[i];

        if (rejected && (c->admitted || c->dry_run)) {
            continue;
        }

        if (best == NULL
            || (rejected && c->retry > best->retry)
            || (!rejected
                && (c->remaining < best->remaining
                    || (c->remaining == best->remaining
                        && c->reset > best->reset))))
        {
            best = c;
        }
    }

    state->zone = best->zone->shm_zone->shm.name;
    state->limit = best->burst + 1;
    state->window = ((best->burst + 1) * best->interval + 999999) / 1000000;
    state->remaining = best->remaining;
    state->reset = (best->reset + 999999) / 1000000;
    state->retry = (best->retry + 999999) / 1000000;
}


static ngx_int_t
ngx_http_rate_limit_header_filter(ngx_http_request_t *r)
{
    u_char                       *p;
    uint64_t                      values[3];
    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_http_rate_limit_state_t  *state;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    state = ngx_http_rate_limit_state(r);

    if (state == NULL || state->status == NGX_HTTP_RATE_LIMIT_NONE) {
        return ngx_http_next_header_filter(r);
    }

    if (state->status == NGX_HTTP_RATE_LIMIT_REJECTED) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_rate_limit_set_header(r,
                                   &ngx_http_rate_limit_retry_after, p,
                                   ngx_http_rate_limit_number_text(p,
                                                               state->retry)
                                   - p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    switch (state->headers) {

    case NGX_HTTP_RATE_LIMIT_HEADERS_ON:
    case NGX_HTTP_RATE_LIMIT_HEADERS_LEGACY:

        p = ngx_pnalloc(r->pool, 3 * NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        values[0] = state->limit;
        values[1] = state->remaining;
        values[2] = state->reset;

        /* "X-RateLimit-Limit" without its "X-" is the draft-03 name */

        for (i = 0; i < 3; i++) {
            name = ngx_http_rate_limit_legacy_names[i];

            if (state->headers == NGX_HTTP_RATE_LIMIT_HEADERS_ON) {
                name.data += sizeof("X-") - 1;
                name.len -= sizeof("X-") - 1;
            }

            if (ngx_http_rate_limit_set_header(r, &name, p,
                                   ngx_http_rate_limit_number_text(p,
                                                                   values[i])
                                   - p)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            p += NGX_INT64_LEN;
        }

        break;

    case NGX_HTTP_RATE_LIMIT_HEADERS_DRAFT:

        p = ngx_pnalloc(r->pool, 2 * (state->zone.len + 3 * NGX_INT64_LEN
                                      + sizeof("\"\";q=;w=")));
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_rate_limit_set_header(r, &ngx_http_rate_limit_policy, p,
                ngx_sprintf(p, "\"%V\";q=%uL;w=%uL", &state->zone,
                            state->limit, state->window) - p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p += state->zone.len + 3 * NGX_INT64_LEN + sizeof("\"\";q=;w=");

        if (ngx_http_rate_limit_set_header(r, &ngx_http_rate_limit_draft, p,
                ngx_sprintf(p, "\"%V\";r=%uL;t=%uL", &state->zone,
                            state->remaining, state->reset) - p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_rate_limit_set_header(ngx_http_request_t *r, ngx_str_t *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_gw_header_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *name;
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/*
 * On every response: cheaper than ngx_sprintf()'s general formatting, and
 * two digits a division.
 */

static u_char *
ngx_http_rate_limit_number_text(u_char *p, uint64_t n)
{
    u_char        digits[NGX_INT64_LEN];
    u_char       *d;
    ngx_uint_t    two;

    static const char  pairs[] =
        "0001020304050607080910111213141516171819"
        "2021222324252627282930313233343536373839"
        "4041424344454647484950515253545556575859"
        "6061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";

    d = digits + NGX_INT64_LEN;

    while (n >= 100) {
        two = (ngx_uint_t) (n % 100) * 2;
        n /= 100;
        *--d = pairs[two + 1];
        *--d = pairs[two];
    }

    if (n >= 10) {
        *--d = pairs[n * 2 + 1];
        *--d = pairs[n * 2];

    } else {
        *--d = (u_char) ('0' + n);
    }

    return ngx_cpymem(p, d, digits + NGX_INT64_LEN - d);
}


static ngx_int_t
ngx_http_rate_limit_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p;
    ngx_http_rate_limit_state_t  *state;

    state = ngx_http_rate_limit_state(r);

    if (state == NULL || state->status == NGX_HTTP_RATE_LIMIT_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    if (data == 0) {
        v->data = ngx_http_rate_limit_status_names[state->status].data;
        v->len = ngx_http_rate_limit_status_names[state->status].len;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_http_rate_limit_number_text(p, (data == 1) ? state->remaining
                                                            : state->reset)
             - p;

    return NGX_OK;
}


/*
 * "zone:STATUS[:flag...]" per limit that applies, in the configuration's
 * order, ", " between them (ngx_gw_decision.h): made only when read, for a
 * log or a metrics module
 */

static ngx_int_t
ngx_http_rate_limit_zones_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p;
    size_t                        len;
    ngx_str_t                    *name, *text;
    ngx_uint_t                    i, verdict, status;
    ngx_http_rate_limit_state_t  *state;

    state = ngx_http_rate_limit_state(r);

    if (state == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = 0;

    for (i = 0; i < state->n; i++) {

        /* undecided: Redis is still being asked, or an error */

        if ((state->verdicts[i] & NGX_HTTP_RATE_LIMIT_STATUS_MASK)
            == NGX_HTTP_RATE_LIMIT_NONE)
        {
            continue;
        }

        len += sizeof(NGX_GW_DECISION_ENTRY_SEP) - 1
               + state->zones[i]->shm_zone->shm.name.len
               + 1 + NGX_GW_DECISION_WORD_LEN
               + sizeof(":" NGX_GW_DECISION_EVICTED) - 1
               + sizeof(":" NGX_GW_DECISION_REDIS_FAILED) - 1;
    }

    if (len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    for (i = 0; i < state->n; i++) {
        verdict = state->verdicts[i];
        status = verdict & NGX_HTTP_RATE_LIMIT_STATUS_MASK;

        if (status == NGX_HTTP_RATE_LIMIT_NONE) {
            continue;
        }

        if (p != v->data) {
            p = ngx_cpymem(p, NGX_GW_DECISION_ENTRY_SEP,
                           sizeof(NGX_GW_DECISION_ENTRY_SEP) - 1);
        }

        name = &state->zones[i]->shm_zone->shm.name;
        text = &ngx_http_rate_limit_status_names[status];

        p = ngx_cpymem(p, name->data, name->len);
        *p++ = NGX_GW_DECISION_FIELD_SEP;
        p = ngx_cpymem(p, text->data, text->len);

        if (verdict & NGX_HTTP_RATE_LIMIT_EVICTED) {
            *p++ = NGX_GW_DECISION_FIELD_SEP;
            p = ngx_cpymem(p, NGX_GW_DECISION_EVICTED,
                           sizeof(NGX_GW_DECISION_EVICTED) - 1);
        }

        if (verdict & NGX_HTTP_RATE_LIMIT_REDIS_FAILED) {
            *p++ = NGX_GW_DECISION_FIELD_SEP;
            p = ngx_cpymem(p, NGX_GW_DECISION_REDIS_FAILED,
                           sizeof(NGX_GW_DECISION_REDIS_FAILED) - 1);
        }
    }

    v->len = p - v->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_rate_limit_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_rate_limit_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_rate_limit_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_rate_limit_main_conf_t  *rlmcf;

    rlmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_rate_limit_main_conf_t));
    if (rlmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rlmcf->redis, cf->pool, 2,
                       sizeof(ngx_http_rate_limit_redis_t *))
        != NGX_OK)
    {
        return NULL;
    }

    rlmcf->ssl_verify = NGX_CONF_UNSET;

    return rlmcf;
}


/* one TLS context for the rediss servers, made once they are all known */

static char *
ngx_http_rate_limit_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_rate_limit_main_conf_t *rlmcf = conf;

    ngx_uint_t                     i;
    ngx_http_rate_limit_redis_t  **rd;

    ngx_conf_init_value(rlmcf->ssl_verify, 1);

    rd = rlmcf->redis.elts;

    for (i = 0; i < rlmcf->redis.nelts; i++) {
        if (!rd[i]->tls) {
            continue;
        }

#if (NGX_SSL)
        if (rlmcf->ssl == NULL) {
            rlmcf->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
            if (rlmcf->ssl == NULL) {
                return NGX_CONF_ERROR;
            }

            if (ngx_http_rate_limit_redis_ssl_conf(cf, rlmcf->ssl,
                                           &rlmcf->ssl_trusted_certificate,
                                           rlmcf->ssl_verify)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }
        }

        rd[i]->ssl = rlmcf->ssl;
        rd[i]->verify = rlmcf->ssl_verify;
#else
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "redis \"%V\" needs TLS, which this nginx is built "
                      "without", &rd[i]->name);
        return NGX_CONF_ERROR;
#endif
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_rate_limit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_rate_limit_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_rate_limit_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->limits = NGX_CONF_UNSET_PTR;
    conf->status = NGX_CONF_UNSET_UINT;
    conf->log_level = NGX_CONF_UNSET_UINT;
    conf->dry_run = NGX_CONF_UNSET;
    conf->headers = NGX_CONF_UNSET_UINT;
    conf->redis_timeout = NGX_CONF_UNSET_MSEC;
    conf->redis_fail_open = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_rate_limit_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_rate_limit_loc_conf_t  *prev = parent;
    ngx_http_rate_limit_loc_conf_t  *conf = child;

    ngx_conf_merge_ptr_value(conf->limits, prev->limits, NULL);
    ngx_conf_merge_uint_value(conf->status, prev->status,
                              NGX_HTTP_TOO_MANY_REQUESTS);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level,
                              NGX_LOG_ERR);
    ngx_conf_merge_value(conf->dry_run, prev->dry_run, 0);
    ngx_conf_merge_uint_value(conf->headers, prev->headers,
                              NGX_HTTP_RATE_LIMIT_HEADERS_ON);
    ngx_conf_merge_msec_value(conf->redis_timeout, prev->redis_timeout, 20);
    ngx_conf_merge_uint_value(conf->redis_fail_open, prev->redis_fail_open,
                              1);

    return NGX_CONF_OK;
}


/*
 * rate_limit_zone key zone=name:size rate=rate [burst=number]
 *                 [redis=address [redis_prefix=prefix]
 *                  [redis_password_file=file]]
 */

static char *
ngx_http_rate_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rate_limit_main_conf_t *rlmcf = conf;

    ssize_t                            size;
    ngx_int_t                          burst;
    ngx_str_t                         *value, name, s, prefix, redis;
    ngx_str_t                          password_file;
    uint64_t                           interval;
    ngx_uint_t                         i;
    ngx_shm_zone_t                    *shm_zone;
    ngx_http_rate_limit_zone_t        *zone;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_rate_limit_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = &zone->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    size = 0;
    interval = 0;
    burst = 0;
    name.len = 0;
    prefix.len = 0;
    redis.len = 0;
    password_file.len = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            if (ngx_gw_conf_zone(cf, &value[i], "zone=", &name, &size)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            /* $rate_limit_zones lists it (ngx_gw_decision.h) */

            if (ngx_strlchr(name.data, name.data + name.len, ',')
                || ngx_strlchr(name.data, name.data + name.len, ' '))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone name \"%V\": no \",\" or "
                                   "spaces", &name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (ngx_http_rate_limit_parse_rate(&s, &interval) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\": \"10r/s\", "
                                   "\"100r/m\", \"1000r/h\" or \"10000r/d\" "
                                   "expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis=", 6) == 0) {

            redis.data = value[i].data + 6;
            redis.len = value[i].len - 6;

            if (redis.len == 0) {
                return "has an empty \"redis=\"";
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis_password_file=", 20) == 0) {

            password_file.data = value[i].data + 20;
            password_file.len = value[i].len - 20;

            if (password_file.len == 0) {
                return "has an empty \"redis_password_file=\"";
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis_prefix=", 13) == 0) {

            prefix.data = value[i].data + 13;
            prefix.len = value[i].len - 13;

            if (prefix.len == 0) {
                return "has an empty \"redis_prefix=\"";
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {

            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (burst == NGX_ERROR || burst > NGX_HTTP_RATE_LIMIT_MAX_BURST) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        return "needs \"zone=name:size\"";
    }

    if (interval == 0) {
        return "needs \"rate=\"";
    }

    if (prefix.len && redis.len == 0) {
        return "has \"redis_prefix=\" without \"redis=\"";
    }

    if (password_file.len && redis.len == 0) {
        return "has \"redis_password_file=\" without \"redis=\"";
    }

    if (redis.len) {
        zone->redis = ngx_http_rate_limit_redis_named(cf, rlmcf, &redis,
                                                      &password_file);
        if (zone->redis == NULL) {
            return NGX_CONF_ERROR;
        }

        /* each Redis key: prefix, zone name, ":", then the request's key */

        if (prefix.len == 0) {
            ngx_str_set(&prefix, "rate_limit:");
        }

        zone->redis_key.len = prefix.len + name.len + 1;
        zone->redis_key.data = ngx_pnalloc(cf->pool, zone->redis_key.len);
        if (zone->redis_key.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(zone->redis_key.data, "%V%V:", &prefix, &name);
    }

    zone->interval = interval;
    zone->burst = burst;

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_rate_limit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already declared", &name);
        return NGX_CONF_ERROR;
    }

    zone->shm_zone = shm_zone;

    shm_zone->init = ngx_http_rate_limit_init_zone;
    shm_zone->data = zone;

    return NGX_CONF_OK;
}


/*
 * Zones naming the same Redis deployment (the same redis= and
 * redis_password_file=) share it: one connection to its server, and one
 * call for all of a request's limits there.
 */

static ngx_http_rate_limit_redis_t *
ngx_http_rate_limit_redis_named(ngx_conf_t *cf,
    ngx_http_rate_limit_main_conf_t *rlmcf, ngx_str_t *addr,
    ngx_str_t *password_file)
{
    ngx_uint_t                     i;
    ngx_http_rate_limit_redis_t  **rd;

    rd = rlmcf->redis.elts;

    for (i = 0; i < rlmcf->redis.nelts; i++) {
        if (rd[i]->uri.len == addr->len
            && ngx_strncmp(rd[i]->uri.data, addr->data, addr->len) == 0
            && rd[i]->password_file.len == password_file->len
            && ngx_strncmp(rd[i]->password_file.data, password_file->data,
                           password_file->len)
               == 0)
        {
            return rd[i];
        }
    }

    rd = ngx_array_push(&rlmcf->redis);
    if (rd == NULL) {
        return NULL;
    }

    *rd = ngx_http_rate_limit_redis_create(cf, addr, password_file);

    return *rd;
}


/*
 * rate_limit zone=name [rate=rate|$var] [burst=n|$var] [cost=n|$var]
 *            [dry_run]
 */

static char *
ngx_http_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rate_limit_loc_conf_t *rlcf = conf;

    ngx_int_t                     n;
    ngx_str_t                    *value, s;
    ngx_uint_t                    i;
    ngx_shm_zone_t               *shm_zone;
    ngx_http_rate_limit_limit_t  *limit, *limits;

    value = cf->args->elts;

    if (rlcf->limits == NGX_CONF_UNSET_PTR) {
        rlcf->limits = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_rate_limit_limit_t));
        if (rlcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (rlcf->limits->nelts == NGX_HTTP_RATE_LIMIT_MAX_LIMITS) {
        return "is set more than 8 times here";
    }

    limit = ngx_array_push(rlcf->limits);
    if (limit == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(limit, sizeof(ngx_http_rate_limit_limit_t));

    limit->burst_n = -1;
    limit->cost_n = 1;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            shm_zone = ngx_shared_memory_add(cf, &s, 0,
                                             &ngx_http_rate_limit_module);
            if (shm_zone == NULL) {
                return NGX_CONF_ERROR;
            }

            limit->shm_zone = shm_zone;
            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (s.data[0] == '$') {
                if (ngx_http_rate_limit_param(cf, &s, &limit->rate)
                    != NGX_CONF_OK)
                {
                    return NGX_CONF_ERROR;
                }

            } else if (ngx_http_rate_limit_parse_rate(&s, &limit->interval)
                       != NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\": \"10r/s\", "
                                   "\"100r/m\", \"1000r/h\", \"10000r/d\" "
                                   "or a variable expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0
            || ngx_strncmp(value[i].data, "cost=", 5) == 0)
        {
            s.data = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            if (s.len && s.data[0] == '$') {
                if (ngx_http_rate_limit_param(cf, &s,
                                              value[i].data[0] == 'b'
                                              ? &limit->burst : &limit->cost)
                    != NGX_CONF_OK)
                {
                    return NGX_CONF_ERROR;
                }

                continue;
            }

            n = ngx_atoi(s.data, s.len);

            if (n == NGX_ERROR || n > NGX_HTTP_RATE_LIMIT_MAX_COST) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\": a number or a "
                                   "variable expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (value[i].data[0] == 'b') {
                limit->burst_n = n;

            } else {
                limit->cost_n = n;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "dry_run") == 0) {
            limit->dry_run = 1;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (limit->shm_zone == NULL) {
        return "needs \"zone=name\"";
    }

    /* one bucket per key and zone: a second limit on it would race it */

    limits = rlcf->limits->elts;

    for (i = 0; i < rlcf->limits->nelts - 1; i++) {
        if (limits[i].shm_zone == limit->shm_zone) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "zone \"%V\" is already limited here",
                               &limit->shm_zone->shm.name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_rate_limit_param(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_complex_value_t **cv)
{
    ngx_http_compile_complex_value_t  ccv;

    *cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (*cv == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = *cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_rate_limit_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rate_limit_loc_conf_t *rlcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (rlcf->status != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 400 || n > 599) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid status \"%V\": \"rate_limit_status\" "
                           "must be between 400 and 599", &value[1]);
        return NGX_CONF_ERROR;
    }

    rlcf->status = n;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_rate_limit_init(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_list_part_t            *part;
    ngx_shm_zone_t             *shm_zone;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    /* a zone that rate_limit named but rate_limit_zone never declared */

    part = &cf->cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].tag == &ngx_http_rate_limit_module
            && shm_zone[i].data == NULL)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"rate_limit\" uses unknown zone \"%V\"",
                               &shm_zone[i].shm.name);
            return NGX_ERROR;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_rate_limit_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_rate_limit_header_filter;

    return NGX_OK;
}


/* a worker leaves no Redis connection open behind it */

static void
ngx_http_rate_limit_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i;
    ngx_http_rate_limit_redis_t     **rd;
    ngx_http_rate_limit_main_conf_t  *rlmcf;

    rlmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                ngx_http_rate_limit_module);
    if (rlmcf == NULL) {
        return;
    }

    rd = rlmcf->redis.elts;

    for (i = 0; i < rlmcf->redis.nelts; i++) {
        ngx_http_rate_limit_redis_close(rd[i]);
    }
}
