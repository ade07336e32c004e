
/*
 * The answers of the authorization server in shared memory, by the
 * SHA-256 of the token (never the token), for every worker and across
 * reloads; and the marks of the tokens a worker is asking about, which
 * the other workers wait for instead of asking too.  A full zone drops
 * its least recently used entries.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_introspect.h"


static ngx_http_auth_introspect_node_t *ngx_http_auth_introspect_find(
    ngx_http_auth_introspect_zone_t *zone, u_char *digest);
static ngx_http_auth_introspect_node_t *ngx_http_auth_introspect_alloc(
    ngx_http_auth_introspect_zone_t *zone, size_t len);
static void ngx_http_auth_introspect_expire(
    ngx_http_auth_introspect_zone_t *zone, ngx_uint_t n);
static ngx_uint_t ngx_http_auth_introspect_stale(
    ngx_http_auth_introspect_node_t *in);
static void ngx_http_auth_introspect_delete(
    ngx_http_auth_introspect_zone_t *zone,
    ngx_http_auth_introspect_node_t *in);


ngx_int_t
ngx_http_auth_introspect_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_auth_introspect_zone_t  *ozone = data;

    size_t                            len;
    ngx_http_auth_introspect_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {

        /* a reload keeps the answers: they depend on no directive */

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
                              sizeof(ngx_http_auth_introspect_shctx_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_http_auth_introspect_key_insert);

    ngx_queue_init(&zone->sh->lru);

    len = sizeof(" in auth_introspect_cache \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in auth_introspect_cache \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone drops entries: see ngx_http_auth_introspect_alloc() */
    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_auth_introspect_cache_lookup(ngx_http_auth_introspect_zone_t *zone,
    u_char *digest, ngx_uint_t ask, ngx_pool_t *pool,
    ngx_http_auth_introspect_answer_t *answer)
{
    u_char                           *json;
    ngx_int_t                         rc;
    ngx_http_auth_introspect_node_t  *in;

    rc = NGX_DECLINED;
    json = NULL;

    ngx_shmtx_lock(&zone->shpool->mutex);

    in = ngx_http_auth_introspect_find(zone, digest);

    if (in && ngx_http_auth_introspect_stale(in)) {
        ngx_http_auth_introspect_delete(zone, in);
        in = NULL;
    }

    if (in && in->kind == 0) {
        rc = NGX_BUSY;

    } else if (in) {

        /* the entry may be dropped once the zone is unlocked: a copy */

        if (in->len) {
            json = ngx_pnalloc(pool, in->len);

            if (json == NULL) {
                ngx_shmtx_unlock(&zone->shpool->mutex);
                return NGX_ERROR;
            }

            ngx_memcpy(json, in->json, in->len);
        }

        answer->kind = in->kind;
        answer->clock = in->clock;
        answer->json.data = json;
        answer->json.len = in->len;

        ngx_queue_remove(&in->key.queue);
        ngx_queue_insert_head(&zone->sh->lru, &in->key.queue);

        rc = NGX_OK;

    } else if (ask) {
        in = ngx_http_auth_introspect_alloc(zone, 0);

        /* without room, the others will not wait: they ask too */

        if (in) {
            rc = NGX_DONE;

            ngx_memcpy(in->key.digest, digest, NGX_GW_SHA256_LEN);
            ngx_memcpy(&in->key.node.key, digest,
                       sizeof(ngx_rbtree_key_t));
            in->deadline = ngx_current_msec + NGX_HTTP_AUTH_INTROSPECT_PENDING;
            in->expires = 0;
            in->kind = 0;
            in->len = 0;

            ngx_rbtree_insert(&zone->sh->rbtree, &in->key.node);
            ngx_queue_insert_head(&zone->sh->lru, &in->key.queue);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


void
ngx_http_auth_introspect_cache_store(ngx_http_auth_introspect_zone_t *zone,
    u_char *digest, ngx_http_auth_introspect_answer_t *answer, time_t expires)
{
    size_t                            len;
    ngx_http_auth_introspect_node_t  *in;

    /* only an active token's answer is read again, for its members */

    len = (answer->kind == NGX_HTTP_AUTH_INTROSPECT_ACTIVE)
          ? answer->json.len : 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    in = ngx_http_auth_introspect_find(zone, digest);

    if (in) {
        ngx_http_auth_introspect_delete(zone, in);
    }

    /* stale entries at the end go as new ones come: the zone stays lean */

    ngx_http_auth_introspect_expire(zone, 2);

    if (expires > ngx_time()) {
        in = ngx_http_auth_introspect_alloc(zone, len);

        if (in) {
            ngx_memcpy(in->key.digest, digest, NGX_GW_SHA256_LEN);
            ngx_memcpy(&in->key.node.key, digest,
                       sizeof(ngx_rbtree_key_t));
            in->deadline = 0;
            in->expires = expires;
            in->clock = answer->clock;
            in->kind = (u_char) answer->kind;
            in->len = (u_short) len;
            ngx_memcpy(in->json, answer->json.data, len);

            ngx_rbtree_insert(&zone->sh->rbtree, &in->key.node);
            ngx_queue_insert_head(&zone->sh->lru, &in->key.queue);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


void
ngx_http_auth_introspect_cache_forget(ngx_http_auth_introspect_zone_t *zone,
    u_char *digest)
{
    ngx_http_auth_introspect_node_t  *in;

    ngx_shmtx_lock(&zone->shpool->mutex);

    in = ngx_http_auth_introspect_find(zone, digest);

    if (in && in->kind == 0) {
        ngx_http_auth_introspect_delete(zone, in);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


ngx_http_auth_introspect_key_t *
ngx_http_auth_introspect_key_find(ngx_rbtree_t *tree, u_char *digest)
{
    ngx_int_t                        rc;
    ngx_rbtree_key_t                 key;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_http_auth_introspect_key_t  *k;

    ngx_memcpy(&key, digest, sizeof(ngx_rbtree_key_t));

    node = tree->root;
    sentinel = tree->sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        k = (ngx_http_auth_introspect_key_t *) node;

        rc = ngx_memcmp(digest, k->digest, NGX_GW_SHA256_LEN);

        if (rc == 0) {
            return k;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_http_auth_introspect_node_t *
ngx_http_auth_introspect_find(ngx_http_auth_introspect_zone_t *zone,
    u_char *digest)
{
    return (ngx_http_auth_introspect_node_t *)
               ngx_http_auth_introspect_key_find(&zone->sh->rbtree, digest);
}


/*
 * Room for an entry, taken from expired entries, then from the least
 * recently used ones: NULL only if the zone cannot hold it at all.
 */

static ngx_http_auth_introspect_node_t *
ngx_http_auth_introspect_alloc(ngx_http_auth_introspect_zone_t *zone,
    size_t len)
{
    size_t                            size;
    ngx_queue_t                      *q;
    ngx_http_auth_introspect_node_t  *in;

    size = offsetof(ngx_http_auth_introspect_node_t, json) + len;

    in = ngx_slab_alloc_locked(zone->shpool, size);

    if (in == NULL) {
        ngx_http_auth_introspect_expire(zone, 64);
        in = ngx_slab_alloc_locked(zone->shpool, size);
    }

    while (in == NULL && !ngx_queue_empty(&zone->sh->lru)) {
        q = ngx_queue_last(&zone->sh->lru);
        in = ngx_queue_data(q, ngx_http_auth_introspect_node_t, key.queue);

        ngx_http_auth_introspect_delete(zone, in);

        in = ngx_slab_alloc_locked(zone->shpool, size);
    }

    return in;
}


/* drops the stale ones among the n least recently used entries */

static void
ngx_http_auth_introspect_expire(ngx_http_auth_introspect_zone_t *zone,
    ngx_uint_t n)
{
    ngx_queue_t                      *q, *prev;
    ngx_http_auth_introspect_node_t  *in;

    q = ngx_queue_last(&zone->sh->lru);

    while (n-- && q != ngx_queue_sentinel(&zone->sh->lru)) {
        prev = ngx_queue_prev(q);
        in = ngx_queue_data(q, ngx_http_auth_introspect_node_t, key.queue);

        if (ngx_http_auth_introspect_stale(in)) {
            ngx_http_auth_introspect_delete(zone, in);
        }

        q = prev;
    }
}


/*
 * An answer past its time, or a mark past its deadline: the worker that
 * set it may have died, or its authorization server be slow beyond what
 * others should wait.  ngx_current_msec is monotonic, and so comparable
 * between workers.
 */

static ngx_uint_t
ngx_http_auth_introspect_stale(ngx_http_auth_introspect_node_t *in)
{
    if (in->kind == 0) {
        return (ngx_msec_int_t) (in->deadline - ngx_current_msec) <= 0;
    }

    return in->expires <= ngx_time();
}


static void
ngx_http_auth_introspect_delete(ngx_http_auth_introspect_zone_t *zone,
    ngx_http_auth_introspect_node_t *in)
{
    ngx_queue_remove(&in->key.queue);
    ngx_rbtree_delete(&zone->sh->rbtree, &in->key.node);
    ngx_slab_free_locked(zone->shpool, in);
}


/* equal keys are ordered by the whole digest, as the lookup walks them */

void
ngx_http_auth_introspect_key_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t               **p;
    ngx_http_auth_introspect_key_t   *k, *kt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            k = (ngx_http_auth_introspect_key_t *) node;
            kt = (ngx_http_auth_introspect_key_t *) temp;

            p = (ngx_memcmp(k->digest, kt->digest, NGX_GW_SHA256_LEN) < 0)
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
