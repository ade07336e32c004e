
/*
 * libFuzzer target for the Redis client of rate_limit
 * (ngx_http_rate_limit_redis.c): its reply parser, fed as reads arrive.
 *
 * The input is a byte of shape, a byte of timing and what Redis answers.
 * The shape byte gives the calls (its top five bits, plus one) and the
 * keys of each (its low three bits, plus one); the calls are sent with
 * ngx_http_rate_limit_redis_call(), all in one turn of the event loop, so
 * that they go in batches: as many calls as hold 128 keys at most in one
 * script call, whose one reply answers them all.  The answer arrives,
 * through the event loop of ngx_fuzz_event.c, once whole and once in
 * pieces of 1 to 64 bytes, each its own read event, with the bytes past
 * those read poisoned.  If the timing byte is odd, Redis closes the
 * connection after its answer; if its second bit is set, the connection
 * is a Cluster node's, which takes MOVED and ASK for redirects.  Each call
 * is made by
 * ngx_http_rate_limit_redis_call_create() from the limits of a request,
 * one of them on a zone not in Redis, and must hold the others' keys and
 * arguments in RESP, byte for byte.  Each run must give each batch what a
 * reader of RESP would:
 *
 *   - an array of an integer a key of the batch: its calls succeed, each
 *     with its keys' numbers, in order;
 *   - an error: its calls fail, the connection stays; a first NOSCRIPT
 *     sends the batch again with EVAL, and it waits for a second answer;
 *     on a Cluster's node, "MOVED 0 address" or "ASK 0 address" (the
 *     calls' slot, digits without a sign) hands each call of the batch to
 *     the Cluster, which fails it here, and any other MOVED or ASK fails
 *     the connection;
 *   - an error of the whole server (READONLY, LOADING, BUSY...), anything
 *     else, a reply to no batch, or a reply that cannot fit in the
 *     client's buffer: the connection fails, with every call waiting;
 *   - an incomplete reply: its calls wait, then time out.
 *
 * Every line ends in CRLF and is at most 1024 bytes however the reads
 * split it; an error's text, which
 * is logged, has no control characters; an integer is an optional "-"
 * and one digit or more, of a magnitude up to INT64_MAX - 8 (the parser's
 * bound).
 * Nothing the answer holds may reach the log raw, and no timer may be left
 * set on a freed call.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>
#include <ngx_sha1.h>
#include "ngx_http_rate_limit.h"
#include "ngx_fuzz.h"
#include "ngx_fuzz_event.h"


#define FZ_MAX_CALLS  32
#define FZ_MAX_KEYS   8
#define FZ_LINE       1024
#define FZ_BUF        16384
#define FZ_INT_MAX    (INT64_MAX - 8)
#define FZ_BATCH_KEYS 128


/* the limits' keys */
static const char  fz_digits[] = "0123456789";

/* the errors of a whole server, which fail the connection */
static const char  *fz_down[] = {
    "READONLY", "LOADING", "CLUSTERDOWN", "MASTERDOWN", "NOAUTH",
    "WRONGPASS", "NOPERM", "OOM", "BUSY", NULL
};


typedef enum {
    FZ_WAITING = 0,
    FZ_OK,
    FZ_FAILED
} fz_state_e;


typedef struct {
    fz_state_e    state;
    ngx_uint_t    answers;
    int64_t       reply[FZ_MAX_KEYS];
} fz_call_t;


typedef struct {
    fz_call_t     call[FZ_MAX_CALLS];
    ngx_uint_t    batches;      /* script calls first sent */
    ngx_uint_t    evals;        /* batches sent again with the script */
    ngx_uint_t    redirects;    /* calls handed to the Cluster */
} fz_outcome_t;


static ngx_uint_t  fz_redirects;


typedef enum {
    FZ_REPLY_AGAIN,
    FZ_REPLY_ARRAY,
    FZ_REPLY_ERROR,
    FZ_REPLY_GARBAGE
} fz_reply_e;


/* create() is only called from the configuration */

ngx_int_t
ngx_parse_url(ngx_pool_t *pool, ngx_url_t *u)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "ngx_parse_url() not reached");
}


void
ngx_sha1_init(ngx_sha1_t *ctx)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "ngx_sha1_init() not reached");
}


void
ngx_sha1_update(ngx_sha1_t *ctx, const void *data, size_t size)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "ngx_sha1_update() not reached");
}


void
ngx_sha1_final(u_char result[20], ngx_sha1_t *ctx)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "ngx_sha1_final() not reached");
}


/* a unix socket, connected at once: no TCP options, no connect() errors */

ngx_int_t
ngx_tcp_nodelay(ngx_connection_t *c)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "ngx_tcp_nodelay() not reached");
}


ngx_int_t
ngx_connection_error(ngx_connection_t *c, ngx_err_t err, char *text)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "ngx_connection_error() not reached");
}


/* addresses in replies are Sentinel's only */

in_addr_t
ngx_inet_addr(u_char *text, size_t len)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "ngx_inet_addr() not reached");
}


ngx_int_t
ngx_inet6_addr(u_char *p, size_t len, u_char *addr)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "ngx_inet6_addr() not reached");
}


/* no TLS: the connection is plain */

ngx_int_t
ngx_http_rate_limit_link_ssl(ngx_http_rate_limit_link_t *link,
    ngx_connection_handler_pt handshaked)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "TLS not reached");
}


ngx_int_t
ngx_http_rate_limit_link_ssl_check(ngx_http_rate_limit_link_t *link,
    const char **why, ngx_str_t *reason)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "TLS not reached");
}


void
ngx_http_rate_limit_link_ssl_close(ngx_connection_t *c)
{
    ngx_fuzz_fail(__FILE__, __LINE__, "TLS not reached");
}


/* ":" ["-"] digits CRLF, the LF at eol */

static ngx_int_t
fz_integer(u_char *p, u_char *eol, int64_t *value)
{
    int64_t     v;
    ngx_uint_t  negative;

    if (*p++ != ':' || eol - p < 2 || eol[-1] != CR) {
        return NGX_ERROR;
    }

    negative = (*p == '-');
    p += negative;

    if (p == eol - 1) {
        return NGX_ERROR;
    }

    for (v = 0; p < eol - 1; p++) {
        if (*p < '0' || *p > '9' || v > (FZ_INT_MAX - (*p - '0')) / 10) {
            return NGX_ERROR;
        }

        v = v * 10 + (*p - '0');
    }

    *value = negative ? -v : v;

    return NGX_OK;
}


/* the reply at p, as RESP has it */

static fz_reply_e
fz_expect(u_char *p, u_char *last, ngx_uint_t keys, int64_t *values,
    ngx_uint_t cluster, ngx_uint_t *noscript, ngx_uint_t *redirect,
    u_char **next)
{
    u_char      *eol, *q, *digits;
    uint64_t     n, slot;
    ngx_uint_t   i;

    /* a reply is an error or an array, known from its first byte */

    if (p < last && *p != '-' && *p != '*') {
        return FZ_REPLY_GARBAGE;
    }

    eol = memchr(p, LF, ngx_min((size_t) (last - p), (size_t) FZ_LINE + 1));

    if (eol == NULL) {
        return (last - p > FZ_LINE) ? FZ_REPLY_GARBAGE : FZ_REPLY_AGAIN;
    }

    if (eol == p || eol[-1] != CR) {
        return FZ_REPLY_GARBAGE;
    }

    if (*p == '-') {

        /* a simple error: no control characters */

        for (q = p + 1; q < eol - 1; q++) {
            if (*q < 0x20 || *q == 0x7f) {
                return FZ_REPLY_GARBAGE;
            }
        }

        /*
         * the error's code is its first word; an error of the whole
         * server fails the connection
         */

        for (q = p + 1; q < eol - 1 && *q != ' '; q++) { /* void */ }

        *next = eol + 1;

        for (i = 0; fz_down[i]; i++) {
            if ((size_t) (q - (p + 1)) == ngx_strlen(fz_down[i])
                && ngx_strncmp(p + 1, fz_down[i], q - (p + 1)) == 0)
            {
                return FZ_REPLY_GARBAGE;
            }
        }

        *noscript = (q - (p + 1) == 8
                     && ngx_strncmp(p + 1, "NOSCRIPT", 8) == 0);

        if (cluster
            && ((q - (p + 1) == 5 && ngx_strncmp(p + 1, "MOVED", 5) == 0)
                || (q - (p + 1) == 3 && ngx_strncmp(p + 1, "ASK", 3) == 0)))
        {
            /* "MOVED slot address": the slot, then a space */

            q += (q < eol - 1);
            digits = q;

            for (slot = 0; q < eol - 1 && *q >= '0' && *q <= '9'; q++) {
                slot = slot * 10 + (*q - '0');

                if (slot >= 16384) {
                    break;
                }
            }

            if (q == digits || q == eol - 1 || *q != ' ' || slot != 0) {
                return FZ_REPLY_GARBAGE;
            }

            *redirect = 1;
        }

        return FZ_REPLY_ERROR;
    }

    if (*p != '*' || p + 1 == eol - 1) {
        return FZ_REPLY_GARBAGE;
    }

    for (n = 0, q = p + 1; q < eol - 1; q++) {
        if (*q < '0' || *q > '9') {
            return FZ_REPLY_GARBAGE;
        }

        n = ngx_min(n * 10 + (*q - '0'), (uint64_t) 1000);
    }

    if (n != keys) {
        return FZ_REPLY_GARBAGE;
    }

    p = eol + 1;

    for (i = 0; i < n; i++) {
        if (p < last && *p != ':') {
            return FZ_REPLY_GARBAGE;
        }

        eol = memchr(p, LF,
                     ngx_min((size_t) (last - p), (size_t) FZ_LINE + 1));

        if (eol == NULL) {
            return (last - p > FZ_LINE) ? FZ_REPLY_GARBAGE : FZ_REPLY_AGAIN;
        }

        if (fz_integer(p, eol, &values[i]) != NGX_OK) {
            return FZ_REPLY_GARBAGE;
        }

        p = eol + 1;
    }

    *next = p;

    return FZ_REPLY_ARRAY;
}


/*
 * what each call gets once the answer is read, before any timer fires:
 * the calls go in batches of per calls, each batch waiting for one reply
 */

static void
fz_oracle(u_char *p, u_char *last, ngx_uint_t calls, ngx_uint_t keys,
    ngx_uint_t close, ngx_uint_t cluster, fz_outcome_t *out)
{
    u_char      *next;
    int64_t      values[FZ_BATCH_KEYS];
    ngx_uint_t   queue[2 * FZ_MAX_CALLS], head, tail, b, noscript, i, k;
    ngx_uint_t   redirect;
    ngx_uint_t   per, first, n, eval[FZ_MAX_CALLS];
    fz_reply_e   rc;

    ngx_memzero(out, sizeof(fz_outcome_t));
    ngx_memzero(eval, sizeof(eval));

    /* the batches, by their first call */

    per = FZ_BATCH_KEYS / keys;

    for (tail = 0; tail * per < calls; tail++) {
        queue[tail] = tail * per;
    }

    out->batches = tail;
    head = 0;

    while (p < last) {

        if (head == tail) {
            /* a reply nobody asked for */
            close = 1;
            break;
        }

        b = queue[head];
        first = b;
        n = ngx_min(per, calls - first);
        noscript = 0;
        redirect = 0;
        next = NULL;

        rc = fz_expect(p, last, n * keys, values, cluster, &noscript,
                       &redirect, &next);

        if (rc == FZ_REPLY_AGAIN) {
            if (last - p >= FZ_BUF) {
                /* it cannot fit */
                close = 1;
            }

            break;
        }

        if (rc == FZ_REPLY_GARBAGE) {
            close = 1;
            break;
        }

        head++;
        p = next;

        if (rc == FZ_REPLY_ERROR && noscript && !eval[first]) {
            eval[first] = 1;
            out->evals++;
            queue[tail++] = b;
            continue;
        }

        if (redirect) {
            out->redirects += n;
        }

        for (i = first; i < first + n; i++) {
            out->call[i].state = (rc == FZ_REPLY_ARRAY) ? FZ_OK : FZ_FAILED;
            out->call[i].answers = 1;

            if (rc == FZ_REPLY_ARRAY) {
                for (k = 0; k < keys; k++) {
                    out->call[i].reply[k] = values[keys * (i - first) + k];
                }
            }
        }
    }

    if (close) {
        for (i = head; i < tail; i++) {
            first = queue[i];
            n = ngx_min(per, calls - first);

            for (k = first; k < first + n; k++) {
                out->call[k].state = FZ_FAILED;
                out->call[k].answers = 1;
            }
        }
    }
}


static void
fz_answered(ngx_http_rate_limit_call_t *call, ngx_int_t rc)
{
    fz_call_t  *fc;

    fc = call->data;
    fc->answers++;

    ngx_fuzz_assert(rc == NGX_OK || rc == NGX_ERROR);

    if (rc == NGX_OK) {
        fc->state = FZ_OK;
        ngx_memcpy(fc->reply, call->reply, call->n * sizeof(int64_t));

    } else {
        fc->state = FZ_FAILED;
    }
}


/* the Cluster cannot send the call elsewhere: it fails */

static ngx_int_t
fz_redirect(ngx_http_rate_limit_call_t *call, ngx_uint_t ask,
    ngx_str_t *addr)
{
    ngx_fuzz_assert(call->link == NULL && !call->sent && call->slot == 0);
    ngx_fuzz_assert(addr->len == 0 || addr->data != NULL);

    fz_redirects++;

    return NGX_ERROR;
}


/* requests sent with this command, "\r\nEVAL\r\n" or "\r\nEVALSHA\r\n" */

static ngx_uint_t
fz_count(u_char *p, size_t len, char *command)
{
    u_char      *start, *last, *e;
    size_t       i, n;
    ngx_uint_t   count;

    /* no memcmp(): libFuzzer would take each one for a hint */

    n = ngx_strlen(command);
    start = p;
    last = p + len;
    count = 0;

    while ((e = memchr(p, 'E', last - p)) != NULL) {
        p = e + 1;

        if (e - start < 2 || (size_t) (last - e) < n + 2
            || e[-2] != CR || e[-1] != LF || e[n] != CR || e[n + 1] != LF)
        {
            continue;
        }

        for (i = 0; i < n && e[i] == (u_char) command[i]; i++) {
            /* void */
        }

        count += (i == n);
    }

    return count;
}


static void
fz_run(u_char *answer, size_t len, uint32_t seed, ngx_uint_t close,
    ngx_uint_t cluster, ngx_uint_t calls, ngx_uint_t keys,
    fz_outcome_t *expect)
{
    u_char                       *p;
    u_char                        args[FZ_MAX_KEYS * 64];
    u_char                        index[FZ_MAX_KEYS];
    size_t                        size;
    ngx_int_t                     rc;
    ngx_uint_t                    i, k;
    ngx_pool_t                   *pool;
    fz_outcome_t                  got;
    ngx_fuzz_peer_t               peer;
    struct sockaddr_un            sun;
    ngx_http_rate_limit_call_t   *call;
    ngx_http_rate_limit_zone_t    zone, local;
    ngx_http_rate_limit_redis_t  *rd;
    ngx_http_rate_limit_check_t   checks[FZ_MAX_KEYS + 1];

    pool = ngx_fuzz_pool();

    rd = ngx_pcalloc(pool, sizeof(ngx_http_rate_limit_redis_t));
    ngx_fuzz_assert(rd != NULL);

    ngx_str_set(&rd->name, "unix:/redis.sock");
    ngx_memset(rd->sha1, 'f', sizeof(rd->sha1));
    rd->submit = ngx_http_rate_limit_redis_server_submit;
    rd->close = ngx_http_rate_limit_redis_server_close;
    rd->redirect = cluster ? fz_redirect : NULL;
    fz_redirects = 0;

    rd->link = ngx_http_rate_limit_link_create(rd, "", pool);
    ngx_fuzz_assert(rd->link != NULL);

    ngx_memzero(&sun, sizeof(struct sockaddr_un));
    sun.sun_family = AF_UNIX;
    ngx_memcpy(sun.sun_path, "/redis.sock", sizeof("/redis.sock"));

    ngx_http_rate_limit_link_address(rd->link, (struct sockaddr *) &sun,
                                     sizeof(struct sockaddr_un), NULL);

    ngx_memzero(&peer, sizeof(ngx_fuzz_peer_t));
    peer.data = answer;
    peer.len = len;
    peer.seed = seed;
    peer.close = close;
    ngx_fuzz_peer_set(&peer);

    ngx_memzero(&got, sizeof(fz_outcome_t));

    /*
     * limits on the zone "k:", keyed "0", "1", ..., of an interval of 1us,
     * a burst of 2 and a cost of 1, and a limit on a zone in this nginx,
     * which the call leaves out
     */

    ngx_memzero(&zone, sizeof(ngx_http_rate_limit_zone_t));
    zone.redis = rd;
    ngx_str_set(&zone.redis_key, "k:");

    ngx_memzero(&local, sizeof(ngx_http_rate_limit_zone_t));
    ngx_str_set(&local.redis_key, "local:");

    ngx_memzero(checks, sizeof(checks));

    for (i = 0, k = 0; i <= keys; i++) {
        if (i == keys / 2) {
            checks[i].zone = &local;
            checks[i].key.data = (u_char *) "L";

        } else {
            checks[i].zone = &zone;
            checks[i].key.data = (u_char *) &fz_digits[k++];
            index[k - 1] = (u_char) i;
        }

        checks[i].key.len = 1;
        checks[i].interval = 1;
        checks[i].burst = 2;
        checks[i].cost = 1;
    }

    /* the keys and arguments the call must hold */

    p = args;

    for (k = 0; k < keys; k++) {
        p = ngx_sprintf(p, "$3\r\nk:%ui\r\n", k);
    }

    for (k = 0; k < keys; k++) {
        p = ngx_cpymem(p, "$1\r\n1\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n",
                       4 * (sizeof("$1\r\n1\r\n") - 1));
    }

    size = p - args;

    for (i = 0; i < calls; i++) {
        call = ngx_http_rate_limit_redis_call_create(rd, checks, index, keys,
                                                     0, &ngx_fuzz_log);
        ngx_fuzz_assert(call != NULL);
        ngx_fuzz_assert(call->redis == rd && call->n == keys);
        ngx_fuzz_assert(call->keys.len + call->argv.len == size
                        && call->argv.data == call->keys.data + call->keys.len
                        && ngx_memcmp(call->keys.data, args, size) == 0);

        call->handler = fz_answered;
        call->data = &got.call[i];

        rc = ngx_http_rate_limit_redis_call(call, 1000);
        ngx_fuzz_assert(rc == NGX_AGAIN);
    }

    ngx_fuzz_peer_run(&peer);

    /* the answer is read: each call has what it should, and no more */

    for (i = 0; i < calls; i++) {
        ngx_fuzz_assert(got.call[i].answers == expect->call[i].answers);
        ngx_fuzz_assert(got.call[i].state == expect->call[i].state);

        if (got.call[i].state == FZ_OK) {
            ngx_fuzz_assert(ngx_memcmp(got.call[i].reply,
                                       expect->call[i].reply,
                                       keys * sizeof(int64_t))
                            == 0);
        }
    }

    ngx_fuzz_assert(fz_count(peer.out, peer.sent, "EVALSHA")
                    == expect->batches);
    ngx_fuzz_assert(fz_count(peer.out, peer.sent, "EVAL") == expect->evals);
    ngx_fuzz_assert(fz_redirects == expect->redirects);

    /* the calls still waiting time out, and so does the backoff */

    for (i = 0; ngx_fuzz_timer_expire(); i++) {
        ngx_fuzz_assert(i < calls + 2);
    }

    for (i = 0; i < calls; i++) {
        ngx_fuzz_assert(got.call[i].answers == 1);
        ngx_fuzz_assert(expect->call[i].answers == 1
                        || got.call[i].state == FZ_FAILED);
    }

    ngx_http_rate_limit_redis_close(rd);

    ngx_fuzz_assert(peer.connection == NULL);
    ngx_fuzz_assert(ngx_fuzz_timers() == 0);
    ngx_fuzz_assert(peer.connects == 1);

    ngx_fuzz_peer_set(NULL);
    free(peer.out);
    ngx_destroy_pool(pool);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();

    /* what Redis answers never reaches the log raw */
    ngx_fuzz_log_check = 1;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char        *answer;
    size_t         len;
    ngx_uint_t     calls, keys, close, cluster;
    fz_outcome_t   expect;

    if (size < 2) {
        return 0;
    }

    keys = (data[0] & 0x07) + 1;
    calls = (data[0] >> 3) + 1;
    close = data[1] & 1;
    cluster = (data[1] >> 1) & 1;

    len = size - 2;
    answer = ngx_fuzz_dup(data + 2, len);

    fz_oracle(answer, answer + len, calls, keys, close, cluster, &expect);

    fz_run(answer, len, 0, close, cluster, calls, keys, &expect);
    fz_run(answer, len, data[1] | 0x100, close, cluster, calls, keys,
           &expect);

    free(answer);

    return 0;
}
