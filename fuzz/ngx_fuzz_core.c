
/*
 * The nginx core functions the fuzzed code calls, written for fuzzing:
 * every pool allocation is a malloc() of its own, so AddressSanitizer
 * bounds each one exactly, and destroying the pool frees them all and runs
 * the cleanups, so LeakSanitizer sees whatever a cleanup forgot; what the
 * pools give is counted, for targets that bound it; what is logged can be
 * formatted and checked.  The signatures and contracts are nginx's
 * (ngx_palloc.h, ngx_array.h, ngx_string.h, ngx_buf.h, ngx_inet.h,
 * ngx_log.h, ngx_conf_file.h, ngx_alloc.h, ngx_files.h), the code is not.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_fuzz.h"


ngx_uint_t  ngx_pagesize = 4096;
ngx_uint_t  ngx_pagesize_shift = 12;
ngx_uint_t  ngx_cacheline_size = 64;

size_t       ngx_fuzz_allocated;
size_t       ngx_fuzz_alloc_limit;
const char  *ngx_fuzz_alloc_why;

ngx_uint_t   ngx_fuzz_log_check;
ngx_str_t    ngx_fuzz_log_line;

static u_char  ngx_fuzz_log_text[NGX_MAX_ERROR_STR];


ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    ngx_pool_t  *p;

    p = calloc(1, sizeof(ngx_pool_t));
    if (p == NULL) {
        return NULL;
    }

    p->log = log;

    return p;
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_large_t    *l, *next;
    ngx_pool_cleanup_t  *c;

    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    for (l = pool->large; l; l = next) {
        next = l->next;
        free(l->alloc);
        free(l);
    }

    free(pool);
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    void              *p;
    ngx_pool_large_t  *l;

    ngx_fuzz_allocated += size;

    if (ngx_fuzz_alloc_limit && ngx_fuzz_allocated > ngx_fuzz_alloc_limit) {
        ngx_fuzz_fail(__FILE__, __LINE__, ngx_fuzz_alloc_why);
    }

    /* malloc(0) may answer NULL, which would read as out of memory */
    p = malloc(size ? size : 1);
    l = malloc(sizeof(ngx_pool_large_t));

    if (p == NULL || l == NULL) {
        free(p);
        free(l);
        return NULL;
    }

    l->alloc = p;
    l->next = pool->large;
    pool->large = l;

    return p;
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);

    if (p) {
        ngx_memzero(p, size);
    }

    return p;
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = ngx_palloc(p, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = NULL;

    if (size) {
        c->data = ngx_palloc(p, size);
        if (c->data == NULL) {
            return NULL;
        }
    }

    c->handler = NULL;
    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


ngx_array_t *
ngx_array_create(ngx_pool_t *p, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = ngx_palloc(p, sizeof(ngx_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (ngx_array_init(a, p, n, size) != NGX_OK) {
        return NULL;
    }

    return a;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void  *new;

    if (a->nelts == a->nalloc) {
        new = ngx_palloc(a->pool, 2 * a->nalloc * a->size);
        if (new == NULL) {
            return NULL;
        }

        ngx_memcpy(new, a->elts, a->nelts * a->size);
        a->elts = new;
        a->nalloc *= 2;
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


u_char *
ngx_pstrdup(ngx_pool_t *pool, ngx_str_t *src)
{
    u_char  *dst;

    dst = ngx_pnalloc(pool, src->len);
    if (dst == NULL) {
        return NULL;
    }

    ngx_memcpy(dst, src->data, src->len);

    return dst;
}


ngx_int_t
ngx_memn2cmp(u_char *s1, u_char *s2, size_t n1, size_t n2)
{
    size_t     n;
    ngx_int_t  m, z;

    if (n1 <= n2) {
        n = n1;
        z = -1;

    } else {
        n = n2;
        z = 1;
    }

    m = ngx_memcmp(s1, s2, n);

    if (m || n1 == n2) {
        return m;
    }

    return z;
}


ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    ngx_uint_t  c1, c2;

    while (n--) {
        c1 = ngx_tolower(*s1);
        c2 = ngx_tolower(*s2);

        if (c1 != c2) {
            return c1 - c2;
        }

        if (c1 == 0) {
            return 0;
        }

        s1++;
        s2++;
    }

    return 0;
}


void
ngx_explicit_memzero(void *buf, size_t n)
{
    explicit_bzero(buf, n);
}


/* digits only, up to max: what ngx_atoi() and ngx_atotm() take */

static int64_t
ngx_fuzz_decimal(u_char *line, size_t n, int64_t max)
{
    int64_t  value;

    if (n == 0) {
        return NGX_ERROR;
    }

    for (value = 0; n--; line++) {
        if (*line < '0' || *line > '9'
            || value > (max - (*line - '0')) / 10)
        {
            return NGX_ERROR;
        }

        value = value * 10 + (*line - '0');
    }

    return value;
}


time_t
ngx_atotm(u_char *line, size_t n)
{
    return (time_t) ngx_fuzz_decimal(line, n, NGX_MAX_TIME_T_VALUE);
}


ngx_int_t
ngx_atoi(u_char *line, size_t n)
{
    return (ngx_int_t) ngx_fuzz_decimal(line, n, NGX_MAX_INT_T_VALUE);
}


static void
ngx_fuzz_log_format(const char *fmt, va_list args)
{
    u_char  *p, *last;

    last = ngx_vslprintf(ngx_fuzz_log_text,
                         ngx_fuzz_log_text + NGX_MAX_ERROR_STR, fmt, args);

    ngx_fuzz_log_line.data = ngx_fuzz_log_text;
    ngx_fuzz_log_line.len = last - ngx_fuzz_log_text;

    if (!ngx_fuzz_log_check) {
        return;
    }

    for (p = ngx_fuzz_log_text; p < last; p++) {
        if (*p == CR || *p == LF || *p == '\0') {
            fprintf(stderr, "logged: \"%.*s\"\n",
                    (int) (last - ngx_fuzz_log_text), ngx_fuzz_log_text);
            ngx_fuzz_fail(__FILE__, __LINE__,
                          "a log line holds CR, LF or NUL");
        }
    }
}


/* what the fuzzed code logs matters only if the target checks it */

void ngx_cdecl
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    va_list  args;

    if (ngx_fuzz_log_check) {
        va_start(args, fmt);
        ngx_fuzz_log_format(fmt, args);
        va_end(args);
    }
}


/* a configuration error is rare and what the target may look at */

void ngx_cdecl
ngx_conf_log_error(ngx_uint_t level, ngx_conf_t *cf, ngx_err_t err,
    const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_fuzz_log_format(fmt, args);
    va_end(args);
}


void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    return malloc(size ? size : 1);
}


void *
ngx_calloc(size_t size, ngx_log_t *log)
{
    return calloc(1, size ? size : 1);
}


ngx_buf_t *
ngx_create_temp_buf(ngx_pool_t *pool, size_t size)
{
    ngx_buf_t  *b;

    b = ngx_pcalloc(pool, sizeof(ngx_buf_t));
    if (b == NULL) {
        return NULL;
    }

    b->start = ngx_palloc(pool, size);
    if (b->start == NULL) {
        return NULL;
    }

    b->pos = b->start;
    b->last = b->start;
    b->end = b->start + size;
    b->temporary = 1;

    return b;
}


/* s2 is lowercase and n + 1 bytes long */

u_char *
ngx_strlcasestrn(u_char *s1, u_char *last, u_char *s2, size_t n)
{
    for ( /* void */ ; last - s1 > (ssize_t) n; s1++) {
        if (ngx_tolower(*s1) == s2[0]
            && ngx_strncasecmp(s1 + 1, s2 + 1, n) == 0)
        {
            return s1;
        }
    }

    return NULL;
}


u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static const u_char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}


void
ngx_encode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    u_char     *s, *d;
    size_t      len;
    uint32_t    v;

    static const u_char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    s = src->data;
    d = dst->data;

    for (len = src->len; len >= 3; len -= 3, s += 3) {
        v = (uint32_t) s[0] << 16 | (uint32_t) s[1] << 8 | s[2];
        *d++ = alphabet[v >> 18];
        *d++ = alphabet[(v >> 12) & 0x3f];
        *d++ = alphabet[(v >> 6) & 0x3f];
        *d++ = alphabet[v & 0x3f];
    }

    if (len) {
        v = (uint32_t) s[0] << 16 | (len == 2 ? (uint32_t) s[1] << 8 : 0);
        *d++ = alphabet[v >> 18];
        *d++ = alphabet[(v >> 12) & 0x3f];
        *d++ = (len == 2) ? alphabet[(v >> 6) & 0x3f] : '=';
        *d++ = '=';
    }

    dst->len = d - dst->data;
}


/*
 * As nginx's: the text up to the first "=" must be base64 and not one
 * character past a whole group; what follows the "=" is not looked at.
 */

ngx_int_t
ngx_decode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    u_char        *s, *d, *v;
    size_t         len, i;
    uint32_t       bits;
    ngx_uint_t     nbits;

    static const u_char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    s = src->data;

    for (len = 0; len < src->len && s[len] != '='; len++) {
        if (s[len] == '\0' || strchr((char *) alphabet, s[len]) == NULL) {
            return NGX_ERROR;
        }
    }

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    d = dst->data;
    bits = 0;
    nbits = 0;

    for (i = 0; i < len; i++) {
        v = (u_char *) strchr((char *) alphabet, s[i]);
        bits = (bits << 6) | (uint32_t) (v - alphabet);
        nbits += 6;

        if (nbits >= 8) {
            nbits -= 8;
            *d++ = (u_char) (bits >> nbits);
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


/* only what NGX_ESCAPE_MEMCACHED escapes: control characters, " " and "%" */

uintptr_t
ngx_escape_uri(u_char *dst, u_char *src, size_t size, ngx_uint_t type)
{
    ngx_uint_t  n;

    static const u_char  hex[] = "0123456789ABCDEF";

    if (type != NGX_ESCAPE_MEMCACHED && type != NGX_ESCAPE_MAIL_AUTH) {
        ngx_fuzz_fail(__FILE__, __LINE__,
                      "an ngx_escape_uri() type fuzz/ does not know");
    }

    for (n = 0; size--; src++) {
        if (*src > 0x20 && *src != '%') {
            if (dst) {
                *dst++ = *src;
            }

            continue;
        }

        if (dst) {
            *dst++ = '%';
            *dst++ = hex[*src >> 4];
            *dst++ = hex[*src & 0xf];
        }

        n++;
    }

    return dst ? (uintptr_t) dst : (uintptr_t) n;
}


uint32_t  ngx_crc32_table256[256];


/* CRC-32 of IEEE 802.3, reflected, as nginx's table holds it */

void
ngx_fuzz_crc32_init(void)
{
    uint32_t    c;
    ngx_uint_t  i, k;

    for (i = 0; i < 256; i++) {
        c = (uint32_t) i;

        for (k = 0; k < 8; k++) {
            c = (c & 1) ? 0xedb88320 ^ (c >> 1) : c >> 1;
        }

        ngx_crc32_table256[i] = c;
    }
}


/*
 * ngx_vslprintf() for the conversions the fuzzed code uses: %V, %s, %*s,
 * %c, %d, %i, %z, %l, %D, %L, %O, %T, %M, %p, %Z and %%, with "u", "x", "X",
 * "0" and a width.  Any other one is a broken invariant of the harness,
 * not something to print wrong.
 */

static u_char *
ngx_fuzz_number(u_char *buf, u_char *last, uint64_t ui, ngx_uint_t negative,
    u_char zero, ngx_uint_t width, ngx_uint_t hex)
{
    u_char      tmp[NGX_INT64_LEN + 1], *p;
    size_t      len;

    static const u_char  lower[] = "0123456789abcdef";
    static const u_char  upper[] = "0123456789ABCDEF";

    p = tmp + sizeof(tmp);

    do {
        if (hex) {
            *--p = (hex == 1 ? lower : upper)[ui & 0xf];
            ui >>= 4;

        } else {
            *--p = (u_char) (ui % 10 + '0');
            ui /= 10;
        }
    } while (ui);

    len = (tmp + sizeof(tmp)) - p + (negative ? 1 : 0);

    if (negative && zero == '0' && buf < last) {
        *buf++ = '-';
        negative = 0;
    }

    while (len++ < width && buf < last) {
        *buf++ = zero;
    }

    if (negative && buf < last) {
        *buf++ = '-';
    }

    len = ngx_min((size_t) ((tmp + sizeof(tmp)) - p), (size_t) (last - buf));

    return ngx_cpymem(buf, p, len);
}


u_char *
ngx_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    u_char      *p, zero;
    size_t       len, slen;
    int64_t      i64;
    uint64_t     ui64;
    ngx_str_t   *v;
    ngx_uint_t   width, sign, hex, negative;

    while (*fmt && buf < last) {

        if (*fmt != '%') {
            *buf++ = *fmt++;
            continue;
        }

        fmt++;

        zero = (u_char) ((*fmt == '0') ? '0' : ' ');
        width = 0;
        sign = 1;
        hex = 0;
        slen = (size_t) -1;

        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (*fmt++ - '0');
        }

        for ( ;; ) {
            switch (*fmt) {

            case 'u':
                sign = 0;
                fmt++;
                continue;

            case 'x':
                hex = 1;
                sign = 0;
                fmt++;
                continue;

            case 'X':
                hex = 2;
                sign = 0;
                fmt++;
                continue;

            case '*':
                slen = va_arg(args, size_t);
                fmt++;
                continue;

            default:
                break;
            }

            break;
        }

        switch (*fmt) {

        case 'V':
            v = va_arg(args, ngx_str_t *);
            len = ngx_min(v->len, (size_t) (last - buf));
            buf = ngx_cpymem(buf, v->data, len);
            fmt++;
            continue;

        case 's':
            p = va_arg(args, u_char *);
            len = (slen == (size_t) -1) ? ngx_strlen(p) : slen;
            len = ngx_min(len, (size_t) (last - buf));
            buf = ngx_cpymem(buf, p, len);
            fmt++;
            continue;

        case 'c':
            *buf++ = (u_char) va_arg(args, int);
            fmt++;
            continue;

        case '%':
            *buf++ = '%';
            fmt++;
            continue;

        case 'Z':
            *buf++ = '\0';
            fmt++;
            continue;

        case 'p':
            ui64 = (uintptr_t) va_arg(args, void *);
            buf = ngx_fuzz_number(buf, last, ui64, 0, '0',
                                  2 * sizeof(void *), 1);
            fmt++;
            continue;

        case 'd':
            i64 = sign ? (int64_t) va_arg(args, int)
                       : (int64_t) va_arg(args, u_int);
            break;

        case 'i':
            i64 = sign ? (int64_t) va_arg(args, ngx_int_t)
                       : (int64_t) va_arg(args, ngx_uint_t);
            break;

        case 'z':
            i64 = sign ? (int64_t) va_arg(args, ssize_t)
                       : (int64_t) va_arg(args, size_t);
            break;

        case 'l':
            i64 = sign ? (int64_t) va_arg(args, long)
                       : (int64_t) va_arg(args, u_long);
            break;

        case 'D':
            i64 = sign ? (int64_t) va_arg(args, int32_t)
                       : (int64_t) va_arg(args, uint32_t);
            break;

        case 'L':
            i64 = va_arg(args, int64_t);
            break;

        case 'O':
            i64 = (int64_t) va_arg(args, off_t);
            break;

        case 'T':
            i64 = (int64_t) va_arg(args, time_t);
            break;

        case 'M':
            i64 = (int64_t) va_arg(args, ngx_msec_t);
            sign = 0;
            break;

        default:
            ngx_fuzz_fail(__FILE__, __LINE__,
                          "a conversion the ngx_vslprintf() of fuzz/ "
                          "does not know");
        }

        negative = sign && i64 < 0;
        ui64 = negative ? (uint64_t) 0 - (uint64_t) i64 : (uint64_t) i64;

        buf = ngx_fuzz_number(buf, last, ui64, negative, zero, width, hex);
        fmt++;
    }

    return buf;
}


u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, (void *) -1, fmt, args);
    va_end(args);

    return p;
}


u_char * ngx_cdecl
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + max, fmt, args);
    va_end(args);

    return p;
}


u_char * ngx_cdecl
ngx_slprintf(u_char *buf, u_char *last, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, last, fmt, args);
    va_end(args);

    return p;
}


/*
 * Addresses, as ngx_inet.c takes them: "a.b.c.d[:port]" or
 * "[ipv6]:port" (or a bare IPv6 address without a port); NGX_DECLINED
 * for anything else.  The text has no NUL: inet_pton() gets a copy.
 */

static ngx_int_t
ngx_fuzz_parse_addr(ngx_pool_t *pool, ngx_addr_t *addr, u_char *text,
    size_t len, in_port_t port)
{
    char                  copy[NGX_INET6_ADDRSTRLEN + 1];
    struct sockaddr_in   *sin;
    struct sockaddr_in6  *sin6;

    if (len == 0 || len >= sizeof(copy) || memchr(text, '\0', len)) {
        return NGX_DECLINED;
    }

    ngx_memcpy(copy, text, len);
    copy[len] = '\0';

    if (ngx_strlchr(text, text + len, ':') == NULL) {
        sin = ngx_pcalloc(pool, sizeof(struct sockaddr_in));
        if (sin == NULL) {
            return NGX_ERROR;
        }

        if (inet_pton(AF_INET, copy, &sin->sin_addr) != 1) {
            return NGX_DECLINED;
        }

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        addr->sockaddr = (struct sockaddr *) sin;
        addr->socklen = sizeof(struct sockaddr_in);

        return NGX_OK;
    }

    sin6 = ngx_pcalloc(pool, sizeof(struct sockaddr_in6));
    if (sin6 == NULL) {
        return NGX_ERROR;
    }

    if (inet_pton(AF_INET6, copy, &sin6->sin6_addr) != 1) {
        return NGX_DECLINED;
    }

    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    addr->sockaddr = (struct sockaddr *) sin6;
    addr->socklen = sizeof(struct sockaddr_in6);

    return NGX_OK;
}


ngx_int_t
ngx_parse_addr_port(ngx_pool_t *pool, ngx_addr_t *addr, u_char *text,
    size_t len)
{
    u_char     *colon, *last;
    ngx_int_t   rc, port;

    rc = ngx_fuzz_parse_addr(pool, addr, text, len, 0);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    last = text + len;

    if (len && text[0] == '[') {
        colon = ngx_strlchr(text, last, ']');

        if (colon == NULL || colon + 1 == last || colon[1] != ':') {
            return NGX_DECLINED;
        }

        colon++;

    } else {
        colon = ngx_strlchr(text, last, ':');

        if (colon == NULL) {
            return NGX_DECLINED;
        }
    }

    port = ngx_atoi(colon + 1, last - colon - 1);

    if (port < 1 || port > 65535) {
        return NGX_DECLINED;
    }

    if (text[0] == '[') {
        return ngx_fuzz_parse_addr(pool, addr, text + 1, colon - text - 2,
                                   (in_port_t) port);
    }

    return ngx_fuzz_parse_addr(pool, addr, text, colon - text,
                               (in_port_t) port);
}


in_port_t
ngx_inet_get_port(struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *) sa)->sin6_port);
    }

    return ntohs(((struct sockaddr_in *) sa)->sin_port);
}


void
ngx_inet_set_port(struct sockaddr *sa, in_port_t port)
{
    if (sa->sa_family == AF_INET6) {
        ((struct sockaddr_in6 *) sa)->sin6_port = htons(port);

    } else {
        ((struct sockaddr_in *) sa)->sin_port = htons(port);
    }
}


size_t
ngx_sock_ntop(struct sockaddr *sa, socklen_t socklen, u_char *text,
    size_t len, ngx_uint_t port)
{
    char     host[NGX_INET6_ADDRSTRLEN];
    u_char  *p;

    if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *) sa)->sin6_addr, host,
                  sizeof(host));
        p = port ? ngx_slprintf(text, text + len, "[%s]:%d", host,
                                (int) ngx_inet_get_port(sa))
                 : ngx_slprintf(text, text + len, "%s", host);

    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *) sa)->sin_addr, host,
                  sizeof(host));
        p = port ? ngx_slprintf(text, text + len, "%s:%d", host,
                                (int) ngx_inet_get_port(sa))
                 : ngx_slprintf(text, text + len, "%s", host);
    }

    return p - text;
}


ssize_t
ngx_read_file(ngx_file_t *file, u_char *buf, size_t size, off_t offset)
{
    ssize_t  n;

    n = pread(file->fd, buf, size, offset);

    if (n == -1) {
        return NGX_ERROR;
    }

    file->offset += n;

    return n;
}


/* base64url without padding, for targets that make tokens */

const u_char  ngx_fuzz_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
ngx_fuzz_b64url_encode(u_char *dst, const u_char *src, size_t len)
{
    u_char    *d;
    uint32_t   v;

    d = dst;

    for ( /* void */ ; len >= 3; len -= 3, src += 3) {
        v = (uint32_t) src[0] << 16 | (uint32_t) src[1] << 8 | src[2];
        *d++ = ngx_fuzz_b64url[v >> 18];
        *d++ = ngx_fuzz_b64url[(v >> 12) & 0x3f];
        *d++ = ngx_fuzz_b64url[(v >> 6) & 0x3f];
        *d++ = ngx_fuzz_b64url[v & 0x3f];
    }

    if (len) {
        v = (uint32_t) src[0] << 16 | (len == 2 ? (uint32_t) src[1] << 8 : 0);
        *d++ = ngx_fuzz_b64url[v >> 18];
        *d++ = ngx_fuzz_b64url[(v >> 12) & 0x3f];

        if (len == 2) {
            *d++ = ngx_fuzz_b64url[(v >> 6) & 0x3f];
        }
    }

    return d - dst;
}
