
/*
 * Prometheus metrics for the gateway: requests, times and bytes by route,
 * and the decisions of the other gateway modules, read from their
 * variables when they are loaded.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_metrics.h"
#include "ngx_gw_conf.h"
#include "ngx_gw_decision.h"


/* the variables of the other modules, if loaded; see the README */
typedef enum {
    NGX_HTTP_GATEWAY_METRICS_JWT_STATUS = 0,
    NGX_HTTP_GATEWAY_METRICS_RATE_LIMIT_ZONES,
    NGX_HTTP_GATEWAY_METRICS_AGGREGATE_PARTS,
    NGX_HTTP_GATEWAY_METRICS_JWT_KEY_FETCHES,
    NGX_HTTP_GATEWAY_METRICS_INTROSPECT_STATUS,
    NGX_HTTP_GATEWAY_METRICS_SOURCES
} ngx_http_gateway_metrics_source_e;


typedef struct {
    ngx_http_gateway_metrics_zone_t    *zone;
    ngx_int_t                           sources[
                                            NGX_HTTP_GATEWAY_METRICS_SOURCES];
} ngx_http_gateway_metrics_main_conf_t;


typedef struct {
    ngx_http_complex_value_t           *route;     /* NULL: off */
    ngx_flag_t                          serve;     /* gateway_metrics */

    /* a route without variables: its series, found once by each worker */
    ngx_http_gateway_metrics_series_t  *series;
} ngx_http_gateway_metrics_loc_conf_t;


static ngx_int_t ngx_http_gateway_metrics_log_handler(ngx_http_request_t *r);
static void ngx_http_gateway_metrics_count_route(ngx_http_request_t *r,
    ngx_http_gateway_metrics_zone_t *zone,
    ngx_http_gateway_metrics_series_t *series);
static void ngx_http_gateway_metrics_observe(ngx_atomic_t *histogram,
    ngx_http_gateway_metrics_buckets_t *buckets, ngx_msec_int_t ms);
static ngx_msec_int_t ngx_http_gateway_metrics_upstream_time(
    ngx_http_request_t *r);
static void ngx_http_gateway_metrics_count_status(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf, ngx_str_t *route,
    ngx_uint_t source, ngx_uint_t family);
static void ngx_http_gateway_metrics_count_rate_limit(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf);
static void ngx_http_gateway_metrics_count_parts(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf, ngx_str_t *route);
static ngx_http_variable_value_t *ngx_http_gateway_metrics_source(
    ngx_http_request_t *r, ngx_http_gateway_metrics_main_conf_t *gmcf,
    ngx_uint_t source);
static u_char *ngx_http_gateway_metrics_entry(u_char **pos, u_char *last,
    u_char **start);
static u_char *ngx_http_gateway_metrics_field(u_char *p, u_char *last,
    ngx_str_t *field);
static void ngx_http_gateway_metrics_increment(
    ngx_http_gateway_metrics_zone_t *zone, ngx_uint_t family,
    ngx_str_t *labels, ngx_uint_t n);
static ngx_int_t ngx_http_gateway_metrics_lowcase(ngx_str_t *value,
    u_char *buf);
static ngx_uint_t ngx_http_gateway_metrics_key_fetches(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf,
    ngx_http_gateway_metrics_sample_t *samples, ngx_uint_t max);
static ngx_int_t ngx_http_gateway_metrics_handler(ngx_http_request_t *r);
static void *ngx_http_gateway_metrics_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_gateway_metrics_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gateway_metrics_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_gateway_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gateway_metrics_buckets(ngx_conf_t *cf,
    ngx_str_t *value, ngx_http_gateway_metrics_buckets_t *buckets);
static char *ngx_http_gateway_metrics_route(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gateway_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_gateway_metrics_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_gateway_metrics_commands[] = {

    { ngx_string("gateway_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_gateway_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gateway_metrics_route"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gateway_metrics_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gateway_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gateway_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gateway_metrics_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_gateway_metrics_init,         /* postconfiguration */

    ngx_http_gateway_metrics_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gateway_metrics_create_loc_conf,
                                           /* create location configuration */
    ngx_http_gateway_metrics_merge_loc_conf
                                           /* merge location configuration */
};


ngx_module_t  ngx_http_gateway_metrics_module = {
    NGX_MODULE_V1,
    &ngx_http_gateway_metrics_module_ctx,  /* module context */
    ngx_http_gateway_metrics_commands,     /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_gateway_metrics_source_names[] = {
    ngx_string(NGX_GW_DECISION_JWT_STATUS),
    ngx_string(NGX_GW_DECISION_RATE_LIMIT_ZONES),
    ngx_string(NGX_GW_DECISION_AGGREGATE_PARTS),
    ngx_string(NGX_GW_DECISION_JWT_KEY_FETCHES),
    ngx_string(NGX_GW_DECISION_INTROSPECT_STATUS)
};


/* Prometheus's default buckets */
static ngx_msec_t  ngx_http_gateway_metrics_default_bounds[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};


static ngx_int_t
ngx_http_gateway_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_str_t                              route;
    ngx_http_gateway_metrics_zone_t       *zone;
    ngx_http_gateway_metrics_series_t     *series;
    ngx_http_gateway_metrics_loc_conf_t   *gmlcf;
    ngx_http_gateway_metrics_main_conf_t  *gmcf;

    if (r != r->main) {
        return NGX_OK;
    }

    gmlcf = ngx_http_get_module_loc_conf(r, ngx_http_gateway_metrics_module);

    if (gmlcf->route == NULL) {
        return NGX_OK;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gateway_metrics_module);
    zone = gmcf->zone;

    series = gmlcf->series;

    if (series == NULL) {
        if (ngx_http_complex_value(r, gmlcf->route, &route) != NGX_OK) {
            return NGX_OK;
        }

        /* as with limit_req's keys, an empty route is not counted */

        if (route.len == 0) {
            return NGX_OK;
        }

        series = ngx_http_gateway_metrics_series(zone,
                                                 NGX_HTTP_GATEWAY_METRICS_ROUTE,
                                                 &route, 1);
        if (series && gmlcf->route->lengths == NULL) {
            gmlcf->series = series;
        }

    } else {
        route = gmlcf->route->value;
    }

    if (series) {
        ngx_http_gateway_metrics_count_route(r, zone, series);
    }

    if (gmcf->sources[NGX_HTTP_GATEWAY_METRICS_JWT_STATUS] != NGX_ERROR) {
        ngx_http_gateway_metrics_count_status(r, gmcf, &route,
                                        NGX_HTTP_GATEWAY_METRICS_JWT_STATUS,
                                        NGX_HTTP_GATEWAY_METRICS_JWT);
    }

    if (gmcf->sources[NGX_HTTP_GATEWAY_METRICS_INTROSPECT_STATUS]
        != NGX_ERROR)
    {
        ngx_http_gateway_metrics_count_status(r, gmcf, &route,
                                  NGX_HTTP_GATEWAY_METRICS_INTROSPECT_STATUS,
                                  NGX_HTTP_GATEWAY_METRICS_INTROSPECT);
    }

    if (gmcf->sources[NGX_HTTP_GATEWAY_METRICS_RATE_LIMIT_ZONES]
        != NGX_ERROR)
    {
        ngx_http_gateway_metrics_count_rate_limit(r, gmcf);
    }

    if (gmcf->sources[NGX_HTTP_GATEWAY_METRICS_AGGREGATE_PARTS]
        != NGX_ERROR)
    {
        ngx_http_gateway_metrics_count_parts(r, gmcf, &route);
    }

    return NGX_OK;
}


static void
ngx_http_gateway_metrics_count_route(ngx_http_request_t *r,
    ngx_http_gateway_metrics_zone_t *zone,
    ngx_http_gateway_metrics_series_t *series)
{
    ngx_uint_t                           method, status, class, nbuckets;
    ngx_time_t                          *tp;
    ngx_msec_int_t                       ms;
    ngx_atomic_t                        *values;
    ngx_http_gateway_metrics_buckets_t  *buckets;

    switch (r->method) {
    case NGX_HTTP_GET:
        method = 0;
        break;
    case NGX_HTTP_HEAD:
        method = 1;
        break;
    case NGX_HTTP_POST:
        method = 2;
        break;
    case NGX_HTTP_PUT:
        method = 3;
        break;
    case NGX_HTTP_DELETE:
        method = 4;
        break;
    case NGX_HTTP_PATCH:
        method = 5;
        break;
    case NGX_HTTP_OPTIONS:
        method = 6;
        break;
    default:
        method = 7;
    }

    /* the status as $status tells it */

    status = r->err_status ? r->err_status : r->headers_out.status;
    class = status / 100;

    if (class < 1 || class > 5) {
        class = 6;
    }

    buckets = &zone->sh->buckets;
    nbuckets = buckets->nbuckets;
    values = series->values;

    (void) ngx_atomic_fetch_add(&values[NGX_HTTP_GATEWAY_METRICS_REQUESTS
                                        + method
                                          * NGX_HTTP_GATEWAY_METRICS_CLASSES
                                        + class - 1], 1);

    (void) ngx_atomic_fetch_add(&values[NGX_HTTP_GATEWAY_METRICS_RECEIVED],
                                r->request_length);
    (void) ngx_atomic_fetch_add(&values[NGX_HTTP_GATEWAY_METRICS_SENT],
                                r->connection->sent);

    /* the time as $request_time tells it */

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    ngx_http_gateway_metrics_observe(
                                &values[NGX_HTTP_GATEWAY_METRICS_DURATION],
                                buckets, ngx_max(ms, 0));

    ms = ngx_http_gateway_metrics_upstream_time(r);

    if (ms >= 0) {
        ngx_http_gateway_metrics_observe(
                           &values[ngx_http_gateway_metrics_upstream(nbuckets)],
                           buckets, ms);
    }
}


static void
ngx_http_gateway_metrics_observe(ngx_atomic_t *histogram,
    ngx_http_gateway_metrics_buckets_t *buckets, ngx_msec_int_t ms)
{
    ngx_uint_t  i;

    for (i = 0; i < buckets->nbuckets; i++) {
        if ((ngx_msec_t) ms <= buckets->bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&histogram[i], 1);
    (void) ngx_atomic_fetch_add(&histogram[buckets->nbuckets + 1], ms);
}


/* the sum of the tries, as $upstream_response_time lists them; -1: none */

static ngx_msec_int_t
ngx_http_gateway_metrics_upstream_time(ngx_http_request_t *r)
{
    ngx_uint_t                  i;
    ngx_msec_int_t              ms, sum;
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL) {
        return -1;
    }

    sum = -1;
    state = r->upstream_states->elts;

    for (i = 0; i < r->upstream_states->nelts; i++) {
        ms = (ngx_msec_int_t) state[i].response_time;

        if (state[i].peer == NULL || ms == -1) {
            continue;
        }

        sum = ngx_max(sum, 0) + ngx_max(ms, 0);
    }

    return sum;
}


/*
 * a status word of one module: $jwt_status, $introspect_status; then
 * $jwt_status's flags: "VALID:stale_keys:key_wait" (ngx_gw_decision.h)
 */

static void
ngx_http_gateway_metrics_count_status(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf, ngx_str_t *route,
    ngx_uint_t source, ngx_uint_t family)
{
    u_char                      low[NGX_GW_DECISION_WORD_LEN];
    u_char                     *p, *last;
    ngx_str_t                   labels[2], flag;
    ngx_http_variable_value_t  *v;

    v = ngx_http_gateway_metrics_source(r, gmcf, source);
    if (v == NULL) {
        return;
    }

    labels[0] = *route;

    last = v->data + v->len;
    p = ngx_http_gateway_metrics_field(v->data, last, &labels[1]);

    if (ngx_http_gateway_metrics_lowcase(&labels[1], low) != NGX_OK) {
        return;
    }

    ngx_http_gateway_metrics_increment(gmcf->zone, family, labels, 2);

    while (family == NGX_HTTP_GATEWAY_METRICS_JWT && p < last) {
        p = ngx_http_gateway_metrics_field(p, last, &flag);

        if (flag.len == sizeof(NGX_GW_DECISION_STALE_KEYS) - 1
            && ngx_strncmp(flag.data, NGX_GW_DECISION_STALE_KEYS, flag.len)
               == 0)
        {
            ngx_http_gateway_metrics_increment(gmcf->zone,
                                        NGX_HTTP_GATEWAY_METRICS_JWT_STALE,
                                        labels, 1);

        } else if (flag.len == sizeof(NGX_GW_DECISION_KEY_WAIT) - 1
                   && ngx_strncmp(flag.data, NGX_GW_DECISION_KEY_WAIT,
                                  flag.len)
                      == 0)
        {
            ngx_http_gateway_metrics_increment(gmcf->zone,
                                    NGX_HTTP_GATEWAY_METRICS_JWT_KEY_WAITS,
                                    labels, 1);
        }
    }
}


/*
 * "ok:12, failed:1": auth_jwt_key_zone's fetches, as the scrape reads
 * them; n: how many of them it found
 */

static ngx_uint_t
ngx_http_gateway_metrics_key_fetches(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf,
    ngx_http_gateway_metrics_sample_t *samples, ngx_uint_t max)
{
    u_char                     *p, *next, *last, *end;
    ngx_int_t                   n;
    ngx_str_t                   value;
    ngx_uint_t                  i;
    ngx_http_variable_value_t  *v;

    if (gmcf->sources[NGX_HTTP_GATEWAY_METRICS_JWT_KEY_FETCHES] == NGX_ERROR)
    {
        return 0;
    }

    v = ngx_http_gateway_metrics_source(r, gmcf,
                                     NGX_HTTP_GATEWAY_METRICS_JWT_KEY_FETCHES);
    if (v == NULL) {
        return 0;
    }

    next = v->data;
    last = v->data + v->len;
    i = 0;

    while (i < max && (end = ngx_http_gateway_metrics_entry(&next, last, &p)))
    {
        p = ngx_http_gateway_metrics_field(p, end, &samples[i].label);
        (void) ngx_http_gateway_metrics_field(p, end, &value);

        n = ngx_atoi(value.data, value.len);

        /* words, written as they are: nothing to escape */

        for (p = samples[i].label.data;
             p < samples[i].label.data + samples[i].label.len;
             p++)
        {
            if (*p < 'a' || *p > 'z') {
                n = NGX_ERROR;
            }
        }

        if (samples[i].label.len && n != NGX_ERROR) {
            samples[i++].value = n;
        }
    }

    return i;
}


/* "api:PASSED, login:REJECTED:evicted:redis_failed" (ngx_gw_decision.h) */

static void
ngx_http_gateway_metrics_count_rate_limit(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf)
{
    u_char                      low[NGX_GW_DECISION_WORD_LEN];
    u_char                     *p, *next, *last, *end;
    ngx_str_t                   labels[2], flag;
    ngx_http_variable_value_t  *v;

    v = ngx_http_gateway_metrics_source(r, gmcf,
                                     NGX_HTTP_GATEWAY_METRICS_RATE_LIMIT_ZONES);
    if (v == NULL) {
        return;
    }

    next = v->data;
    last = v->data + v->len;

    while ((end = ngx_http_gateway_metrics_entry(&next, last, &p))) {
        p = ngx_http_gateway_metrics_field(p, end, &labels[0]);
        p = ngx_http_gateway_metrics_field(p, end, &labels[1]);

        if (labels[0].len && labels[1].len
            && ngx_http_gateway_metrics_lowcase(&labels[1], low) == NGX_OK)
        {
            ngx_http_gateway_metrics_increment(gmcf->zone,
                                        NGX_HTTP_GATEWAY_METRICS_RATE_LIMIT,
                                        labels, 2);
        }

        while (p < end) {
            p = ngx_http_gateway_metrics_field(p, end, &flag);

            if (flag.len == sizeof(NGX_GW_DECISION_EVICTED) - 1
                && ngx_strncmp(flag.data, NGX_GW_DECISION_EVICTED, flag.len)
                   == 0)
            {
                ngx_http_gateway_metrics_increment(gmcf->zone,
                                        NGX_HTTP_GATEWAY_METRICS_EVICTIONS,
                                        labels, 1);

            } else if (flag.len == sizeof(NGX_GW_DECISION_REDIS_FAILED) - 1
                       && ngx_strncmp(flag.data, NGX_GW_DECISION_REDIS_FAILED,
                                      flag.len)
                          == 0)
            {
                ngx_http_gateway_metrics_increment(gmcf->zone,
                                    NGX_HTTP_GATEWAY_METRICS_REDIS_FAILURES,
                                    labels, 1);
            }
        }
    }
}


/* "product:OK, reviews:TIMEOUT" (ngx_gw_decision.h) */

static void
ngx_http_gateway_metrics_count_parts(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf, ngx_str_t *route)
{
    u_char                      low[NGX_GW_DECISION_WORD_LEN];
    u_char                     *p, *next, *last, *end;
    ngx_str_t                   labels[3];
    ngx_http_variable_value_t  *v;

    v = ngx_http_gateway_metrics_source(r, gmcf,
                                     NGX_HTTP_GATEWAY_METRICS_AGGREGATE_PARTS);
    if (v == NULL) {
        return;
    }

    labels[0] = *route;

    next = v->data;
    last = v->data + v->len;

    while ((end = ngx_http_gateway_metrics_entry(&next, last, &p))) {
        p = ngx_http_gateway_metrics_field(p, end, &labels[1]);
        p = ngx_http_gateway_metrics_field(p, end, &labels[2]);

        if (labels[1].len && labels[2].len
            && ngx_http_gateway_metrics_lowcase(&labels[2], low) == NGX_OK)
        {
            ngx_http_gateway_metrics_increment(gmcf->zone,
                                               NGX_HTTP_GATEWAY_METRICS_PARTS,
                                               labels, 3);
        }
    }
}


/* NULL: the module is not loaded, or has nothing to say of the request */

static ngx_http_variable_value_t *
ngx_http_gateway_metrics_source(ngx_http_request_t *r,
    ngx_http_gateway_metrics_main_conf_t *gmcf, ngx_uint_t source)
{
    ngx_http_variable_value_t  *v;

    v = ngx_http_get_indexed_variable(r, gmcf->sources[source]);

    if (v == NULL || v->not_found || v->len == 0) {
        return NULL;
    }

    return v;
}


/*
 * The next entry of a list of decisions: from *start to the end returned,
 * NULL when there is none; *pos moves past it and its separator.
 */

static u_char *
ngx_http_gateway_metrics_entry(u_char **pos, u_char *last, u_char **start)
{
    u_char  *p, *end;

    p = *pos;

    if (p >= last) {
        return NULL;
    }

    end = ngx_strlchr(p, last, NGX_GW_DECISION_ENTRY_SEP[0]);

    if (end == NULL) {
        end = last;
    }

    *start = p;

    for (p = end + 1; p < last && *p == ' '; p++) {
        /* void */
    }

    *pos = p;

    return end;
}


static u_char *
ngx_http_gateway_metrics_field(u_char *p, u_char *last, ngx_str_t *field)
{
    field->data = p;

    while (p < last && *p != NGX_GW_DECISION_FIELD_SEP) {
        p++;
    }

    field->len = p - field->data;

    return (p < last) ? p + 1 : p;
}


static void
ngx_http_gateway_metrics_increment(ngx_http_gateway_metrics_zone_t *zone,
    ngx_uint_t family, ngx_str_t *labels, ngx_uint_t n)
{
    ngx_http_gateway_metrics_series_t  *series;

    series = ngx_http_gateway_metrics_series(zone, family, labels, n);

    if (series) {
        (void) ngx_atomic_fetch_add(&series->values[0], 1);
    }
}


/*
 * The modules' statuses are upper case, as nginx's; labels are lower.
 * Statuses are short words: a buffer on the stack, not the request's pool.
 */

static ngx_int_t
ngx_http_gateway_metrics_lowcase(ngx_str_t *value, u_char *buf)
{
    if (value->len > NGX_GW_DECISION_WORD_LEN) {
        return NGX_ERROR;
    }

    ngx_strlow(buf, value->data, value->len);
    value->data = buf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_metrics_handler(ngx_http_request_t *r)
{
    ngx_buf_t                             *last;
    ngx_int_t                              rc;
    ngx_uint_t                             n;
    ngx_chain_t                           *out, *cl;
    ngx_http_gateway_metrics_sample_t      fetches[4];
    ngx_http_gateway_metrics_main_conf_t  *gmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gateway_metrics_module);

    out = NULL;

    n = ngx_http_gateway_metrics_key_fetches(r, gmcf, fetches, 4);

    if (ngx_http_gateway_metrics_output(r, gmcf->zone, fetches, n, &out)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.content_length_n = 0;

    last = NULL;

    /* the output ends with the dropped counter: never empty */

    for (cl = out; cl; cl = cl->next) {
        r->headers_out.content_length_n += cl->buf->last - cl->buf->pos;
        last = cl->buf;
    }

    last->last_buf = (r == r->main) ? 1 : 0;
    last->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


static void *
ngx_http_gateway_metrics_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gateway_metrics_main_conf_t  *gmcf;

    gmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_metrics_main_conf_t));
    if (gmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     gmcf->zone = NULL;
     */

    return gmcf;
}


static void *
ngx_http_gateway_metrics_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gateway_metrics_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_metrics_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->serve = 0;
     *     conf->series = NULL;
     */

    conf->route = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_gateway_metrics_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_gateway_metrics_loc_conf_t *prev = parent;
    ngx_http_gateway_metrics_loc_conf_t *conf = child;

    ngx_http_gateway_metrics_main_conf_t  *gmcf;

    ngx_conf_merge_ptr_value(conf->route, prev->route, NULL);

    gmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_gateway_metrics_module);

    if ((conf->route || conf->serve) && gmcf->zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" needs a \"gateway_metrics_zone\" in the "
                           "http block",
                           conf->serve ? "gateway_metrics"
                                       : "gateway_metrics_route");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* gateway_metrics_zone name:size [buckets=5ms,10ms,...] */

static char *
ngx_http_gateway_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_metrics_main_conf_t *gmcf = conf;

    char                             *rv;
    ssize_t                           size;
    ngx_str_t                        *value, name;
    ngx_uint_t                        i;
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_gateway_metrics_zone_t  *zone;

    if (gmcf->zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_metrics_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_gw_conf_zone(cf, &value[1], "", &name, &size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    zone->buckets.nbuckets = sizeof(ngx_http_gateway_metrics_default_bounds)
                             / sizeof(ngx_msec_t);
    ngx_memcpy(zone->buckets.bounds, ngx_http_gateway_metrics_default_bounds,
               sizeof(ngx_http_gateway_metrics_default_bounds));

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "buckets=", 8) == 0) {
            rv = ngx_http_gateway_metrics_buckets(cf, &value[i],
                                                  &zone->buckets);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_gateway_metrics_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_gateway_metrics_init_zone;
    shm_zone->data = zone;
    zone->shm_zone = shm_zone;

    gmcf->zone = zone;

    return NGX_CONF_OK;
}


/* "buckets=5ms,10ms,25ms,100ms,1s": increasing, in nginx's time units */

static char *
ngx_http_gateway_metrics_buckets(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_gateway_metrics_buckets_t *buckets)
{
    u_char     *p, *last, *end;
    ngx_int_t   ms;
    ngx_str_t   s;

    p = value->data + sizeof("buckets=") - 1;
    last = value->data + value->len;

    buckets->nbuckets = 0;

    while (p < last) {
        end = ngx_strlchr(p, last, ',');

        if (end == NULL) {
            end = last;
        }

        s.data = p;
        s.len = end - p;

        ms = ngx_parse_time(&s, 0);

        if (ms == NGX_ERROR || ms == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid bucket \"%V\" in \"%V\"", &s, value);
            return NGX_CONF_ERROR;
        }

        if (buckets->nbuckets == NGX_HTTP_GATEWAY_METRICS_BUCKETS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "too many buckets in \"%V\": %d at most",
                               value, NGX_HTTP_GATEWAY_METRICS_BUCKETS);
            return NGX_CONF_ERROR;
        }

        if (buckets->nbuckets
            && (ngx_msec_t) ms <= buckets->bounds[buckets->nbuckets - 1])
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "buckets in \"%V\" must increase", value);
            return NGX_CONF_ERROR;
        }

        buckets->bounds[buckets->nbuckets++] = (ngx_msec_t) ms;

        p = end + 1;
    }

    if (buckets->nbuckets == 0 || last[-1] == ',') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", value);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* gateway_metrics_route users | $variable | off */

static char *
ngx_http_gateway_metrics_route(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gateway_metrics_loc_conf_t *gmlcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (gmlcf->route != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        gmlcf->route = NULL;
        return NGX_CONF_OK;
    }

    if (value[1].len == 0) {
        return "takes a route name, a variable, or \"off\"";
    }

    gmlcf->route = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (gmlcf->route == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = gmlcf->route;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_gateway_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_metrics_loc_conf_t *gmlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (gmlcf->serve) {
        return "is duplicate";
    }

    gmlcf->serve = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_gateway_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * The other modules' variables are looked up by name, not linked against:
 * each is counted only if its module is loaded, in whatever order.
 */

static ngx_int_t
ngx_http_gateway_metrics_init(ngx_conf_t *cf)
{
    ngx_str_t                             *name;
    ngx_uint_t                             i, k;
    ngx_hash_key_t                        *key;
    ngx_http_handler_pt                   *h;
    ngx_http_core_main_conf_t             *cmcf;
    ngx_http_gateway_metrics_main_conf_t  *gmcf;

    gmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_gateway_metrics_module);

    for (i = 0; i < NGX_HTTP_GATEWAY_METRICS_SOURCES; i++) {
        gmcf->sources[i] = NGX_ERROR;
    }

    if (gmcf->zone == NULL) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    key = cmcf->variables_keys->keys.elts;

    for (i = 0; i < NGX_HTTP_GATEWAY_METRICS_SOURCES; i++) {
        name = &ngx_http_gateway_metrics_source_names[i];

        for (k = 0; k < cmcf->variables_keys->keys.nelts; k++) {
            if (key[k].key.len == name->len
                && ngx_strncmp(key[k].key.data, name->data, name->len) == 0)
            {
                gmcf->sources[i] = ngx_http_get_variable_index(cf, name);
                if (gmcf->sources[i] == NGX_ERROR) {
                    return NGX_ERROR;
                }

                break;
            }
        }
    }

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_gateway_metrics_log_handler;

    return NGX_OK;
}
