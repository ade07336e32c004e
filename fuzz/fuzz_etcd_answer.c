
/*
 * libFuzzer target for what upstream_discovery reads from etcd
 * (ngx_http_upstream_discovery_etcd.c and _keys.c): the HTTP/1.0 answer
 * to a range request, read until etcd closes the connection, then its
 * status line, headers, JSON, and each key's value; or, flag 0x08, the
 * stream of a watch.
 *
 * The input is a byte of flags, a byte that seeds the reads, and the
 * answer.  The request, made from what
 * ngx_http_upstream_discovery_etcd_init() prepares, must be the range of
 * the prefix, byte for byte; a sync is made with
 * ngx_http_upstream_discovery_etcd_sync(), its end told to the handler in
 * dcf->answered, and the answer arrives through the event loop of
 * ngx_fuzz_event.c, once whole and once in pieces of 1 to 64 bytes, each
 * its own read event, with the bytes past those read poisoned.  Flag
 * 0x02: etcd never closes, and the poll times out.  Both runs must end the
 * poll once, the same way; the instances must be addresses with a port and
 * a weight of 1 to 1000; an answer taken is unchanged when it comes again;
 * what the answer holds never reaches the log raw.
 *
 * Flag 0x01: the rest of the input is not an answer but instances, 8
 * bytes each (a form, four bytes of address, two of port, one of weight),
 * which the target writes as etcd would answer with them, in the forms
 * the module documents ("a.b.c.d:port", "[ipv6]:port", "localhost:port",
 * {"host": ..., "port": ..., "weight": ...}), some of them invalid.  Then
 * the instances must be exactly the valid ones, in order.  Flag 0x04
 * adds a header of 16 KB, so the answer outgrows the module's first
 * buffer.
 *
 * Flag 0x08: a range of two instances at revision 10 is read first, then
 * the rest of the input is the answer to the watch that follows, which
 * must ask from revision 11: once whole, once in pieces, the changes it
 * tells (every list of instances, the last error) must be the same, and
 * each list valid.  A watch that ends syncs again or fails; the peer
 * then refuses, so that the run ends.  With 0x01 too, the records are
 * events (0x40 in the first byte: a delete; the key is one of eight),
 * written as etcd writes them, and the last list must be that of a
 * model of the keys.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_upstream_discovery.h"
#include "ngx_fuzz.h"
#include "ngx_fuzz_event.h"


#define FZ_STRUCTURED      0x01
#define FZ_NEVER_CLOSES    0x02
#define FZ_PADDED          0x04
#define FZ_WATCH           0x08

#define FZ_RECORD          8
#define FZ_MAX_RECORDS     32

/* a header this long makes the answer outgrow its first buffer */
#define FZ_PADDING         16384

/* the request of a sync under /services/api/ */
#define FZ_REQUEST                                                            \
    "POST /v3/kv/range HTTP/1.0\r\n"                                          \
    "Host: 127.0.0.1:2379\r\n"                                                \
    "Content-Type: application/json\r\n"                                      \
    "Content-Length: 65\r\n\r\n"                                              \
    "{\"key\":\"L3NlcnZpY2VzL2FwaS8=\","                                      \
    "\"range_end\":\"L3NlcnZpY2VzL2FwaTA=\"}"

/* the watch that follows a range at revision 10 */
#define FZ_WATCH_REQUEST                                                      \
    "POST /v3/watch HTTP/1.0\r\n"                                             \
    "Host: 127.0.0.1:2379\r\n"                                                \
    "Grpc-Metadata-hasleader: true\r\n"                                       \
    "Content-Type: application/json\r\n"                                      \
    "Content-Length: 129\r\n\r\n"                                             \
    "{\"create_request\":{\"key\":\"L3NlcnZpY2VzL2FwaS8=\","                  \
    "\"range_end\":\"L3NlcnZpY2VzL2FwaTA=\",\"start_revision\":\"11\","        \
    "\"progress_notify\":true}}"

/* the range before a watch: /services/api/a and /b */
#define FZ_WATCH_RANGE                                                        \
    "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"              \
    "{\"header\":{\"revision\":\"10\"},\"kvs\":["                              \
    "{\"key\":\"L3NlcnZpY2VzL2FwaS9h\",\"mod_revision\":\"5\","               \
    "\"value\":\"MTAuMC4wLjE6ODA=\"},"                                         \
    "{\"key\":\"L3NlcnZpY2VzL2FwaS9i\",\"mod_revision\":\"9\","               \
    "\"value\":\"MTAuMC4wLjI6ODA=\"}],\"count\":\"2\"}"

#define FZ_KEYS            8


typedef struct {
    u_char                  sockaddr[sizeof(struct sockaddr_in6)];
    socklen_t               socklen;
    ngx_str_t               name;
    ngx_uint_t              weight;
} fz_instance_t;


typedef struct {
    ngx_uint_t              ends;       /* answered() calls */
    ngx_uint_t              lists;      /* of them, with instances */
    uint32_t                crc;        /* of every list told */
    ngx_uint_t              listed;     /* with instances */
    const char             *error;
    ngx_uint_t              n;
    fz_instance_t          *instance;   /* malloc()ed */
    uint64_t                digest;
} fz_poll_t;


static fz_poll_t  *fz_poll;


/* the poll's handler, as ngx_http_upstream_discovery_answered() is */

static void
fz_answered(ngx_http_upstream_discovery_conf_t *dcf, ngx_array_t *instances,
    const char *error)
{
    u_char                                  *p;
    ngx_uint_t                               i;
    fz_instance_t                           *fi;
    ngx_http_upstream_discovery_instance_t  *in;

    fz_poll->ends++;
    fz_poll->error = error;

    /* an error with no reason would leave the log line empty */
    ngx_fuzz_assert(instances == NULL || error == NULL);

    if (instances == NULL) {
        return;
    }

    /* a watch tells a list for each change: the last one is kept */

    for (i = 0; i < fz_poll->n; i++) {
        free(fz_poll->instance[i].name.data);
    }

    free(fz_poll->instance);

    fz_poll->lists++;
    fz_poll->listed = 1;
    fz_poll->digest = dcf->digest;
    fz_poll->n = instances->nelts;
    fz_poll->instance = calloc(instances->nelts + 1, sizeof(fz_instance_t));
    ngx_fuzz_assert(fz_poll->instance != NULL);

    in = instances->elts;

    for (i = 0; i < instances->nelts; i++) {
        fi = &fz_poll->instance[i];

        ngx_fuzz_assert(in[i].addr.sockaddr != NULL);
        ngx_fuzz_assert(in[i].addr.socklen <= sizeof(fi->sockaddr));
        ngx_fuzz_assert(ngx_inet_get_port(in[i].addr.sockaddr) != 0);
        ngx_fuzz_assert(in[i].weight >= 1
                        && in[i].weight
                           <= NGX_HTTP_UPSTREAM_DISCOVERY_MAX_WEIGHT);
        ngx_fuzz_assert(in[i].addr.name.len > 0);

        /* the name goes to logs and metrics */
        for (p = in[i].addr.name.data;
             p < in[i].addr.name.data + in[i].addr.name.len;
             p++)
        {
            ngx_fuzz_assert(*p > 0x20 && *p < 0x7f);
        }

        fz_poll->crc = ngx_crc32_long(in[i].addr.name.data,
                                      in[i].addr.name.len)
                       ^ (fz_poll->crc * 31 + in[i].weight);

        ngx_memcpy(fi->sockaddr, in[i].addr.sockaddr, in[i].addr.socklen);
        fi->socklen = in[i].addr.socklen;
        fi->name.data = ngx_fuzz_dup(in[i].addr.name.data,
                                     in[i].addr.name.len);
        fi->name.len = in[i].addr.name.len;
        fi->weight = in[i].weight;
    }

    /* as ngx_http_upstream_discovery_apply() does */
    dcf->sh->digest = dcf->digest;
    dcf->sh->answered = 1;
}


static void
fz_free(fz_poll_t *poll)
{
    ngx_uint_t  i;

    for (i = 0; i < poll->n; i++) {
        free(poll->instance[i].name.data);
    }

    free(poll->instance);
}


static void
fz_same(fz_poll_t *a, fz_poll_t *b)
{
    ngx_uint_t  i;

    ngx_fuzz_assert(a->ends == b->ends);
    ngx_fuzz_assert(a->lists == b->lists);
    ngx_fuzz_assert(a->crc == b->crc);
    ngx_fuzz_assert(a->listed == b->listed);
    ngx_fuzz_assert((a->error == NULL) == (b->error == NULL));
    ngx_fuzz_assert(a->error == NULL || strcmp(a->error, b->error) == 0);
    ngx_fuzz_assert(a->n == b->n);
    ngx_fuzz_assert(a->digest == b->digest);

    for (i = 0; i < a->n; i++) {
        ngx_fuzz_assert(a->instance[i].socklen == b->instance[i].socklen);
        ngx_fuzz_assert(ngx_memcmp(a->instance[i].sockaddr,
                                   b->instance[i].sockaddr,
                                   a->instance[i].socklen)
                        == 0);
        ngx_fuzz_assert(a->instance[i].weight == b->instance[i].weight);
        ngx_fuzz_assert(a->instance[i].name.len == b->instance[i].name.len);
        ngx_fuzz_assert(ngx_memcmp(a->instance[i].name.data,
                                   b->instance[i].name.data,
                                   a->instance[i].name.len)
                        == 0);
    }
}


/* a discovery as the directive makes it, with one member */

static void
fz_conf(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_http_upstream_srv_conf_t *uscf,
    ngx_http_upstream_discovery_member_t *member, struct sockaddr_in *sin,
    ngx_http_upstream_discovery_shctx_t *sh, ngx_pool_t *pool)
{
    ngx_conf_t  cf;

    ngx_memzero(uscf, sizeof(ngx_http_upstream_srv_conf_t));
    ngx_str_set(&uscf->host, "backend");

    ngx_memzero(sin, sizeof(struct sockaddr_in));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(2379);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ngx_memzero(member, sizeof(ngx_http_upstream_discovery_member_t));
    member->addr.sockaddr = (struct sockaddr *) sin;
    member->addr.socklen = sizeof(struct sockaddr_in);
    ngx_str_set(&member->addr.name, "127.0.0.1:2379");
    ngx_str_set(&member->host, "127.0.0.1");

    ngx_memzero(dcf, sizeof(ngx_http_upstream_discovery_conf_t));
    dcf->upstream = uscf;
    dcf->members.elts = member;
    dcf->members.nelts = 1;
    dcf->members.size = sizeof(ngx_http_upstream_discovery_member_t);
    ngx_str_set(&dcf->prefix, "/services/api/");
    dcf->answered = fz_answered;
    dcf->interval = 1000;
    dcf->sh = sh;

    /* the range of every key under the prefix, its ends in base64 */

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;

    ngx_fuzz_assert(ngx_http_upstream_discovery_etcd_init(&cf, dcf)
                    == NGX_OK);
}


/* the peer answers what the client sent, and closes, or never does */

static void
fz_exchange(ngx_fuzz_peer_t *peer, u_char *answer, size_t len,
    uint32_t seed, ngx_uint_t closes, ngx_uint_t once)
{
    ngx_memzero(peer, sizeof(ngx_fuzz_peer_t));
    peer->data = answer;
    peer->len = len;
    peer->seed = seed;
    peer->close = closes;
    peer->once = once;
    ngx_fuzz_peer_set(peer);
}


static void
fz_run(u_char *answer, size_t len, uint32_t seed, ngx_uint_t closes,
    ngx_http_upstream_discovery_shctx_t *sh, fz_poll_t *poll)
{
    ngx_uint_t                             i;
    ngx_pool_t                            *pool;
    ngx_fuzz_peer_t                        peer;
    struct sockaddr_in                     sin;
    ngx_http_upstream_srv_conf_t           uscf;
    ngx_http_upstream_discovery_conf_t     dcf;
    ngx_http_upstream_discovery_member_t   member;

    pool = ngx_fuzz_pool();

    fz_conf(&dcf, &uscf, &member, &sin, sh, pool);

    fz_exchange(&peer, answer, len, seed, closes, 0);

    ngx_memzero(poll, sizeof(fz_poll_t));
    fz_poll = poll;

    ngx_http_upstream_discovery_etcd_sync(&dcf);

    ngx_fuzz_assert(dcf.busy && poll->ends == 0);

    ngx_fuzz_peer_run(&peer);

    ngx_fuzz_assert(peer.sent == sizeof(FZ_REQUEST) - 1
                    && ngx_memcmp(peer.out, FZ_REQUEST, peer.sent) == 0);

    /* an answer never closed: the sync's timer ends it */

    for (i = 0; ngx_fuzz_timer_expire(); i++) {
        ngx_fuzz_assert(i == 0 && !closes);
    }

    ngx_fuzz_assert(poll->ends == 1);
    ngx_fuzz_assert(!dcf.busy && dcf.unary.pool == NULL);
    ngx_fuzz_assert(peer.connection == NULL);
    ngx_fuzz_assert(ngx_fuzz_timers() == 0);

    if (!closes) {
        ngx_fuzz_assert(poll->error && strcmp(poll->error, "timed out") == 0);
    }

    /* a range read keeps its keys, for the watch */
    ngx_fuzz_assert((dcf.keys != NULL) == (poll->error == NULL));

    ngx_http_upstream_discovery_etcd_close(&dcf);

    ngx_fuzz_peer_set(NULL);
    free(peer.out);
    ngx_destroy_pool(pool);
}


/*
 * The range of two instances, then the watch: what it tells until it
 * ends, and the run stops there.
 */

static void
fz_watch(u_char *stream, size_t len, uint32_t seed, fz_poll_t *poll)
{
    ngx_pool_t                            *pool;
    ngx_fuzz_peer_t                        peer;
    struct sockaddr_in                     sin;
    ngx_http_upstream_srv_conf_t           uscf;
    ngx_http_upstream_discovery_conf_t     dcf;
    ngx_http_upstream_discovery_shctx_t    sh;
    ngx_http_upstream_discovery_member_t   member;

    pool = ngx_fuzz_pool();

    ngx_memzero(&sh, sizeof(ngx_http_upstream_discovery_shctx_t));
    fz_conf(&dcf, &uscf, &member, &sin, &sh, pool);

    ngx_memzero(poll, sizeof(fz_poll_t));
    fz_poll = poll;

    fz_exchange(&peer, (u_char *) FZ_WATCH_RANGE, sizeof(FZ_WATCH_RANGE) - 1,
                0, 1, 0);
    ngx_http_upstream_discovery_etcd_sync(&dcf);
    ngx_fuzz_peer_run(&peer);
    free(peer.out);

    ngx_fuzz_assert(poll->ends == 1 && poll->lists == 1 && poll->n == 2);
    ngx_fuzz_assert(dcf.keys && dcf.keys->revision == 10);

    /* the watch; a sync it starts is refused */

    fz_exchange(&peer, stream, len, seed, 1, 1);

    ngx_http_upstream_discovery_etcd_watch(&dcf);
    ngx_fuzz_assert(dcf.watching);

    ngx_fuzz_peer_run(&peer);

    ngx_fuzz_assert(peer.sent == sizeof(FZ_WATCH_REQUEST) - 1
                    && ngx_memcmp(peer.out, FZ_WATCH_REQUEST, peer.sent)
                       == 0);

    /* the stream closed: the watch ended, by a failure or a sync */

    ngx_fuzz_assert(!dcf.watching && peer.connection == NULL);
    ngx_fuzz_assert(poll->ends >= 2 && poll->error != NULL);
    ngx_fuzz_assert(!dcf.busy && ngx_fuzz_timers() == 0);

    ngx_http_upstream_discovery_etcd_close(&dcf);

    ngx_fuzz_peer_set(NULL);
    free(peer.out);
    ngx_destroy_pool(pool);
}


/* the value of an instance, and what the module must make of it */

static size_t
fz_value(u_char *rec, u_char *value, fz_instance_t *expect)
{
    u_char                *p;
    ngx_uint_t             port, weight, valid;
    struct sockaddr_in    *sin;
    struct sockaddr_in6   *sin6;

    ngx_memzero(expect, sizeof(fz_instance_t));

    port = (ngx_uint_t) rec[5] << 8 | rec[6];
    weight = 1;
    valid = (port != 0);

    sin = (struct sockaddr_in *) expect->sockaddr;
    sin6 = (struct sockaddr_in6 *) expect->sockaddr;

    switch (rec[0] & 0x07) {

    case 0:
        p = ngx_sprintf(value, "%d.%d.%d.%d:%ui",
                        rec[1], rec[2], rec[3], rec[4], port);
        break;

    case 1:
        p = ngx_sprintf(value, "{\"host\":\"%d.%d.%d.%d\",\"port\":%ui}",
                        rec[1], rec[2], rec[3], rec[4], port);
        break;

    case 2:
        weight = (ngx_uint_t) rec[7] * 4 + (rec[1] & 0x03);
        valid = valid && weight >= 1 && weight <= 1000;
        p = ngx_sprintf(value, "{\"weight\":%ui,\"port\":%ui,"
                        "\"host\":\"%d.%d.%d.%d\",\"zone\":\"a\"}",
                        weight, port, rec[1], rec[2], rec[3], rec[4]);
        break;

    case 3:
        p = ngx_sprintf(value, "[2001:db8::%xd:%xd]:%ui",
                        rec[1] << 8 | rec[2], rec[3] << 8 | rec[4], port);
        break;

    case 4:
        p = ngx_sprintf(value, "localhost:%ui", port);
        break;

    case 5:
        p = ngx_sprintf(value, "{\"host\":\"2001:db8::%xd:%xd\","
                        "\"port\":%ui}",
                        rec[1] << 8 | rec[2], rec[3] << 8 | rec[4], port);
        break;

    case 6:
        /* no port */
        p = ngx_sprintf(value, "%d.%d.%d.%d", rec[1], rec[2], rec[3], rec[4]);
        valid = 0;
        break;

    default: /* 7 */
        weight = rec[7] + 1;
        p = ngx_sprintf(value, "{\"host\":\"localhost\",\"port\":%ui,"
                        "\"weight\":%ui}", port, weight);
        break;
    }

    if (!valid) {
        return p - value;
    }

    switch (rec[0] & 0x07) {

    case 3:
    case 5:
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((in_port_t) port);
        sin6->sin6_addr.s6_addr[0] = 0x20;
        sin6->sin6_addr.s6_addr[1] = 0x01;
        sin6->sin6_addr.s6_addr[2] = 0x0d;
        sin6->sin6_addr.s6_addr[3] = 0xb8;
        ngx_memcpy(&sin6->sin6_addr.s6_addr[12], &rec[1], 4);
        expect->socklen = sizeof(struct sockaddr_in6);
        break;

    case 4:
    case 7:
        sin->sin_family = AF_INET;
        sin->sin_port = htons((in_port_t) port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        expect->socklen = sizeof(struct sockaddr_in);
        break;

    default:
        sin->sin_family = AF_INET;
        sin->sin_port = htons((in_port_t) port);
        ngx_memcpy(&sin->sin_addr, &rec[1], 4);
        expect->socklen = sizeof(struct sockaddr_in);
    }

    expect->weight = weight;

    return p - value;
}


/* base64 in a JSON string, its "/" escaped if asked */

static u_char *
fz_base64(u_char *p, u_char *text, size_t len, ngx_uint_t escape)
{
    u_char     *b;
    ngx_str_t   src, dst;

    b = malloc(ngx_base64_encoded_length(len));
    ngx_fuzz_assert(b != NULL);

    src.data = text;
    src.len = len;
    dst.data = b;
    ngx_encode_base64(&dst, &src);

    *p++ = '"';

    for (len = 0; len < dst.len; len++) {
        if (b[len] == '/' && escape) {
            *p++ = '\\';
        }

        *p++ = b[len];
    }

    *p++ = '"';

    free(b);

    return p;
}


/* the answer etcd gives with these instances, and those expected */

static size_t
fz_compose(const u_char *data, size_t size, ngx_uint_t padded,
    u_char *answer, fz_instance_t *expect, ngx_uint_t *nexpect)
{
    u_char      *p, *body, key[32], value[128], rec[FZ_RECORD];
    size_t       len;
    ngx_uint_t   i, n;

    n = ngx_min(size / FZ_RECORD, (size_t) FZ_MAX_RECORDS);

    body = answer + 256;
    p = ngx_sprintf(body, "{\"header\":{\"cluster_id\":\"5577419299952351277\","
                    "\"member_id\":\"8813575065840868852\",\"revision\":"
                    "\"%ui\",\"raft_term\":\"2\"}", 100 + n);

    if (n) {
        p = ngx_cpymem(p, ",\"kvs\":[", sizeof(",\"kvs\":[") - 1);
    }

    *nexpect = 0;

    for (i = 0; i < n; i++) {
        ngx_memcpy(rec, data + i * FZ_RECORD, FZ_RECORD);

        if (i) {
            *p++ = ',';
        }

        /* etcd lists keys in order: these are listed as written */
        len = ngx_sprintf(key, "/services/api/%02ui", i) - key;

        p = ngx_cpymem(p, "{\"key\":", sizeof("{\"key\":") - 1);
        p = fz_base64(p, key, len, rec[0] & 0x08);

        if (rec[0] & 0x10) {
            p = ngx_sprintf(p, ",\"create_revision\":\"%ui\"", i + 2);
        }

        /* etcd gives every key the revision of its last write */

        p = ngx_sprintf(p, ",\"mod_revision\":\"%ui\"", i + 2);

        if (rec[0] & 0x10) {
            p = ngx_cpymem(p, ",\"version\":\"1\"",
                           sizeof(",\"version\":\"1\"") - 1);
        }

        len = fz_value(rec, value, &expect[*nexpect]);

        p = ngx_cpymem(p, ",\"value\":", sizeof(",\"value\":") - 1);
        p = fz_base64(p, value, len, rec[0] & 0x08);

        if (rec[0] & 0x20) {
            p = ngx_cpymem(p, ",\"lease\":\"7587869130716183813\"",
                           sizeof(",\"lease\":\"7587869130716183813\"") - 1);
        }

        *p++ = '}';

        if (expect[*nexpect].socklen) {
            (*nexpect)++;
        }
    }

    if (n) {
        p = ngx_sprintf(p, "],\"count\":\"%ui\"", n);
    }

    *p++ = '}';
    len = p - body;

    ngx_memmove(answer + 256 + FZ_PADDING, body, len);
    body = answer + 256 + FZ_PADDING;

    p = ngx_sprintf(answer, "HTTP/1.0 200 OK\r\n"
                    "Content-Type: application/json\r\n"
                    "Grpc-Metadata-Content-Type: application/grpc\r\n");

    if (padded) {
        p = ngx_cpymem(p, "X-Padding: ", sizeof("X-Padding: ") - 1);
        ngx_memset(p, 'x', FZ_PADDING);
        p += FZ_PADDING;
        *p++ = CR;
        *p++ = LF;
    }

    p = ngx_sprintf(p, "Content-Length: %uz\r\n\r\n", len);

    ngx_memmove(p, body, len);

    return p + len - answer;
}


/*
 * Events from the records: a put of an instance's value, or a delete,
 * of one of eight keys, each at the next revision; the model says what
 * the last list must be, the keys in etcd's order.
 */

static size_t
fz_compose_events(const u_char *data, size_t size, u_char *stream,
    fz_instance_t *model, ngx_uint_t *present)
{
    u_char         *p, key[32], value[128], rec[FZ_RECORD];
    size_t          len;
    ngx_uint_t      i, k, n;
    fz_instance_t   expect;

    /* the range's two keys sort after the eight: "a" > "7" */

    p = ngx_cpymem(stream, "HTTP/1.0 200 OK\r\n\r\n",
                   sizeof("HTTP/1.0 200 OK\r\n\r\n") - 1);
    p = ngx_sprintf(p, "{\"result\":{\"header\":{\"revision\":\"10\"},"
                    "\"created\":true}}\n");

    n = ngx_min(size / FZ_RECORD, (size_t) FZ_MAX_RECORDS);

    for (i = 0; i < n; i++) {
        ngx_memcpy(rec, data + i * FZ_RECORD, FZ_RECORD);
        k = rec[7] % FZ_KEYS;

        len = ngx_sprintf(key, "/services/api/%ui", k) - key;

        p = ngx_sprintf(p, "{\"result\":{\"header\":{\"revision\":\"%ui\"},"
                        "\"events\":[{", 11 + i);

        if (rec[0] & 0x40) {
            p = ngx_cpymem(p, "\"type\":\"DELETE\",\"kv\":{\"key\":",
                           sizeof("\"type\":\"DELETE\",\"kv\":{\"key\":") - 1);
            p = fz_base64(p, key, len, rec[0] & 0x08);
            p = ngx_sprintf(p, ",\"mod_revision\":\"%ui\"}}]}}\n", 11 + i);
            present[k] = 0;
            continue;
        }

        len = ngx_sprintf(key, "/services/api/%ui", k) - key;

        p = ngx_cpymem(p, "\"kv\":{\"key\":", sizeof("\"kv\":{\"key\":") - 1);
        p = fz_base64(p, key, len, rec[0] & 0x08);
        p = ngx_sprintf(p, ",\"mod_revision\":\"%ui\",\"value\":", 11 + i);

        len = fz_value(rec, value, &expect);
        p = fz_base64(p, value, len, rec[0] & 0x08);
        p = ngx_cpymem(p, "}}]}}\n", sizeof("}}]}}\n") - 1);

        /* an invalid value is a key without an instance */
        present[k] = expect.socklen ? 1 : 0;
        model[k] = expect;
    }

    return p - stream;
}


/* flag 0x08: the watch, whole and in pieces */

static int
fz_watch_input(const uint8_t *data, size_t size)
{
    u_char          *stream;
    size_t           len;
    ngx_uint_t       i, k, present[FZ_KEYS];
    fz_poll_t        whole, split;
    fz_instance_t    model[FZ_KEYS];

    ngx_memzero(present, sizeof(present));

    if (data[0] & FZ_STRUCTURED) {
        stream = malloc(256 + FZ_MAX_RECORDS * 1024);
        ngx_fuzz_assert(stream != NULL);

        len = fz_compose_events(data + 2, size - 2, stream, model, present);

    } else {
        len = size - 2;
        stream = ngx_fuzz_dup(data + 2, len);
    }

    fz_watch(stream, len, 0, &whole);
    fz_watch(stream, len, data[1] | 0x100, &split);

    fz_same(&whole, &split);

    if (data[0] & FZ_STRUCTURED) {
        ngx_fuzz_assert(whole.error
                        && strcmp(whole.error, "the watch ended") == 0);

        /* the eight keys in order, then the range's two */

        for (i = 0, k = 0; k < FZ_KEYS; k++) {
            if (!present[k]) {
                continue;
            }

            ngx_fuzz_assert(i < whole.n);
            ngx_fuzz_assert(whole.instance[i].socklen == model[k].socklen);
            ngx_fuzz_assert(ngx_memcmp(whole.instance[i].sockaddr,
                                       model[k].sockaddr, model[k].socklen)
                            == 0);
            ngx_fuzz_assert(whole.instance[i].weight == model[k].weight);
            i++;
        }

        ngx_fuzz_assert(whole.n == i + 2);
    }

    fz_free(&whole);
    fz_free(&split);
    free(stream);

    return 0;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();

    /* what etcd answers never reaches the log raw */
    ngx_fuzz_log_check = 1;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                               *answer;
    size_t                                len;
    ngx_uint_t                            i, closes, nexpect;
    fz_poll_t                             whole, split, again;
    fz_instance_t                        *expect;
    ngx_http_upstream_discovery_shctx_t   sh, sh2;

    if (size < 2) {
        return 0;
    }

    if (data[0] & FZ_WATCH) {
        return fz_watch_input(data, size);
    }

    closes = !(data[0] & FZ_NEVER_CLOSES);
    expect = NULL;
    nexpect = 0;

    if (data[0] & FZ_STRUCTURED) {
        expect = calloc(FZ_MAX_RECORDS, sizeof(fz_instance_t));
        answer = malloc(512 + FZ_PADDING + 2 * FZ_MAX_RECORDS * 512);
        ngx_fuzz_assert(expect != NULL && answer != NULL);

        len = fz_compose(data + 2, size - 2, data[0] & FZ_PADDED, answer,
                         expect, &nexpect);

    } else {
        len = size - 2;
        answer = ngx_fuzz_dup(data + 2, len);
    }

    ngx_memzero(&sh, sizeof(ngx_http_upstream_discovery_shctx_t));
    ngx_memzero(&sh2, sizeof(ngx_http_upstream_discovery_shctx_t));

    fz_run(answer, len, 0, closes, &sh, &whole);
    fz_run(answer, len, data[1] | 0x100, closes, &sh2, &split);

    fz_same(&whole, &split);

    if (whole.listed) {
        /* the same answer again: nothing changed */
        fz_run(answer, len, data[1] | 0x100, closes, &sh, &again);

        ngx_fuzz_assert(again.ends == 1 && !again.listed
                        && again.error == NULL);
    }

    if (expect) {
        ngx_fuzz_assert(!closes || (whole.listed && whole.error == NULL));
        ngx_fuzz_assert(!closes || whole.n == nexpect);

        for (i = 0; closes && i < nexpect; i++) {
            ngx_fuzz_assert(whole.instance[i].socklen == expect[i].socklen);
            ngx_fuzz_assert(ngx_memcmp(whole.instance[i].sockaddr,
                                       expect[i].sockaddr,
                                       expect[i].socklen)
                            == 0);
            ngx_fuzz_assert(whole.instance[i].weight == expect[i].weight);
        }

        free(expect);
    }

    fz_free(&whole);
    fz_free(&split);
    free(answer);

    return 0;
}


#if (NGX_HTTP_SSL)

/* no member speaks TLS here: ngx_http_upstream_discovery_ssl.c is not in */

void
ngx_http_upstream_discovery_ssl_handshake(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_connection_t *c,
    ngx_http_upstream_discovery_member_t *member,
    ngx_http_upstream_discovery_ssl_handler_pt handler)
{
    ngx_fuzz_assert(0 && "a TLS handshake");
}


void
ngx_http_upstream_discovery_ssl_close(ngx_connection_t *c)
{
    ngx_fuzz_assert(c->ssl == NULL);
}


void
ngx_http_upstream_discovery_ssl_forget(ngx_http_upstream_discovery_conf_t *dcf)
{
    ngx_fuzz_assert(0 && "a TLS session");
}

#endif
