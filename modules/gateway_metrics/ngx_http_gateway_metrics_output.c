
/*
 * The zone's series in Prometheus's text exposition format, version 0.0.4.
 * Counters are read while workers add to them, without the zone's lock:
 * a scrape never makes a request wait.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_metrics.h"
#include "ngx_gw_health.h"


#define NGX_HTTP_GATEWAY_METRICS_CHUNK  16384

/* a number with its separators: "} 18446744073709551615\n" */
#define NGX_HTTP_GATEWAY_METRICS_NUMBER  (NGX_ATOMIC_T_LEN + 8)


typedef struct {
    ngx_http_request_t                 *request;
    ngx_http_gateway_metrics_zone_t    *zone;
    ngx_chain_t                        *out;
    ngx_chain_t                       **last;
    ngx_buf_t                          *buf;
} ngx_http_gateway_metrics_writer_t;


typedef struct {
    ngx_str_t                           name;
    char                               *help;
    char                               *type;
    ngx_uint_t                          family;
    ngx_uint_t                          offset;    /* of its counter */
    char                              **labels;
} ngx_http_gateway_metrics_metric_t;


static ngx_int_t ngx_http_gateway_metrics_counters(
    ngx_http_gateway_metrics_writer_t *w,
    ngx_http_gateway_metrics_metric_t *metric);
static ngx_int_t ngx_http_gateway_metrics_requests(
    ngx_http_gateway_metrics_writer_t *w,
    ngx_http_gateway_metrics_metric_t *metric);
static ngx_int_t ngx_http_gateway_metrics_histograms(
    ngx_http_gateway_metrics_writer_t *w,
    ngx_http_gateway_metrics_metric_t *metric);
static ngx_int_t ngx_http_gateway_metrics_health(
    ngx_http_gateway_metrics_writer_t *w, ngx_gw_health_table_t *table);
static u_char *ngx_http_gateway_metrics_head(
    ngx_http_gateway_metrics_writer_t *w,
    ngx_http_gateway_metrics_metric_t *metric,
    ngx_http_gateway_metrics_series_t *series, char *suffix, size_t more);
static u_char *ngx_http_gateway_metrics_escape(u_char *p, u_char *src,
    size_t len);
static u_char *ngx_http_gateway_metrics_seconds(u_char *p, uint64_t ms,
    ngx_uint_t trim);
static u_char *ngx_http_gateway_metrics_reserve(
    ngx_http_gateway_metrics_writer_t *w, size_t size);


static char  *ngx_http_gateway_metrics_route_labels[] = { "route", NULL };
static char  *ngx_http_gateway_metrics_result_labels[] = { "result", NULL };
static char  *ngx_http_gateway_metrics_status_labels[] = {
    "route", "status", NULL };
static char  *ngx_http_gateway_metrics_limit_labels[] = {
    "zone", "status", NULL };
static char  *ngx_http_gateway_metrics_zone_labels[] = { "zone", NULL };
static char  *ngx_http_gateway_metrics_part_labels[] = {
    "route", "part", "outcome", NULL };


static ngx_str_t  ngx_http_gateway_metrics_methods[] = {
    ngx_string("GET"),
    ngx_string("HEAD"),
    ngx_string("POST"),
    ngx_string("PUT"),
    ngx_string("DELETE"),
    ngx_string("PATCH"),
    ngx_string("OPTIONS"),
    ngx_string("OTHER")
};


static ngx_str_t  ngx_http_gateway_metrics_classes[] = {
    ngx_string("1xx"),
    ngx_string("2xx"),
    ngx_string("3xx"),
    ngx_string("4xx"),
    ngx_string("5xx"),
    ngx_string("0xx")
};


/* offsets of histograms: 0 for request time, 1 for upstream time */

static ngx_http_gateway_metrics_metric_t  ngx_http_gateway_metrics_metrics[] = {

    { ngx_string("gateway_http_requests_total"),
      "Requests by route, method and status class.",
      "counter", NGX_HTTP_GATEWAY_METRICS_ROUTE,
      NGX_HTTP_GATEWAY_METRICS_REQUESTS,
      ngx_http_gateway_metrics_route_labels },

    { ngx_string("gateway_http_request_duration_seconds"),
      "Time from the first byte of the request to the log phase.",
      "histogram", NGX_HTTP_GATEWAY_METRICS_ROUTE, 0,
      ngx_http_gateway_metrics_route_labels },

    { ngx_string("gateway_http_received_bytes_total"),
      "Bytes of requests: request line, headers and body.",
      "counter", NGX_HTTP_GATEWAY_METRICS_ROUTE,
      NGX_HTTP_GATEWAY_METRICS_RECEIVED,
      ngx_http_gateway_metrics_route_labels },

    { ngx_string("gateway_http_sent_bytes_total"),
      "Bytes sent to clients.",
      "counter", NGX_HTTP_GATEWAY_METRICS_ROUTE,
      NGX_HTTP_GATEWAY_METRICS_SENT,
      ngx_http_gateway_metrics_route_labels },

    { ngx_string("gateway_upstream_response_duration_seconds"),
      "Upstream response time of requests that went upstream, "
      "summed over tries.",
      "histogram", NGX_HTTP_GATEWAY_METRICS_ROUTE, 1,
      ngx_http_gateway_metrics_route_labels },

    { ngx_string("gateway_jwt_requests_total"),
      "Requests checked by auth_jwt, by $jwt_status.",
      "counter", NGX_HTTP_GATEWAY_METRICS_JWT, 0,
      ngx_http_gateway_metrics_status_labels },

    { ngx_string("gateway_introspect_requests_total"),
      "Requests checked by auth_introspect, by $introspect_status.",
      "counter", NGX_HTTP_GATEWAY_METRICS_INTROSPECT, 0,
      ngx_http_gateway_metrics_status_labels },

    { ngx_string("gateway_jwt_stale_keys_total"),
      "Requests auth_jwt checked with keys kept past auth_jwt_key_cache "
      "while their source failed.",
      "counter", NGX_HTTP_GATEWAY_METRICS_JWT_STALE, 0,
      ngx_http_gateway_metrics_route_labels },

    { ngx_string("gateway_jwt_key_waits_total"),
      "Requests that waited for auth_jwt keys to be fetched.",
      "counter", NGX_HTTP_GATEWAY_METRICS_JWT_KEY_WAITS, 0,
      ngx_http_gateway_metrics_route_labels },

    { ngx_string("gateway_rate_limit_requests_total"),
      "Decisions of rate limits, by zone and status.",
      "counter", NGX_HTTP_GATEWAY_METRICS_RATE_LIMIT, 0,
      ngx_http_gateway_metrics_limit_labels },

    { ngx_string("gateway_rate_limit_evictions_total"),
      "Buckets in use dropped because the zone was full.",
      "counter", NGX_HTTP_GATEWAY_METRICS_EVICTIONS, 0,
      ngx_http_gateway_metrics_zone_labels },

    { ngx_string("gateway_rate_limit_redis_failures_total"),
      "Requests whose limit Redis did not decide.",
      "counter", NGX_HTTP_GATEWAY_METRICS_REDIS_FAILURES, 0,
      ngx_http_gateway_metrics_zone_labels },

    { ngx_string("gateway_aggregate_parts_total"),
      "Parts of aggregated responses, by outcome.",
      "counter", NGX_HTTP_GATEWAY_METRICS_PARTS, 0,
      ngx_http_gateway_metrics_part_labels },

    { ngx_null_string, NULL, NULL, 0, 0, NULL }
};


/* read from auth_jwt_key_zone at each scrape, by $jwt_key_fetches */

static ngx_http_gateway_metrics_metric_t  ngx_http_gateway_metrics_key_fetches =
    { ngx_string("gateway_jwt_key_fetches_total"),
      "Fetches of auth_jwt key sets by every worker, by result.",
      "counter", 0, 0, ngx_http_gateway_metrics_result_labels };


ngx_int_t
ngx_http_gateway_metrics_output(ngx_http_request_t *r,
    ngx_http_gateway_metrics_zone_t *zone,
    ngx_http_gateway_metrics_sample_t *key_fetches, ngx_uint_t n,
    ngx_chain_t **out)
{
    u_char                             *p;
    ngx_int_t                           rc;
    ngx_uint_t                          i;
    ngx_gw_health_table_t              *table;
    ngx_http_gateway_metrics_metric_t  *metric;
    ngx_http_gateway_metrics_writer_t   w;

    w.request = r;
    w.zone = zone;
    w.out = NULL;
    w.last = &w.out;
    w.buf = NULL;

    for (metric = ngx_http_gateway_metrics_metrics; metric->name.len; metric++)
    {
        if (zone->sh->first[metric->family] == NULL) {
            continue;
        }

        if (metric->type[0] == 'h') {
            rc = ngx_http_gateway_metrics_histograms(&w, metric);

        } else if (metric->family == NGX_HTTP_GATEWAY_METRICS_ROUTE
                   && metric->offset == NGX_HTTP_GATEWAY_METRICS_REQUESTS)
        {
            rc = ngx_http_gateway_metrics_requests(&w, metric);

        } else {
            rc = ngx_http_gateway_metrics_counters(&w, metric);
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    metric = &ngx_http_gateway_metrics_key_fetches;

    for (i = 0; i < n; i++) {
        if (i == 0
            && ngx_http_gateway_metrics_head(&w, metric, NULL, NULL, 0)
               == NULL)
        {
            return NGX_ERROR;
        }

        p = ngx_http_gateway_metrics_reserve(&w,
                                        metric->name.len
                                        + key_fetches[i].label.len
                                        + sizeof("{result=\"\"} ")
                                        + NGX_HTTP_GATEWAY_METRICS_NUMBER);
        if (p == NULL) {
            return NGX_ERROR;
        }

        w.buf->last = ngx_sprintf(p, "%V{result=\"%V\"} %uA\n",
                                  &metric->name, &key_fetches[i].label,
                                  key_fetches[i].value);
    }

    table = ngx_gw_health_table((ngx_cycle_t *) ngx_cycle);

    if (table && ngx_http_gateway_metrics_health(&w, table) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_http_gateway_metrics_reserve(&w, 256);
    if (p == NULL) {
        return NGX_ERROR;
    }

    w.buf->last = ngx_sprintf(p,
                      "# HELP gateway_metrics_dropped_total Updates lost: "
                      "the zone was full or a label too long.\n"
                      "# TYPE gateway_metrics_dropped_total counter\n"
                      "gateway_metrics_dropped_total %uA\n",
                      zone->sh->dropped);

    *out = w.out;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_metrics_counters(ngx_http_gateway_metrics_writer_t *w,
    ngx_http_gateway_metrics_metric_t *metric)
{
    u_char                             *p;
    ngx_http_gateway_metrics_series_t  *series;

    p = ngx_http_gateway_metrics_head(w, metric, NULL, NULL, 0);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (series = w->zone->sh->first[metric->family];
         series;
         series = series->sibling)
    {
        p = ngx_http_gateway_metrics_head(w, metric, series, "", 0);
        if (p == NULL) {
            return NGX_ERROR;
        }

        w->buf->last = ngx_sprintf(p, "} %uA\n",
                                   series->values[metric->offset]);
    }

    return NGX_OK;
}


/* only the methods and status classes a route has seen */

static ngx_int_t
ngx_http_gateway_metrics_requests(ngx_http_gateway_metrics_writer_t *w,
    ngx_http_gateway_metrics_metric_t *metric)
{
    u_char                             *p;
    ngx_uint_t                          m, c;
    ngx_atomic_uint_t                   n;
    ngx_http_gateway_metrics_series_t  *series;

    p = ngx_http_gateway_metrics_head(w, metric, NULL, NULL, 0);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (series = w->zone->sh->first[metric->family];
         series;
         series = series->sibling)
    {
        for (m = 0; m < NGX_HTTP_GATEWAY_METRICS_METHODS; m++) {
            for (c = 0; c < NGX_HTTP_GATEWAY_METRICS_CLASSES; c++) {

                n = series->values[NGX_HTTP_GATEWAY_METRICS_REQUESTS
                                   + m * NGX_HTTP_GATEWAY_METRICS_CLASSES + c];
                if (n == 0) {
                    continue;
                }

                p = ngx_http_gateway_metrics_head(w, metric, series, "",
                                                  sizeof(",method=\"\"")
                                                  + sizeof(",status=\"\"")
                                                  + 16);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                w->buf->last = ngx_sprintf(p,
                                           ",method=\"%V\",status=\"%V\"} "
                                           "%uA\n",
                                           &ngx_http_gateway_metrics_methods[m],
                                           &ngx_http_gateway_metrics_classes[c],
                                           n);
            }
        }
    }

    return NGX_OK;
}


/*
 * Buckets are kept apart and added up here, so that "+Inf" and "_count"
 * are the same number; a scrape racing a request may see the request in
 * the buckets and not yet in "_sum", never the other way round in one
 * bucket.
 */

static ngx_int_t
ngx_http_gateway_metrics_histograms(ngx_http_gateway_metrics_writer_t *w,
    ngx_http_gateway_metrics_metric_t *metric)
{
    u_char                              *p;
    uint64_t                             count;
    ngx_uint_t                           i, nbuckets, offset;
    ngx_atomic_t                        *histogram;
    ngx_http_gateway_metrics_buckets_t  *buckets;
    ngx_http_gateway_metrics_series_t   *series;

    buckets = &w->zone->sh->buckets;
    nbuckets = buckets->nbuckets;

    offset = metric->offset ? ngx_http_gateway_metrics_upstream(nbuckets)
                            : NGX_HTTP_GATEWAY_METRICS_DURATION;

    p = NULL;

    for (series = w->zone->sh->first[metric->family];
         series;
         series = series->sibling)
    {
        histogram = &series->values[offset];

        count = 0;

        for (i = 0; i <= nbuckets; i++) {
            count += histogram[i];
        }

        /* routes that never went upstream have no upstream histogram */

        if (count == 0 && metric->offset) {
            continue;
        }

        if (p == NULL) {
            p = ngx_http_gateway_metrics_head(w, metric, NULL, NULL, 0);
            if (p == NULL) {
                return NGX_ERROR;
            }
        }

        count = 0;

        for (i = 0; i <= nbuckets; i++) {
            count += histogram[i];

            p = ngx_http_gateway_metrics_head(w, metric, series, "_bucket",
                                              sizeof(",le=\"\"} ")
                                              + NGX_ATOMIC_T_LEN + 8);
            if (p == NULL) {
                return NGX_ERROR;
            }

            p = ngx_cpymem(p, ",le=\"", sizeof(",le=\"") - 1);

            if (i < nbuckets) {
                p = ngx_http_gateway_metrics_seconds(p, buckets->bounds[i], 1);

            } else {
                p = ngx_cpymem(p, "+Inf", sizeof("+Inf") - 1);
            }

            w->buf->last = ngx_sprintf(p, "\"} %uL\n", count);
        }

        p = ngx_http_gateway_metrics_head(w, metric, series, "_sum",
                                          NGX_ATOMIC_T_LEN + 8);
        if (p == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(p, "} ", 2);
        p = ngx_http_gateway_metrics_seconds(p, histogram[nbuckets + 1], 0);
        *p++ = '\n';
        w->buf->last = p;

        p = ngx_http_gateway_metrics_head(w, metric, series, "_count", 0);
        if (p == NULL) {
            return NGX_ERROR;
        }

        w->buf->last = ngx_sprintf(p, "} %uL\n", count);
    }

    return NGX_OK;
}


/*
 * The servers that health_check checks, from its zone's table
 * (ngx_gw_health.h): a gauge and two counters each, read as health_check
 * writes them, without its lock.
 */

static ngx_int_t
ngx_http_gateway_metrics_health(ngx_http_gateway_metrics_writer_t *w,
    ngx_gw_health_table_t *table)
{
    u_char                     *p;
    size_t                      size;
    ngx_uint_t                  i, m, state;
    ngx_atomic_uint_t           value;
    ngx_gw_health_server_t     *server;
    ngx_gw_health_upstream_t  **upstream;

    static char  *names[] = {
        "gateway_upstream_server_up",
        "gateway_upstream_health_checks_total",
        "gateway_upstream_health_check_fails_total"
    };

    static char  *heads[] = {
        "# HELP gateway_upstream_server_up 1 if the server passes its "
        "health checks, 0 if they hold it out (failed, or not checked "
        "yet).\n# TYPE gateway_upstream_server_up gauge\n",

        "# HELP gateway_upstream_health_checks_total Active health checks "
        "of the server.\n"
        "# TYPE gateway_upstream_health_checks_total counter\n",

        "# HELP gateway_upstream_health_check_fails_total Active health "
        "checks the server failed.\n"
        "# TYPE gateway_upstream_health_check_fails_total counter\n"
    };

    upstream = table->upstreams.elts;

    if (table->upstreams.nelts == 0) {
        return NGX_OK;
    }

    for (m = 0; m < 3; m++) {

        p = ngx_http_gateway_metrics_reserve(w, ngx_strlen(heads[m]));
        if (p == NULL) {
            return NGX_ERROR;
        }

        w->buf->last = ngx_cpymem(p, heads[m], ngx_strlen(heads[m]));

        for (i = 0; i < table->upstreams.nelts; i++) {

            for (server = *upstream[i]->servers;
                 server;
                 server = server->next)
            {
                state = server->state;

                if (state == NGX_GW_HEALTH_GONE) {
                    continue;
                }

                value = (m == 0) ? (state == NGX_GW_HEALTH_UP)
                        : (m == 1) ? server->checks : server->fails;

                /* an escaped byte takes three at most */

                size = ngx_strlen(names[m]) + 3 * upstream[i]->name.len
                       + 3 * NGX_SOCKADDR_STRLEN
                       + sizeof("{upstream=\"\",server=\"\"} \n")
                       + NGX_ATOMIC_T_LEN;

                p = ngx_http_gateway_metrics_reserve(w, size);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                p = ngx_sprintf(p, "%s{upstream=\"", names[m]);
                p = ngx_http_gateway_metrics_escape(p,
                                                    upstream[i]->name.data,
                                                    upstream[i]->name.len);
                p = ngx_cpymem(p, "\",server=\"", sizeof("\",server=\"") - 1);
                p = ngx_http_gateway_metrics_escape(p, server->name,
                                                    ngx_min(server->name_len,
                                                        NGX_SOCKADDR_STRLEN));
                w->buf->last = ngx_sprintf(p, "\"} %uA\n", value);
            }
        }
    }

    return NGX_OK;
}


/*
 * Without a series: the HELP and TYPE lines.  With one: the name, the
 * suffix and the series' labels up to the closing brace, which the caller
 * writes after its own labels, with "more" bytes of room for them.
 */

static u_char *
ngx_http_gateway_metrics_head(ngx_http_gateway_metrics_writer_t *w,
    ngx_http_gateway_metrics_metric_t *metric,
    ngx_http_gateway_metrics_series_t *series, char *suffix, size_t more)
{
    u_char      *p, *k, *last;
    size_t       len, size;
    ngx_uint_t   i;

    if (series == NULL) {
        size = 2 * metric->name.len + ngx_strlen(metric->help)
               + ngx_strlen(metric->type) + sizeof("# HELP  \n# TYPE  \n");

        p = ngx_http_gateway_metrics_reserve(w, size);
        if (p == NULL) {
            return NULL;
        }

        p = ngx_sprintf(p, "# HELP %V %s\n# TYPE %V %s\n",
                        &metric->name, metric->help,
                        &metric->name, metric->type);
        w->buf->last = p;

        return p;
    }

    /* an escaped byte takes three at most: U+FFFD for invalid UTF-8 */

    size = metric->name.len + ngx_strlen(suffix) + 3 * series->len
           + NGX_HTTP_GATEWAY_METRICS_NUMBER + more;

    for (i = 0; metric->labels[i]; i++) {
        size += ngx_strlen(metric->labels[i]) + sizeof(",=\"\"");
    }

    p = ngx_http_gateway_metrics_reserve(w, size);
    if (p == NULL) {
        return NULL;
    }

    p = ngx_sprintf(p, "%V%s{", &metric->name, suffix);

    k = series->key + 1;
    last = series->key + series->len;

    for (i = 0; metric->labels[i] && k + 2 <= last; i++) {
        len = (k[0] << 8) | k[1];
        k += 2;

        p = ngx_sprintf(p, "%s%s=\"", i ? "," : "", metric->labels[i]);
        p = ngx_http_gateway_metrics_escape(p, k, ngx_min(len,
                                                      (size_t) (last - k)));
        *p++ = '"';

        k += len;
    }

    return p;
}


/* backslash, double quote and line feed escaped; invalid UTF-8 replaced */

static u_char *
ngx_http_gateway_metrics_escape(u_char *p, u_char *src, size_t len)
{
    u_char    *last, *start;
    uint32_t   c;

    last = src + len;

    while (src < last) {

        if (*src < 0x80) {
            switch (*src) {
            case '\\':
            case '"':
                *p++ = '\\';
                *p++ = *src;
                break;

            case '\n':
                *p++ = '\\';
                *p++ = 'n';
                break;

            default:
                *p++ = *src;
            }

            src++;
            continue;
        }

        start = src;
        c = ngx_utf8_decode(&src, last - src);

        if (c > 0x10ffff) {
            src = start + 1;
            p = ngx_cpymem(p, "\xef\xbf\xbd", 3);
            continue;
        }

        p = ngx_cpymem(p, start, src - start);
    }

    return p;
}


/* "0.005", "2.5", "10" with trim; "0.005", "2.500", "10.000" without */

static u_char *
ngx_http_gateway_metrics_seconds(u_char *p, uint64_t ms, ngx_uint_t trim)
{
    uint64_t  frac;

    p = ngx_sprintf(p, "%uL", ms / 1000);
    frac = ms % 1000;

    if (trim && frac == 0) {
        return p;
    }

    p = ngx_sprintf(p, ".%03uL", frac);

    if (trim) {
        while (p[-1] == '0') {
            p--;
        }
    }

    return p;
}


static u_char *
ngx_http_gateway_metrics_reserve(ngx_http_gateway_metrics_writer_t *w,
    size_t size)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (w->buf && (size_t) (w->buf->end - w->buf->last) >= size) {
        return w->buf->last;
    }

    b = ngx_create_temp_buf(w->request->pool,
                            ngx_max(size, NGX_HTTP_GATEWAY_METRICS_CHUNK));
    if (b == NULL) {
        return NULL;
    }

    cl = ngx_alloc_chain_link(w->request->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    *w->last = cl;
    w->last = &cl->next;
    w->buf = b;

    return b->last;
}
