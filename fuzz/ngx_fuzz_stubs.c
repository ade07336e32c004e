
/*
 * What the targets share: a cycle with a log, a pool per input, and exact
 * copies of inputs on the heap.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_fuzz.h"


ngx_log_t                 ngx_fuzz_log;
volatile ngx_cycle_t     *ngx_cycle;

static ngx_cycle_t        ngx_fuzz_cycle;
static size_t             ngx_fuzz_pool_size;


void
ngx_fuzz_init(void)
{
    char  *size;

    ngx_pagesize = getpagesize();
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;

    for (ngx_pagesize_shift = 0; (ngx_pagesize >> ngx_pagesize_shift) > 1;
         ngx_pagesize_shift++)
    {
        /* void */
    }

    /* info messages are formatted (the JWKS code logs skipped keys) */
    ngx_fuzz_log.log_level = NGX_LOG_INFO;
    ngx_fuzz_cycle.log = &ngx_fuzz_log;
    ngx_cycle = &ngx_fuzz_cycle;

    ngx_fuzz_crc32_init();

    ngx_fuzz_pool_size = sizeof(ngx_pool_t);

    size = getenv("FUZZ_POOL_SIZE");
    if (size && (size_t) atol(size) > ngx_fuzz_pool_size) {
        ngx_fuzz_pool_size = (size_t) atol(size);
    }
}


ngx_pool_t *
ngx_fuzz_pool(void)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(ngx_fuzz_pool_size, &ngx_fuzz_log);
    ngx_fuzz_assert(pool != NULL);

    return pool;
}


u_char *
ngx_fuzz_dup(const u_char *data, size_t len)
{
    u_char  *p;

    /* malloc(0) still gives a distinct pointer that must not be read */
    p = malloc(len);
    ngx_fuzz_assert(p != NULL);

    if (len) {
        memcpy(p, data, len);
    }

    return p;
}


void
ngx_fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
    abort();
}
