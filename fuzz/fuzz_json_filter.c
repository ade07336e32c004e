
/*
 * libFuzzer target for JSON trimming: the selection parser
 * (ngx_http_json_filter_selection.c) and the streaming filter
 * (ngx_http_json_filter_stream.c).
 *
 * The input is a control byte, a selection of up to 63 bytes (its length
 * in the control byte's low bits), a byte that seeds where the document
 * is split, and the document.  The control byte's top bit makes the
 * selection a set of deny paths instead of json_fields.  A selection that
 * parses is applied to the document twice, fed whole and fed in pieces,
 * and:
 *
 *   - the selection has no more nodes than bytes;
 *   - both runs give the same bytes;
 *   - the output is never longer than the document;
 *   - a document that is valid JSON (unpaired surrogates included) gives
 *     valid JSON, never "broken";
 *   - deny paths cut a broken body short (strict): what goes out is then
 *     the start of what json_fields' pass-through would send, nothing of
 *     the rest;
 *   - the fast paths (ngx_gw_json_fast) give the same bytes and verdict
 *     as the plain ones, strict and loose, whole and cut in two at every
 *     offset.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_json.h"
#include "ngx_http_json_filter.h"
#include "ngx_fuzz.h"


/* inputs up to this long are cut in two at every offset */
#define FZ_EVERY_CUT  1024


/* seed 0 and cut 0: the whole document; cut: two pieces cut there */

static size_t
fz_filter(ngx_pool_t *pool, ngx_http_json_filter_sels_t *sels, u_char *doc,
    size_t len, uint32_t seed, size_t cut, ngx_uint_t loose, u_char *out,
    ngx_uint_t *broken)
{
    u_char                         *p, *piece;
    size_t                          n, total;
    ngx_buf_t                       b;
    ngx_http_json_filter_stream_t  *st;

    /*
     * not cleared, as in the module: the stream must not read garbage;
     * from the heap, as the runs of one input are many
     */
    st = malloc(sizeof(ngx_http_json_filter_stream_t));
    ngx_fuzz_assert(st != NULL);

    ngx_fuzz_assert(ngx_http_json_filter_stream_init(st, sels, pool,
                                                     &ngx_fuzz_log)
                    == NGX_OK);

    ngx_fuzz_assert(st->strict == (sels->deny != NULL));

    if (loose) {
        st->strict = 0;
    }

    total = 0;
    p = doc;

    while (p < doc + len) {

        /* seed 0: the whole document; else pieces of 1 to 16 bytes */

        if (cut) {
            n = (p == doc) ? ngx_min(cut, len) : (size_t) (doc + len - p);

        } else if (seed == 0) {
            n = doc + len - p;

        } else {
            seed = seed * 1103515245 + 12345;
            n = ngx_min((size_t) (seed >> 16) % 16 + 1,
                        (size_t) (doc + len - p));
        }

        /* each piece in its own exact buffer, freed once fed */

        piece = ngx_fuzz_dup(p, n);

        ngx_memzero(&b, sizeof(ngx_buf_t));
        b.start = out + total;
        b.pos = b.start;
        b.last = b.start;
        b.end = b.start + n + NGX_HTTP_JSON_FILTER_PENDING;
        st->buf = &b;

        ngx_http_json_filter_stream_feed(st, piece, piece + n);
        free(piece);

        ngx_fuzz_assert(b.last <= b.end);
        total += b.last - b.pos;
        p += n;
    }

    ngx_memzero(&b, sizeof(ngx_buf_t));
    b.start = out + total;
    b.pos = b.start;
    b.last = b.start;
    b.end = b.start + NGX_HTTP_JSON_FILTER_PENDING;
    st->buf = &b;

    ngx_http_json_filter_stream_end(st);

    ngx_fuzz_assert(b.last <= b.end);
    total += b.last - b.pos;
    *broken = st->broken;
    free(st);

    return total;
}


static ngx_uint_t
fz_valid(u_char *doc, size_t len)
{
    u_char         *pos;
    ngx_int_t       rc;
    ngx_gw_json_t   j;

    ngx_gw_json_init(&j, NGX_HTTP_JSON_FILTER_MAX_DEPTH, NULL, 0);
    j.lone_surrogates = 1;

    pos = doc;

    do {
        rc = ngx_gw_json_next(&j, &pos, doc + len);
    } while (rc == NGX_OK || (rc == NGX_DONE && pos < doc + len));

    if (rc == NGX_ERROR) {
        return 0;
    }

    return ngx_gw_json_finish(&j) == NGX_DONE;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                       *doc, *whole, *split, *loose;
    size_t                        sel_len, len, n1, n2, n3, cut;
    uint32_t                      seed;
    ngx_str_t                     text;
    ngx_pool_t                   *pool;
    ngx_uint_t                    broken1, broken2, broken3, deny,
                                  loose_run;
    const char                   *error;
    ngx_http_json_sel_t          *sel;
    ngx_http_json_filter_sels_t   sels;

    if (size < 2) {
        return 0;
    }

    deny = data[0] & 0x80;
    sel_len = data[0] & 0x3f;

    if (size < 2 + sel_len) {
        return 0;
    }

    pool = ngx_fuzz_pool();

    text.data = ngx_fuzz_dup(data + 1, sel_len);
    text.len = sel_len;

    sel = ngx_pcalloc(pool, sizeof(ngx_http_json_sel_t));
    ngx_fuzz_assert(sel != NULL);
    sel->members = ngx_array_create(pool, 2, sizeof(ngx_http_json_sel_t));
    ngx_fuzz_assert(sel->members != NULL);

    if (sel_len == 0
        || ngx_http_json_sel_parse(pool, &text, 8, sel, &error) != NGX_OK)
    {
        free(text.data);
        ngx_destroy_pool(pool);
        return 0;
    }

    ngx_fuzz_assert(sel->nodes <= sel_len);

    sels.fields = deny ? &ngx_http_json_sel_whole : sel;
    sels.allow = &ngx_http_json_sel_whole;
    sels.deny = deny ? sel : NULL;

    seed = data[1 + sel_len] | 1;
    len = size - 2 - sel_len;
    doc = ngx_fuzz_dup(data + 2 + sel_len, len);

    /* the output never outgrows the input and what may wait undecided */
    whole = malloc(len + 2 * NGX_HTTP_JSON_FILTER_PENDING);
    split = malloc(len + 2 * NGX_HTTP_JSON_FILTER_PENDING);
    loose = malloc(len + 2 * NGX_HTTP_JSON_FILTER_PENDING);
    ngx_fuzz_assert(whole != NULL && split != NULL && loose != NULL);

    n1 = fz_filter(pool, &sels, doc, len, 0, 0, 0, whole, &broken1);
    n2 = fz_filter(pool, &sels, doc, len, seed, 0, 0, split, &broken2);
    n3 = fz_filter(pool, &sels, doc, len, seed, 0, 1, loose, &broken3);

    ngx_fuzz_assert(n1 == n2);
    ngx_fuzz_assert(memcmp(whole, split, n1) == 0);
    ngx_fuzz_assert(broken1 == broken2);
    ngx_fuzz_assert(n1 <= len);

    ngx_fuzz_assert(broken3 == broken1);
    ngx_fuzz_assert(n1 <= n3 && memcmp(whole, loose, n1) == 0);
    ngx_fuzz_assert(broken1 || n1 == n3);

    if (fz_valid(doc, len)) {
        ngx_fuzz_assert(!broken1);
        ngx_fuzz_assert(fz_valid(whole, n1));
    }

    /*
     * The fast paths (the members loop, the tokenizer's skipping and
     * vector scans) against the plain ones: the same bytes and the same
     * verdict, whole and cut in two at every offset (the first
     * FZ_EVERY_CUT of a longer input), strict and loose
     */

    for (loose_run = 0; loose_run < 2; loose_run++) {
        ngx_gw_json_fast = 0;
        n2 = fz_filter(pool, &sels, doc, len, 0, 0, loose_run, split,
                       &broken2);
        ngx_gw_json_fast = 1;

        n3 = fz_filter(pool, &sels, doc, len, 0, 0, loose_run, loose,
                       &broken3);
        ngx_fuzz_assert(n2 == n3 && broken2 == broken3);
        ngx_fuzz_assert(memcmp(split, loose, n2) == 0);

        for (cut = 1; cut < len && cut <= FZ_EVERY_CUT; cut++) {
            n3 = fz_filter(pool, &sels, doc, len, 0, cut, loose_run, loose,
                           &broken3);
            ngx_fuzz_assert(n2 == n3 && broken2 == broken3);
            ngx_fuzz_assert(memcmp(split, loose, n2) == 0);
        }
    }

    free(whole);
    free(split);
    free(loose);
    free(doc);
    free(text.data);
    ngx_destroy_pool(pool);

    return 0;
}
