
/*
 * The series of a gateway_metrics_zone in shared memory.  Finding a series
 * takes no lock: series are only ever added, each complete before it is
 * linked in, and counters are updated with atomic additions.  The zone's
 * lock is taken only to add a series, once per series for the zone's life.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_metrics.h"


/* a slot of the table for this many bytes of zone */
#define NGX_HTTP_GATEWAY_METRICS_BYTES_PER_SLOT  1024


static ngx_http_gateway_metrics_series_t *ngx_http_gateway_metrics_find(
    ngx_http_gateway_metrics_series_t *series, uint32_t hash, u_char *key,
    size_t len);
static ngx_http_gateway_metrics_series_t *ngx_http_gateway_metrics_add(
    ngx_http_gateway_metrics_zone_t *zone, ngx_uint_t family, uint32_t hash,
    u_char *key, size_t len);


ngx_int_t
ngx_http_gateway_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_gateway_metrics_zone_t  *ozone = data;

    size_t                            len;
    ngx_uint_t                        slots;
    ngx_http_gateway_metrics_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {

        /* counters kept across a reload must mean what they meant */

        if (ozone->buckets.nbuckets != zone->buckets.nbuckets
            || ngx_memcmp(ozone->buckets.bounds, zone->buckets.bounds,
                          zone->buckets.nbuckets * sizeof(ngx_msec_t))
               != 0)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "gateway_metrics_zone \"%V\" has other buckets "
                          "than before; give it another name or size to "
                          "start it afresh", &shm_zone->shm.name);
            return NGX_ERROR;
        }

        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;

        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;

        return NGX_OK;
    }

    zone->sh = ngx_slab_calloc(zone->shpool,
                               sizeof(ngx_http_gateway_metrics_shctx_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;
    zone->sh->buckets = zone->buckets;

    for (slots = 64;
         slots * NGX_HTTP_GATEWAY_METRICS_BYTES_PER_SLOT < shm_zone->shm.size;
         slots *= 2)
    {
        /* void */
    }

    zone->sh->mask = slots - 1;
    zone->sh->table = ngx_slab_calloc(zone->shpool,
                                      slots * sizeof(void *));
    if (zone->sh->table == NULL) {
        return NGX_ERROR;
    }

    len = sizeof(" in gateway_metrics_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in gateway_metrics_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is told once: see ngx_http_gateway_metrics_add() */

    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * The series of a family with these label values; made the first time.
 * The key is the family's number followed by each value after its length
 * in two bytes: values may hold any byte.
 */

ngx_http_gateway_metrics_series_t *
ngx_http_gateway_metrics_series(ngx_http_gateway_metrics_zone_t *zone,
    ngx_uint_t family, ngx_str_t *labels, ngx_uint_t n)
{
    u_char                              *p, *last;
    u_char                               key[NGX_HTTP_GATEWAY_METRICS_MAX_KEY];
    uint32_t                             hash;
    ngx_uint_t                           i;
    ngx_http_gateway_metrics_series_t   *series;

    p = key;
    last = key + sizeof(key);

    *p++ = (u_char) family;

    for (i = 0; i < n; i++) {
        if ((size_t) (last - p) < labels[i].len + 2) {
            (void) ngx_atomic_fetch_add(&zone->sh->dropped, 1);
            return NULL;
        }

        *p++ = (u_char) (labels[i].len >> 8);
        *p++ = (u_char) labels[i].len;
        p = ngx_cpymem(p, labels[i].data, labels[i].len);
    }

    hash = ngx_murmur_hash2(key, p - key);

    series = ngx_http_gateway_metrics_find(
                                    zone->sh->table[hash & zone->sh->mask],
                                    hash, key, p - key);
    if (series) {
        return series;
    }

    return ngx_http_gateway_metrics_add(zone, family, hash, key, p - key);
}


static ngx_http_gateway_metrics_series_t *
ngx_http_gateway_metrics_find(ngx_http_gateway_metrics_series_t *series,
    uint32_t hash, u_char *key, size_t len)
{
    for ( /* void */ ; series; series = series->next) {
        if (series->hash == hash && series->len == len
            && ngx_memcmp(series->key, key, len) == 0)
        {
            return series;
        }
    }

    return NULL;
}


static ngx_http_gateway_metrics_series_t *
ngx_http_gateway_metrics_add(ngx_http_gateway_metrics_zone_t *zone,
    ngx_uint_t family, uint32_t hash, u_char *key, size_t len)
{
    size_t                               size;
    ngx_uint_t                           nvalues;
    ngx_http_gateway_metrics_link_t     *slot;
    ngx_http_gateway_metrics_shctx_t    *sh;
    ngx_http_gateway_metrics_series_t   *series;

    sh = zone->sh;
    slot = &sh->table[hash & sh->mask];

    nvalues = (family == NGX_HTTP_GATEWAY_METRICS_ROUTE)
              ? ngx_http_gateway_metrics_route_size(sh->buckets.nbuckets)
              : 1;

    size = offsetof(ngx_http_gateway_metrics_series_t, values)
           + nvalues * sizeof(ngx_atomic_t) + len;

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* another worker may have added it since the search */

    series = ngx_http_gateway_metrics_find(*slot, hash, key, len);
    if (series) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return series;
    }

    series = ngx_slab_calloc_locked(zone->shpool, size);

    if (series == NULL) {
        if (!sh->full) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "gateway_metrics_zone \"%V\" is full, new series "
                          "are not counted",
                          &zone->shm_zone->shm.name);
            sh->full = 1;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);
        (void) ngx_atomic_fetch_add(&sh->dropped, 1);
        return NULL;
    }

    series->hash = hash;
    series->family = (u_short) family;
    series->len = (u_short) len;
    series->key = (u_char *) &series->values[nvalues];
    ngx_memcpy(series->key, key, len);

    /* readers must never see a series before all of it */

    ngx_memory_barrier();

    series->next = *slot;

    ngx_memory_barrier();

    *slot = series;

    if (sh->last[family]) {
        sh->last[family]->sibling = series;

    } else {
        sh->first[family] = series;
    }

    sh->last[family] = series;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return series;
}
