
/*
 * A resumable JSON tokenizer: see ngx_gw_json.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gw_json.h"

#if (defined __x86_64__ && (defined __GNUC__ || defined __clang__))
#include <immintrin.h>
#define NGX_GW_JSON_SSE2  1
#elif (defined __aarch64__ && defined __ARM_NEON)
#include <arm_neon.h>
#define NGX_GW_JSON_NEON  1
#endif

#if (defined __GNUC__ || defined __clang__)
#define NGX_GW_JSON_NOINLINE  __attribute__((noinline))
#else
#define NGX_GW_JSON_NOINLINE
#endif


enum {
    sw_value = 0,
    sw_value_or_array_end,
    sw_name_or_object_end,
    sw_name,
    sw_colon,
    sw_after_value,
    sw_string,
    sw_escape,
    sw_unicode,
    sw_low_surrogate_backslash,
    sw_low_surrogate_u,
    sw_utf8,
    sw_minus,
    sw_zero,
    sw_integer,
    sw_fraction_start,
    sw_fraction,
    sw_exponent_start,
    sw_exponent_sign,
    sw_exponent,
    sw_literal,
    sw_done
};


/*
 * Whether the event just set stays unsaid: the caller asked for quiet
 * until the value at quiet_level ends, and inside it the tokenizer goes
 * on without returning.
 */

static ngx_inline ngx_uint_t
ngx_gw_json_quiet(ngx_gw_json_t *j)
{
    if (!j->quiet) {
        return 0;
    }

    if (j->event != NGX_GW_JSON_VALUE_END || j->level != j->quiet_level) {
        return 1;
    }

    j->quiet = 0;

    return 0;
}


#define ngx_gw_json_in_object(j)                                             \
    ((j)->objects[((j)->depth - 1) / 64] >> (((j)->depth - 1) % 64) & 1)


static NGX_GW_JSON_INLINE u_char *ngx_gw_json_plain_run(u_char *p,
    u_char *last);
static NGX_GW_JSON_INLINE u_char *ngx_gw_json_space_end(u_char *p,
    u_char *last);
static u_char *ngx_gw_json_swar_run(u_char *p, u_char *last);
#if (NGX_GW_JSON_SSE2)
static u_char *ngx_gw_json_sse2_run(u_char *p, u_char *last);
static u_char *ngx_gw_json_avx2_run(u_char *p, u_char *last)
    __attribute__((target("avx2")));
#elif (NGX_GW_JSON_NEON)
static u_char *ngx_gw_json_neon_run(u_char *p, u_char *last);
#endif
static NGX_GW_JSON_INLINE ngx_int_t ngx_gw_json_name(ngx_gw_json_t *j,
    u_char **pos, u_char *last);
static ngx_int_t ngx_gw_json_name_run(ngx_gw_json_t *j, u_char **pos,
    u_char *quote, u_char *p, u_char *last) NGX_GW_JSON_NOINLINE;
static NGX_GW_JSON_INLINE ngx_int_t ngx_gw_json_name_take(ngx_gw_json_t *j,
    u_char **pos, u_char *p, u_char *q);
static ngx_int_t ngx_gw_json_open(ngx_gw_json_t *j, u_char *p,
    ngx_uint_t object);
static ngx_int_t ngx_gw_json_value_start(ngx_gw_json_t *j, u_char *p);
static NGX_GW_JSON_INLINE u_char *ngx_gw_json_scalar_end(ngx_gw_json_t *j,
    u_char *p, u_char *last);
static NGX_GW_JSON_INLINE u_char *ngx_gw_json_string_end(ngx_gw_json_t *j,
    u_char *q, u_char *last);
static u_char *ngx_gw_json_string_rest(ngx_gw_json_t *j, u_char *q,
    u_char *last);
static u_char *ngx_gw_json_flat_array_end(ngx_gw_json_t *j, u_char *p,
    u_char *last);
static void ngx_gw_json_name_add(ngx_gw_json_t *j, uint32_t cp);
static void ngx_gw_json_name_append(ngx_gw_json_t *j, u_char *text,
    size_t len);
static ngx_int_t ngx_gw_json_error(ngx_gw_json_t *j, u_char **pos,
    u_char *p, const char *error);
static uint32_t ngx_gw_json_hex4(u_char *p);


/* string characters that need no look: printable ASCII but '"' and '\\' */
static const u_char  ngx_gw_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
};

ngx_uint_t  ngx_gw_json_fast = 1;


/* the vector scan of strings, chosen once for the CPU at hand */
typedef u_char *(*ngx_gw_json_run_pt)(u_char *p, u_char *last);

static ngx_gw_json_run_pt  ngx_gw_json_vector_run;


static const u_char  ngx_gw_json_true[] = "rue";
static const u_char  ngx_gw_json_false[] = "alse";
static const u_char  ngx_gw_json_null[] = "ull";


void
ngx_gw_json_init(ngx_gw_json_t *j, ngx_uint_t max_depth, u_char *name_buf,
    size_t name_cap)
{
    ngx_memzero(j, sizeof(ngx_gw_json_t));

    if (ngx_gw_json_vector_run == NULL) {
#if (NGX_GW_JSON_SSE2)
        __builtin_cpu_init();
        ngx_gw_json_vector_run = __builtin_cpu_supports("avx2")
                                 ? ngx_gw_json_avx2_run
                                 : ngx_gw_json_sse2_run;
#elif (NGX_GW_JSON_NEON)
        ngx_gw_json_vector_run = ngx_gw_json_neon_run;
#else
        ngx_gw_json_vector_run = ngx_gw_json_swar_run;
#endif
    }

    j->max_depth = ngx_min(max_depth, NGX_GW_JSON_MAX_DEPTH);
    j->name.data = name_buf;
    j->name_buf = name_buf;
    j->name_cap = name_buf ? name_cap : 0;
    j->state = sw_value;
}


ngx_int_t
ngx_gw_json_next(ngx_gw_json_t *j, u_char **pos, u_char *last)
{
    u_char     *p, *start, *skipped, ch, hex;
    ngx_int_t   rc;

    skipped = NULL;

    if (ngx_gw_json_fast) {

        if (j->quiet) {
            if (ngx_gw_json_skip(j, pos, last) == NGX_OK) {
                return NGX_OK;
            }

            skipped = *pos;

        } else if (ngx_gw_json_next_name(j, pos, last) == NGX_OK
                   || ngx_gw_json_next_bracket(j, pos, last) == NGX_OK)
        {
            return NGX_OK;
        }
    }

    for (p = *pos; p < last; p++) {

    reread:

        ch = *p;

        switch (j->state) {

        case sw_value:
        case sw_value_or_array_end:

            switch (ch) {
            case ' ': case '\t': case '\r': case '\n':
                continue;

            case ']':
                if (j->state != sw_value_or_array_end) {
                    return ngx_gw_json_error(j, pos, p, "unexpected \"]\"");
                }

                j->depth--;
                j->state = sw_after_value;
                j->event = NGX_GW_JSON_VALUE_END;
                j->level = j->depth;
                j->type = NGX_GW_JSON_ARRAY;
                j->mark = p + 1;
                if (ngx_gw_json_quiet(j)) {
                    continue;
                }

                *pos = p + 1;
                return NGX_OK;
            }

            rc = ngx_gw_json_value_start(j, p);
            if (rc == NGX_ERROR) {
                *pos = p;
                return NGX_ERROR;
            }

            if (ngx_gw_json_quiet(j)) {
                continue;
            }

            *pos = p + 1;
            return NGX_OK;

        case sw_name_or_object_end:
        case sw_name:

            switch (ch) {
            case ' ': case '\t': case '\r': case '\n':
                continue;

            case '"':
                if (j->name_in_input) {
                    j->name.data = j->name_buf;
                }

                j->name.len = 0;
                j->name_truncated = 0;
                j->after_string = sw_colon;
                j->state = sw_string;
                continue;

            case '}':
                if (j->state != sw_name_or_object_end) {
                    return ngx_gw_json_error(j, pos, p, "unexpected \"}\"");
                }

                j->depth--;
                j->state = sw_after_value;
                j->event = NGX_GW_JSON_VALUE_END;
                j->level = j->depth;
                j->type = NGX_GW_JSON_OBJECT;
                j->mark = p + 1;
                if (ngx_gw_json_quiet(j)) {
                    continue;
                }

                *pos = p + 1;
                return NGX_OK;
            }

            return ngx_gw_json_error(j, pos, p, "member name expected");

        case sw_colon:

            switch (ch) {
            case ' ': case '\t': case '\r': case '\n':
                continue;

            case ':':
                j->state = sw_value;
                continue;
            }

            return ngx_gw_json_error(j, pos, p, "\":\" expected");

        case sw_after_value:

            /* the fast path again, where it gave up or from a string */

            if (j->quiet && ngx_gw_json_fast && p != skipped) {
                *pos = p;

                if (ngx_gw_json_skip(j, pos, last) == NGX_OK) {
                    return NGX_OK;
                }

                p = *pos;
                skipped = p;

                if (p == last) {
                    goto again;
                }

                ch = *p;

                if (j->state != sw_after_value) {
                    goto reread;
                }
            }

            switch (ch) {
            case ' ': case '\t': case '\r': case '\n':
                continue;
            }

            if (j->depth == 0) {
                j->state = sw_done;
                *pos = p;
                return NGX_DONE;
            }

            if (ch == ',') {
                j->state = ngx_gw_json_in_object(j) ? sw_name : sw_value;
                continue;
            }

            if (ch == (ngx_gw_json_in_object(j) ? '}' : ']')) {
                j->type = ngx_gw_json_in_object(j) ? NGX_GW_JSON_OBJECT
                                                    : NGX_GW_JSON_ARRAY;
                j->depth--;
                j->event = NGX_GW_JSON_VALUE_END;
                j->level = j->depth;
                j->mark = p + 1;
                if (ngx_gw_json_quiet(j)) {
                    continue;
                }

                *pos = p + 1;
                return NGX_OK;
            }

            return ngx_gw_json_error(j, pos, p, "\",\" or end expected");

        case sw_string:

            /* the common run of plain characters, without the switch */

            if (ngx_gw_json_plain[ch]) {
                start = p;
                p = ngx_gw_json_plain_run(p + 1, last);

                if (j->after_string == sw_colon && !j->quiet) {

                    if (j->name_in_input && j->name.len == 0
                        && !j->name_truncated && p < last && *p == '"'
                        && (size_t) (p - start) <= j->name_cap)
                    {
                        j->name.data = start;
                        j->name.len = p - start;

                    } else {
                        ngx_gw_json_name_append(j, start, p - start);
                    }
                }

                if (p == last) {
                    goto again;
                }

                ch = *p;
            }

            if (ch == '"') {
                j->state = j->after_string;
                j->mark = p + 1;

                if (j->state == sw_colon) {
                    j->event = NGX_GW_JSON_MEMBER_NAME;
                    j->level = j->depth;
                    if (ngx_gw_json_quiet(j)) {
                        continue;
                    }

                    *pos = p + 1;
                    return NGX_OK;
                }

                j->event = NGX_GW_JSON_VALUE_END;
                j->level = j->depth;
                j->type = NGX_GW_JSON_STRING;
                if (ngx_gw_json_quiet(j)) {
                    continue;
                }

                *pos = p + 1;
                return NGX_OK;
            }

            if (ch == '\\') {
                j->state = sw_escape;
                continue;
            }

            if (ch < 0x20) {
                return ngx_gw_json_error(j, pos, p,
                                         "control character in string");
            }

            /* UTF-8: the second byte's range rules out overlong forms
             * and surrogates (RFC 3629) */

            j->utf8_low = 0x80;
            j->utf8_high = 0xbf;

            if (ch >= 0xc2 && ch <= 0xdf) {
                j->count = 1;
                j->code_point = ch & 0x1f;

            } else if (ch >= 0xe0 && ch <= 0xef) {
                j->count = 2;
                j->code_point = ch & 0x0f;

                if (ch == 0xe0) {
                    j->utf8_low = 0xa0;

                } else if (ch == 0xed) {
                    j->utf8_high = 0x9f;
                }

            } else if (ch >= 0xf0 && ch <= 0xf4) {
                j->count = 3;
                j->code_point = ch & 0x07;

                if (ch == 0xf0) {
                    j->utf8_low = 0x90;

                } else if (ch == 0xf4) {
                    j->utf8_high = 0x8f;
                }

            } else {
                return ngx_gw_json_error(j, pos, p, "invalid UTF-8");
            }

            j->state = sw_utf8;
            continue;

        case sw_utf8:

            if (ch < j->utf8_low || ch > j->utf8_high) {
                return ngx_gw_json_error(j, pos, p, "invalid UTF-8");
            }

            j->utf8_low = 0x80;
            j->utf8_high = 0xbf;
            j->code_point = (j->code_point << 6) | (ch & 0x3f);

            if (--j->count == 0) {
                if (j->after_string == sw_colon) {
                    ngx_gw_json_name_add(j, j->code_point);
                }

                j->state = sw_string;
            }

            continue;

        case sw_escape:

            switch (ch) {
            case '"': case '\\': case '/':
                break;
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            case 'n':
                ch = '\n';
                break;
            case 'r':
                ch = '\r';
                break;
            case 't':
                ch = '\t';
                break;

            case 'u':
                j->count = 4;
                j->code_point = 0;
                j->state = sw_unicode;
                continue;

            default:
                return ngx_gw_json_error(j, pos, p, "invalid escape");
            }

            if (j->after_string == sw_colon) {
                ngx_gw_json_name_add(j, ch);
            }

            j->state = sw_string;
            continue;

        case sw_unicode:

            if (ch >= '0' && ch <= '9') {
                hex = ch - '0';

            } else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f') {
                hex = (ch | 0x20) - 'a' + 10;

            } else {
                return ngx_gw_json_error(j, pos, p, "invalid \\u escape");
            }

            j->code_point = (j->code_point << 4) | hex;

            if (--j->count) {
                continue;
            }

            if (j->high_surrogate) {
                if (j->code_point >= 0xdc00 && j->code_point <= 0xdfff) {
                    j->code_point = 0x10000
                                    + ((j->high_surrogate - 0xd800) << 10)
                                    + (j->code_point - 0xdc00);

                } else if (!j->lone_surrogates) {
                    return ngx_gw_json_error(j, pos, p, "unpaired surrogate");

                } else if (j->after_string == sw_colon) {
                    ngx_gw_json_name_add(j, j->high_surrogate);
                }

                j->high_surrogate = 0;
            }

            if (j->code_point >= 0xd800 && j->code_point <= 0xdbff) {
                j->high_surrogate = j->code_point;
                j->state = sw_low_surrogate_backslash;
                continue;
            }

            if (j->code_point >= 0xdc00 && j->code_point <= 0xdfff
                && !j->lone_surrogates)
            {
                return ngx_gw_json_error(j, pos, p, "unpaired surrogate");
            }

            if (j->after_string == sw_colon) {
                ngx_gw_json_name_add(j, j->code_point);
            }

            j->state = sw_string;
            continue;

        case sw_low_surrogate_backslash:

            if (ch == '\\') {
                j->state = sw_low_surrogate_u;
                continue;
            }

            if (!j->lone_surrogates) {
                return ngx_gw_json_error(j, pos, p, "unpaired surrogate");
            }

            /* the high surrogate stands alone: ch is the string's */

            if (j->after_string == sw_colon) {
                ngx_gw_json_name_add(j, j->high_surrogate);
            }

            j->high_surrogate = 0;
            j->state = sw_string;
            goto reread;

        case sw_low_surrogate_u:

            if (ch == 'u') {
                j->count = 4;
                j->code_point = 0;
                j->state = sw_unicode;
                continue;
            }

            if (!j->lone_surrogates) {
                return ngx_gw_json_error(j, pos, p, "unpaired surrogate");
            }

            /* the high surrogate stands alone: ch ends another escape */

            if (j->after_string == sw_colon) {
                ngx_gw_json_name_add(j, j->high_surrogate);
            }

            j->high_surrogate = 0;
            j->state = sw_escape;
            goto reread;

        case sw_minus:

            if (ch == '0') {
                j->state = sw_zero;
                continue;
            }

            if (ch >= '1' && ch <= '9') {
                j->state = sw_integer;
                continue;
            }

            return ngx_gw_json_error(j, pos, p, "invalid number");

        case sw_integer:

            if (ch >= '0' && ch <= '9') {

                /* the rest of the digits without the switch */

                while (p + 1 < last && p[1] >= '0' && p[1] <= '9') {
                    p++;
                }

                continue;
            }

            /* fall through */

        case sw_zero:

            if (ch == '.') {
                j->state = sw_fraction_start;
                continue;
            }

            if (ch == 'e' || ch == 'E') {
                j->state = sw_exponent_start;
                continue;
            }

            goto number_end;

        case sw_fraction_start:

            if (ch >= '0' && ch <= '9') {
                j->state = sw_fraction;
                continue;
            }

            return ngx_gw_json_error(j, pos, p, "invalid number");

        case sw_fraction:

            if (ch >= '0' && ch <= '9') {

                while (p + 1 < last && p[1] >= '0' && p[1] <= '9') {
                    p++;
                }

                continue;
            }

            if (ch == 'e' || ch == 'E') {
                j->state = sw_exponent_start;
                continue;
            }

            goto number_end;

        case sw_exponent_start:

            if (ch == '+' || ch == '-') {
                j->state = sw_exponent_sign;
                continue;
            }

            /* fall through */

        case sw_exponent_sign:

            if (ch >= '0' && ch <= '9') {
                j->state = sw_exponent;
                continue;
            }

            return ngx_gw_json_error(j, pos, p, "invalid number");

        case sw_exponent:

            if (ch >= '0' && ch <= '9') {
                continue;
            }

            goto number_end;

        case sw_literal:

            if (ch != *j->literal) {
                return ngx_gw_json_error(j, pos, p, "invalid literal");
            }

            if (*++j->literal) {
                continue;
            }

            j->state = sw_after_value;
            j->event = NGX_GW_JSON_VALUE_END;
            j->level = j->depth;
            j->mark = p + 1;
            if (ngx_gw_json_quiet(j)) {
                continue;
            }

            *pos = p + 1;
            return NGX_OK;

        case sw_done:

            switch (ch) {
            case ' ': case '\t': case '\r': case '\n':
                continue;
            }

            return ngx_gw_json_error(j, pos, p, "trailing characters");
        }

        /* unreachable: every state continues or returns */
        return ngx_gw_json_error(j, pos, p, "internal error");

    number_end:

        /* the byte after a number belongs to what follows it */

        if (!(ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'
              || ch == ',' || ch == ']' || ch == '}'))
        {
            return ngx_gw_json_error(j, pos, p, "invalid number");
        }

        j->state = sw_after_value;
        j->event = NGX_GW_JSON_VALUE_END;
        j->level = j->depth;
        j->type = NGX_GW_JSON_NUMBER;
        j->mark = p;

        /* that byte is looked at again, in the new state */

        if (j->quiet && j->level != j->quiet_level) {
            goto reread;
        }

        j->quiet = 0;
        *pos = p;
        return NGX_OK;
    }

again:

    *pos = p;

    if (j->state == sw_after_value && j->depth == 0) {
        j->state = sw_done;
    }

    return (j->state == sw_done) ? NGX_DONE : NGX_AGAIN;
}


ngx_int_t
ngx_gw_json_finish(ngx_gw_json_t *j)
{
    if (j->error) {
        return NGX_ERROR;
    }

    switch (j->state) {

    case sw_done:
        return NGX_DONE;

    case sw_after_value:
    case sw_zero:
    case sw_integer:
    case sw_fraction:
    case sw_exponent:
        if (j->depth == 0) {
            j->state = sw_done;
            return NGX_DONE;
        }

        break;

    case sw_value:
        if (j->depth == 0) {
            j->error = "no value";
            return NGX_ERROR;
        }

        break;
    }

    j->error = "unexpected end of input";

    return NGX_ERROR;
}


/*
 * The first byte after whitespace.  Between tokens of compact JSON there
 * is none, which one compare tells before the loop's four.
 */

static NGX_GW_JSON_INLINE u_char *
ngx_gw_json_space_end(u_char *p, u_char *last)
{
    if (p < last && *p <= ' ') {
        while (p < last
               && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        {
            p++;
        }
    }

    return p;
}


/*
 * The end of a run of plain string characters: the first quote,
 * backslash, control character or non-ASCII byte.  The fast path looks at
 * 16 or 32 bytes together while that many are left, the rest is looked at
 * eight bytes at a time and then one by one.
 */

static NGX_GW_JSON_INLINE u_char *
ngx_gw_json_plain_run(u_char *p, u_char *last)
{
#if (NGX_GW_JSON_SSE2)
    int      mask;
    __m128i  v;
#endif

    if (ngx_gw_json_fast) {

#if (NGX_GW_JSON_SSE2)

        /* most strings end within 16 bytes: that look needs no call */

        if (last - p >= 16) {
            v = _mm_loadu_si128((const __m128i *) p);

            mask = _mm_movemask_epi8(
                       _mm_or_si128(
                           _mm_or_si128(
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                           _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));
            if (mask) {
                return p + __builtin_ctz(mask);
            }

            p += 16;
        }

#endif

        p = ngx_gw_json_vector_run(p, last);

        /* what stopped it, unless too few bytes were left for a vector */

        if (last - p >= 16) {
            return p;
        }
    }

    return ngx_gw_json_swar_run(p, last);
}


/* eight bytes while none of them stops the run (the "has a zero byte"
 * test of each kind) */

#define ngx_gw_json_ones    0x0101010101010101ULL
#define ngx_gw_json_highs   0x8080808080808080ULL

#define ngx_gw_json_zero_in(x)                                               \
    (((x) - ngx_gw_json_ones) & ~(x) & ngx_gw_json_highs)

static u_char *
ngx_gw_json_swar_run(u_char *p, u_char *last)
{
    uint64_t  v;

    while (last - p >= 8) {
        ngx_memcpy(&v, p, 8);

        if (ngx_gw_json_zero_in(v ^ (ngx_gw_json_ones * '"'))
            | ngx_gw_json_zero_in(v ^ (ngx_gw_json_ones * '\\'))
            | ((v - ngx_gw_json_ones * 0x20) & ~v & ngx_gw_json_highs)
            | (v & ngx_gw_json_highs))
        {
            break;
        }

        p += 8;
    }

    while (p < last && ngx_gw_json_plain[*p]) {
        p++;
    }

    return p;
}


#if (NGX_GW_JSON_SSE2)

/*
 * A signed compare with 0x20 catches control characters and the bytes
 * from 0x80 on (negative) at once.  Only whole vectors within the input
 * are read.
 */

static u_char *
ngx_gw_json_sse2_run(u_char *p, u_char *last)
{
    int      mask;
    __m128i  v, quote, backslash, space;

    quote = _mm_set1_epi8('"');
    backslash = _mm_set1_epi8('\\');
    space = _mm_set1_epi8(0x20);

    while (last - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);

        mask = _mm_movemask_epi8(
                   _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                             _mm_cmpeq_epi8(v, backslash)),
                                _mm_cmplt_epi8(v, space)));
        if (mask) {
            return p + __builtin_ctz(mask);
        }

        p += 16;
    }

    return p;
}


/* compiled for AVX2 alone, called only where the CPU has it */

static u_char *
ngx_gw_json_avx2_run(u_char *p, u_char *last)
{
    int      mask;
    __m256i  v, quote, backslash, space;

    quote = _mm256_set1_epi8('"');
    backslash = _mm256_set1_epi8('\\');
    space = _mm256_set1_epi8(0x20);

    while (last - p >= 32) {
        v = _mm256_loadu_si256((const __m256i *) p);

        mask = _mm256_movemask_epi8(
                   _mm256_or_si256(
                       _mm256_or_si256(_mm256_cmpeq_epi8(v, quote),
                                       _mm256_cmpeq_epi8(v, backslash)),
                       _mm256_cmpgt_epi8(space, v)));
        if (mask) {
            return p + __builtin_ctz(mask);
        }

        p += 32;
    }

    return ngx_gw_json_sse2_run(p, last);
}

#elif (NGX_GW_JSON_NEON)

/* the stop found by its nibble in a 64-bit mask: NEON has no movemask */

static u_char *
ngx_gw_json_neon_run(u_char *p, u_char *last)
{
    uint64_t    mask;
    uint8x16_t  v, stop;

    while (last - p >= 16) {
        v = vld1q_u8(p);

        stop = vorrq_u8(vorrq_u8(vceqq_u8(v, vdupq_n_u8('"')),
                                 vceqq_u8(v, vdupq_n_u8('\\'))),
                        vorrq_u8(vcltq_u8(v, vdupq_n_u8(0x20)),
                                 vcgeq_u8(v, vdupq_n_u8(0x80))));

        mask = vget_lane_u64(vreinterpret_u64_u8(
                   vshrn_n_u16(vreinterpretq_u16_u8(stop), 4)), 0);

        if (mask) {
            return p + (__builtin_ctzll(mask) >> 2);
        }

        p += 16;
    }

    return p;
}

#endif


/* see ngx_gw_json.h: the machine's MEMBER_NAME without its steps */

ngx_int_t
ngx_gw_json_next_name(ngx_gw_json_t *j, u_char **pos, u_char *last)
{
    return ngx_gw_json_name(j, pos, last);
}


/* see ngx_gw_json.h: MEMBER_NAME and a scalar's VALUE_END in one call */

ngx_int_t
ngx_gw_json_next_member(ngx_gw_json_t *j, u_char **pos, u_char *last)
{
    u_char  *p, *q;

    if (ngx_gw_json_name(j, pos, last) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* from here on, what is not taken is the caller's, after the name */

    p = ngx_gw_json_space_end(*pos, last);

    if (p == last || *p != ':') {
        return NGX_AGAIN;
    }

    p = ngx_gw_json_space_end(p + 1, last);

    if (p == last) {
        return NGX_AGAIN;
    }

    if (*p == '[') {
        q = ngx_gw_json_flat_array_end(j, p, last);

    } else {
        q = ngx_gw_json_scalar_end(j, p, last);
    }

    if (q == NULL) {
        return NGX_AGAIN;
    }

    j->event = NGX_GW_JSON_VALUE_END;
    j->mark = q;
    j->state = sw_after_value;

    *pos = q;

    return NGX_OK;
}


/*
 * The end of an array of scalars ("tags": ["a", "b"]), as the machine
 * would find it; NULL: an element is a container, or as for
 * ngx_gw_json_scalar_end()
 */

static u_char *
ngx_gw_json_flat_array_end(ngx_gw_json_t *j, u_char *p, u_char *last)
{
    u_char  *q;

    /* too deep an array is the machine's error, at the same byte */

    if (j->depth >= j->max_depth) {
        return NULL;
    }

    q = ngx_gw_json_space_end(p + 1, last);

    if (q < last && *q == ']') {
        goto done;
    }

    for ( ;; ) {
        if (q == last || *q == '[' || *q == '{') {
            return NULL;
        }

        q = ngx_gw_json_scalar_end(j, q, last);

        if (q == NULL) {
            return NULL;
        }

        q = ngx_gw_json_space_end(q, last);

        if (q == last) {
            return NULL;
        }

        if (*q == ']') {
            break;
        }

        if (*q != ',') {
            return NULL;
        }

        q = ngx_gw_json_space_end(q + 1, last);
    }

done:

    /* as the machine leaves the bit of a container it closed */

    j->objects[j->depth / 64] &= ~((uint64_t) 1 << (j->depth % 64));
    j->type = NGX_GW_JSON_ARRAY;

    return q + 1;
}


/* the name as ngx_gw_json_next_name() takes it, inline in its callers */

static NGX_GW_JSON_INLINE ngx_int_t
ngx_gw_json_name(ngx_gw_json_t *j, u_char **pos, u_char *last)
{
    u_char   *p;
#if (NGX_GW_JSON_SSE2)
    int       quote, stop;
    __m128i   v;
#endif

    p = *pos;

    switch (j->state) {

    case sw_after_value:

        if (j->depth == 0 || !ngx_gw_json_in_object(j)) {
            return NGX_DECLINED;
        }

        p = ngx_gw_json_space_end(p, last);

        if (p == last || *p != ',') {
            return NGX_DECLINED;
        }

        p++;
        break;

    case sw_name_or_object_end:
    case sw_name:
        break;

    default:
        return NGX_DECLINED;
    }

    p = ngx_gw_json_space_end(p, last);

    if (p == last || *p != '"') {
        return NGX_DECLINED;
    }

#if (NGX_GW_JSON_SSE2)

    if (last - p > 16) {

        /* the quote told from the other stops by its own mask: no load */

        v = _mm_loadu_si128((const __m128i *) (p + 1));
        quote = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        stop = quote
               | _mm_movemask_epi8(
                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));

        if (stop == 0) {
            return ngx_gw_json_name_run(j, pos, p, p + 17, last);
        }

        if (quote & stop & -stop) {
            return ngx_gw_json_name_take(j, pos, p,
                                         p + 1 + __builtin_ctz(stop));
        }

        return NGX_DECLINED;
    }

#endif

    return ngx_gw_json_name_run(j, pos, p, p + 1, last);
}


/*
 * The rest of a name longer than a vector, or near the end of the input:
 * out of the way of the common case, which then needs fewer registers
 */

static ngx_int_t
ngx_gw_json_name_run(ngx_gw_json_t *j, u_char **pos, u_char *quote,
    u_char *p, u_char *last)
{
    p = ngx_gw_json_plain_run(p, last);

    if (p == last || *p != '"') {
        return NGX_DECLINED;
    }

    return ngx_gw_json_name_take(j, pos, quote, p);
}


/* the name between the quotes at p and q */

static NGX_GW_JSON_INLINE ngx_int_t
ngx_gw_json_name_take(ngx_gw_json_t *j, u_char **pos, u_char *p, u_char *q)
{
    if ((size_t) (q - p - 1) > j->name_cap) {
        return NGX_DECLINED;
    }

    if (j->name_in_input) {
        j->name.data = p + 1;

    } else if (q - p - 1) {

        /* where the machine writes it: a caller may move name.data */
        ngx_memcpy(j->name.data, p + 1, q - p - 1);
    }

    j->name.len = q - p - 1;
    j->name_truncated = 0;
    j->after_string = sw_colon;
    j->state = sw_colon;
    j->event = NGX_GW_JSON_MEMBER_NAME;
    j->level = j->depth;
    j->mark = q + 1;

    *pos = q + 1;

    return NGX_OK;
}


/*
 * see ngx_gw_json.h: between two values of a container, the machine's
 * VALUE_END of the container or VALUE_START of the next element without
 * its steps.  Only brackets are taken: a scalar element is the machine's,
 * as are what follows the top-level value (NGX_DONE's business) and a
 * quiet value (whose events are not said).
 */

ngx_int_t
ngx_gw_json_next_bracket(ngx_gw_json_t *j, u_char **pos, u_char *last)
{
    u_char      *p;
    ngx_uint_t   object;

    if (j->state != sw_after_value || j->depth == 0 || j->quiet) {
        return NGX_DECLINED;
    }

    p = ngx_gw_json_space_end(*pos, last);

    if (p == last) {
        return NGX_DECLINED;
    }

    object = ngx_gw_json_in_object(j);

    if (*p == (object ? '}' : ']')) {
        j->type = object ? NGX_GW_JSON_OBJECT : NGX_GW_JSON_ARRAY;
        j->depth--;
        j->event = NGX_GW_JSON_VALUE_END;
        j->level = j->depth;
        j->mark = p + 1;

        *pos = p + 1;

        return NGX_OK;
    }

    /* an object's next member is ngx_gw_json_next_name()'s */

    if (object || *p != ',') {
        return NGX_DECLINED;
    }

    p = ngx_gw_json_space_end(p + 1, last);

    /* too deep a bracket is the machine's error, at the same byte */

    if (p == last || (*p != '{' && *p != '[') || j->depth >= j->max_depth) {
        return NGX_DECLINED;
    }

    (void) ngx_gw_json_value_start(j, p);

    *pos = p + 1;

    return NGX_OK;
}


/*
 * The inside of a quiet value, where nobody listens to events: whole
 * tokens are checked as the state machine checks them, but in a loop of
 * their own, with strings scanned by the vector run.  Anything it does not
 * take on (a token cut by the end of the input, an escape it does not
 * check, a byte that is an error) stops it at the start of that token, in
 * the state the machine would have there, and the machine goes on from
 * it: errors are found by the machine, at the same byte.  NGX_OK: the
 * quiet value ended, its VALUE_END is in j; NGX_AGAIN: *pos and j->state
 * say where to go on.
 */

ngx_int_t
ngx_gw_json_skip(ngx_gw_json_t *j, u_char **pos, u_char *last)
{
    u_char      *p, *q, ch;
    uint64_t     bit;
    ngx_uint_t   state, depth;

    p = *pos;
    state = j->state;
    depth = j->depth;

    /* inside a token the machine goes on, even where it is whitespace */

    switch (state) {
    case sw_value:
    case sw_value_or_array_end:
    case sw_name_or_object_end:
    case sw_name:
    case sw_colon:
    case sw_after_value:
        break;
    default:
        return NGX_AGAIN;
    }

    for ( ;; ) {

        p = ngx_gw_json_space_end(p, last);

        if (p == last) {
            goto stop;
        }

        ch = *p;

        switch (state) {

        case sw_after_value:

            if (depth == 0) {
                goto stop;
            }

            if (ch == ',') {
                p++;
                state = (j->objects[(depth - 1) / 64] >> ((depth - 1) % 64)
                         & 1) ? sw_name : sw_value;
                continue;
            }

            if (ch == ((j->objects[(depth - 1) / 64] >> ((depth - 1) % 64)
                        & 1) ? '}' : ']'))
            {
                goto close;
            }

            goto stop;

        case sw_colon:

            if (ch != ':') {
                goto stop;
            }

            p++;
            state = sw_value;
            continue;

        case sw_name_or_object_end:

            if (ch == '}') {
                goto close;
            }

            /* fall through */

        case sw_name:

            if (ch != '"') {
                goto stop;
            }

            break;

        case sw_value_or_array_end:

            if (ch == ']') {
                goto close;
            }

            /* fall through */

        case sw_value:

            switch (ch) {

            case '{':
            case '[':
                if (depth >= j->max_depth) {
                    goto stop;
                }

                bit = (uint64_t) 1 << (depth % 64);

                if (ch == '{') {
                    j->objects[depth / 64] |= bit;
                    state = sw_name_or_object_end;

                } else {
                    j->objects[depth / 64] &= ~bit;
                    state = sw_value_or_array_end;
                }

                depth++;
                p++;
                continue;

            default:
                q = ngx_gw_json_scalar_end(j, p, last);

                if (q == NULL) {
                    goto stop;
                }

                goto value_end;
            }

        default:
            goto stop;
        }

        /* a name, whole or not at all */

        q = ngx_gw_json_string_end(j, p + 1, last);

        if (q == NULL) {
            goto stop;
        }

        p = q + 1;
        state = sw_colon;
        continue;

    close:

        depth--;
        j->type = (ch == '}') ? NGX_GW_JSON_OBJECT : NGX_GW_JSON_ARRAY;
        q = p + 1;

    value_end:

        if (depth == j->quiet_level) {
            j->event = NGX_GW_JSON_VALUE_END;
            j->level = depth;
            j->mark = q;
            j->quiet = 0;
            j->state = sw_after_value;
            j->depth = depth;
            *pos = q;
            return NGX_OK;
        }

        p = q;
        state = sw_after_value;
    }

stop:

    j->state = state;
    j->depth = depth;
    *pos = p;

    return NGX_AGAIN;
}


/*
 * The end of the scalar value at p, checked as the machine checks it, its
 * type in j; NULL: a container, or where the machine must take over (a
 * token cut by the end of the input, one the machine checks itself, an
 * error).  A number needs the byte after it: it could go on.
 */

static NGX_GW_JSON_INLINE u_char *
ngx_gw_json_scalar_end(ngx_gw_json_t *j, u_char *p, u_char *last)
{
    u_char      *q;
    const char  *literal;

    switch (*p) {

    case '"':
        q = ngx_gw_json_string_end(j, p + 1, last);

        if (q == NULL) {
            return NULL;
        }

        j->type = NGX_GW_JSON_STRING;
        return q + 1;

    case 't':
    case 'n':
        literal = (*p == 't') ? "true" : "null";

        if (last - p < 4 || ngx_memcmp(p, literal, 4) != 0) {
            return NULL;
        }

        j->type = (*p == 't') ? NGX_GW_JSON_TRUE : NGX_GW_JSON_NULL;
        return p + 4;

    case 'f':
        if (last - p < 5 || ngx_memcmp(p, "false", 5) != 0) {
            return NULL;
        }

        j->type = NGX_GW_JSON_FALSE;
        return p + 5;
    }

    q = p;

    if (*q == '-') {
        q++;
    }

    if (q < last && *q == '0') {
        q++;

    } else if (q < last && *q >= '1' && *q <= '9') {
        do { q++; } while (q < last && *q >= '0' && *q <= '9');

    } else {
        return NULL;
    }

    if (q < last && *q == '.') {
        q++;

        if (q == last || *q < '0' || *q > '9') {
            return NULL;
        }

        do { q++; } while (q < last && *q >= '0' && *q <= '9');
    }

    if (q < last && (*q == 'e' || *q == 'E')) {
        q++;

        if (q < last && (*q == '+' || *q == '-')) {
            q++;
        }

        if (q == last || *q < '0' || *q > '9') {
            return NULL;
        }

        do { q++; } while (q < last && *q >= '0' && *q <= '9');
    }

    if (q == last
        || !(*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'
             || *q == ',' || *q == ']' || *q == '}'))
    {
        return NULL;
    }

    j->type = NGX_GW_JSON_NUMBER;

    return q;
}


/*
 * The closing quote of a string whose first character is at q, checked as
 * the machine checks it; NULL where the machine must take over.  Most
 * strings are plain to their end: the rest is out of the callers' way.
 */

static NGX_GW_JSON_INLINE u_char *
ngx_gw_json_string_end(ngx_gw_json_t *j, u_char *q, u_char *last)
{
    q = ngx_gw_json_plain_run(q, last);

    if (q < last && *q == '"') {
        return q;
    }

    return ngx_gw_json_string_rest(j, q, last);
}


static u_char *
ngx_gw_json_string_rest(ngx_gw_json_t *j, u_char *q, u_char *last)
{
    u_char      ch, lo, hi;
    uint32_t    cp;
    ngx_uint_t  n, i;

    for ( ;; ) {
        q = ngx_gw_json_plain_run(q, last);

        if (q == last) {
            return NULL;
        }

        ch = *q;

        if (ch == '"') {
            return q;
        }

        if (ch == '\\') {
            if (last - q < 2) {
                return NULL;
            }

            switch (q[1]) {
            case '"': case '\\': case '/': case 'b': case 'f':
            case 'n': case 'r': case 't':
                q += 2;
                continue;

            case 'u':
                break;

            default:
                return NULL;
            }

            /* pairs of surrogates are left to the machine */

            if (last - q < 6) {
                return NULL;
            }

            cp = 0;

            for (i = 2; i < 6; i++) {
                ch = q[i];

                if (ch >= '0' && ch <= '9') {
                    cp = (cp << 4) | (ch - '0');

                } else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f') {
                    cp = (cp << 4) | ((ch | 0x20) - 'a' + 10);

                } else {
                    return NULL;
                }
            }

            if (cp >= 0xd800 && cp <= 0xdfff && !j->lone_surrogates) {
                return NULL;
            }

            /* a lone surrogate's next byte: any the string may hold */

            q += 6;
            continue;
        }

        if (ch < 0x80) {
            return NULL;
        }

        /* UTF-8, the ranges of the machine, whole characters only */

        lo = 0x80;
        hi = 0xbf;

        if (ch >= 0xc2 && ch <= 0xdf) {
            n = 1;

        } else if (ch >= 0xe0 && ch <= 0xef) {
            n = 2;
            lo = (ch == 0xe0) ? 0xa0 : 0x80;
            hi = (ch == 0xed) ? 0x9f : 0xbf;

        } else if (ch >= 0xf0 && ch <= 0xf4) {
            n = 3;
            lo = (ch == 0xf0) ? 0x90 : 0x80;
            hi = (ch == 0xf4) ? 0x8f : 0xbf;

        } else {
            return NULL;
        }

        if ((size_t) (last - q) <= n || q[1] < lo || q[1] > hi) {
            return NULL;
        }

        for (i = 2; i <= n; i++) {
            if (q[i] < 0x80 || q[i] > 0xbf) {
                return NULL;
            }
        }

        q += n + 1;
    }
}


static ngx_int_t
ngx_gw_json_value_start(ngx_gw_json_t *j, u_char *p)
{
    j->event = NGX_GW_JSON_VALUE_START;
    j->level = j->depth;
    j->mark = p;

    switch (*p) {

    case '{':
        j->type = NGX_GW_JSON_OBJECT;
        return ngx_gw_json_open(j, p, 1);

    case '[':
        j->type = NGX_GW_JSON_ARRAY;
        return ngx_gw_json_open(j, p, 0);

    case '"':
        j->type = NGX_GW_JSON_STRING;
        j->after_string = sw_after_value;
        j->state = sw_string;
        return NGX_OK;

    case '-':
        j->type = NGX_GW_JSON_NUMBER;
        j->state = sw_minus;
        return NGX_OK;

    case '0':
        j->type = NGX_GW_JSON_NUMBER;
        j->state = sw_zero;
        return NGX_OK;

    case '1': case '2': case '3': case '4': case '5':
    case '6': case '7': case '8': case '9':
        j->type = NGX_GW_JSON_NUMBER;
        j->state = sw_integer;
        return NGX_OK;

    case 't':
        j->type = NGX_GW_JSON_TRUE;
        j->literal = ngx_gw_json_true;
        j->state = sw_literal;
        return NGX_OK;

    case 'f':
        j->type = NGX_GW_JSON_FALSE;
        j->literal = ngx_gw_json_false;
        j->state = sw_literal;
        return NGX_OK;

    case 'n':
        j->type = NGX_GW_JSON_NULL;
        j->literal = ngx_gw_json_null;
        j->state = sw_literal;
        return NGX_OK;
    }

    j->error = "value expected";

    return NGX_ERROR;
}


static ngx_int_t
ngx_gw_json_open(ngx_gw_json_t *j, u_char *p, ngx_uint_t object)
{
    uint64_t  bit;

    if (j->depth >= j->max_depth) {
        j->error = "nesting too deep";
        return NGX_ERROR;
    }

    bit = (uint64_t) 1 << (j->depth % 64);

    if (object) {
        j->objects[j->depth / 64] |= bit;
        j->state = sw_name_or_object_end;

    } else {
        j->objects[j->depth / 64] &= ~bit;
        j->state = sw_value_or_array_end;
    }

    j->depth++;

    return NGX_OK;
}


static void
ngx_gw_json_name_add(ngx_gw_json_t *j, uint32_t cp)
{
    u_char  utf8[4];
    size_t  n;

    if (cp < 0x80) {
        utf8[0] = (u_char) cp;
        n = 1;

    } else if (cp < 0x800) {
        utf8[0] = (u_char) (0xc0 | (cp >> 6));
        utf8[1] = (u_char) (0x80 | (cp & 0x3f));
        n = 2;

    } else if (cp < 0x10000) {
        utf8[0] = (u_char) (0xe0 | (cp >> 12));
        utf8[1] = (u_char) (0x80 | ((cp >> 6) & 0x3f));
        utf8[2] = (u_char) (0x80 | (cp & 0x3f));
        n = 3;

    } else {
        utf8[0] = (u_char) (0xf0 | (cp >> 18));
        utf8[1] = (u_char) (0x80 | ((cp >> 12) & 0x3f));
        utf8[2] = (u_char) (0x80 | ((cp >> 6) & 0x3f));
        utf8[3] = (u_char) (0x80 | (cp & 0x3f));
        n = 4;
    }

    if (j->name_truncated || j->name.len + n > j->name_cap) {
        j->name_truncated = 1;
        return;
    }

    ngx_memcpy(j->name.data + j->name.len, utf8, n);
    j->name.len += n;
}


static void
ngx_gw_json_name_append(ngx_gw_json_t *j, u_char *text, size_t len)
{
    size_t  n;

    /* a name too long keeps its first bytes, wherever the input was split */

    if (j->name_truncated) {
        return;
    }

    n = ngx_min(len, j->name_cap - j->name.len);

    if (n) {
        ngx_memcpy(j->name.data + j->name.len, text, n);
        j->name.len += n;
    }

    if (n < len) {
        j->name_truncated = 1;
    }
}


static ngx_int_t
ngx_gw_json_error(ngx_gw_json_t *j, u_char **pos, u_char *p,
    const char *error)
{
    j->error = error;
    *pos = p;

    return NGX_ERROR;
}


u_char *
ngx_gw_json_unescape(u_char *dst, u_char *src, size_t len)
{
    u_char    *last, ch;
    uint32_t   cp, low;

    last = src + len;

    while (src < last) {
        ch = *src++;

        if (ch != '\\') {
            *dst++ = ch;
            continue;
        }

        ch = *src++;

        switch (ch) {
        case 'b':
            *dst++ = '\b';
            continue;
        case 'f':
            *dst++ = '\f';
            continue;
        case 'n':
            *dst++ = '\n';
            continue;
        case 'r':
            *dst++ = '\r';
            continue;
        case 't':
            *dst++ = '\t';
            continue;
        case 'u':
            break;
        default:
            *dst++ = ch;
            continue;
        }

        cp = ngx_gw_json_hex4(src);
        src += 4;

        /*
         * a high surrogate pairs with a low one right after it, as in the
         * tokenizer, which let through four hex digits after each "\\u"
         */

        if (cp >= 0xd800 && cp <= 0xdbff
            && last - src >= 6 && src[0] == '\\' && src[1] == 'u')
        {
            low = ngx_gw_json_hex4(src + 2);

            if (low >= 0xdc00 && low <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                src += 6;
            }
        }

        if (cp < 0x80) {
            *dst++ = (u_char) cp;

        } else if (cp < 0x800) {
            *dst++ = (u_char) (0xc0 | (cp >> 6));
            *dst++ = (u_char) (0x80 | (cp & 0x3f));

        } else if (cp < 0x10000) {
            *dst++ = (u_char) (0xe0 | (cp >> 12));
            *dst++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
            *dst++ = (u_char) (0x80 | (cp & 0x3f));

        } else {
            *dst++ = (u_char) (0xf0 | (cp >> 18));
            *dst++ = (u_char) (0x80 | ((cp >> 12) & 0x3f));
            *dst++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
            *dst++ = (u_char) (0x80 | (cp & 0x3f));
        }
    }

    return dst;
}


static uint32_t
ngx_gw_json_hex4(u_char *p)
{
    u_char      ch;
    uint32_t    cp;
    ngx_uint_t  i;

    cp = 0;

    for (i = 0; i < 4; i++) {
        ch = p[i];
        cp = (cp << 4)
             | ((ch <= '9') ? (uint32_t) (ch - '0')
                            : (uint32_t) ((ch | 0x20) - 'a' + 10));
    }

    return cp;
}
