
/*
 * JSON trimming on one core without nginx around it: the stream of
 * modules/json_filter fed a file in pieces, as the body filter is, and
 * timed.  For judging changes to the trimmer by instruction counts
 * (valgrind --tool=callgrind) or by time, on an otherwise busy machine.
 *
 *   json_trim_speed [-d] [-p] [-b SIZE] [-n ROUNDS] FILE SELECTION
 *
 *   -d          SELECTION is a json_deny path list (space-separated)
 *   -p          the plain paths only (no SIMD, no skipping)
 *   -b SIZE     bytes fed at a time (default 32768: output_buffers)
 *   -n ROUNDS   times the file is trimmed (default 20)
 *
 * Prints the bytes in and out, whether the body broke, the best round's
 * time and the input bytes per second of it; -o FILE writes the output.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_json.h"
#include "ngx_http_json_filter.h"
#include "ngx_fuzz.h"


static double
jts_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


int
main(int argc, char **argv)
{
    int                            ch, deny;
    FILE                          *f;
    long                           rounds, i;
    u_char                        *doc, *out, *p, *last;
    size_t                         len, piece, total;
    double                         t, best;
    ngx_buf_t                      b;
    ngx_str_t                      text;
    ngx_pool_t                    *pool;
    const char                    *error, *output;
    ngx_http_json_sel_t           *sel;
    ngx_http_json_filter_sels_t    sels;
    ngx_http_json_filter_stream_t *st;

    deny = 0;
    piece = 32768;
    rounds = 20;
    output = NULL;

    while ((ch = getopt(argc, argv, "dpb:n:o:")) != -1) {
        switch (ch) {
        case 'd':
            deny = 1;
            break;
        case 'p':
            ngx_gw_json_fast = 0;
            break;
        case 'b':
            piece = strtoul(optarg, NULL, 10);
            break;
        case 'n':
            rounds = strtol(optarg, NULL, 10);
            break;
        case 'o':
            output = optarg;
            break;
        default:
            goto usage;
        }
    }

    if (argc - optind != 2 || piece == 0 || rounds <= 0) {
        goto usage;
    }

    ngx_fuzz_init();

    f = fopen(argv[optind], "rb");
    if (f == NULL) {
        perror(argv[optind]);
        return 1;
    }

    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);

    doc = malloc(len + 1);
    out = malloc(len + 2 * NGX_HTTP_JSON_FILTER_PENDING);

    if (doc == NULL || out == NULL || fread(doc, 1, len, f) != len) {
        fprintf(stderr, "%s: cannot read\n", argv[optind]);
        return 1;
    }

    fclose(f);

    pool = ngx_create_pool(16384, &ngx_fuzz_log);

    text.data = (u_char *) argv[optind + 1];
    text.len = strlen(argv[optind + 1]);

    sel = ngx_pcalloc(pool, sizeof(ngx_http_json_sel_t));
    sel->members = ngx_array_create(pool, 4, sizeof(ngx_http_json_sel_t));

    if (deny) {
        for (p = text.data; *p; p = last) {
            for (last = p; *last && *last != ' '; last++) { /* void */ }

            text.data = p;
            text.len = last - p;

            if (ngx_http_json_sel_parse(pool, &text,
                                        NGX_HTTP_JSON_FILTER_MAX_DEPTH, sel,
                                        &error)
                != NGX_OK)
            {
                fprintf(stderr, "invalid path: %s\n", error);
                return 1;
            }

            while (*last == ' ') {
                last++;
            }
        }

        sels.fields = &ngx_http_json_sel_whole;
        sels.deny = sel;

    } else {
        if (ngx_http_json_sel_parse(pool, &text, 8, sel, &error) != NGX_OK) {
            fprintf(stderr, "invalid selection: %s\n", error);
            return 1;
        }

        sels.fields = sel;
        sels.deny = NULL;
    }

    sels.allow = &ngx_http_json_sel_whole;

    st = ngx_palloc(pool, sizeof(ngx_http_json_filter_stream_t));
    best = 1e9;
    total = 0;

    for (i = 0; i < rounds; i++) {
        if (ngx_http_json_filter_stream_init(st, &sels, pool, &ngx_fuzz_log)
            != NGX_OK)
        {
            return 1;
        }

        ngx_memzero(&b, sizeof(ngx_buf_t));
        b.start = out;
        b.pos = out;
        b.last = out;
        b.end = out + len + 2 * NGX_HTTP_JSON_FILTER_PENDING;
        st->buf = &b;

        t = jts_now();

        for (p = doc; p < doc + len; p = last) {
            last = p + ngx_min(piece, (size_t) (doc + len - p));
            ngx_http_json_filter_stream_feed(st, p, last);
        }

        ngx_http_json_filter_stream_end(st);

        t = jts_now() - t;
        best = ngx_min(best, t);
        total = b.last - out;
    }

    if (output) {
        f = fopen(output, "wb");
        if (f == NULL || fwrite(out, 1, total, f) != total || fclose(f)) {
            perror(output);
            return 1;
        }
    }

    printf("in %zu out %zu broken %u best %.6f s %.1f MB/s (%s)\n",
           len, total, (unsigned) st->broken, best, len / best / 1e6,
           ngx_gw_json_fast ? "fast" : "plain");

    return 0;

usage:

    fprintf(stderr, "usage: json_trim_speed [-d] [-p] [-b SIZE] [-n ROUNDS] "
                    "[-o OUT] FILE SELECTION\n");
    return 2;
}
