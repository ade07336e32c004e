
/*
 * The buckets of a rate_limit_zone in shared memory, and the GCRA decision
 * for one request across all the limits that apply to it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_rate_limit.h"


/* as limit_req, a bucket stays a minute after it is full again */
#define NGX_HTTP_RATE_LIMIT_IDLE  (60 * 1000000ULL)


#define ngx_http_rate_limit_node(node)                                       \
    ((ngx_http_rate_limit_node_t *) &(node)->color)

#define ngx_http_rate_limit_rbnode(rl)                                       \
    ((ngx_rbtree_node_t *) ((u_char *) (rl)                                  \
                            - offsetof(ngx_rbtree_node_t, color)))


static void ngx_http_rate_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_rate_limit_node_t *ngx_http_rate_limit_lookup(
    ngx_http_rate_limit_zone_t *zone, uint32_t hash, ngx_str_t *key);
static void ngx_http_rate_limit_lock(ngx_http_rate_limit_check_t *checks,
    ngx_uint_t n, ngx_uint_t redis, ngx_slab_pool_t **pools, ngx_uint_t *m);
static ngx_http_rate_limit_node_t *ngx_http_rate_limit_node_get(
    ngx_http_rate_limit_check_t *check, ngx_http_rate_limit_node_t *rl,
    uint64_t now);
static void ngx_http_rate_limit_free(ngx_http_rate_limit_zone_t *zone,
    ngx_http_rate_limit_node_t *rl);
static void ngx_http_rate_limit_expire(ngx_http_rate_limit_zone_t *zone,
    uint64_t idle_since, ngx_uint_t n);


/* "10r/s", "100r/m", "1000r/h", "10000r/d" */

ngx_int_t
ngx_http_rate_limit_parse_rate(ngx_str_t *text, uint64_t *interval)
{
    u_char     *p, *last;
    uint64_t    period;
    ngx_int_t   n;

    last = text->data + text->len;

    for (p = text->data; p < last && *p >= '0' && *p <= '9'; p++) {
        /* void */
    }

    if (p == text->data || last - p != 3 || p[0] != 'r' || p[1] != '/') {
        return NGX_ERROR;
    }

    switch (p[2]) {
    case 's':
        period = 1000000;
        break;
    case 'm':
        period = 60 * 1000000ULL;
        break;
    case 'h':
        period = 3600 * 1000000ULL;
        break;
    case 'd':
        period = 86400 * 1000000ULL;
        break;
    default:
        return NGX_ERROR;
    }

    n = ngx_atoi(text->data, p - text->data);

    if (n <= 0 || (uint64_t) n > period) {
        return NGX_ERROR;
    }

    *interval = period / n;

    return NGX_OK;
}


ngx_int_t
ngx_http_rate_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_rate_limit_zone_t  *ozone = data;

    size_t                       len;
    ngx_http_rate_limit_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {

        /* a reload keeps the buckets of a zone whose key is unchanged */

        if (ngx_strcmp(zone->key.value.data, ozone->key.value.data) != 0) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "rate_limit_zone \"%V\" uses the \"%V\" key "
                          "while previously it used the \"%V\" key",
                          &shm_zone->shm.name, &zone->key.value,
                          &ozone->key.value);
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

    zone->sh = ngx_slab_alloc(zone->shpool,
                              sizeof(ngx_http_rate_limit_shctx_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_http_rate_limit_rbtree_insert_value);

    ngx_queue_init(&zone->sh->queue);

    len = sizeof(" in rate_limit_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in rate_limit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone drops buckets instead: see ngx_http_rate_limit_node_get() */
    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * Decides on every limit of one request at once.  Each zone is locked once,
 * all of them in address order, so workers checking the same zones never
 * wait on each other in a cycle; and the request takes tokens from its
 * buckets only if none of the enforced limits rejects it.  A zone in
 * Redis decides here when Redis cannot: from the bucket of this nginx or,
 * if it is fuller, from what Redis said of the key.
 */

void
ngx_http_rate_limit_decide(ngx_http_rate_limit_check_t *checks,
    ngx_uint_t n, uint64_t now, ngx_uint_t rejected)
{
    uint64_t                     cap, fill, need, tat;
    ngx_uint_t                   i, k, m, reject;
    ngx_slab_pool_t             *pools[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    ngx_http_rate_limit_node_t  *nodes[NGX_HTTP_RATE_LIMIT_MAX_LIMITS], *rl;

    ngx_http_rate_limit_lock(checks, n, 0, pools, &m);

    reject = rejected;

    for (i = 0; i < n; i++) {
        rl = ngx_http_rate_limit_lookup(checks[i].zone, checks[i].hash,
                                        &checks[i].key);
        nodes[i] = rl;

        tat = rl ? ngx_max(rl->tat, rl->known) : 0;
        fill = (tat > now) ? tat - now : 0;
        cap = (checks[i].burst + 1) * checks[i].interval;
        need = checks[i].cost * checks[i].interval;

        /*
         * the bucket may hold more than cap, filled under a larger burst:
         * a request that takes nothing passes it all the same
         */

        checks[i].admitted = (fill + need <= cap || need == 0);

        if (checks[i].admitted) {
            checks[i].tat = now + fill + need;
            ngx_http_rate_limit_values(&checks[i], fill + need, 0);

        } else {
            checks[i].tat = now + fill;
            ngx_http_rate_limit_values(&checks[i], fill, fill + need - cap);

            if (!checks[i].dry_run) {
                reject = 1;
            }
        }
    }

    if (!reject) {
        for (i = 0; i < n; i++) {
            if (checks[i].admitted && checks[i].cost) {
                rl = ngx_http_rate_limit_node_get(&checks[i], nodes[i], now);

                if (rl) {
                    rl->tat = checks[i].tat;
                }
            }
        }
    }

    for (k = m; k; k--) {
        ngx_shmtx_unlock(&pools[k - 1]->mutex);
    }
}


/*
 * Before Redis is asked: the limits in Redis as what Redis said of their
 * keys when it rejected them makes them.  Redis's TAT for such a key is
 * at least the one remembered (it only grows until the bucket is full
 * again, and the key expires only then), so a request those values
 * reject, Redis would reject too, whatever its cost and burst: 1 if an
 * enforced limit rejects it, and the request need not go to Redis.  A key
 * Redis said nothing of rejects nothing here, even at a cost no bucket
 * holds: Redis answers with its bucket's values.  The other limits'
 * values are those of a bucket at least as empty as Redis's, as Redis
 * answers them when another limit of the request rejects it.
 */

ngx_uint_t
ngx_http_rate_limit_known(ngx_http_rate_limit_check_t *checks, ngx_uint_t n,
    uint64_t now)
{
    uint64_t                     cap, fill, need;
    ngx_uint_t                   i, k, m, reject;
    ngx_slab_pool_t             *pools[NGX_HTTP_RATE_LIMIT_MAX_LIMITS];
    ngx_http_rate_limit_node_t  *rl;

    ngx_http_rate_limit_lock(checks, n, 1, pools, &m);

    reject = 0;

    for (i = 0; i < n; i++) {
        if (checks[i].zone->redis == NULL) {
            continue;
        }

        rl = ngx_http_rate_limit_lookup(checks[i].zone, checks[i].hash,
                                        &checks[i].key);

        fill = (rl && rl->known > now) ? rl->known - now : 0;
        cap = (checks[i].burst + 1) * checks[i].interval;
        need = checks[i].cost * checks[i].interval;

        checks[i].admitted = (fill == 0 || fill + need <= cap || need == 0);

        if (checks[i].admitted) {
            ngx_http_rate_limit_values(&checks[i], fill + need, 0);

        } else {
            ngx_http_rate_limit_values(&checks[i], fill, fill + need - cap);

            if (!checks[i].dry_run) {
                reject = 1;
            }
        }
    }

    for (k = m; k; k--) {
        ngx_shmtx_unlock(&pools[k - 1]->mutex);
    }

    return reject;
}


/*
 * Redis rejected a key: its TAT is at least tat, kept in the key's node
 * in the zone for every worker.  A zone too small to hold it only sends
 * the next request to Redis.
 */

void
ngx_http_rate_limit_learn(ngx_http_rate_limit_check_t *check, uint64_t tat,
    uint64_t now)
{
    ngx_http_rate_limit_zone_t  *zone;
    ngx_http_rate_limit_node_t  *rl;

    zone = check->zone;

    ngx_shmtx_lock(&zone->shpool->mutex);

    rl = ngx_http_rate_limit_lookup(zone, check->hash, &check->key);
    rl = ngx_http_rate_limit_node_get(check, rl, now);

    if (rl && rl->known < tat) {
        rl->known = tat;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * Locks the pools of the checks' zones (or of those in Redis only) in
 * address order: pools[] and *m, to unlock them in the reverse order
 */

static void
ngx_http_rate_limit_lock(ngx_http_rate_limit_check_t *checks, ngx_uint_t n,
    ngx_uint_t redis, ngx_slab_pool_t **pools, ngx_uint_t *m)
{
    ngx_uint_t        i, k;
    ngx_slab_pool_t  *pool;

    *m = 0;

    for (i = 0; i < n; i++) {
        if (redis && checks[i].zone->redis == NULL) {
            continue;
        }

        pool = checks[i].zone->shpool;

        for (k = 0; k < *m && pools[k] < pool; k++) { /* void */ }

        if (k < *m && pools[k] == pool) {
            continue;
        }

        ngx_memmove(&pools[k + 1], &pools[k], (*m - k) * sizeof(void *));
        pools[k] = pool;
        (*m)++;
    }

    for (k = 0; k < *m; k++) {
        ngx_shmtx_lock(&pools[k]->mutex);
    }
}


/*
 * What the headers and variables tell of a limit, from the bucket's fill
 * after the request and the wait until it would pass (us): never more
 * than the limit in effect, though the bucket may have been filled under
 * a larger burst, the cost may be more than the bucket holds, and Redis
 * may answer anything.
 */

void
ngx_http_rate_limit_values(ngx_http_rate_limit_check_t *check,
    uint64_t fill, uint64_t wait)
{
    uint64_t  cap;

    cap = (check->burst + 1) * check->interval;

    fill = ngx_min(fill, cap);

    check->remaining = (cap - fill) / check->interval;
    check->reset = fill;
    check->retry = check->admitted ? 0 : ngx_min(wait, cap);
}


static ngx_http_rate_limit_node_t *
ngx_http_rate_limit_lookup(ngx_http_rate_limit_zone_t *zone, uint32_t hash,
    ngx_str_t *key)
{
    ngx_int_t                    rc;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_http_rate_limit_node_t  *rl;

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        rl = ngx_http_rate_limit_node(node);

        rc = ngx_memn2cmp(key->data, rl->data, key->len, (size_t) rl->len);

        if (rc == 0) {
            return rl;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * The key's node, made if it has none, now the most recently used.  A
 * full zone first drops idle nodes (full again, and nothing Redis said of
 * them holds any more, so nothing is lost), then, if it must, the least
 * recently used node still in use.  NULL: the zone cannot hold even one,
 * the key stays unlimited here.
 */

static ngx_http_rate_limit_node_t *
ngx_http_rate_limit_node_get(ngx_http_rate_limit_check_t *check,
    ngx_http_rate_limit_node_t *rl, uint64_t now)
{
    size_t                       size;
    ngx_queue_t                 *q;
    ngx_rbtree_node_t           *node;
    ngx_http_rate_limit_zone_t  *zone;

    zone = check->zone;

    if (rl) {
        ngx_queue_remove(&rl->queue);
        ngx_queue_insert_head(&zone->sh->queue, &rl->queue);
        return rl;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_rate_limit_node_t, data)
           + check->key.len;

    /* a new bucket takes the place of an idle one, if there is one */

    ngx_http_rate_limit_expire(zone, now - NGX_HTTP_RATE_LIMIT_IDLE, 1);

    node = ngx_slab_alloc_locked(zone->shpool, size);

    if (node == NULL) {
        ngx_http_rate_limit_expire(zone, now, 64);
        node = ngx_slab_alloc_locked(zone->shpool, size);
    }

    while (node == NULL && !ngx_queue_empty(&zone->sh->queue)) {
        q = ngx_queue_last(&zone->sh->queue);
        rl = ngx_queue_data(q, ngx_http_rate_limit_node_t, queue);

        /* what Redis said of a key is only a shortcut: Redis keeps it */

        if (rl->tat > now) {
            check->dropped_live = 1;
        }

        ngx_http_rate_limit_free(zone, rl);

        node = ngx_slab_alloc_locked(zone->shpool, size);
    }

    if (node == NULL) {
        return NULL;
    }

    node->key = check->hash;

    rl = ngx_http_rate_limit_node(node);

    rl->len = (u_short) check->key.len;
    rl->tat = 0;
    rl->known = 0;
    ngx_memcpy(rl->data, check->key.data, check->key.len);

    ngx_rbtree_insert(&zone->sh->rbtree, node);
    ngx_queue_insert_head(&zone->sh->queue, &rl->queue);

    return rl;
}


static void
ngx_http_rate_limit_free(ngx_http_rate_limit_zone_t *zone,
    ngx_http_rate_limit_node_t *rl)
{
    ngx_rbtree_node_t  *node;

    node = ngx_http_rate_limit_rbnode(rl);

    ngx_queue_remove(&rl->queue);
    ngx_rbtree_delete(&zone->sh->rbtree, node);
    ngx_slab_free_locked(zone->shpool, node);
}


/*
 * Drops the buckets full since idle_since (and whose rejection by Redis
 * ended by then) among the n least recently used, passing over the
 * others.  One for each new bucket keeps the zone lean; a bucket full
 * for a short while stays, so a busy key is not dropped and made again on
 * every request.  A full zone drops every full bucket.
 */

static void
ngx_http_rate_limit_expire(ngx_http_rate_limit_zone_t *zone,
    uint64_t idle_since, ngx_uint_t n)
{
    ngx_queue_t                 *q, *prev;
    ngx_http_rate_limit_node_t  *rl;

    q = ngx_queue_last(&zone->sh->queue);

    while (n-- && q != ngx_queue_sentinel(&zone->sh->queue)) {
        prev = ngx_queue_prev(q);
        rl = ngx_queue_data(q, ngx_http_rate_limit_node_t, queue);

        if (ngx_max(rl->tat, rl->known) <= idle_since) {
            ngx_http_rate_limit_free(zone, rl);
        }

        q = prev;
    }
}


static void
ngx_http_rate_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t           **p;
    ngx_http_rate_limit_node_t   *rl, *rlt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            rl = ngx_http_rate_limit_node(node);
            rlt = ngx_http_rate_limit_node(temp);

            p = (ngx_memn2cmp(rl->data, rlt->data, rl->len, rlt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}
