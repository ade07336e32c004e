
/*
 * libFuzzer target for what upstream_discovery reads from etcd
 * (ngx_http_upstream_discovery_etcd.c): the HTTP/1.0 answer to a range
 * request, read until etcd closes the connection, then its status line,
 * headers, JSON, and each key's value, by ngx_http_upstream_discovery_parse().
 *
 * The input is a byte of flags, a byte that seeds the reads, and the
 * answer.  The request, made by
 * ngx_http_upstream_discovery_etcd_request(), must be the range of the
 * prefix, byte for byte; a poll is made with
 * ngx_http_upstream_discovery_etcd_poll(), its end told to the handler in
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

#define FZ_RECORD          8
#define FZ_MAX_RECORDS     32

/* a header this long makes the answer outgrow its first buffer */
#define FZ_PADDING         16384

/* the request of a poll under /services/api/ */
#define FZ_REQUEST                                                            \
    "POST /v3/kv/range HTTP/1.0\r\n"                                          \
    "Host: 127.0.0.1:2379\r\n"                                                \
    "Content-Type: application/json\r\n"                                      \
    "Content-Length: 65\r\n\r\n"                                              \
    "{\"key\":\"L3NlcnZpY2VzL2FwaS8=\","                                      \
    "\"range_end\":\"L3NlcnZpY2VzL2FwaTA=\"}"


typedef struct {
    u_char                  sockaddr[sizeof(struct sockaddr_in6)];
    socklen_t               socklen;
    ngx_str_t               name;
    ngx_uint_t              weight;
} fz_instance_t;


typedef struct {
    ngx_uint_t              ends;       /* answered() calls */
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


static void
fz_run(u_char *answer, size_t len, uint32_t seed, ngx_uint_t closes,
    ngx_http_upstream_discovery_shctx_t *sh, fz_poll_t *poll)
{
    ngx_uint_t                           i;
    ngx_pool_t                          *pool;
    ngx_fuzz_peer_t                      peer;
    struct sockaddr_in                   sin;
    ngx_http_upstream_srv_conf_t         uscf;
    ngx_http_upstream_discovery_conf_t   dcf;

    ngx_memzero(&uscf, sizeof(ngx_http_upstream_srv_conf_t));
    ngx_str_set(&uscf.host, "backend");

    ngx_memzero(&sin, sizeof(struct sockaddr_in));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(2379);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ngx_memzero(&dcf, sizeof(ngx_http_upstream_discovery_conf_t));
    dcf.upstream = &uscf;
    dcf.etcd.sockaddr = (struct sockaddr *) &sin;
    dcf.etcd.socklen = sizeof(struct sockaddr_in);
    ngx_str_set(&dcf.etcd.name, "127.0.0.1:2379");
    ngx_str_set(&dcf.prefix, "/services/api/");
    dcf.answered = fz_answered;
    dcf.interval = 1000;
    dcf.sh = sh;

    /* the range of every key under the prefix, its ends in base64 */

    pool = ngx_fuzz_pool();

    ngx_fuzz_assert(ngx_http_upstream_discovery_etcd_request(pool, &dcf)
                    == NGX_OK);
    ngx_fuzz_assert(dcf.request.len == sizeof(FZ_REQUEST) - 1
                    && ngx_memcmp(dcf.request.data, FZ_REQUEST,
                                  dcf.request.len)
                       == 0);

    ngx_memzero(&peer, sizeof(ngx_fuzz_peer_t));
    peer.data = answer;
    peer.len = len;
    peer.seed = seed;
    peer.close = closes;
    ngx_fuzz_peer_set(&peer);

    ngx_memzero(poll, sizeof(fz_poll_t));
    fz_poll = poll;

    ngx_http_upstream_discovery_etcd_poll(&dcf);

    ngx_fuzz_assert(dcf.busy && poll->ends == 0);

    ngx_fuzz_peer_run(&peer);

    ngx_fuzz_assert(peer.sent == dcf.request.len);
    ngx_fuzz_assert(ngx_memcmp(peer.out, dcf.request.data, peer.sent) == 0);

    /* an answer never closed: the poll's timer ends it */

    for (i = 0; ngx_fuzz_timer_expire(); i++) {
        ngx_fuzz_assert(i == 0 && !closes);
    }

    ngx_fuzz_assert(poll->ends == 1);
    ngx_fuzz_assert(!dcf.busy && dcf.pool == NULL);
    ngx_fuzz_assert(peer.connection == NULL);
    ngx_fuzz_assert(ngx_fuzz_timers() == 0);

    if (!closes) {
        ngx_fuzz_assert(poll->error && strcmp(poll->error, "timed out") == 0);
    }

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

        len = ngx_sprintf(key, "/services/api/%ui", i) - key;

        p = ngx_cpymem(p, "{\"key\":", sizeof("{\"key\":") - 1);
        p = fz_base64(p, key, len, rec[0] & 0x08);

        if (rec[0] & 0x10) {
            p = ngx_sprintf(p, ",\"create_revision\":\"%ui\","
                            "\"mod_revision\":\"%ui\",\"version\":\"1\"",
                            i + 2, i + 2);
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
