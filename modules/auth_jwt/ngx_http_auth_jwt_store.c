
/*
 * auth_jwt_key_zone: the JWK Sets of key requests in shared memory, as
 * the text their source answered, with what the workers need to fetch
 * each of them once for all: whether a fetch is in flight and until when,
 * when the last one failed, when the keys were fetched and last used.
 * OpenSSL's key objects cannot live here: each worker parses the text
 * again when its version changes.  A reload keeps the zone, and with it
 * the keys, when its name and size stay.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_jwt.h"


/* how long a worker may take to fetch before another one may, in ms */
#define NGX_HTTP_AUTH_JWT_CLAIM_TIME  60000


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   lru;
    ngx_atomic_t                  fetches;
    ngx_atomic_t                  failures;
    ngx_uint_t                    full;     /* told in the log */
} ngx_http_auth_jwt_store_sh_t;


typedef struct {
    ngx_str_node_t                node;     /* key: crc32 of the name */
    ngx_queue_t                   queue;
    uint64_t                      version;
    uint64_t                      busy;     /* ms: claimed until then */
    uint64_t                      retry;    /* ms: no fetch before then */
    uint64_t                      kid;      /* ms: nor one for a kid */
    time_t                        fetched;
    time_t                        used;
    u_char                       *text;
    size_t                        len;
    unsigned                      failing:1;
    unsigned                      expired:1;
    u_char                        name[1];
} ngx_http_auth_jwt_store_node_t;


static ngx_http_auth_jwt_store_node_t *ngx_http_auth_jwt_store_lookup(
    ngx_http_auth_jwt_store_t *store, ngx_str_t *name, ngx_uint_t create);
static void *ngx_http_auth_jwt_store_alloc(ngx_http_auth_jwt_store_t *store,
    size_t size, ngx_http_auth_jwt_store_node_t *keep);
static void ngx_http_auth_jwt_store_tell(ngx_http_auth_jwt_store_node_t *sn,
    ngx_http_auth_jwt_stored_t *st, uint64_t now);
static uint64_t ngx_http_auth_jwt_store_now(void);


ngx_int_t
ngx_http_auth_jwt_store_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_auth_jwt_store_t  *ostore = data;

    size_t                         len;
    ngx_http_auth_jwt_store_t     *store;
    ngx_http_auth_jwt_store_sh_t  *sh;

    store = shm_zone->data;

    if (ostore) {

        /* a reload keeps the keys of a zone of the same name and size */

        store->sh = ostore->sh;
        store->shpool = ostore->shpool;

        return NGX_OK;
    }

    store->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        store->sh = store->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(store->shpool, sizeof(ngx_http_auth_jwt_store_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    store->sh = sh;
    store->shpool->data = sh;

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->lru);

    len = sizeof(" in auth_jwt_key_zone \"\"") + shm_zone->shm.name.len;

    store->shpool->log_ctx = ngx_slab_alloc(store->shpool, len);
    if (store->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(store->shpool->log_ctx, " in auth_jwt_key_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is told once, by the module */

    store->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * What the zone knows of a source; with a copy of its text if its
 * version is not the one the worker has.  A worker that used the keys
 * says so, for the refreshes.  NGX_DECLINED: the zone has no such source.
 */

ngx_int_t
ngx_http_auth_jwt_store_read(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, uint64_t have, ngx_uint_t used,
    ngx_http_auth_jwt_stored_t *st)
{
    ngx_int_t                        rc;
    ngx_http_auth_jwt_store_node_t  *sn;

    ngx_memzero(st, sizeof(ngx_http_auth_jwt_stored_t));

    rc = NGX_OK;

    ngx_shmtx_lock(&store->shpool->mutex);

    sn = ngx_http_auth_jwt_store_lookup(store, name, 0);

    if (sn == NULL) {
        rc = NGX_DECLINED;
        goto done;
    }

    if (used) {
        sn->used = ngx_time();
    }

    ngx_http_auth_jwt_store_tell(sn, st, ngx_http_auth_jwt_store_now());

    if (sn->version && sn->version != have) {
        st->text.data = ngx_alloc(sn->len, ngx_cycle->log);

        if (st->text.data == NULL) {
            rc = NGX_ERROR;
            goto done;
        }

        ngx_memcpy(st->text.data, sn->text, sn->len);
        st->text.len = sn->len;
    }

done:

    ngx_shmtx_unlock(&store->shpool->mutex);

    return rc;
}


/*
 * Whether the worker is to fetch a source now, for the reason given
 * (used: the worker used its keys since it last said so):
 * NGX_OK, and no other worker will until it is done or a minute passed;
 * NGX_BUSY, another worker fetches; NGX_DONE, the zone has keys newer
 * than the worker's (have); NGX_DECLINED, not now: the last fetch failed
 * less than NGX_HTTP_AUTH_JWT_KEY_RETRY ago, a kid was asked for lately,
 * or the keys are not due for a refresh (refresh seconds after their
 * fetch): being young, unused since their fetch, or past valid and
 * stale=, when nothing is kept alive any more.
 */

ngx_int_t
ngx_http_auth_jwt_store_claim(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, ngx_uint_t why, uint64_t have, time_t refresh,
    time_t valid, ngx_uint_t used, ngx_http_auth_jwt_stored_t *st)
{
    uint64_t                         now;
    ngx_int_t                        rc;
    ngx_http_auth_jwt_store_node_t  *sn;

    ngx_memzero(st, sizeof(ngx_http_auth_jwt_stored_t));

    now = ngx_http_auth_jwt_store_now();

    ngx_shmtx_lock(&store->shpool->mutex);

    sn = ngx_http_auth_jwt_store_lookup(store, name,
                                       why != NGX_HTTP_AUTH_JWT_CLAIM_REFRESH);
    if (sn == NULL) {

        /* nothing to refresh, or no room: the worker goes on alone */

        ngx_shmtx_unlock(&store->shpool->mutex);

        return (why == NGX_HTTP_AUTH_JWT_CLAIM_REFRESH) ? NGX_DECLINED
                                                        : NGX_OK;
    }

    if (used) {
        sn->used = ngx_time();
    }

    ngx_http_auth_jwt_store_tell(sn, st, now);

    if (st->busy) {
        rc = NGX_BUSY;

    } else if (why != NGX_HTTP_AUTH_JWT_CLAIM_REFRESH
               && sn->version && sn->version != have)
    {
        rc = NGX_DONE;

    } else if (now < sn->retry) {
        rc = NGX_DECLINED;

    } else if (why == NGX_HTTP_AUTH_JWT_CLAIM_KID) {
        rc = (now < sn->kid) ? NGX_DECLINED : NGX_OK;

        if (rc == NGX_OK) {
            sn->kid = now + store->unknown_kid;
        }

    } else if (why == NGX_HTTP_AUTH_JWT_CLAIM_REFRESH) {
        rc = (sn->version == 0 || sn->used < sn->fetched
              || ngx_time() < sn->fetched + refresh
              || ngx_time() >= sn->fetched + valid + store->stale)
             ? NGX_DECLINED : NGX_OK;

    } else {
        rc = NGX_OK;
    }

    if (rc == NGX_OK) {
        sn->busy = now + NGX_HTTP_AUTH_JWT_CLAIM_TIME;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return rc;
}


/*
 * A fetch brought a JWK Set: its text becomes the source's, in a new
 * version if it changed.  Returns the version, or 0 if the zone has no
 * room for it (told once); *recovered says that fetches had failed.
 */

uint64_t
ngx_http_auth_jwt_store_done(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, ngx_str_t *text, ngx_uint_t *recovered)
{
    u_char                          *p;
    uint64_t                         version;
    ngx_http_auth_jwt_store_sh_t    *sh;
    ngx_http_auth_jwt_store_node_t  *sn;

    sh = store->sh;
    *recovered = 0;
    version = 0;

    (void) ngx_atomic_fetch_add(&sh->fetches, 1);

    ngx_shmtx_lock(&store->shpool->mutex);

    sn = ngx_http_auth_jwt_store_lookup(store, name, 1);

    if (sn == NULL) {
        goto full;
    }

    sn->busy = 0;
    sn->retry = 0;
    sn->fetched = ngx_time();
    *recovered = sn->failing;
    sn->failing = 0;
    sn->expired = 0;

    if (sn->version && sn->len == text->len
        && ngx_memcmp(sn->text, text->data, text->len) == 0)
    {
        version = sn->version;
        goto done;
    }

    p = ngx_http_auth_jwt_store_alloc(store, ngx_max(text->len, 1), sn);

    if (p == NULL) {
        goto full;
    }

    if (sn->text) {
        ngx_slab_free_locked(store->shpool, sn->text);
    }

    ngx_memcpy(p, text->data, text->len);

    sn->text = p;
    sn->len = text->len;
    version = ++sn->version;

    goto done;

full:

    if (!sh->full) {
        sh->full = 1;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "auth_jwt_key_zone \"%V\" is full: key sets "
                      "that do not fit are fetched by each worker",
                      &store->shm_zone->shm.name);
    }

done:

    ngx_shmtx_unlock(&store->shpool->mutex);

    return version;
}


/*
 * A fetch failed: none again before NGX_HTTP_AUTH_JWT_KEY_RETRY.  Returns
 * 1 if fetches of the source did not fail so far, the start of an outage;
 * *expired, once an outage, that its keys are older than valid + stale.
 */

ngx_uint_t
ngx_http_auth_jwt_store_failed(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, time_t valid, ngx_uint_t *expired)
{
    ngx_uint_t                       first;
    ngx_http_auth_jwt_store_node_t  *sn;

    *expired = 0;
    first = 1;

    (void) ngx_atomic_fetch_add(&((ngx_http_auth_jwt_store_sh_t *)
                                  store->sh)->failures, 1);

    ngx_shmtx_lock(&store->shpool->mutex);

    sn = ngx_http_auth_jwt_store_lookup(store, name, 0);

    if (sn) {
        sn->busy = 0;
        sn->retry = ngx_http_auth_jwt_store_now()
                    + NGX_HTTP_AUTH_JWT_KEY_RETRY;

        first = !sn->failing;
        sn->failing = 1;

        if (sn->version && !sn->expired
            && ngx_time() >= sn->fetched + valid + store->stale)
        {
            sn->expired = 1;
            *expired = 1;
        }
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return first;
}


/* a fetch was abandoned, with its client: another may start at once */

void
ngx_http_auth_jwt_store_release(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name)
{
    ngx_http_auth_jwt_store_node_t  *sn;

    ngx_shmtx_lock(&store->shpool->mutex);

    sn = ngx_http_auth_jwt_store_lookup(store, name, 0);

    if (sn) {
        sn->busy = 0;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);
}


/* every fetch since the zone was made, and those that failed */

void
ngx_http_auth_jwt_store_counters(ngx_http_auth_jwt_store_t *store,
    ngx_atomic_uint_t *fetches, ngx_atomic_uint_t *failures)
{
    ngx_http_auth_jwt_store_sh_t  *sh;

    sh = store->sh;

    *fetches = sh->fetches;
    *failures = sh->failures;
}


static ngx_http_auth_jwt_store_node_t *
ngx_http_auth_jwt_store_lookup(ngx_http_auth_jwt_store_t *store,
    ngx_str_t *name, ngx_uint_t create)
{
    uint32_t                         hash;
    ngx_str_node_t                  *node;
    ngx_http_auth_jwt_store_sh_t    *sh;
    ngx_http_auth_jwt_store_node_t  *sn;

    sh = store->sh;
    hash = ngx_crc32_short(name->data, name->len);

    node = ngx_str_rbtree_lookup(&sh->rbtree, name, hash);

    if (node) {
        sn = (ngx_http_auth_jwt_store_node_t *) node;
        ngx_queue_remove(&sn->queue);
        ngx_queue_insert_head(&sh->lru, &sn->queue);
        return sn;
    }

    if (!create) {
        return NULL;
    }

    sn = ngx_http_auth_jwt_store_alloc(store,
                           offsetof(ngx_http_auth_jwt_store_node_t, name)
                           + name->len, NULL);
    if (sn == NULL) {
        return NULL;
    }

    ngx_memzero(sn, offsetof(ngx_http_auth_jwt_store_node_t, name));

    ngx_memcpy(sn->name, name->data, name->len);

    sn->node.node.key = hash;
    sn->node.str.data = sn->name;
    sn->node.str.len = name->len;

    ngx_rbtree_insert(&sh->rbtree, &sn->node.node);
    ngx_queue_insert_head(&sh->lru, &sn->queue);

    return sn;
}


/*
 * Memory in the zone; when it is full, the sources least recently asked
 * for make room, but never one in a fetch, nor keep.
 */

static void *
ngx_http_auth_jwt_store_alloc(ngx_http_auth_jwt_store_t *store, size_t size,
    ngx_http_auth_jwt_store_node_t *keep)
{
    void                            *p;
    uint64_t                         now;
    ngx_queue_t                     *q, *prev;
    ngx_http_auth_jwt_store_sh_t    *sh;
    ngx_http_auth_jwt_store_node_t  *sn;

    sh = store->sh;

    p = ngx_slab_alloc_locked(store->shpool, size);

    if (p) {
        return p;
    }

    now = ngx_http_auth_jwt_store_now();

    for (q = ngx_queue_last(&sh->lru);
         q != ngx_queue_sentinel(&sh->lru);
         q = prev)
    {
        prev = ngx_queue_prev(q);

        sn = ngx_queue_data(q, ngx_http_auth_jwt_store_node_t, queue);

        if (sn == keep || sn->busy > now) {
            continue;
        }

        ngx_queue_remove(&sn->queue);
        ngx_rbtree_delete(&sh->rbtree, &sn->node.node);

        if (sn->text) {
            ngx_slab_free_locked(store->shpool, sn->text);
        }

        ngx_slab_free_locked(store->shpool, sn);

        p = ngx_slab_alloc_locked(store->shpool, size);

        if (p) {
            return p;
        }
    }

    return NULL;
}


static void
ngx_http_auth_jwt_store_tell(ngx_http_auth_jwt_store_node_t *sn,
    ngx_http_auth_jwt_stored_t *st, uint64_t now)
{
    st->version = sn->version;
    st->fetched = sn->fetched;
    st->busy = (sn->busy > now);
    st->failed = (sn->retry > now);
    st->failing = sn->failing;
}


static uint64_t
ngx_http_auth_jwt_store_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}
