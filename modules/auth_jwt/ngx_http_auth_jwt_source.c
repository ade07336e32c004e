
/*
 * Keys had at request time, as each worker keeps them: JWK Sets fetched
 * by auth_jwt_key_request through subrequests, and files named by
 * auth_jwt_key_file with variables.  With auth_jwt_key_zone, fetched sets
 * are shared by the workers through the zone (ngx_http_auth_jwt_store.c),
 * refreshed in the background before they grow old
 * (ngx_http_auth_jwt_background.c), kept for a while when their source
 * fails, and fetched again, seldom, for a token whose kid they lack.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_jwt.h"


/* how often a worker reads the zone for a source it uses, in ms */
#define NGX_HTTP_AUTH_JWT_SYNC     1000

/* how often a worker looks for keys due for a refresh, in ms */
#define NGX_HTTP_AUTH_JWT_TICK     1000

/* how often requests waiting for another worker's fetch look, in ms */
#define NGX_HTTP_AUTH_JWT_POLL     50


static ngx_int_t ngx_http_auth_jwt_source_resolve(ngx_http_request_t *r,
    ngx_http_auth_jwt_key_source_t *kd, ngx_http_auth_jwt_fetch_t *fetch,
    ngx_uint_t create);
static ngx_int_t ngx_http_auth_jwt_source_name(ngx_http_request_t *r,
    ngx_http_auth_jwt_key_source_t *kd, ngx_str_t *name, ngx_str_t *uri,
    ngx_str_t *args);
static ngx_int_t ngx_http_auth_jwt_source_path(ngx_str_t *dir,
    ngx_str_t *name);
static ngx_http_auth_jwt_source_t *ngx_http_auth_jwt_source_named(
    ngx_http_request_t *r, ngx_http_auth_jwt_key_source_t *kd,
    ngx_str_t *name, ngx_str_t *uri, ngx_str_t *args, ngx_uint_t create);
static void ngx_http_auth_jwt_source_free(ngx_http_auth_jwt_source_t *src);
static ngx_http_auth_jwt_key_set_t *ngx_http_auth_jwt_source_usable(
    ngx_http_auth_jwt_source_t *src, time_t key_cache,
    ngx_http_auth_jwt_keys_t *keys);
static ngx_int_t ngx_http_auth_jwt_source_sync(
    ngx_http_auth_jwt_source_t *src, ngx_uint_t used,
    ngx_http_auth_jwt_stored_t *st);
static ngx_int_t ngx_http_auth_jwt_fetch_init(ngx_http_request_t *r,
    ngx_array_t *sources, ngx_http_auth_jwt_keys_t *keys);
static ngx_uint_t ngx_http_auth_jwt_source_held_off(
    ngx_http_auth_jwt_source_t *src);
static ngx_int_t ngx_http_auth_jwt_fetch_start(ngx_http_request_t *r,
    ngx_http_auth_jwt_key_source_t *kd, ngx_http_auth_jwt_fetch_t *fetch,
    time_t key_cache);
static ngx_int_t ngx_http_auth_jwt_fetch_claim(
    ngx_http_auth_jwt_fetch_t *fetch, ngx_http_auth_jwt_store_t *store,
    time_t key_cache);
static void ngx_http_auth_jwt_fetch_wait(ngx_http_auth_jwt_fetch_t *fetch,
    ngx_uint_t poll);
static ngx_int_t ngx_http_auth_jwt_fetch_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_auth_jwt_fetch_text(ngx_http_request_t *sr,
    ngx_http_auth_jwt_fetch_t *fetch, ngx_int_t rc, ngx_str_t *json,
    u_char *reason, size_t size);
static void ngx_http_auth_jwt_fetch_failed(ngx_http_auth_jwt_fetch_t *fetch,
    ngx_log_t *log, u_char *reason);
static ngx_http_auth_jwt_key_set_t *ngx_http_auth_jwt_set_create(
    ngx_log_t *log, ngx_str_t *json, time_t fetched, const char **error);
static ngx_http_auth_jwt_key_set_t *ngx_http_auth_jwt_file_read(
    ngx_http_auth_jwt_source_t *src, ngx_log_t *log);
static void ngx_http_auth_jwt_source_replace(ngx_http_auth_jwt_source_t *src,
    ngx_http_auth_jwt_key_set_t *set);
static void ngx_http_auth_jwt_wake_waiting(ngx_http_auth_jwt_source_t *src,
    ngx_http_auth_jwt_key_set_t *set, ngx_uint_t failed);
static void ngx_http_auth_jwt_wake(ngx_event_t *ev);
static void ngx_http_auth_jwt_source_poll(ngx_event_t *ev);
static void ngx_http_auth_jwt_take_keys(ngx_http_auth_jwt_fetch_t *fetch,
    ngx_http_auth_jwt_key_set_t *set);
static void ngx_http_auth_jwt_release_keys(ngx_http_auth_jwt_key_set_t *set);
static void ngx_http_auth_jwt_fetch_cleanup(void *data);
static void ngx_http_auth_jwt_source_conf_cleanup(void *data);
static void ngx_http_auth_jwt_refresh_tick(ngx_event_t *ev);
static void ngx_http_auth_jwt_refresh(ngx_http_auth_jwt_source_t *src);


/* the keys of a value that names no source: none */
static ngx_array_t                  ngx_http_auth_jwt_no_keys_array;
static ngx_http_auth_jwt_key_set_t  ngx_http_auth_jwt_no_keys = {
    &ngx_http_auth_jwt_no_keys_array, NULL, 0, 0, 0
};

/* sets made in this worker, for their generations */
static uint64_t                     ngx_http_auth_jwt_sets;

static ngx_event_t                  ngx_http_auth_jwt_refresh_event;
static ngx_array_t                 *ngx_http_auth_jwt_refreshed;


/*
 * A key source directive's value: a fixed one is the source itself, and
 * a key request's URI may carry arguments.  With variables, a value may
 * not leave dir, the part of the text before the first variable up to its
 * last "/" (for a file, taken from the configuration prefix).
 */

ngx_http_auth_jwt_key_source_t *
ngx_http_auth_jwt_source_conf(ngx_conf_t *cf, ngx_uint_t type,
    ngx_str_t *value)
{
    u_char                            *p, *dollar;
    ngx_pool_cleanup_t                *cln;
    ngx_http_auth_jwt_source_t        *src;
    ngx_http_auth_jwt_key_source_t    *kd;
    ngx_http_compile_complex_value_t   ccv;

    kd = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_jwt_key_source_t));
    if (kd == NULL) {
        return NULL;
    }

    kd->type = type;

    ngx_rbtree_init(&kd->rbtree, &kd->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&kd->lru);

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_auth_jwt_source_conf_cleanup;
    cln->data = kd;

    dollar = ngx_strlchr(value->data, value->data + value->len, '$');

    if (dollar) {
        kd->value = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (kd->value == NULL) {
            return NULL;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = value;
        ccv.complex_value = kd->value;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NULL;
        }

        for (p = dollar; p > value->data && p[-1] != '/'; p--) {
            /* void */
        }

        kd->dir.data = value->data;
        kd->dir.len = p - value->data;

        if (type == NGX_HTTP_AUTH_JWT_SOURCE_FILE
            && ngx_conf_full_name(cf->cycle, &kd->dir, 1) != NGX_OK)
        {
            return NULL;
        }

        return kd;
    }

    src = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_jwt_source_t));
    if (src == NULL) {
        return NULL;
    }

    src->conf = kd;
    src->name = *value;
    src->uri = *value;
    ngx_queue_init(&src->waiting);

    p = ngx_strlchr(value->data, value->data + value->len, '?');

    if (p) {
        src->uri.len = p - value->data;
        src->args.data = p + 1;
        src->args.len = value->data + value->len - p - 1;
    }

    kd->fixed = src;

    return kd;
}


/*
 * Whether the keys of every source of the location are at hand for the
 * request: NGX_OK, and ngx_http_auth_jwt_sources_set() has them, or
 * NGX_AGAIN, to be fetched or read in the access phase.  Nothing is
 * fetched or read here, and a name the worker does not know yet is not
 * made a source: a token that turns out malformed must not push the
 * sources in use out of the worker's bound.
 */

ngx_int_t
ngx_http_auth_jwt_sources_ready(ngx_http_request_t *r, ngx_array_t *sources,
    time_t key_cache, ngx_http_auth_jwt_keys_t *keys)
{
    ngx_uint_t                        i;
    ngx_http_auth_jwt_fetch_t        *fetch;
    ngx_http_auth_jwt_source_t       *src;
    ngx_http_auth_jwt_key_source_t  **kd;

    if (sources == NULL) {
        return NGX_OK;
    }

    kd = sources->elts;

    for (i = 0; i < sources->nelts; i++) {

        fetch = keys->fetch ? &keys->fetch[i] : NULL;

        if (fetch && fetch->done) {
            if (fetch->failed) {
                return NGX_AGAIN;
            }

            continue;
        }

        if (fetch && (fetch->fetching || fetch->waiting || fetch->refetch)) {
            return NGX_AGAIN;
        }

        if (kd[i]->value) {
            if (fetch == NULL) {
                if (ngx_http_auth_jwt_fetch_init(r, sources, keys) != NGX_OK)
                {
                    return NGX_ERROR;
                }

                fetch = &keys->fetch[i];
            }

            if (!fetch->resolved
                && ngx_http_auth_jwt_source_resolve(r, kd[i], fetch, 0)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (!fetch->resolved) {
                return NGX_AGAIN;
            }

            if (fetch->done) {
                if (fetch->failed) {
                    return NGX_AGAIN;
                }

                continue;
            }

            src = fetch->source;

        } else {
            src = kd[i]->fixed;
        }

        if (ngx_http_auth_jwt_source_usable(src, key_cache, keys) == NULL) {
            return NGX_AGAIN;
        }
    }

    return NGX_OK;
}


/*
 * Gets the keys of every source of the location, all at once: the latest
 * if the location may still use them, or a failure while the last fetch
 * failed less than NGX_HTTP_AUTH_JWT_KEY_RETRY ago, or the fetch in
 * flight, here or in another worker, or else a fetch of its own, through
 * a subrequest; files are read at once.  The access phase resumes when
 * the last one is done.  NGX_DECLINED: a source failed.
 */

ngx_int_t
ngx_http_auth_jwt_sources_fetch(ngx_http_request_t *r, ngx_array_t *sources,
    time_t key_cache, ngx_http_auth_jwt_keys_t *keys)
{
    ngx_uint_t                        i, n, failed;
    ngx_http_auth_jwt_fetch_t        *fetch;
    ngx_http_auth_jwt_key_source_t  **kd;

    kd = sources->elts;
    n = sources->nelts;

    if (keys->fetch == NULL
        && ngx_http_auth_jwt_fetch_init(r, sources, keys) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        fetch = &keys->fetch[i];

        if (!fetch->done && !fetch->fetching && !fetch->waiting
            && ngx_http_auth_jwt_fetch_start(r, kd[i], fetch, key_cache)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (keys->pending) {
        return NGX_AGAIN;
    }

    failed = 0;

    for (i = 0; i < n; i++) {
        fetch = &keys->fetch[i];
        failed |= fetch->failed;

        /* the request goes on: a wake still posted must not run it again */

        if (fetch->wake.posted) {
            ngx_delete_posted_event(&fetch->wake);
        }
    }

    return failed ? NGX_DECLINED : NGX_OK;
}


/*
 * The keys of the location's i-th source for this request: those it
 * fetched, read or waited for, or else the latest, which
 * ngx_http_auth_jwt_sources_ready() found usable.
 */

ngx_http_auth_jwt_key_set_t *
ngx_http_auth_jwt_sources_set(ngx_array_t *sources,
    ngx_http_auth_jwt_keys_t *keys, ngx_uint_t i)
{
    ngx_http_auth_jwt_fetch_t        *fetch;
    ngx_http_auth_jwt_key_source_t  **kd;

    fetch = keys->fetch ? &keys->fetch[i] : NULL;

    if (fetch && fetch->set) {
        return fetch->set;
    }

    if (fetch && fetch->resolved) {
        return fetch->source->set;
    }

    kd = sources->elts;

    return kd[i]->fixed->set;
}


/*
 * A token whose kid no key has: the location's key requests kept in the
 * zone are fetched again, once for the request, if none was for an
 * unknown kid within the zone's unknown_kid= time, so a key the identity
 * provider has just added is used at once and made-up kids cost little.
 * NGX_OK: the request is to fetch; NGX_DECLINED: the token has no key.
 */

ngx_int_t
ngx_http_auth_jwt_sources_refetch(ngx_http_request_t *r,
    ngx_array_t *sources, time_t key_cache, ngx_http_auth_jwt_keys_t *keys)
{
    ngx_uint_t                        i, any;
    ngx_http_auth_jwt_fetch_t        *fetch;
    ngx_http_auth_jwt_key_source_t  **kd;

    if (sources == NULL || key_cache == 0 || keys->refetched) {
        return NGX_DECLINED;
    }

    kd = sources->elts;
    any = 0;

    for (i = 0; i < sources->nelts; i++) {
        if (kd[i]->type == NGX_HTTP_AUTH_JWT_SOURCE_REQUEST
            && kd[i]->store && kd[i]->store->unknown_kid)
        {
            any = 1;
        }
    }

    if (!any) {
        return NGX_DECLINED;
    }

    if (keys->fetch == NULL
        && ngx_http_auth_jwt_fetch_init(r, sources, keys) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    keys->refetched = 1;
    any = 0;

    for (i = 0; i < sources->nelts; i++) {
        fetch = &keys->fetch[i];

        if (kd[i]->type != NGX_HTTP_AUTH_JWT_SOURCE_REQUEST
            || kd[i]->store == NULL || kd[i]->store->unknown_kid == 0
            || fetch->set == &ngx_http_auth_jwt_no_keys)
        {
            continue;
        }

        if (fetch->set) {
            ngx_http_auth_jwt_release_keys(fetch->set);
            fetch->set = NULL;
        }

        fetch->done = 0;
        fetch->refetch = 1;
        any = 1;
    }

    return any ? NGX_OK : NGX_DECLINED;
}


/* the bodies of key requests are captured here, not sent anywhere */

ngx_int_t
ngx_http_auth_jwt_sources_capture(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_auth_jwt_fetch_t  *fetch;

    if (r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_auth_jwt_fetch_done)
    {
        return NGX_DECLINED;
    }

    fetch = r->post_subrequest->data;

    return ngx_gw_capture_body(r, &fetch->capture, in);
}


/* each worker's timer; the zone says whose turn it is to refresh */

ngx_int_t
ngx_http_auth_jwt_sources_init_process(ngx_cycle_t *cycle,
    ngx_array_t *refreshed)
{
    if (refreshed == NULL || refreshed->nelts == 0) {
        return NGX_OK;
    }

    ngx_http_auth_jwt_refreshed = refreshed;

    /* data: what debug lines take for a connection must be readable */

    ngx_http_auth_jwt_refresh_event.data = refreshed;
    ngx_http_auth_jwt_refresh_event.handler = ngx_http_auth_jwt_refresh_tick;
    ngx_http_auth_jwt_refresh_event.log = cycle->log;
    ngx_http_auth_jwt_refresh_event.cancelable = 1;

    ngx_add_timer(&ngx_http_auth_jwt_refresh_event, NGX_HTTP_AUTH_JWT_TICK);

    return NGX_OK;
}


/*
 * The source a directive's value names for the request; a value that
 * names none, or that is refused, gives no keys (one info line), so the
 * token gets 401.  Unless asked to create it, a source the worker does
 * not have leaves the fetch unresolved.
 */

static ngx_int_t
ngx_http_auth_jwt_source_resolve(ngx_http_request_t *r,
    ngx_http_auth_jwt_key_source_t *kd, ngx_http_auth_jwt_fetch_t *fetch,
    ngx_uint_t create)
{
    ngx_int_t                    rc;
    ngx_str_t                    name, uri, args;
    ngx_http_auth_jwt_source_t  *src;

    if (kd->value == NULL) {
        fetch->resolved = 1;
        fetch->source = kd->fixed;
        return NGX_OK;
    }

    rc = ngx_http_auth_jwt_source_name(r, kd, &name, &uri, &args);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        fetch->resolved = 1;
        fetch->done = 1;
        fetch->set = &ngx_http_auth_jwt_no_keys;
        return NGX_OK;
    }

    src = ngx_http_auth_jwt_source_named(r, kd, &name, &uri, &args, create);

    if (src == NULL) {
        if (create) {
            fetch->resolved = 1;
            fetch->done = 1;
            fetch->failed = 1;
        }

        return NGX_OK;
    }

    fetch->resolved = 1;

    src->refs++;
    fetch->source = src;

    return NGX_OK;
}


/*
 * The value of a directive with variables, checked: NGX_DECLINED if it is
 * empty or refused.  A URI must be safe as X-Accel-Redirect's are (no
 * "..", NUL, or escapes of them) and a file name must not climb out with
 * ".."; either must stay in the directive's dir, and hold no control
 * character or space.
 */

static ngx_int_t
ngx_http_auth_jwt_source_name(ngx_http_request_t *r,
    ngx_http_auth_jwt_key_source_t *kd, ngx_str_t *name, ngx_str_t *uri,
    ngx_str_t *args)
{
    u_char      *p, *last;
    ngx_str_t    value;
    ngx_uint_t   flags;
    const char  *what, *why;

    what = (kd->type == NGX_HTTP_AUTH_JWT_SOURCE_FILE) ? "key file"
                                                        : "key request";

    if (ngx_http_complex_value(r, kd->value, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    if (value.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_jwt: \"%V\" names no %s", &kd->value->value,
                      what);
        return NGX_DECLINED;
    }

    why = NULL;
    last = value.data + value.len;

    for (p = value.data; p < last; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == '#') {
            why = "a control character, space or \"#\"";
            break;
        }
    }

    if (why == NULL && value.len > NGX_HTTP_AUTH_JWT_MAX_NAME) {
        why = "over 1024 bytes";
    }

    if (why) {

        /* never the value itself, which may hold anything */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_jwt: %s \"%V\" holds %s: refused", what,
                      &kd->value->value, why);
        return NGX_DECLINED;
    }

    *name = value;
    *uri = value;
    ngx_str_null(args);

    if (kd->type == NGX_HTTP_AUTH_JWT_SOURCE_FILE) {
        if (ngx_get_full_name(r->pool,
                              (ngx_str_t *) &ngx_cycle->conf_prefix, name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        *uri = *name;

        if (ngx_http_auth_jwt_source_path(&kd->dir, name) != NGX_OK) {
            goto refused;
        }

        return NGX_OK;
    }

    flags = 0;

    if (value.data[0] != '/'
        || ngx_http_parse_unsafe_uri(r, uri, args, &flags) != NGX_OK
        || uri->len < kd->dir.len
        || ngx_strncmp(uri->data, kd->dir.data, kd->dir.len) != 0)
    {
        goto refused;
    }

    /* escapes undone: none may hide a control character either */

    for (p = uri->data; p < uri->data + uri->len; p++) {
        if (*p < ' ' || *p == 0x7f) {
            goto refused;
        }
    }

    return NGX_OK;

refused:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "auth_jwt: %s \"%V\" leaves \"%V\": refused", what, &value,
                  &kd->dir);

    return NGX_DECLINED;
}


/* a full file name under dir, without ".." past it */

static ngx_int_t
ngx_http_auth_jwt_source_path(ngx_str_t *dir, ngx_str_t *name)
{
    u_char  *p, *last;

    if (name->len < dir->len
        || ngx_strncmp(name->data, dir->data, dir->len) != 0)
    {
        return NGX_DECLINED;
    }

    p = name->data + dir->len;
    last = name->data + name->len;

    /* at each segment's start: dir ends with "/" or is the whole prefix */

    for ( ;; ) {
        if (last - p >= 2 && p[0] == '.' && p[1] == '.'
            && (last - p == 2 || p[2] == '/'))
        {
            return NGX_DECLINED;
        }

        p = ngx_strlchr(p, last, '/');

        if (p == NULL) {
            return NGX_OK;
        }

        p++;
    }
}


/*
 * The worker's source of that name, made if it has none and create is
 * set: at most NGX_HTTP_AUTH_JWT_MAX_NAMES for a directive, the least
 * recently used that nothing holds making room.  NULL, with an error
 * line, if every one is in use or there is no memory.
 */

static ngx_http_auth_jwt_source_t *
ngx_http_auth_jwt_source_named(ngx_http_request_t *r,
    ngx_http_auth_jwt_key_source_t *kd, ngx_str_t *name, ngx_str_t *uri,
    ngx_str_t *args, ngx_uint_t create)
{
    u_char                      *p;
    uint32_t                     hash;
    ngx_queue_t                 *q;
    ngx_str_node_t              *node;
    ngx_http_auth_jwt_source_t  *src;

    hash = ngx_crc32_short(name->data, name->len);

    node = ngx_str_rbtree_lookup(&kd->rbtree, name, hash);

    if (node) {
        src = ngx_rbtree_data(node, ngx_http_auth_jwt_source_t, node);
        ngx_queue_remove(&src->queue);
        ngx_queue_insert_head(&kd->lru, &src->queue);
        src->srv_conf = r->srv_conf;
        return src;
    }

    if (!create) {
        return NULL;
    }

    if (kd->named >= NGX_HTTP_AUTH_JWT_MAX_NAMES) {

        for (q = ngx_queue_last(&kd->lru);
             q != ngx_queue_sentinel(&kd->lru);
             q = ngx_queue_prev(q))
        {
            src = ngx_queue_data(q, ngx_http_auth_jwt_source_t, queue);

            if (src->refs == 0 && src->fetching == NULL
                && ngx_queue_empty(&src->waiting))
            {
                break;
            }
        }

        if (q == ngx_queue_sentinel(&kd->lru)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "auth_jwt: all %d sources that \"%V\" names are "
                          "in use", NGX_HTTP_AUTH_JWT_MAX_NAMES,
                          &kd->value->value);
            return NULL;
        }

        ngx_http_auth_jwt_source_free(src);
    }

    /* the name ends with NUL, for a file */

    src = ngx_alloc(sizeof(ngx_http_auth_jwt_source_t) + name->len + 1
                    + uri->len + args->len, r->connection->log);
    if (src == NULL) {
        return NULL;
    }

    ngx_memzero(src, sizeof(ngx_http_auth_jwt_source_t));

    p = (u_char *) (src + 1);

    src->name.data = p;
    src->name.len = name->len;
    p = ngx_cpymem(p, name->data, name->len);
    *p++ = '\0';

    src->uri.data = p;
    src->uri.len = uri->len;
    p = ngx_cpymem(p, uri->data, uri->len);

    src->args.data = p;
    src->args.len = args->len;
    ngx_memcpy(p, args->data, args->len);

    src->conf = kd;
    src->named = 1;
    src->srv_conf = r->srv_conf;
    ngx_queue_init(&src->waiting);

    node = &src->node;
    node->node.key = hash;
    node->str = src->name;

    ngx_rbtree_insert(&kd->rbtree, &node->node);
    ngx_queue_insert_head(&kd->lru, &src->queue);
    kd->named++;

    return src;
}


static void
ngx_http_auth_jwt_source_free(ngx_http_auth_jwt_source_t *src)
{
    ngx_http_auth_jwt_key_source_t  *kd;

    kd = src->conf;

    if (src->poll.timer_set) {
        ngx_del_timer(&src->poll);
    }

    if (src->set) {
        ngx_http_auth_jwt_release_keys(src->set);
    }

    ngx_queue_remove(&src->queue);
    ngx_rbtree_delete(&kd->rbtree, &src->node.node);
    kd->named--;

    ngx_free(src);
}


/*
 * The source's latest keys, if a location with key_cache may use them:
 * fresh ones, or, with the zone, ones kept past key_cache for up to
 * stale= more, while they are fetched again in the background.  A source
 * in the zone is read there once a second, for the keys another worker
 * fetched.  A file named by variables is read once and kept as long as
 * the configuration, as a file without variables is: a changed file is
 * read again on reload.
 */

static ngx_http_auth_jwt_key_set_t *
ngx_http_auth_jwt_source_usable(ngx_http_auth_jwt_source_t *src,
    time_t key_cache, ngx_http_auth_jwt_keys_t *keys)
{
    time_t                       now;
    ngx_http_auth_jwt_store_t   *store;
    ngx_http_auth_jwt_stored_t   st;

    if (src->conf->type == NGX_HTTP_AUTH_JWT_SOURCE_FILE) {
        return src->set;
    }

    if (key_cache == 0) {
        return NULL;
    }

    store = src->conf->store;

    if (store
        && (ngx_msec_int_t) (ngx_current_msec - src->synced)
           >= NGX_HTTP_AUTH_JWT_SYNC)
    {
        (void) ngx_http_auth_jwt_source_sync(src, src->used, &st);
    }

    if (src->set == NULL) {
        return NULL;
    }

    now = ngx_time();

    if (src->set->fetched + key_cache > now) {
        src->used = 1;
        return src->set;
    }

    if (store && src->set->fetched + key_cache + store->stale > now) {
        src->used = 1;
        keys->stale = 1;
        return src->set;
    }

    return NULL;
}


/*
 * The zone's keys for the source become the worker's if they are newer:
 * parsed again if their text changed, or only younger if a fetch found
 * them the same.
 */

static ngx_int_t
ngx_http_auth_jwt_source_sync(ngx_http_auth_jwt_source_t *src,
    ngx_uint_t used, ngx_http_auth_jwt_stored_t *st)
{
    ngx_int_t                     rc;
    const char                   *error;
    ngx_http_auth_jwt_key_set_t  *set;

    src->synced = ngx_current_msec;

    rc = ngx_http_auth_jwt_store_read(src->conf->store, &src->name,
                                      src->version, used, st);
    if (rc != NGX_OK) {
        return rc;
    }

    src->used = 0;

    if (st->text.data == NULL) {
        if (src->set && st->version == src->version
            && st->fetched > src->set->fetched)
        {
            src->set->fetched = st->fetched;
        }

        return NGX_OK;
    }

    /* never the zone's over keys of this worker's that are younger */

    if (src->set == NULL || st->fetched >= src->set->fetched) {
        set = ngx_http_auth_jwt_set_create(ngx_cycle->log, &st->text,
                                           st->fetched, &error);
        if (set) {
            ngx_http_auth_jwt_source_replace(src, set);
            src->version = st->version;
        }
    }

    ngx_free(st->text.data);
    ngx_str_null(&st->text);

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_jwt_fetch_init(ngx_http_request_t *r, ngx_array_t *sources,
    ngx_http_auth_jwt_keys_t *keys)
{
    ngx_uint_t                  i, n;
    ngx_pool_cleanup_t         *cln;
    ngx_http_auth_jwt_fetch_t  *fetch;

    n = sources->nelts;

    keys->fetch = ngx_pcalloc(r->pool, n * sizeof(ngx_http_auth_jwt_fetch_t));
    if (keys->fetch == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        fetch = &keys->fetch[i];
        fetch->request = r;
        fetch->keys = keys;
        fetch->capture.max = NGX_HTTP_AUTH_JWT_MAX_KEYS;
        fetch->wake.handler = ngx_http_auth_jwt_wake;
        fetch->wake.data = fetch;
        fetch->wake.log = r->connection->log;

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_auth_jwt_fetch_cleanup;
        cln->data = fetch;
    }

    return NGX_OK;
}


/* a source that failed is not read or asked again for a while */

static ngx_uint_t
ngx_http_auth_jwt_source_held_off(ngx_http_auth_jwt_source_t *src)
{
    return src->has_failed
           && (ngx_msec_int_t) (ngx_current_msec - src->failed)
              < NGX_HTTP_AUTH_JWT_KEY_RETRY;
}


static ngx_int_t
ngx_http_auth_jwt_fetch_start(ngx_http_request_t *r,
    ngx_http_auth_jwt_key_source_t *kd, ngx_http_auth_jwt_fetch_t *fetch,
    time_t key_cache)
{
    ngx_int_t                     rc;
    ngx_http_request_t           *sr;
    ngx_http_auth_jwt_key_set_t  *set;
    ngx_http_post_subrequest_t   *ps;
    ngx_http_auth_jwt_source_t   *src;
    ngx_http_auth_jwt_store_t    *store;

    if (!fetch->resolved) {
        if (ngx_http_auth_jwt_source_resolve(r, kd, fetch, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        if (fetch->done) {
            return NGX_OK;
        }
    }

    src = fetch->source;

    if (!fetch->refetch) {
        set = ngx_http_auth_jwt_source_usable(src, key_cache, fetch->keys);

        if (set) {
            ngx_http_auth_jwt_take_keys(fetch, set);
            return NGX_OK;
        }
    }

    if (kd->type == NGX_HTTP_AUTH_JWT_SOURCE_FILE) {

        /* a client naming a missing file again and again costs no reads */

        if (ngx_http_auth_jwt_source_held_off(src)) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "auth_jwt: key file \"%V\" is not read again "
                          "within %ds of a failure", &src->name,
                          NGX_HTTP_AUTH_JWT_KEY_RETRY / 1000);
            fetch->done = 1;
            fetch->failed = 1;
            return NGX_OK;
        }

        set = ngx_http_auth_jwt_file_read(src, r->connection->log);

        if (set == NULL) {
            src->has_failed = 1;
            src->failed = ngx_current_msec;
            fetch->done = 1;
            fetch->failed = 1;
            return NGX_OK;
        }

        src->has_failed = 0;
        ngx_http_auth_jwt_source_replace(src, set);
        ngx_http_auth_jwt_take_keys(fetch, set);

        return NGX_OK;
    }

    if (src->fetching) {
        ngx_http_auth_jwt_fetch_wait(fetch, 0);
        return NGX_OK;
    }

    store = key_cache ? kd->store : NULL;

    if (store) {
        rc = ngx_http_auth_jwt_fetch_claim(fetch, store, key_cache);

        if (rc != NGX_AGAIN) {
            return rc;
        }

    } else if (ngx_http_auth_jwt_source_held_off(src)) {

        /* the error was logged once, with the failure */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_jwt: key request \"%V\" is not asked again "
                      "within %ds of a failure", &src->uri,
                      NGX_HTTP_AUTH_JWT_KEY_RETRY / 1000);
        fetch->done = 1;
        fetch->failed = 1;
        return NGX_OK;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_auth_jwt_fetch_done;
    ps->data = fetch;

    if (ngx_http_subrequest(r, &src->uri, src->args.len ? &src->args : NULL,
                            &sr, ps, NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    fetch->fetching = 1;
    fetch->keys->pending++;
    fetch->keys->waited |= (store != NULL);
    src->fetching = fetch;

    /* the client's credentials are not the key server's business */

    return ngx_gw_subrequest_own_headers(sr, 0);
}


/*
 * Asks the zone whether the request is to fetch: NGX_AGAIN, it is; else
 * it got the keys another worker fetched, or waits for that worker's
 * fetch, or gets those it has if a fetch for an unknown kid was made
 * lately, or fails after a failure.
 */

static ngx_int_t
ngx_http_auth_jwt_fetch_claim(ngx_http_auth_jwt_fetch_t *fetch,
    ngx_http_auth_jwt_store_t *store, time_t key_cache)
{
    ngx_int_t                     rc;
    ngx_uint_t                    tries, why;
    ngx_http_auth_jwt_source_t   *src;
    ngx_http_auth_jwt_stored_t    st;
    ngx_http_auth_jwt_key_set_t  *set;

    src = fetch->source;
    why = fetch->refetch ? NGX_HTTP_AUTH_JWT_CLAIM_KID
                         : NGX_HTTP_AUTH_JWT_CLAIM_NEED;

    for (tries = 0; tries < 3; tries++) {

        rc = ngx_http_auth_jwt_store_claim(store, &src->name, why,
                                           src->version, 0, 0, 0, &st);

        switch (rc) {

        case NGX_OK:
            fetch->stored = 1;
            return NGX_AGAIN;

        case NGX_BUSY:
            ngx_http_auth_jwt_fetch_wait(fetch, 1);
            return NGX_OK;

        case NGX_DONE:

            /* another worker fetched: its keys, if they serve */

            if (ngx_http_auth_jwt_source_sync(src, 1, &st) == NGX_ERROR) {
                return NGX_ERROR;
            }

            set = fetch->refetch ? src->set
                  : ngx_http_auth_jwt_source_usable(src, key_cache,
                                                    fetch->keys);
            if (set) {
                ngx_http_auth_jwt_take_keys(fetch, set);
                return NGX_OK;
            }

            continue;

        default: /* NGX_DECLINED */

            if (fetch->refetch && src->set) {
                ngx_http_auth_jwt_take_keys(fetch, src->set);
                return NGX_OK;
            }

            if (fetch->refetch) {
                why = NGX_HTTP_AUTH_JWT_CLAIM_NEED;
                continue;
            }

            ngx_log_error(NGX_LOG_INFO, fetch->request->connection->log, 0,
                          "auth_jwt: key request \"%V\" is not asked again "
                          "within %ds of a failure", &src->uri,
                          NGX_HTTP_AUTH_JWT_KEY_RETRY / 1000);
            fetch->done = 1;
            fetch->failed = 1;
            return NGX_OK;
        }
    }

    /* the zone changed under the worker twice: it fetches all the same */

    fetch->stored = 1;

    return NGX_AGAIN;
}


/*
 * The request waits for the fetch in flight: here, or in another worker,
 * which the source then looks for in the zone until it ends.
 */

static void
ngx_http_auth_jwt_fetch_wait(ngx_http_auth_jwt_fetch_t *fetch,
    ngx_uint_t poll)
{
    ngx_http_auth_jwt_source_t  *src;

    src = fetch->source;

    ngx_queue_insert_tail(&src->waiting, &fetch->queue);
    fetch->waiting = 1;
    fetch->keys->pending++;
    fetch->keys->waited |= (src->conf->store != NULL);

    if (poll && !src->poll.timer_set) {
        src->poll.handler = ngx_http_auth_jwt_source_poll;
        src->poll.data = src;
        src->poll.log = ngx_cycle->log;
        src->poll.cancelable = 1;

        ngx_add_timer(&src->poll, NGX_HTTP_AUTH_JWT_POLL);
    }
}


static ngx_int_t
ngx_http_auth_jwt_fetch_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_auth_jwt_fetch_t *fetch = data;

    u_char                           reason[256];
    uint64_t                         version;
    ngx_str_t                        json;
    ngx_log_t                       *log;
    ngx_uint_t                       recovered;
    const char                      *error;
    ngx_http_request_t              *r;
    ngx_http_auth_jwt_key_set_t     *set;
    ngx_http_auth_jwt_source_t      *src;
    ngx_http_auth_jwt_store_t       *store;

    if (!fetch->fetching) {
        return rc;
    }

    r = fetch->request;
    src = fetch->source;
    log = r->connection->log;
    store = fetch->stored ? src->conf->store : NULL;

    if (fetch->keys == NULL) {
        log->action = "fetching keys in the background";
    }

    fetch->fetching = 0;
    fetch->done = 1;
    src->fetching = NULL;

    if (fetch->keys) {
        fetch->keys->pending--;
    }

    if (r->connection->error && !fetch->capture.done) {

        /*
         * the client went away, and the fetch with it: no failure of the
         * key source, and a request that waited fetches anew
         */

        fetch->failed = 1;

        if (store) {
            ngx_http_auth_jwt_store_release(store, &src->name);
        }

        ngx_http_auth_jwt_wake_waiting(src, NULL, 0);
        return rc;
    }

    if (ngx_http_auth_jwt_fetch_text(sr, fetch, rc, &json, reason,
                                     sizeof(reason))
        != NGX_OK)
    {
        ngx_http_auth_jwt_fetch_failed(fetch, log, reason);
        return rc;
    }

    set = ngx_http_auth_jwt_set_create(log, &json, ngx_time(), &error);

    if (set == NULL) {
        ngx_snprintf(reason, sizeof(reason) - 1, "answered an invalid JWK "
                     "Set: %s%Z", error);
        ngx_http_auth_jwt_fetch_failed(fetch, log, reason);
        return rc;
    }

    version = 0;

    if (store) {
        version = ngx_http_auth_jwt_store_done(store, &src->name, &json,
                                               &recovered);
        if (recovered) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "auth_jwt: key request \"%V\" answers again",
                          &src->uri);
        }
    }

    ngx_http_auth_jwt_source_replace(src, set);
    src->version = version;
    src->synced = ngx_current_msec;
    src->has_failed = 0;

    if (fetch->keys) {
        ngx_http_auth_jwt_take_keys(fetch, set);
    }

    ngx_http_auth_jwt_wake_waiting(src, set, 0);

    return rc;
}


/* the answer of a key request, or NGX_ERROR and why in reason */

static ngx_int_t
ngx_http_auth_jwt_fetch_text(ngx_http_request_t *sr,
    ngx_http_auth_jwt_fetch_t *fetch, ngx_int_t rc, ngx_str_t *json,
    u_char *reason, size_t size)
{
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE || rc == NGX_ERROR
        || sr->headers_out.status != NGX_HTTP_OK)
    {
        ngx_snprintf(reason, size - 1, "failed with status %i%Z",
                     rc >= NGX_HTTP_SPECIAL_RESPONSE
                     ? rc : (ngx_int_t) sr->headers_out.status);
        return NGX_ERROR;
    }

    if (fetch->capture.too_big || fetch->capture.failed
        || !fetch->capture.done || fetch->capture.buf == NULL)
    {
        ngx_snprintf(reason, size - 1, "failed: %s%Z",
                     fetch->capture.too_big ? "JWK Set larger than 1m"
                     : fetch->capture.buf ? "incomplete response"
                                          : "empty response");
        return NGX_ERROR;
    }

    json->data = fetch->capture.buf->pos;
    json->len = fetch->capture.buf->last - fetch->capture.buf->pos;

    return NGX_OK;
}


/*
 * A fetch failed: the requests that waited for it fail too, and no fetch
 * is made for NGX_HTTP_AUTH_JWT_KEY_RETRY.  Without the zone every failure
 * is an error line; with it, the first of an outage is, the others are
 * info lines, and the keys that serve meanwhile are told.
 */

static void
ngx_http_auth_jwt_fetch_failed(ngx_http_auth_jwt_fetch_t *fetch,
    ngx_log_t *log, u_char *reason)
{
    time_t                        left;
    ngx_uint_t                    level, expired;
    ngx_http_auth_jwt_source_t   *src;
    ngx_http_auth_jwt_store_t    *store;

    src = fetch->source;
    store = src->conf->store;
    fetch->failed = 1;

    if (!fetch->stored) {
        src->failed = ngx_current_msec;
        src->has_failed = 1;

        ngx_log_error(NGX_LOG_ERR, log, 0, "auth_jwt: key request \"%V\" %s",
                      &src->uri, reason);

        ngx_http_auth_jwt_wake_waiting(src, NULL, 1);
        return;
    }

    level = ngx_http_auth_jwt_store_failed(store, &src->name,
                                           src->conf->valid, &expired)
            ? NGX_LOG_ERR : NGX_LOG_INFO;

    left = src->set ? src->set->fetched + src->conf->valid + store->stale
                      - ngx_time()
                    : 0;

    if (left > 0) {
        ngx_log_error(level, log, 0, "auth_jwt: key request \"%V\" %s, "
                      "keeping the keys fetched %Ts ago for up to %Ts more",
                      &src->uri, reason, ngx_time() - src->set->fetched,
                      left);
    } else {
        ngx_log_error(level, log, 0, "auth_jwt: key request \"%V\" %s",
                      &src->uri, reason);
    }

    if (expired) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "auth_jwt: key request \"%V\" still fails, and its "
                      "last keys are past stale=: tokens they verified "
                      "get 500", &src->uri);
    }

    ngx_http_auth_jwt_wake_waiting(src, NULL, 1);
}


/* a JWK Set in a pool of its own, for the keys outlive the request */

static ngx_http_auth_jwt_key_set_t *
ngx_http_auth_jwt_set_create(ngx_log_t *log, ngx_str_t *json, time_t fetched,
    const char **error)
{
    ngx_pool_t                   *pool;
    ngx_http_auth_jwt_key_set_t  *set;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        *error = "no memory";
        return NULL;
    }

    set = ngx_palloc(pool, sizeof(ngx_http_auth_jwt_key_set_t));
    if (set == NULL) {
        *error = "no memory";
        ngx_destroy_pool(pool);
        return NULL;
    }

    set->pool = pool;
    set->keys = ngx_http_auth_jwt_keys_create(pool);

    if (set->keys == NULL) {
        *error = "no memory";
        ngx_destroy_pool(pool);
        return NULL;
    }

    if (ngx_http_auth_jwt_jwks_parse(pool, log, NGX_LOG_INFO, json,
                                     set->keys, error)
        != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    /* the source's own reference */

    set->refs = 1;
    set->fetched = fetched;
    set->generation = ++ngx_http_auth_jwt_sets;

    return set;
}


/* a key file named by variables: one error line if it cannot be used */

static ngx_http_auth_jwt_key_set_t *
ngx_http_auth_jwt_file_read(ngx_http_auth_jwt_source_t *src, ngx_log_t *log)
{
    ssize_t                       n;
    ngx_fd_t                      fd;
    ngx_str_t                     json;
    ngx_file_t                    file;
    const char                   *error;
    ngx_file_info_t               fi;
    ngx_http_auth_jwt_key_set_t  *set;

    set = NULL;
    json.data = NULL;

    fd = ngx_open_file(src->name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "auth_jwt: " ngx_open_file_n " key file \"%V\" failed",
                      &src->name);
        return NULL;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = src->name;
    file.log = log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "auth_jwt: " ngx_fd_info_n " key file \"%V\" failed",
                      &src->name);
        goto done;
    }

    json.len = ngx_file_size(&fi);

    if (json.len > NGX_HTTP_AUTH_JWT_MAX_KEYS) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_jwt: key file \"%V\" is larger than 1m",
                      &src->name);
        goto done;
    }

    json.data = ngx_alloc(ngx_max(json.len, 1), log);
    if (json.data == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, json.data, json.len, 0);

    if (n != (ssize_t) json.len) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "auth_jwt: could not read key file \"%V\"",
                      &src->name);
        goto done;
    }

    set = ngx_http_auth_jwt_set_create(log, &json, ngx_time(), &error);

    if (set == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_jwt: invalid key file \"%V\": %s", &src->name,
                      error);
        goto done;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "auth_jwt: read key file \"%V\"", &src->name);

done:

    if (json.data) {
        ngx_free(json.data);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &src->name);
    }

    return set;
}


static void
ngx_http_auth_jwt_source_replace(ngx_http_auth_jwt_source_t *src,
    ngx_http_auth_jwt_key_set_t *set)
{
    if (src->set) {
        ngx_http_auth_jwt_release_keys(src->set);
    }

    src->set = set;
}


/*
 * The fetch in flight is over: the requests that waited for it go on,
 * with its keys, or its failure, or neither if it was abandoned or was
 * another worker's, and then they look again.  Each is resumed from an
 * event of its own, never from inside another request's work.
 */

static void
ngx_http_auth_jwt_wake_waiting(ngx_http_auth_jwt_source_t *src,
    ngx_http_auth_jwt_key_set_t *set, ngx_uint_t failed)
{
    ngx_queue_t                *q;
    ngx_http_auth_jwt_fetch_t  *fetch;

    if (src->poll.timer_set) {
        ngx_del_timer(&src->poll);
    }

    while (!ngx_queue_empty(&src->waiting)) {
        q = ngx_queue_head(&src->waiting);
        ngx_queue_remove(q);

        fetch = ngx_queue_data(q, ngx_http_auth_jwt_fetch_t, queue);
        fetch->waiting = 0;

        if (set) {
            ngx_http_auth_jwt_take_keys(fetch, set);

        } else if (failed) {
            fetch->done = 1;
            fetch->failed = 1;
        }

        fetch->keys->pending--;

        ngx_post_event(&fetch->wake, &ngx_posted_events);
    }
}


static void
ngx_http_auth_jwt_wake(ngx_event_t *ev)
{
    ngx_http_auth_jwt_fetch_t *fetch = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = fetch->request;
    c = r->connection;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/*
 * Requests wait for another worker's fetch: once it is over, whichever
 * way, they look again, and find its keys, or its failure, or fetch.
 */

static void
ngx_http_auth_jwt_source_poll(ngx_event_t *ev)
{
    ngx_http_auth_jwt_source_t *src = ev->data;

    ngx_http_auth_jwt_stored_t  st;

    if (ngx_queue_empty(&src->waiting)) {
        return;
    }

    if (ngx_http_auth_jwt_source_sync(src, 1, &st) == NGX_OK && st.busy) {
        ngx_add_timer(ev, NGX_HTTP_AUTH_JWT_POLL);
        return;
    }

    ngx_http_auth_jwt_wake_waiting(src, NULL, 0);
}


static void
ngx_http_auth_jwt_take_keys(ngx_http_auth_jwt_fetch_t *fetch,
    ngx_http_auth_jwt_key_set_t *set)
{
    if (set != &ngx_http_auth_jwt_no_keys) {
        set->refs++;
    }

    fetch->set = set;
    fetch->done = 1;
    fetch->refetch = 0;
}


static void
ngx_http_auth_jwt_release_keys(ngx_http_auth_jwt_key_set_t *set)
{
    if (set != &ngx_http_auth_jwt_no_keys && --set->refs == 0) {
        ngx_destroy_pool(set->pool);
    }
}


/*
 * The request is over, or the module's own for a background fetch: it
 * leaves the queue, its fetch, its keys and its source.
 */

static void
ngx_http_auth_jwt_fetch_cleanup(void *data)
{
    ngx_http_auth_jwt_fetch_t *fetch = data;

    ngx_http_auth_jwt_source_t  *src;

    src = fetch->source;

    if (fetch->wake.posted) {
        ngx_delete_posted_event(&fetch->wake);
    }

    if (src == NULL) {
        return;
    }

    if (fetch->waiting) {
        ngx_queue_remove(&fetch->queue);
        fetch->waiting = 0;

        if (ngx_queue_empty(&src->waiting) && src->poll.timer_set) {
            ngx_del_timer(&src->poll);
        }
    }

    if (fetch->fetching) {
        fetch->fetching = 0;
        src->fetching = NULL;

        if (fetch->stored) {
            ngx_http_auth_jwt_store_release(src->conf->store, &src->name);
        }

        ngx_http_auth_jwt_wake_waiting(src, NULL, 0);
    }

    if (fetch->set) {
        ngx_http_auth_jwt_release_keys(fetch->set);
        fetch->set = NULL;
    }

    if (src->named) {
        src->refs--;
    }

    fetch->source = NULL;
}


/* the configuration is over: its sources, and their keys */

static void
ngx_http_auth_jwt_source_conf_cleanup(void *data)
{
    ngx_http_auth_jwt_key_source_t  *kd = data;

    ngx_queue_t                 *q;
    ngx_http_auth_jwt_source_t  *src;

    if (kd->fixed && kd->fixed->set) {
        ngx_http_auth_jwt_release_keys(kd->fixed->set);
        kd->fixed->set = NULL;
    }

    while (!ngx_queue_empty(&kd->lru)) {
        q = ngx_queue_head(&kd->lru);
        src = ngx_queue_data(q, ngx_http_auth_jwt_source_t, queue);
        ngx_http_auth_jwt_source_free(src);
    }
}


/*
 * Keys used since their fetch are fetched again when a quarter of the
 * shortest key cache of their locations is left (or 10s, or half of it),
 * by the worker whose timer finds them due first, in the background: no
 * request waits for them.  A fetch that failed is tried again every
 * NGX_HTTP_AUTH_JWT_KEY_RETRY.
 */

static void
ngx_http_auth_jwt_refresh_tick(ngx_event_t *ev)
{
    ngx_uint_t                        i;
    ngx_queue_t                      *q, *next;
    ngx_http_auth_jwt_key_source_t  **kd;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    kd = ngx_http_auth_jwt_refreshed->elts;

    for (i = 0; i < ngx_http_auth_jwt_refreshed->nelts; i++) {

        if (kd[i]->fixed) {
            ngx_http_auth_jwt_refresh(kd[i]->fixed);
            continue;
        }

        for (q = ngx_queue_head(&kd[i]->lru);
             q != ngx_queue_sentinel(&kd[i]->lru);
             q = next)
        {
            next = ngx_queue_next(q);
            ngx_http_auth_jwt_refresh(ngx_queue_data(q,
                                                    ngx_http_auth_jwt_source_t,
                                                    queue));
        }
    }

    ngx_add_timer(ev, NGX_HTTP_AUTH_JWT_TICK);
}


static void
ngx_http_auth_jwt_refresh(ngx_http_auth_jwt_source_t *src)
{
    time_t                           refresh;
    ngx_int_t                        rc;
    ngx_pool_cleanup_t              *cln;
    ngx_http_request_t              *r;
    ngx_http_auth_jwt_fetch_t       *fetch;
    ngx_http_auth_jwt_stored_t       st;
    ngx_http_post_subrequest_t      *ps;
    ngx_http_auth_jwt_key_source_t  *kd;

    kd = src->conf;

    if (src->fetching || src->srv_conf == NULL || kd->valid == 0) {
        return;
    }

    /* a quarter of the time left, but 10s if that is more, up to half */

    refresh = kd->valid - ngx_min(kd->valid / 2, ngx_max(kd->valid / 4, 10));

    rc = ngx_http_auth_jwt_store_claim(kd->store, &src->name,
                                       NGX_HTTP_AUTH_JWT_CLAIM_REFRESH,
                                       src->version, refresh, kd->valid,
                                       src->used, &st);
    src->used = 0;

    if (rc != NGX_OK) {
        return;
    }

    r = ngx_http_auth_jwt_background_create(src->srv_conf);
    if (r == NULL) {
        goto failed;
    }

    fetch = ngx_pcalloc(r->pool, sizeof(ngx_http_auth_jwt_fetch_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (fetch == NULL || ps == NULL || cln == NULL) {
        ngx_http_auth_jwt_background_close(r);
        goto failed;
    }

    fetch->source = src;
    fetch->request = r;
    fetch->capture.max = NGX_HTTP_AUTH_JWT_MAX_KEYS;
    fetch->fetching = 1;
    fetch->stored = 1;

    ps->handler = ngx_http_auth_jwt_fetch_done;
    ps->data = fetch;

    cln->handler = ngx_http_auth_jwt_fetch_cleanup;
    cln->data = fetch;

    src->fetching = fetch;

    if (src->named) {
        src->refs++;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "auth_jwt: refreshing \"%V\"", &src->name);

    /* closed on failure, and the cleanup gives the claim up */

    (void) ngx_http_auth_jwt_background_start(r, &src->uri, &src->args, ps);

    return;

failed:

    ngx_http_auth_jwt_store_release(kd->store, &src->name);
}
