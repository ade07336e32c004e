
/*
 * The keys under the prefix as the worker that talks to etcd knows them:
 * read whole from a range answer, then changed by the events of the
 * watch.  Each change makes a new set in a pool of its own, and the old
 * one goes: memory stays that of the keys etcd holds, however long the
 * watch runs.  Values that are not instances are kept, as invalid, so
 * that they are told in the log once for each write.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_upstream_discovery.h"
#include "ngx_gw_json.h"


static ngx_http_upstream_discovery_keys_t *ngx_http_upstream_discovery_keys_new(
    ngx_http_upstream_discovery_keys_t *from);
static ngx_int_t ngx_http_upstream_discovery_keys_kv(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_pool_t *temp, ngx_str_t *kv,
    ngx_uint_t deleted, ngx_http_upstream_discovery_keys_t *keys,
    ngx_uint_t warn);
static ngx_int_t ngx_http_upstream_discovery_keys_put(
    ngx_http_upstream_discovery_keys_t *keys,
    ngx_http_upstream_discovery_key_t *key, ngx_uint_t deleted);
static ngx_http_upstream_discovery_key_t *
    ngx_http_upstream_discovery_keys_find(
    ngx_http_upstream_discovery_keys_t *keys, ngx_str_t *key,
    ngx_uint_t *at);
static ngx_int_t ngx_http_upstream_discovery_keys_copy(ngx_pool_t *pool,
    ngx_http_upstream_discovery_key_t *dst,
    ngx_http_upstream_discovery_key_t *src);
static void ngx_http_upstream_discovery_keys_warn(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_pool_t *temp,
    ngx_str_t *key);
static ngx_int_t ngx_http_upstream_discovery_keys_value(ngx_pool_t *pool,
    ngx_str_t *value, ngx_http_upstream_discovery_instance_t *instance);
static ngx_int_t ngx_http_upstream_discovery_keys_string(ngx_pool_t *pool,
    ngx_gw_json_member_t *member, ngx_uint_t base64, ngx_str_t *text);


/*
 * A range answer's "kvs": every key, as the new set.  A key whose value
 * is not an instance is told, unless the set before held it at the same
 * revision (it was told then), or unless the worker has no set yet and
 * the zone's list is this one (another worker told it).
 */

ngx_int_t
ngx_http_upstream_discovery_keys_range(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_str_t *kvs, uint64_t revision,
    ngx_http_upstream_discovery_keys_t **out, const char **error)
{
    ngx_int_t                            rc;
    ngx_uint_t                           i, told;
    ngx_pool_t                          *temp;
    ngx_gw_json_member_t                 kv;
    ngx_gw_json_elements_t               elements;
    ngx_http_upstream_discovery_key_t   *key, *old;
    ngx_http_upstream_discovery_keys_t  *keys;

    *error = "no memory";

    keys = ngx_http_upstream_discovery_keys_new(NULL);
    if (keys == NULL) {
        return NGX_ERROR;
    }

    keys->revision = revision;

    temp = ngx_create_pool(4096, ngx_cycle->log);
    if (temp == NULL) {
        ngx_http_upstream_discovery_keys_free(keys);
        return NGX_ERROR;
    }

    if (kvs) {
        ngx_gw_json_elements_init(&elements, kvs, 16);

        for ( ;; ) {
            rc = ngx_gw_json_element(&elements, &kv);

            if (rc == NGX_DONE) {
                break;
            }

            if (rc == NGX_ERROR) {
                *error = elements.json.error;
                goto failed;
            }

            if (ngx_http_upstream_discovery_keys_kv(dcf, temp, &kv.value, 0,
                                                    keys, 0)
                != NGX_OK)
            {
                goto failed;
            }
        }
    }

    told = (dcf->keys == NULL && dcf->sh->answered
            && ngx_http_upstream_discovery_keys_digest(keys)
               == dcf->sh->digest);

    key = keys->keys.elts;

    for (i = 0; !told && i < keys->keys.nelts; i++) {
        if (key[i].valid) {
            continue;
        }

        old = dcf->keys
              ? ngx_http_upstream_discovery_keys_find(dcf->keys, &key[i].key,
                                                      NULL)
              : NULL;

        if (old == NULL || old->mod_revision != key[i].mod_revision) {
            ngx_http_upstream_discovery_keys_warn(dcf, temp, &key[i].key);
        }
    }

    ngx_destroy_pool(temp);

    *out = keys;

    return NGX_OK;

failed:

    ngx_destroy_pool(temp);
    ngx_http_upstream_discovery_keys_free(keys);

    return NGX_ERROR;
}


/*
 * A watch answer's "events": [{"type": "DELETE", "kv": {...}}, {"kv":
 * {...}}, ...], a put having no type.  Events the set already holds (a
 * sync read them first) are passed over.  NGX_OK: *out is the new set;
 * NGX_DECLINED: nothing changed.
 */

ngx_int_t
ngx_http_upstream_discovery_keys_events(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *events,
    ngx_http_upstream_discovery_keys_t **out, const char **error)
{
    ngx_int_t                            rc;
    ngx_str_t                            type;
    ngx_uint_t                           deleted;
    ngx_pool_t                          *temp;
    ngx_array_t                          members;
    ngx_gw_json_member_t                 ev, *m;
    ngx_gw_json_elements_t               elements;
    ngx_http_upstream_discovery_keys_t  *keys;

    *error = "no memory";

    keys = ngx_http_upstream_discovery_keys_new(dcf->keys);
    if (keys == NULL) {
        return NGX_ERROR;
    }

    temp = ngx_create_pool(4096, ngx_cycle->log);
    if (temp == NULL) {
        ngx_http_upstream_discovery_keys_free(keys);
        return NGX_ERROR;
    }

    ngx_gw_json_elements_init(&elements, events, 16);

    for ( ;; ) {
        rc = ngx_gw_json_element(&elements, &ev);

        if (rc == NGX_DONE) {
            break;
        }

        if (rc == NGX_ERROR) {
            *error = elements.json.error;
            goto failed;
        }

        if (ngx_array_init(&members, temp, 2, sizeof(ngx_gw_json_member_t))
            != NGX_OK)
        {
            goto failed;
        }

        rc = ngx_gw_json_object_members(temp, &ev.value, 16, &members,
                                        error);
        if (rc != NGX_OK) {
            if (rc != NGX_ERROR) {
                *error = "no memory";
            }

            goto failed;
        }

        deleted = 0;
        m = ngx_gw_json_member(&members, (u_char *) "type", 4);

        if (m) {
            if (ngx_http_upstream_discovery_keys_string(temp, m, 0, &type)
                != NGX_OK)
            {
                *error = "an event of no known type";
                goto failed;
            }

            if (type.len == 6 && ngx_strncmp(type.data, "DELETE", 6) == 0) {
                deleted = 1;

            } else if (type.len != 3 || ngx_strncmp(type.data, "PUT", 3) != 0)
            {
                *error = "an event of no known type";
                goto failed;
            }
        }

        m = ngx_gw_json_member(&members, (u_char *) "kv", 2);

        if (m == NULL || m->type != NGX_GW_JSON_OBJECT) {
            *error = "an event without \"kv\"";
            goto failed;
        }

        rc = ngx_http_upstream_discovery_keys_kv(dcf, temp, &m->value,
                                                 deleted, keys, 1);
        if (rc == NGX_ERROR) {
            *error = "no memory";
            goto failed;
        }
    }

    ngx_destroy_pool(temp);

    if (keys->revision == dcf->keys->revision) {
        ngx_http_upstream_discovery_keys_free(keys);
        return NGX_DECLINED;
    }

    *out = keys;

    return NGX_OK;

failed:

    ngx_destroy_pool(temp);
    ngx_http_upstream_discovery_keys_free(keys);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_upstream_discovery_keys_instances(ngx_pool_t *pool,
    ngx_http_upstream_discovery_keys_t *keys, ngx_array_t *instances)
{
    ngx_uint_t                               i;
    ngx_http_upstream_discovery_key_t       *key;
    ngx_http_upstream_discovery_instance_t  *instance;

    if (ngx_array_init(instances, pool, keys->keys.nelts + 1,
                       sizeof(ngx_http_upstream_discovery_instance_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    key = keys->keys.elts;

    for (i = 0; i < keys->keys.nelts; i++) {
        if (!key[i].valid) {
            continue;
        }

        instance = ngx_array_push(instances);
        if (instance == NULL) {
            return NGX_ERROR;
        }

        *instance = key[i].instance;
    }

    return NGX_OK;
}


/*
 * etcd's revision moves with a write to any key; the keys under the
 * prefix, each with the revision of its last write, change only with the
 * list
 */

uint64_t
ngx_http_upstream_discovery_keys_digest(
    ngx_http_upstream_discovery_keys_t *keys)
{
    u_char                              rev[8];
    uint32_t                            crc;
    ngx_uint_t                          i, b;
    ngx_http_upstream_discovery_key_t  *key;

    ngx_crc32_init(crc);

    key = keys->keys.elts;

    for (i = 0; i < keys->keys.nelts; i++) {
        for (b = 0; b < 8; b++) {
            rev[b] = (u_char) (key[i].mod_revision >> (8 * b));
        }

        ngx_crc32_update(&crc, key[i].key.data, key[i].key.len);
        ngx_crc32_update(&crc, rev, 8);
    }

    ngx_crc32_final(crc);

    return (uint64_t) keys->keys.nelts << 32 | crc;
}


/* a revision: a positive int64, in decimal, in a JSON string */

ngx_int_t
ngx_http_upstream_discovery_keys_revision(ngx_str_t *text, uint64_t *n)
{
    u_char  *p;

    if (text->len == 0) {
        return NGX_ERROR;
    }

    *n = 0;

    for (p = text->data; p < text->data + text->len; p++) {
        if (*p < '0' || *p > '9'
            || *n > (NGX_HTTP_UPSTREAM_DISCOVERY_MAX_REVISION - 9) / 10)
        {
            return NGX_ERROR;
        }

        *n = *n * 10 + (*p - '0');
    }

    return NGX_OK;
}


void
ngx_http_upstream_discovery_keys_free(ngx_http_upstream_discovery_keys_t *keys)
{
    if (keys) {
        ngx_destroy_pool(keys->pool);
    }
}


/* an empty set, or a copy of one */

static ngx_http_upstream_discovery_keys_t *
ngx_http_upstream_discovery_keys_new(ngx_http_upstream_discovery_keys_t *from)
{
    ngx_uint_t                           i, n;
    ngx_pool_t                          *pool;
    ngx_http_upstream_discovery_key_t   *src, *dst;
    ngx_http_upstream_discovery_keys_t  *keys;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    keys = ngx_pcalloc(pool, sizeof(ngx_http_upstream_discovery_keys_t));
    if (keys == NULL) {
        goto failed;
    }

    keys->pool = pool;
    n = from ? from->keys.nelts : 0;

    if (ngx_array_init(&keys->keys, pool, n + 8,
                       sizeof(ngx_http_upstream_discovery_key_t))
        != NGX_OK)
    {
        goto failed;
    }

    if (from == NULL) {
        return keys;
    }

    keys->revision = from->revision;

    src = from->keys.elts;
    dst = keys->keys.elts;

    for (i = 0; i < n; i++) {
        if (ngx_http_upstream_discovery_keys_copy(pool, &dst[i], &src[i])
            != NGX_OK)
        {
            goto failed;
        }
    }

    keys->keys.nelts = n;

    return keys;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


/*
 * One "kv": {"key": base64, "value": base64, "mod_revision": "7", ...};
 * a deleted one has no value.  A kv that cannot be read is told, with
 * what can be read of its key, and left out.
 */

static ngx_int_t
ngx_http_upstream_discovery_keys_kv(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_pool_t *temp, ngx_str_t *kv, ngx_uint_t deleted,
    ngx_http_upstream_discovery_keys_t *keys, ngx_uint_t warn)
{
    uint64_t                            rev;
    ngx_str_t                           value, text;
    ngx_array_t                         members;
    const char                         *error;
    ngx_gw_json_member_t               *m;
    ngx_http_upstream_discovery_key_t   key;

    ngx_memzero(&key, sizeof(ngx_http_upstream_discovery_key_t));
    ngx_str_set(&key.key, "?");

    if (ngx_array_init(&members, temp, 8, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_gw_json_object_members(temp, kv, 16, &members, &error) != NGX_OK
        || ngx_http_upstream_discovery_keys_string(temp,
               ngx_gw_json_member(&members, (u_char *) "key", 3), 1,
               &key.key)
           != NGX_OK
        || ngx_http_upstream_discovery_keys_string(temp,
               ngx_gw_json_member(&members, (u_char *) "mod_revision", 12), 0,
               &text)
           != NGX_OK)
    {
        goto invalid;
    }

    if (ngx_http_upstream_discovery_keys_revision(&text, &rev) != NGX_OK) {
        goto invalid;
    }

    key.mod_revision = rev;

    /* the set holds it already: a sync read it */

    if (rev <= keys->revision && warn) {
        return NGX_OK;
    }

    if (rev > keys->revision && warn) {
        keys->revision = rev;
    }

    if (!deleted) {
        m = ngx_gw_json_member(&members, (u_char *) "value", 5);

        /* a value of no bytes is left out of etcd's JSON */

        if (m == NULL) {
            ngx_str_set(&value, "");

        } else if (ngx_http_upstream_discovery_keys_string(temp, m, 1, &value)
                   != NGX_OK)
        {
            goto invalid;
        }

        key.valid = (ngx_http_upstream_discovery_keys_value(temp, &value,
                                                            &key.instance)
                     == NGX_OK);

        if (!key.valid && warn) {
            ngx_http_upstream_discovery_keys_warn(dcf, temp, &key.key);
        }
    }

    return ngx_http_upstream_discovery_keys_put(keys, &key, deleted);

invalid:

    ngx_http_upstream_discovery_keys_warn(dcf, temp, &key.key);

    return NGX_OK;
}


/* the key in its place, by key, or out of the set; copied to its pool */

static ngx_int_t
ngx_http_upstream_discovery_keys_put(ngx_http_upstream_discovery_keys_t *keys,
    ngx_http_upstream_discovery_key_t *key, ngx_uint_t deleted)
{
    ngx_uint_t                          at;
    ngx_http_upstream_discovery_key_t  *k, *found;

    found = ngx_http_upstream_discovery_keys_find(keys, &key->key, &at);

    k = keys->keys.elts;

    if (deleted) {
        if (found) {
            ngx_memmove(&k[at], &k[at + 1],
                        (keys->keys.nelts - at - 1)
                        * sizeof(ngx_http_upstream_discovery_key_t));
            keys->keys.nelts--;
        }

        return NGX_OK;
    }

    if (found == NULL) {
        if (ngx_array_push(&keys->keys) == NULL) {
            return NGX_ERROR;
        }

        k = keys->keys.elts;

        ngx_memmove(&k[at + 1], &k[at],
                    (keys->keys.nelts - at - 1)
                    * sizeof(ngx_http_upstream_discovery_key_t));
    }

    return ngx_http_upstream_discovery_keys_copy(keys->pool, &k[at], key);
}


/*
 * The key, or NULL and where it would go (*at).  etcd lists keys in
 * order: the end is looked at first.
 */

static ngx_http_upstream_discovery_key_t *
ngx_http_upstream_discovery_keys_find(ngx_http_upstream_discovery_keys_t *keys,
    ngx_str_t *key, ngx_uint_t *at)
{
    ngx_int_t                           rc;
    ngx_uint_t                          lo, hi, mid;
    ngx_http_upstream_discovery_key_t  *k;

    k = keys->keys.elts;
    lo = 0;
    hi = keys->keys.nelts;

    if (hi
        && ngx_memn2cmp(k[hi - 1].key.data, key->data, k[hi - 1].key.len,
                        key->len)
           < 0)
    {
        lo = hi;
    }

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        rc = ngx_memn2cmp(k[mid].key.data, key->data, k[mid].key.len,
                          key->len);

        if (rc == 0) {
            if (at) {
                *at = mid;
            }

            return &k[mid];
        }

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    if (at) {
        *at = lo;
    }

    return NULL;
}


static ngx_int_t
ngx_http_upstream_discovery_keys_copy(ngx_pool_t *pool,
    ngx_http_upstream_discovery_key_t *dst,
    ngx_http_upstream_discovery_key_t *src)
{
    u_char      *p;
    ngx_addr_t  *addr;

    *dst = *src;

    if (!src->valid) {
        ngx_memzero(&dst->instance, sizeof(dst->instance));

        dst->key.data = ngx_pnalloc(pool, src->key.len);
        if (dst->key.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(dst->key.data, src->key.data, src->key.len);

        return NGX_OK;
    }

    /* the address first, aligned as a sockaddr must be */

    addr = &src->instance.addr;

    p = ngx_palloc(pool, addr->socklen + src->key.len + addr->name.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    dst->instance.addr.sockaddr = (struct sockaddr *) p;
    p = ngx_cpymem(p, addr->sockaddr, addr->socklen);

    dst->key.data = p;
    p = ngx_cpymem(p, src->key.data, src->key.len);

    dst->instance.addr.name.data = p;
    ngx_memcpy(p, addr->name.data, addr->name.len);

    return NGX_OK;
}


/* the key is any bytes etcd holds: escaped, it cannot break the log */

static void
ngx_http_upstream_discovery_keys_warn(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_pool_t *temp, ngx_str_t *key)
{
    u_char     *p;
    uintptr_t   n;
    ngx_str_t   text;

    text = *key;

    n = ngx_escape_uri(NULL, key->data, key->len, NGX_ESCAPE_MEMCACHED);

    if (n) {
        p = ngx_pnalloc(temp, key->len + 2 * n);
        if (p == NULL) {
            ngx_str_set(&text, "?");

        } else {
            ngx_escape_uri(p, key->data, key->len, NGX_ESCAPE_MEMCACHED);
            text.data = p;
            text.len = key->len + 2 * n;
        }
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "discovery: upstream \"%V\": etcd key \"%V\" has an "
                  "invalid value, skipped", &dcf->upstream->host, &text);
}


/* "10.0.0.1:8080", "[::1]:8080", or {"host": ..., "port": ..., ...} */

static ngx_int_t
ngx_http_upstream_discovery_keys_value(ngx_pool_t *pool, ngx_str_t *value,
    ngx_http_upstream_discovery_instance_t *instance)
{
    u_char                *p;
    ngx_int_t              n, port;
    ngx_str_t              host, text;
    ngx_array_t            members;
    const char            *error;
    ngx_gw_json_member_t  *m;

    instance->weight = 1;

    if (value->len && value->data[0] == '{') {

        if (ngx_array_init(&members, pool, 4, sizeof(ngx_gw_json_member_t))
            != NGX_OK
            || ngx_gw_json_object_members(pool, value, 4, &members, &error)
               != NGX_OK
            || ngx_http_upstream_discovery_keys_string(pool,
                   ngx_gw_json_member(&members, (u_char *) "host", 4), 0,
                   &host)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        m = ngx_gw_json_member(&members, (u_char *) "port", 4);

        if (m == NULL || m->type != NGX_GW_JSON_NUMBER) {
            return NGX_ERROR;
        }

        port = ngx_atoi(m->value.data, m->value.len);

        if (port < 1 || port > 65535) {
            return NGX_ERROR;
        }

        m = ngx_gw_json_member(&members, (u_char *) "weight", 6);

        if (m) {
            n = (m->type == NGX_GW_JSON_NUMBER)
                ? ngx_atoi(m->value.data, m->value.len) : NGX_ERROR;

            if (n < 1 || n > NGX_HTTP_UPSTREAM_DISCOVERY_MAX_WEIGHT) {
                return NGX_ERROR;
            }

            instance->weight = n;
        }

        text.data = ngx_pnalloc(pool, host.len + sizeof("[]:65535"));
        if (text.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_strlchr(host.data, host.data + host.len, ':')
            ? ngx_sprintf(text.data, "[%V]:%i", &host, port)
            : ngx_sprintf(text.data, "%V:%i", &host, port);

        text.len = p - text.data;

    } else {
        text = *value;
    }

    /* a name would need a resolver; localhost is the one spared */

    if (text.len > sizeof("localhost:") - 1
        && ngx_strncasecmp(text.data, (u_char *) "localhost:",
                           sizeof("localhost:") - 1)
           == 0)
    {
        p = ngx_pnalloc(pool, text.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        text.len = ngx_sprintf(p, "127.0.0.1%*s",
                               text.len - (sizeof("localhost") - 1),
                               text.data + sizeof("localhost") - 1)
                   - p;
        text.data = p;
    }

    if (ngx_parse_addr_port(pool, &instance->addr, text.data, text.len)
        != NGX_OK
        || ngx_inet_get_port(instance->addr.sockaddr) == 0)
    {
        return NGX_ERROR;
    }

    instance->addr.name.data = ngx_pnalloc(pool, NGX_SOCKADDR_STRLEN);
    if (instance->addr.name.data == NULL) {
        return NGX_ERROR;
    }

    instance->addr.name.len = ngx_sock_ntop(instance->addr.sockaddr,
                                            instance->addr.socklen,
                                            instance->addr.name.data,
                                            NGX_SOCKADDR_STRLEN, 1);

    return NGX_OK;
}


/* a JSON string member's text, unescaped, and base64-decoded if asked */

static ngx_int_t
ngx_http_upstream_discovery_keys_string(ngx_pool_t *pool,
    ngx_gw_json_member_t *member, ngx_uint_t base64, ngx_str_t *text)
{
    ngx_str_t  raw;

    if (member == NULL || member->type != NGX_GW_JSON_STRING
        || ngx_gw_json_member_text(pool, member, &raw) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!base64) {
        *text = raw;
        return NGX_OK;
    }

    text->data = ngx_pnalloc(pool, ngx_base64_decoded_length(raw.len));
    if (text->data == NULL) {
        return NGX_ERROR;
    }

    return ngx_decode_base64(text, &raw);
}
