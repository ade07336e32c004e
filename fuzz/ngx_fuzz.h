
/*
 * What the fuzz targets share: the few nginx globals the real core code
 * (pools, arrays, strings) expects, a log, and helpers that put data in
 * exact-size heap buffers so AddressSanitizer sees every overrun.
 */


#ifndef _NGX_FUZZ_H_INCLUDED_
#define _NGX_FUZZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define ngx_fuzz_assert(expr)                                                \
    do {                                                                     \
        if (!(expr)) {                                                       \
            ngx_fuzz_fail(__FILE__, __LINE__, #expr);                        \
        }                                                                    \
    } while (0)


extern ngx_log_t  ngx_fuzz_log;

/*
 * Set, every line logged is formatted and must hold no CR, LF or NUL:
 * values from a peer never reach the log raw.  The last line formatted,
 * ngx_conf_log_error()'s included, is in ngx_fuzz_log_line.
 */
extern ngx_uint_t  ngx_fuzz_log_check;
extern ngx_str_t   ngx_fuzz_log_line;

/*
 * Bytes handed out by pools since the target last cleared it; past
 * ngx_fuzz_alloc_limit (0: no limit) the input fails with the reason in
 * ngx_fuzz_alloc_why, at the allocation that crossed it.
 */
extern size_t       ngx_fuzz_allocated;
extern size_t       ngx_fuzz_alloc_limit;
extern const char  *ngx_fuzz_alloc_why;


/* once per process: page size, the cycle, the log */
void ngx_fuzz_init(void);

/*
 * A pool for one input.  By default it is so small that every allocation
 * but the pool's own bookkeeping is a separate malloc(), which lets
 * AddressSanitizer bound each one; FUZZ_POOL_SIZE=4096 behaves like a
 * request pool instead.
 */
ngx_pool_t *ngx_fuzz_pool(void);

/* a malloc()ed copy of exactly len bytes (never NULL; free() it) */
u_char *ngx_fuzz_dup(const u_char *data, size_t len);

void ngx_fuzz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

/* nginx's CRC32 table, which ngx_fuzz_init() fills */
void ngx_fuzz_crc32_init(void);


/* base64url without padding (RFC 7515's), an encoder of the fuzz core's own */
extern const u_char  ngx_fuzz_b64url[];
size_t ngx_fuzz_b64url_encode(u_char *dst, const u_char *src, size_t len);


#endif /* _NGX_FUZZ_H_INCLUDED_ */
