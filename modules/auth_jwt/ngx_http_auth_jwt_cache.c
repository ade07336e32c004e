
/*
 * Tokens whose signatures were verified, so that a client sending the same
 * token again does not pay for another RSA or ECDSA verification.
 *
 * Each worker keeps its own bounded table, filled at most once per token:
 * entries are keyed by the SHA-256 of the token and of the keys it was
 * checked against, so a token that differs in any byte, or the same token
 * under other keys, never finds an entry.  An entry spares decoding the
 * token and checking its signature: it keeps the token's times, which are
 * checked on every request; claims are decoded only if something asks.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_jwt.h"


static ngx_http_auth_jwt_cached_t *ngx_http_auth_jwt_cache_find(
    ngx_http_auth_jwt_cache_t *cache, u_char *digest);


ngx_int_t
ngx_http_auth_jwt_cache_init(ngx_pool_t *pool,
    ngx_http_auth_jwt_cache_t *cache)
{
    ngx_uint_t                   i;
    ngx_http_auth_jwt_cached_t  *entries;

    ngx_rbtree_init(&cache->rbtree, &cache->sentinel,
                    ngx_rbtree_insert_value);
    ngx_queue_init(&cache->lru);
    ngx_queue_init(&cache->free);

    if (cache->size == 0) {
        return NGX_OK;
    }

    entries = ngx_palloc(pool,
                         cache->size * sizeof(ngx_http_auth_jwt_cached_t));
    if (entries == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < cache->size; i++) {
        ngx_queue_insert_tail(&cache->free, &entries[i].queue);
    }

    return NGX_OK;
}


ngx_http_auth_jwt_cached_t *
ngx_http_auth_jwt_cache_lookup(ngx_http_auth_jwt_cache_t *cache,
    u_char *digest, time_t now)
{
    ngx_http_auth_jwt_cached_t  *entry;

    entry = ngx_http_auth_jwt_cache_find(cache, digest);

    if (entry == NULL) {
        return NULL;
    }

    if (entry->expires <= now) {
        ngx_rbtree_delete(&cache->rbtree, &entry->node);
        ngx_queue_remove(&entry->queue);
        ngx_queue_insert_head(&cache->free, &entry->queue);
        return NULL;
    }

    ngx_queue_remove(&entry->queue);
    ngx_queue_insert_head(&cache->lru, &entry->queue);

    return entry;
}


void
ngx_http_auth_jwt_cache_insert(ngx_http_auth_jwt_cache_t *cache,
    u_char *digest, time_t expires, ngx_gw_claim_clock_t *clock,
    ngx_str_t *cek)
{
    ngx_queue_t                 *q;
    ngx_http_auth_jwt_cached_t  *entry;

    if (cache->size == 0
        || ngx_http_auth_jwt_cache_find(cache, digest) != NULL)
    {
        return;
    }

    if (!ngx_queue_empty(&cache->free)) {
        q = ngx_queue_head(&cache->free);

    } else {
        /* the least recently used entry makes room */
        q = ngx_queue_last(&cache->lru);
        entry = ngx_queue_data(q, ngx_http_auth_jwt_cached_t, queue);
        ngx_rbtree_delete(&cache->rbtree, &entry->node);
    }

    ngx_queue_remove(q);
    ngx_queue_insert_head(&cache->lru, q);

    entry = ngx_queue_data(q, ngx_http_auth_jwt_cached_t, queue);

    ngx_memcpy(entry->digest, digest, NGX_HTTP_AUTH_JWT_DIGEST_LEN);
    ngx_memcpy(&entry->node.key, digest, sizeof(ngx_rbtree_key_t));
    entry->expires = expires;
    entry->clock = *clock;
    entry->cek_len = 0;

    if (cek) {
        ngx_memcpy(entry->cek, cek->data, cek->len);
        entry->cek_len = cek->len;
    }

    ngx_rbtree_insert(&cache->rbtree, &entry->node);
}


static ngx_http_auth_jwt_cached_t *
ngx_http_auth_jwt_cache_find(ngx_http_auth_jwt_cache_t *cache,
    u_char *digest)
{
    ngx_rbtree_key_t             key;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_http_auth_jwt_cached_t  *entry;

    ngx_memcpy(&key, digest, sizeof(ngx_rbtree_key_t));

    node = cache->rbtree.root;
    sentinel = cache->rbtree.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        entry = (ngx_http_auth_jwt_cached_t *) node;

        if (ngx_memcmp(entry->digest, digest, NGX_HTTP_AUTH_JWT_DIGEST_LEN)
            == 0)
        {
            return entry;
        }

        /* equal keys lie on either side with ngx_rbtree_insert_value() */
        node = node->right;
    }

    return NULL;
}
