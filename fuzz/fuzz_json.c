
/*
 * libFuzzer target for the resumable JSON tokenizer (ngx_gw_json.c) and
 * what ngx_gw_json_object.c makes of a document in memory.
 *
 * Input: two control bytes, then the document.
 *
 *   byte 0, bits 0-3   nesting limit, from fz_depths[] ('0': 256)
 *   byte 0, bits 4-6   member name buffer, from fz_caps[] (digits: as long
 *                      as the document)
 *   byte 0, bit 7      name_in_input: names may point into the piece
 *   byte 1             seed for the split points; its bit 7 sets
 *                      lone_surrogates
 *
 * The document is tokenized whole, one byte at a time, in pieces whose
 * sizes the seed picks (empty pieces included) and in two pieces cut at
 * an offset the seed picks.  Every piece lives in its own malloc()ed
 * buffer that is freed as soon as the tokenizer has consumed it, so a
 * read past a piece or a pointer kept into one is an ASan report.  The
 * runs must give the same events (event, type, level, depth, mark offset
 * in the whole document, member name) and the same verdict.  Of a member
 * name longer than the name buffer only name_truncated is compared: what
 * the buffer then holds is left open by ngx_gw_json.h, so the target
 * checks only that it is whole characters from the start of the name.
 *
 * An independent recursive descent parser written from RFC 8259 and RFC
 * 3629 gives the expected events, the expected verdict and error offset
 * (the first byte no valid document can continue with), the unescaped
 * strings, and the top-level members; ngx_gw_json_unescape() and
 * ngx_gw_json_object_members() (which refuses unpaired surrogates) are
 * checked against it.  Each member is found again by ngx_gw_json_member(),
 * its text is checked as ngx_gw_json_member_text() promises, and an
 * array's elements, walked by ngx_gw_json_element(), must be what lies
 * between its brackets and commas.
 *
 * Then values are made quiet as json_filter and aggregate make them (the
 * seed picks which), and the fast paths (ngx_gw_json_fast: the skipping
 * of quiet values, the vector scans) must give the events and the verdict
 * of the machine alone, whole, a byte at a time and cut in two at every
 * offset.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gw_json.h"
#include "ngx_fuzz.h"


/* inputs up to this long are cut in two at every offset, longer ones at
 * the first offsets only */
#define FZ_EVERY_CUT  1024

#define FZ_NAME_NULL  ((size_t) -1)        /* no name buffer at all */
#define FZ_NAME_DOC   ((size_t) -2)        /* as long as the document */


typedef struct {
    void      *elts;
    size_t     nelts;
    size_t     nalloc;
    size_t     size;
} fz_vec_t;


typedef struct {
    ngx_uint_t   event;
    ngx_uint_t   type;         /* 0 for member name events */
    size_t       level;
    size_t       depth;
    size_t       mark;         /* offset in the whole document */
    size_t       name;         /* offset of the name in the names vector */
    size_t       name_len;
    ngx_uint_t   truncated;
    size_t       raw;          /* expected only: offset of the open quote */
    size_t       text;         /* expected only: unescaped string value */
    size_t       text_len;
} fz_event_t;


typedef struct {
    ngx_int_t    rc;           /* NGX_DONE or NGX_ERROR */
    size_t       offset;       /* of the error: the end for ..._finish() */
    const char  *error;
} fz_verdict_t;


typedef struct {
    fz_vec_t     events;       /* of fz_event_t */
    fz_vec_t     names;        /* of u_char */
    fz_verdict_t verdict;
} fz_run_t;


typedef struct {
    size_t       name;         /* offset in ref->text */
    size_t       name_len;
    ngx_uint_t   type;
    size_t       start;
    size_t       end;
} fz_member_t;


/* the reference parser */

typedef struct {
    const u_char  *s;
    size_t         len;
    size_t         pos;
    size_t         max_depth;
    size_t         depth;
    ngx_uint_t     lone;       /* unpaired surrogates are valid */
    size_t         error;
    ngx_uint_t     duplicate;
    ngx_uint_t     top_type;
    fz_vec_t       events;     /* of fz_event_t */
    fz_vec_t       text;       /* of u_char: unescaped strings */
    fz_vec_t       members;    /* of fz_member_t: the top-level ones */
} fz_ref_t;


typedef struct {
    size_t         off;
    size_t         len;
    const u_char  *base;
} fz_name_t;


static const size_t  fz_depths[16] = {
    256, 1, 2, 3, 4, 5, 6, 7, 8, 16, 0, 15, 64, 255, 257, 100000
};

static const size_t  fz_caps[8] = {
    FZ_NAME_NULL, 0, 1, FZ_NAME_DOC, 2, 3, 5, 16
};


static void *
fz_push(fz_vec_t *v)
{
    void  *p;

    if (v->nelts == v->nalloc) {
        v->nalloc = v->nalloc ? 2 * v->nalloc : 16;
        v->elts = realloc(v->elts, v->nalloc * v->size);
        ngx_fuzz_assert(v->elts != NULL);
    }

    p = (u_char *) v->elts + v->nelts * v->size;
    v->nelts++;

    memset(p, 0, v->size);

    return p;
}


static void
fz_append(fz_vec_t *v, const u_char *data, size_t len)
{
    while (len--) {
        *(u_char *) fz_push(v) = *data++;
    }
}


static void
fz_vec_init(fz_vec_t *v, size_t size)
{
    memset(v, 0, sizeof(fz_vec_t));
    v->size = size;
}


static void
fz_vec_free(fz_vec_t *v)
{
    free(v->elts);
    v->elts = NULL;
}


static size_t
fz_utf8(u_char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (u_char) cp;
        return 1;
    }

    if (cp < 0x800) {
        p[0] = (u_char) (0xc0 | (cp >> 6));
        p[1] = (u_char) (0x80 | (cp & 0x3f));
        return 2;
    }

    if (cp < 0x10000) {
        p[0] = (u_char) (0xe0 | (cp >> 12));
        p[1] = (u_char) (0x80 | ((cp >> 6) & 0x3f));
        p[2] = (u_char) (0x80 | (cp & 0x3f));
        return 3;
    }

    p[0] = (u_char) (0xf0 | (cp >> 18));
    p[1] = (u_char) (0x80 | ((cp >> 12) & 0x3f));
    p[2] = (u_char) (0x80 | ((cp >> 6) & 0x3f));
    p[3] = (u_char) (0x80 | (cp & 0x3f));
    return 4;
}


/*
 * The reference parser: each function leaves ref->pos after what it read,
 * or returns -1 with ref->error at the first byte that cannot continue a
 * valid document (the length of the document if it ended too soon).
 */

static int
fz_ref_fail(fz_ref_t *ref, size_t offset)
{
    ref->error = offset;
    return -1;
}


static void
fz_ref_ws(fz_ref_t *ref)
{
    while (ref->pos < ref->len
           && (ref->s[ref->pos] == ' ' || ref->s[ref->pos] == '\t'
               || ref->s[ref->pos] == '\r' || ref->s[ref->pos] == '\n'))
    {
        ref->pos++;
    }
}


static fz_event_t *
fz_ref_event(fz_ref_t *ref, ngx_uint_t event, ngx_uint_t type, size_t level,
    size_t mark)
{
    fz_event_t  *ev;

    ev = fz_push(&ref->events);
    ev->event = event;
    ev->type = type;
    ev->level = level;
    ev->mark = mark;

    /* containers are open while their contents are read */
    ev->depth = (event == NGX_GW_JSON_VALUE_START
                 && (type == NGX_GW_JSON_OBJECT || type == NGX_GW_JSON_ARRAY))
                ? level + 1 : level;

    return ev;
}


static int
fz_ref_hex4(fz_ref_t *ref, uint32_t *cp)
{
    u_char      ch;
    ngx_uint_t  i;

    *cp = 0;

    for (i = 0; i < 4; i++) {
        if (ref->pos == ref->len) {
            return fz_ref_fail(ref, ref->len);
        }

        ch = ref->s[ref->pos];

        if (ch >= '0' && ch <= '9') {
            *cp = *cp << 4 | (uint32_t) (ch - '0');

        } else if (ch >= 'a' && ch <= 'f') {
            *cp = *cp << 4 | (uint32_t) (ch - 'a' + 10);

        } else if (ch >= 'A' && ch <= 'F') {
            *cp = *cp << 4 | (uint32_t) (ch - 'A' + 10);

        } else {
            return fz_ref_fail(ref, ref->pos);
        }

        ref->pos++;
    }

    return 0;
}


static int
fz_ref_expect(fz_ref_t *ref, u_char ch)
{
    if (ref->pos == ref->len) {
        return fz_ref_fail(ref, ref->len);
    }

    if (ref->s[ref->pos] != ch) {
        return fz_ref_fail(ref, ref->pos);
    }

    ref->pos++;

    return 0;
}


/* a string at ref->pos; its unescaped text is appended to ref->text */

static int
fz_ref_string(fz_ref_t *ref)
{
    u_char      ch, lo, hi, utf8[4];
    uint32_t    cp, low;
    ngx_uint_t  n, i;

    ref->pos++;

    for ( ;; ) {
        if (ref->pos == ref->len) {
            return fz_ref_fail(ref, ref->len);
        }

        ch = ref->s[ref->pos];

        if (ch == '"') {
            ref->pos++;
            return 0;
        }

        if (ch == '\\') {
            ref->pos++;

            if (ref->pos == ref->len) {
                return fz_ref_fail(ref, ref->len);
            }

            ch = ref->s[ref->pos++];

            switch (ch) {
            case '"': case '\\': case '/':
                break;
            case 'b':
                ch = 0x08;
                break;
            case 'f':
                ch = 0x0c;
                break;
            case 'n':
                ch = 0x0a;
                break;
            case 'r':
                ch = 0x0d;
                break;
            case 't':
                ch = 0x09;
                break;

            case 'u':
                if (fz_ref_hex4(ref, &cp) != 0) {
                    return -1;
                }

                if (cp >= 0xd800 && cp <= 0xdbff && ref->lone) {

                    /*
                     * a pair if a low surrogate's escape follows at once,
                     * else the high one alone, and what follows is read
                     * as if it came first
                     */

                    if (ref->len - ref->pos >= 2
                        && ref->s[ref->pos] == '\\'
                        && ref->s[ref->pos + 1] == 'u')
                    {
                        ref->pos += 2;

                        if (fz_ref_hex4(ref, &low) != 0) {
                            return -1;
                        }

                        if (low >= 0xdc00 && low <= 0xdfff) {
                            cp = 0x10000 + ((cp - 0xd800) << 10)
                                 + (low - 0xdc00);
                            fz_append(&ref->text, utf8, fz_utf8(utf8, cp));
                            continue;
                        }

                        ref->pos -= 6;
                    }

                    fz_append(&ref->text, utf8, fz_utf8(utf8, cp));
                    continue;
                }

                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (fz_ref_expect(ref, '\\') != 0
                        || fz_ref_expect(ref, 'u') != 0
                        || fz_ref_hex4(ref, &low) != 0)
                    {
                        return -1;
                    }

                    if (low < 0xdc00 || low > 0xdfff) {
                        /* the error is on the escape's last digit */
                        return fz_ref_fail(ref, ref->pos - 1);
                    }

                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);

                } else if (cp >= 0xdc00 && cp <= 0xdfff && !ref->lone) {
                    return fz_ref_fail(ref, ref->pos - 1);
                }

                fz_append(&ref->text, utf8, fz_utf8(utf8, cp));
                continue;

            default:
                return fz_ref_fail(ref, ref->pos - 1);
            }

            fz_append(&ref->text, &ch, 1);
            continue;
        }

        if (ch < 0x20) {
            return fz_ref_fail(ref, ref->pos);
        }

        if (ch < 0x80) {
            fz_append(&ref->text, &ch, 1);
            ref->pos++;
            continue;
        }

        /* RFC 3629, 4: the well-formed byte sequences */

        lo = 0x80;
        hi = 0xbf;

        if (ch >= 0xc2 && ch <= 0xdf) {
            n = 1;

        } else if (ch == 0xe0) {
            n = 2;
            lo = 0xa0;

        } else if (ch == 0xed) {
            n = 2;
            hi = 0x9f;

        } else if (ch >= 0xe1 && ch <= 0xef) {
            n = 2;

        } else if (ch == 0xf0) {
            n = 3;
            lo = 0x90;

        } else if (ch == 0xf4) {
            n = 3;
            hi = 0x8f;

        } else if (ch >= 0xf1 && ch <= 0xf3) {
            n = 3;

        } else {
            return fz_ref_fail(ref, ref->pos);
        }

        fz_append(&ref->text, &ch, 1);
        ref->pos++;

        for (i = 0; i < n; i++) {
            if (ref->pos == ref->len) {
                return fz_ref_fail(ref, ref->len);
            }

            ch = ref->s[ref->pos];

            if (ch < lo || ch > hi) {
                return fz_ref_fail(ref, ref->pos);
            }

            fz_append(&ref->text, &ch, 1);
            ref->pos++;
            lo = 0x80;
            hi = 0xbf;
        }
    }
}


static int ngx_libc_cdecl
fz_name_cmp(const void *one, const void *two)
{
    const fz_name_t  *a = one;
    const fz_name_t  *b = two;

    if (a->len != b->len) {
        return (a->len < b->len) ? -1 : 1;
    }

    return a->len ? memcmp(a->base + a->off, b->base + b->off, a->len) : 0;
}


static int
fz_ref_digits(fz_ref_t *ref)
{
    if (ref->pos == ref->len) {
        return fz_ref_fail(ref, ref->len);
    }

    if (ref->s[ref->pos] < '0' || ref->s[ref->pos] > '9') {
        return fz_ref_fail(ref, ref->pos);
    }

    while (ref->pos < ref->len
           && ref->s[ref->pos] >= '0' && ref->s[ref->pos] <= '9')
    {
        ref->pos++;
    }

    return 0;
}


static int
fz_ref_value(fz_ref_t *ref, size_t level, ngx_uint_t *type, size_t *start,
    size_t *end)
{
    u_char          ch;
    size_t          i, text, raw, nstart, nend;
    fz_vec_t        names;
    fz_event_t     *ev;
    fz_name_t      *name;
    fz_member_t    *member;
    const char     *literal;
    ngx_uint_t      vtype, t;

    if (ref->pos == ref->len) {
        return fz_ref_fail(ref, ref->len);
    }

    ch = ref->s[ref->pos];
    *start = ref->pos;

    switch (ch) {

    case '{':
    case '[':
        t = (ch == '{') ? NGX_GW_JSON_OBJECT : NGX_GW_JSON_ARRAY;
        *type = t;

        if (ref->depth >= ref->max_depth) {
            return fz_ref_fail(ref, ref->pos);
        }

        fz_ref_event(ref, NGX_GW_JSON_VALUE_START, t, level, ref->pos);
        ref->depth++;
        ref->pos++;

        fz_vec_init(&names, sizeof(fz_name_t));

        fz_ref_ws(ref);

        if (ref->pos == ref->len) {
            return fz_ref_fail(ref, ref->len);
        }

        if (ref->s[ref->pos] != (t == NGX_GW_JSON_OBJECT ? '}' : ']')) {

            for ( ;; ) {

                if (t == NGX_GW_JSON_OBJECT) {
                    if (ref->pos == ref->len) {
                        fz_vec_free(&names);
                        return fz_ref_fail(ref, ref->len);
                    }

                    if (ref->s[ref->pos] != '"') {
                        fz_vec_free(&names);
                        return fz_ref_fail(ref, ref->pos);
                    }

                    raw = ref->pos;
                    text = ref->text.nelts;

                    if (fz_ref_string(ref) != 0) {
                        fz_vec_free(&names);
                        return -1;
                    }

                    ev = fz_ref_event(ref, NGX_GW_JSON_MEMBER_NAME, 0,
                                      level + 1, ref->pos);
                    ev->raw = raw;
                    ev->text = text;
                    ev->text_len = ref->text.nelts - text;

                    name = fz_push(&names);
                    name->off = text;
                    name->len = ev->text_len;

                    fz_ref_ws(ref);

                    if (fz_ref_expect(ref, ':') != 0) {
                        fz_vec_free(&names);
                        return -1;
                    }

                    fz_ref_ws(ref);
                }

                if (fz_ref_value(ref, level + 1, &vtype, &nstart, &nend)
                    != 0)
                {
                    fz_vec_free(&names);
                    return -1;
                }

                if (t == NGX_GW_JSON_OBJECT && level == 0) {
                    member = fz_push(&ref->members);
                    name = (fz_name_t *) names.elts + names.nelts - 1;
                    member->name = name->off;
                    member->name_len = name->len;
                    member->type = vtype;
                    member->start = nstart;
                    member->end = nend;
                }

                fz_ref_ws(ref);

                if (ref->pos == ref->len) {
                    fz_vec_free(&names);
                    return fz_ref_fail(ref, ref->len);
                }

                ch = ref->s[ref->pos];

                if (ch == ',') {
                    ref->pos++;
                    fz_ref_ws(ref);
                    continue;
                }

                if (ch == (t == NGX_GW_JSON_OBJECT ? '}' : ']')) {
                    break;
                }

                fz_vec_free(&names);
                return fz_ref_fail(ref, ref->pos);
            }
        }

        /* duplicate names at any depth, as the object closes */

        if (names.nelts > 1) {
            name = names.elts;

            for (i = 0; i < names.nelts; i++) {
                name[i].base = ref->text.elts;
            }

            qsort(name, names.nelts, sizeof(fz_name_t), fz_name_cmp);

            for (i = 1; i < names.nelts; i++) {
                if (fz_name_cmp(&name[i - 1], &name[i]) == 0) {
                    ref->duplicate = 1;
                }
            }
        }

        fz_vec_free(&names);

        ref->depth--;
        ref->pos++;
        *end = ref->pos;
        fz_ref_event(ref, NGX_GW_JSON_VALUE_END, t, level, ref->pos);

        return 0;

    case '"':
        *type = NGX_GW_JSON_STRING;
        fz_ref_event(ref, NGX_GW_JSON_VALUE_START, NGX_GW_JSON_STRING, level,
                     ref->pos);

        text = ref->text.nelts;

        if (fz_ref_string(ref) != 0) {
            return -1;
        }

        *end = ref->pos;
        ev = fz_ref_event(ref, NGX_GW_JSON_VALUE_END, NGX_GW_JSON_STRING,
                          level, ref->pos);
        ev->raw = *start;
        ev->text = text;
        ev->text_len = ref->text.nelts - text;

        return 0;

    case 't':
    case 'f':
    case 'n':
        literal = (ch == 't') ? "true" : (ch == 'f') ? "false" : "null";
        *type = (ch == 't') ? NGX_GW_JSON_TRUE
                : (ch == 'f') ? NGX_GW_JSON_FALSE : NGX_GW_JSON_NULL;

        fz_ref_event(ref, NGX_GW_JSON_VALUE_START, *type, level, ref->pos);

        for (i = 0; literal[i]; i++) {
            if (fz_ref_expect(ref, (u_char) literal[i]) != 0) {
                return -1;
            }
        }

        *end = ref->pos;
        fz_ref_event(ref, NGX_GW_JSON_VALUE_END, *type, level, ref->pos);

        return 0;
    }

    if (ch != '-' && (ch < '0' || ch > '9')) {
        return fz_ref_fail(ref, ref->pos);
    }

    /* number = [ minus ] int [ frac ] [ exp ] */

    *type = NGX_GW_JSON_NUMBER;
    fz_ref_event(ref, NGX_GW_JSON_VALUE_START, NGX_GW_JSON_NUMBER, level,
                 ref->pos);

    if (ch == '-') {
        ref->pos++;
    }

    if (ref->pos < ref->len && ref->s[ref->pos] == '0') {
        ref->pos++;

    } else if (ref->pos < ref->len
               && ref->s[ref->pos] >= '1' && ref->s[ref->pos] <= '9')
    {
        (void) fz_ref_digits(ref);

    } else {
        return fz_ref_fail(ref, ref->pos);
    }

    if (ref->pos < ref->len && ref->s[ref->pos] == '.') {
        ref->pos++;

        if (fz_ref_digits(ref) != 0) {
            return -1;
        }
    }

    if (ref->pos < ref->len
        && (ref->s[ref->pos] == 'e' || ref->s[ref->pos] == 'E'))
    {
        ref->pos++;

        if (ref->pos < ref->len
            && (ref->s[ref->pos] == '+' || ref->s[ref->pos] == '-'))
        {
            ref->pos++;
        }

        if (fz_ref_digits(ref) != 0) {
            return -1;
        }
    }

    /*
     * Only a top-level number may end with the document; anywhere else
     * the byte after it must be one that can follow a value.
     */

    if (ref->pos == ref->len) {
        if (level != 0) {
            return fz_ref_fail(ref, ref->len);
        }

    } else {
        ch = ref->s[ref->pos];

        if (!(ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'
              || ch == ',' || ch == ']' || ch == '}'))
        {
            return fz_ref_fail(ref, ref->pos);
        }
    }

    *end = ref->pos;
    fz_ref_event(ref, NGX_GW_JSON_VALUE_END, NGX_GW_JSON_NUMBER, level,
                 ref->pos);

    return 0;
}


/* returns 0 for a valid document, -1 with ref->error set otherwise */

static int
fz_ref_parse(fz_ref_t *ref, const u_char *s, size_t len, size_t max_depth,
    ngx_uint_t lone)
{
    size_t  start, end;

    memset(ref, 0, sizeof(fz_ref_t));
    fz_vec_init(&ref->events, sizeof(fz_event_t));
    fz_vec_init(&ref->text, 1);
    fz_vec_init(&ref->members, sizeof(fz_member_t));

    ref->s = s;
    ref->len = len;
    ref->max_depth = ngx_min(max_depth, NGX_GW_JSON_MAX_DEPTH);
    ref->lone = lone;

    fz_ref_ws(ref);

    if (fz_ref_value(ref, 0, &ref->top_type, &start, &end) != 0) {
        return -1;
    }

    fz_ref_ws(ref);

    if (ref->pos != ref->len) {
        return fz_ref_fail(ref, ref->pos);
    }

    return 0;
}


static void
fz_ref_free(fz_ref_t *ref)
{
    fz_vec_free(&ref->events);
    fz_vec_free(&ref->text);
    fz_vec_free(&ref->members);
}


/* the tokenizer, fed the document in the pieces that cuts[] ends */

static void
fz_check_event(fz_run_t *run, fz_vec_t *stack, ngx_gw_json_t *j,
    const u_char *doc)
{
    ngx_uint_t  *open;
    fz_event_t  *ev;

    ev = (fz_event_t *) run->events.elts + run->events.nelts - 1;
    open = stack->nelts ? (ngx_uint_t *) stack->elts + stack->nelts - 1
                        : NULL;

    switch (ev->event) {

    case NGX_GW_JSON_VALUE_START:
        ngx_fuzz_assert(ev->level == stack->nelts);
        ngx_fuzz_assert(open == NULL || *open == NGX_GW_JSON_OBJECT
                        || *open == NGX_GW_JSON_ARRAY);

        switch (ev->type) {
        case NGX_GW_JSON_OBJECT:
            ngx_fuzz_assert(doc[ev->mark] == '{');
            ngx_fuzz_assert(j->depth == ev->level + 1);
            break;
        case NGX_GW_JSON_ARRAY:
            ngx_fuzz_assert(doc[ev->mark] == '[');
            ngx_fuzz_assert(j->depth == ev->level + 1);
            break;
        case NGX_GW_JSON_STRING:
            ngx_fuzz_assert(doc[ev->mark] == '"');
            break;
        case NGX_GW_JSON_NUMBER:
            ngx_fuzz_assert(doc[ev->mark] == '-'
                            || (doc[ev->mark] >= '0' && doc[ev->mark] <= '9'));
            break;
        case NGX_GW_JSON_TRUE:
            ngx_fuzz_assert(doc[ev->mark] == 't');
            break;
        case NGX_GW_JSON_FALSE:
            ngx_fuzz_assert(doc[ev->mark] == 'f');
            break;
        case NGX_GW_JSON_NULL:
            ngx_fuzz_assert(doc[ev->mark] == 'n');
            break;
        default:
            ngx_fuzz_assert(0 && "unknown value type");
        }

        *(ngx_uint_t *) fz_push(stack) = ev->type;
        break;

    case NGX_GW_JSON_VALUE_END:
        ngx_fuzz_assert(open != NULL && *open == ev->type);
        ngx_fuzz_assert(ev->level == stack->nelts - 1);
        ngx_fuzz_assert(j->depth == ev->level);
        stack->nelts--;
        break;

    case NGX_GW_JSON_MEMBER_NAME:
        ngx_fuzz_assert(open != NULL && *open == NGX_GW_JSON_OBJECT);
        ngx_fuzz_assert(ev->level == stack->nelts);
        ngx_fuzz_assert(doc[ev->mark - 1] == '"');
        break;

    default:
        ngx_fuzz_assert(0 && "unknown event");
    }
}


/*
 * quiet: 0, every event is told; else bit k % 32 of it makes the value
 * that the k-th VALUE_START or MEMBER_NAME begins quiet, as json_filter
 * and aggregate ask (events inside are then not checked against the
 * stack of open values, which they skip).
 */

static void
fz_tokenize(fz_run_t *run, const u_char *doc, size_t len, size_t max_depth,
    size_t cap, int in_input, int lone, const size_t *cuts, size_t ncuts,
    uint32_t quiet)
{
    u_char         *buf, *pos, *last, *name_buf;
    size_t          base, i, end, name_cap, k;
    ngx_int_t       rc;
    fz_vec_t        stack;
    fz_event_t     *ev;
    ngx_gw_json_t   j;

    memset(run, 0, sizeof(fz_run_t));
    fz_vec_init(&run->events, sizeof(fz_event_t));
    fz_vec_init(&run->names, 1);
    fz_vec_init(&stack, sizeof(ngx_uint_t));

    name_cap = (cap == FZ_NAME_DOC) ? len : cap;
    name_buf = (cap == FZ_NAME_NULL) ? NULL : malloc(name_cap);
    ngx_fuzz_assert(cap == FZ_NAME_NULL || name_buf != NULL);

    ngx_gw_json_init(&j, max_depth, name_buf, name_cap);
    j.name_in_input = in_input;
    j.lone_surrogates = lone;

    if (cap == FZ_NAME_NULL) {
        name_cap = 0;
    }

    base = 0;
    k = 0;

    for (i = 0; i <= ncuts; i++) {
        end = (i < ncuts) ? cuts[i] : len;

        buf = ngx_fuzz_dup(doc + base, end - base);
        pos = buf;
        last = buf + (end - base);

        for ( ;; ) {
            rc = ngx_gw_json_next(&j, &pos, last);

            ngx_fuzz_assert(pos >= buf && pos <= last);

            if (rc == NGX_OK) {
                ngx_fuzz_assert(j.mark >= buf && j.mark <= last);

                ev = fz_push(&run->events);
                ev->event = j.event;
                ev->type = (j.event == NGX_GW_JSON_MEMBER_NAME) ? 0 : j.type;
                ev->level = j.level;
                ev->depth = j.depth;
                ev->mark = base + (j.mark - buf);

                if (j.event == NGX_GW_JSON_MEMBER_NAME) {
                    ngx_fuzz_assert(j.name.len <= name_cap);
                    ngx_fuzz_assert(j.name.len == 0
                                    || j.name.data == name_buf
                                    || (in_input && j.name.data >= buf
                                        && j.name.data + j.name.len
                                           <= last));
                    ev->name = run->names.nelts;
                    ev->name_len = j.name.len;
                    ev->truncated = j.name_truncated;
                    fz_append(&run->names, j.name.data, j.name.len);
                }

                if (!quiet) {
                    fz_check_event(run, &stack, &j, doc);
                    continue;
                }

                if (j.event != NGX_GW_JSON_VALUE_END
                    && (quiet >> (k++ % 32) & 1))
                {
                    j.quiet = 1;
                    j.quiet_level = j.level;
                }

                continue;
            }

            if (rc == NGX_AGAIN) {
                ngx_fuzz_assert(pos == last);
                ngx_fuzz_assert(j.error == NULL);
                break;
            }

            if (rc == NGX_DONE) {
                ngx_fuzz_assert(j.depth == 0 && (quiet || stack.nelts == 0));

                if (pos == last) {
                    break;
                }

                continue;
            }

            ngx_fuzz_assert(rc == NGX_ERROR);
            ngx_fuzz_assert(j.error != NULL);

            run->verdict.rc = NGX_ERROR;
            run->verdict.offset = base + (pos - buf);
            run->verdict.error = j.error;

            free(buf);
            goto done;
        }

        free(buf);
        base = end;
    }

    rc = ngx_gw_json_finish(&j);

    if (rc == NGX_DONE) {
        run->verdict.rc = NGX_DONE;

        /* a top-level number ends with the document, without an event */

        if (!quiet && stack.nelts == 1) {
            ngx_fuzz_assert(*(ngx_uint_t *) stack.elts == NGX_GW_JSON_NUMBER);

            ev = fz_push(&run->events);
            ev->event = NGX_GW_JSON_VALUE_END;
            ev->type = NGX_GW_JSON_NUMBER;
            ev->mark = len;
            stack.nelts = 0;
        }

        ngx_fuzz_assert(quiet || stack.nelts == 0);

        /* done is done: finishing again, or more whitespace, changes none */
        ngx_fuzz_assert(ngx_gw_json_finish(&j) == NGX_DONE);

    } else {
        ngx_fuzz_assert(rc == NGX_ERROR && j.error != NULL);
        run->verdict.rc = NGX_ERROR;
        run->verdict.offset = len;
        run->verdict.error = j.error;
    }

done:

    free(name_buf);
    fz_vec_free(&stack);
}


static void
fz_run_free(fz_run_t *run)
{
    fz_vec_free(&run->events);
    fz_vec_free(&run->names);
}


static void
fz_compare_runs(fz_run_t *a, fz_run_t *b)
{
    size_t       i;
    fz_event_t  *x, *y;

    ngx_fuzz_assert(a->events.nelts == b->events.nelts);

    x = a->events.elts;
    y = b->events.elts;

    for (i = 0; i < a->events.nelts; i++) {
        ngx_fuzz_assert(x[i].event == y[i].event);
        ngx_fuzz_assert(x[i].type == y[i].type);
        ngx_fuzz_assert(x[i].level == y[i].level);
        ngx_fuzz_assert(x[i].depth == y[i].depth);
        ngx_fuzz_assert(x[i].mark == y[i].mark);
        ngx_fuzz_assert(x[i].truncated == y[i].truncated);

        /* what a truncated name holds is not specified: see the reference */

        if (x[i].truncated) {
            continue;
        }

        ngx_fuzz_assert(x[i].name_len == y[i].name_len);
        ngx_fuzz_assert(x[i].name_len == 0
                        || memcmp((u_char *) a->names.elts + x[i].name,
                                  (u_char *) b->names.elts + y[i].name,
                                  x[i].name_len)
                           == 0);
    }

    ngx_fuzz_assert(a->verdict.rc == b->verdict.rc);
    ngx_fuzz_assert(a->verdict.offset == b->verdict.offset);
    ngx_fuzz_assert(a->verdict.rc != NGX_ERROR
                    || strcmp(a->verdict.error, b->verdict.error) == 0);
}


/* the bytes of whole characters of name that fit in cap */

static size_t
fz_fitting(const u_char *name, size_t len, size_t cap)
{
    size_t  n, fit;

    fit = 0;

    while (fit < len) {
        n = (name[fit] < 0x80) ? 1 : (name[fit] < 0xe0) ? 2
            : (name[fit] < 0xf0) ? 3 : 4;

        if (fit + n > cap) {
            break;
        }

        fit += n;
    }

    return fit;
}


static void
fz_compare_ref(fz_run_t *run, fz_ref_t *ref, int valid, size_t cap)
{
    size_t       i, fit;
    u_char      *text;
    fz_event_t  *x, *y;

    ngx_fuzz_assert(run->events.nelts == ref->events.nelts);

    x = run->events.elts;
    y = ref->events.elts;
    text = ref->text.elts;

    for (i = 0; i < run->events.nelts; i++) {
        ngx_fuzz_assert(x[i].event == y[i].event);
        ngx_fuzz_assert(x[i].type == y[i].type);
        ngx_fuzz_assert(x[i].level == y[i].level);
        ngx_fuzz_assert(x[i].depth == y[i].depth);
        ngx_fuzz_assert(x[i].mark == y[i].mark);

        if (x[i].event != NGX_GW_JSON_MEMBER_NAME) {
            continue;
        }

        /*
         * A name longer than the buffer is truncated; the header leaves
         * open how much of it the buffer then holds: some whole characters
         * from its start, at most as many as fit.
         */

        fit = y[i].text_len ? fz_fitting(text + y[i].text, y[i].text_len, cap)
                            : 0;

        ngx_fuzz_assert(x[i].truncated == (y[i].text_len > cap));
        ngx_fuzz_assert(x[i].truncated ? x[i].name_len <= fit
                                       : x[i].name_len == y[i].text_len);
        ngx_fuzz_assert(x[i].name_len == 0
                        || memcmp((u_char *) run->names.elts + x[i].name,
                                  text + y[i].text, x[i].name_len)
                           == 0);
        ngx_fuzz_assert(x[i].name_len == y[i].text_len
                        || (text[y[i].text + x[i].name_len] & 0xc0) != 0x80);
    }

    if (valid) {
        ngx_fuzz_assert(run->verdict.rc == NGX_DONE);

    } else {
        ngx_fuzz_assert(run->verdict.rc == NGX_ERROR);
        ngx_fuzz_assert(run->verdict.offset == ref->error);
    }
}


/* every string the tokenizer accepted, unescaped */

static void
fz_check_unescape(fz_ref_t *ref, size_t nevents, const u_char *doc)
{
    u_char      *src, *dst, *end;
    size_t       i, len;
    fz_event_t  *ev;

    ev = ref->events.elts;

    for (i = 0; i < nevents; i++) {
        if (ev[i].event != NGX_GW_JSON_MEMBER_NAME
            && !(ev[i].event == NGX_GW_JSON_VALUE_END
                 && ev[i].type == NGX_GW_JSON_STRING))
        {
            continue;
        }

        /* between the quotes */
        len = ev[i].mark - ev[i].raw - 2;

        src = ngx_fuzz_dup(doc + ev[i].raw + 1, len);
        dst = malloc(len);
        ngx_fuzz_assert(dst != NULL);

        end = ngx_gw_json_unescape(dst, src, len);

        ngx_fuzz_assert(end >= dst && (size_t) (end - dst) <= len);
        ngx_fuzz_assert((size_t) (end - dst) == ev[i].text_len);
        ngx_fuzz_assert(ev[i].text_len == 0
                        || memcmp(dst,
                                  (u_char *) ref->text.elts + ev[i].text,
                                  ev[i].text_len)
                           == 0);

        free(src);
        free(dst);
    }
}


/* a member value, alone, is a document of the member's type */

static void
fz_check_value(ngx_gw_json_member_t *member, size_t max_depth)
{
    u_char         *buf, *pos, *last;
    ngx_int_t       rc;
    ngx_uint_t      events;
    ngx_gw_json_t   j;

    buf = ngx_fuzz_dup(member->value.data, member->value.len);
    pos = buf;
    last = buf + member->value.len;
    events = 0;

    ngx_gw_json_init(&j, max_depth, NULL, 0);

    for ( ;; ) {
        rc = ngx_gw_json_next(&j, &pos, last);

        if (rc != NGX_OK) {
            break;
        }

        if (events++ == 0) {
            ngx_fuzz_assert(j.event == NGX_GW_JSON_VALUE_START);
            ngx_fuzz_assert(j.type == member->type);
            ngx_fuzz_assert(j.mark == buf);
        }

        if (j.event == NGX_GW_JSON_VALUE_END && j.level == 0) {
            ngx_fuzz_assert(j.type == member->type);
            ngx_fuzz_assert(j.mark == last);
        }
    }

    ngx_fuzz_assert(rc != NGX_ERROR);
    ngx_fuzz_assert(pos == last);
    ngx_fuzz_assert(ngx_gw_json_finish(&j) == NGX_DONE);
    ngx_fuzz_assert(events > 0);

    free(buf);
}


/* what is between two elements, or an element and a bracket: commas */

static void
fz_check_gap(u_char *p, u_char *last, ngx_uint_t commas)
{
    for ( /* void */ ; p < last; p++) {
        if (*p == ',') {
            ngx_fuzz_assert(commas-- == 1);
            continue;
        }

        ngx_fuzz_assert(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n');
    }

    ngx_fuzz_assert(commas == 0);
}


/*
 * The elements of an array member, walked by ngx_gw_json_element(): the
 * values between its brackets, in order, with one comma between each two
 * and only whitespace besides, each alone a document of its type.
 */

static void
fz_check_elements(ngx_gw_json_member_t *member, size_t max_depth)
{
    u_char                  *prev, *last;
    ngx_int_t                rc;
    ngx_uint_t               n;
    ngx_gw_json_member_t     element;
    ngx_gw_json_elements_t   elements;

    ngx_gw_json_elements_init(&elements, &member->value, max_depth);

    prev = member->value.data + 1;
    last = member->value.data + member->value.len - 1;
    n = 0;

    for ( ;; ) {
        rc = ngx_gw_json_element(&elements, &element);

        if (rc != NGX_OK) {
            break;
        }

        ngx_fuzz_assert(element.name.len == 0 && element.name.data == NULL);
        ngx_fuzz_assert(element.value.data >= prev && element.value.len > 0
                        && element.value.data + element.value.len <= last);

        fz_check_gap(prev, element.value.data, n++ ? 1 : 0);
        fz_check_value(&element, max_depth);

        prev = element.value.data + element.value.len;
    }

    ngx_fuzz_assert(rc == NGX_DONE);
    ngx_fuzz_assert(*last == ']');
    fz_check_gap(prev, last, 0);
}


/* the lookup finds each member, and its text is as ngx_gw_json.h says */

static void
fz_check_member_text(ngx_pool_t *pool, ngx_array_t *members,
    ngx_gw_json_member_t *member)
{
    u_char     *buf, *end;
    ngx_str_t   text;

    ngx_fuzz_assert(ngx_gw_json_member(members, member->name.data,
                                       member->name.len)
                    == member);

    ngx_fuzz_assert(ngx_gw_json_member_text(pool, member, &text) == NGX_OK);

    switch (member->type) {

    case NGX_GW_JSON_STRING:
        buf = malloc(member->value.len);
        ngx_fuzz_assert(buf != NULL);

        end = ngx_gw_json_unescape(buf, member->value.data + 1,
                                   member->value.len - 2);

        ngx_fuzz_assert(text.len == (size_t) (end - buf));
        ngx_fuzz_assert(text.len == 0 || memcmp(text.data, buf, text.len) == 0);

        free(buf);
        break;

    case NGX_GW_JSON_NULL:
        ngx_fuzz_assert(text.len == 0 && text.data == NULL);
        break;

    default:
        ngx_fuzz_assert(text.data == member->value.data
                        && text.len == member->value.len);
    }
}


static void
fz_check_object_members(fz_ref_t *ref, int valid, const u_char *data,
    size_t len, size_t max_depth)
{
    size_t                 i;
    ngx_int_t              rc;
    ngx_str_t              doc;
    ngx_pool_t            *pool;
    const char            *error;
    fz_member_t           *want;
    ngx_array_t           *members;
    ngx_gw_json_member_t  *got;

    pool = ngx_fuzz_pool();

    members = ngx_array_create(pool, 1, sizeof(ngx_gw_json_member_t));
    ngx_fuzz_assert(members != NULL);

    doc.data = ngx_fuzz_dup(data, len);
    doc.len = len;
    error = NULL;

    rc = ngx_gw_json_object_members(pool, &doc, max_depth, members, &error);

    if (!valid || ref->top_type != NGX_GW_JSON_OBJECT || ref->duplicate) {
        ngx_fuzz_assert(rc == NGX_ERROR && error != NULL);
        goto done;
    }

    ngx_fuzz_assert(rc == NGX_OK);
    ngx_fuzz_assert(members->nelts == ref->members.nelts);

    got = members->elts;
    want = ref->members.elts;

    for (i = 0; i < members->nelts; i++) {
        ngx_fuzz_assert(got[i].name.len == want[i].name_len);
        ngx_fuzz_assert(got[i].name.len == 0
                        || memcmp(got[i].name.data,
                                  (u_char *) ref->text.elts + want[i].name,
                                  want[i].name_len)
                           == 0);
        ngx_fuzz_assert(got[i].type == want[i].type);
        ngx_fuzz_assert(got[i].value.data == doc.data + want[i].start);
        ngx_fuzz_assert(got[i].value.len == want[i].end - want[i].start);

        fz_check_value(&got[i], max_depth);
        fz_check_member_text(pool, members, &got[i]);

        if (got[i].type == NGX_GW_JSON_ARRAY) {
            fz_check_elements(&got[i], max_depth);
        }
    }

done:

    ngx_destroy_pool(pool);
    free(doc.data);
}


static uint32_t
fz_random(uint32_t *state)
{
    /* xorshift32 */
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;

    return *state;
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
    int           valid, in_input, lone;
    size_t        len, max_depth, cap, i, n, *cuts;
    uint32_t      state;
    fz_ref_t      ref, strict;
    uint32_t      quiet;
    fz_run_t      whole, split, plain;
    const u_char *doc;

    if (size < 2) {
        return 0;
    }

    max_depth = fz_depths[data[0] & 0x0f];
    cap = fz_caps[(data[0] >> 4) & 0x07];
    in_input = data[0] >> 7;
    lone = data[1] >> 7;
    state = 0x9e3779b9u ^ (uint32_t) data[1] << 8 ^ (uint32_t) size;

    doc = data + 2;
    len = size - 2;

    valid = (fz_ref_parse(&ref, doc, len, max_depth, lone) == 0);

    fz_tokenize(&whole, doc, len, max_depth, cap, in_input, lone,
                NULL, 0, 0);
    fz_compare_ref(&whole, &ref, valid,
                   cap == FZ_NAME_NULL ? 0 : cap == FZ_NAME_DOC ? len : cap);
    fz_check_unescape(&ref, whole.events.nelts, doc);

    /* every offset a piece boundary, with an empty piece at each end */

    cuts = malloc((len + 2) * sizeof(size_t));
    ngx_fuzz_assert(cuts != NULL);

    cuts[0] = 0;

    for (i = 0; i <= len; i++) {
        cuts[i + 1] = i;
    }

    fz_tokenize(&split, doc, len, max_depth, cap, in_input, lone,
                cuts, len + 2, 0);
    fz_compare_runs(&whole, &split);
    fz_run_free(&split);

    /* pieces of the sizes the seed picks, empty ones too */

    n = 0;

    for (i = 0; i < len && n < len + 2; /* void */) {
        i += fz_random(&state) % (2 + (data[1] & 0x0f));
        cuts[n++] = ngx_min(i, len);
    }

    fz_tokenize(&split, doc, len, max_depth, cap, in_input, lone,
                cuts, n, 0);
    fz_compare_runs(&whole, &split);
    fz_run_free(&split);

    /* two pieces, cut where the seed says */

    cuts[0] = data[1] % (len + 1);

    fz_tokenize(&split, doc, len, max_depth, cap, in_input, lone,
                cuts, 1, 0);
    fz_compare_runs(&whole, &split);
    fz_run_free(&split);

    /*
     * Quiet values: the fast paths (ngx_gw_json_skip() and the vector
     * scans) must give what the machine alone gives, the same events and
     * the same error at the same byte, whole, a byte at a time, and in two
     * pieces cut at every offset
     */

    quiet = fz_random(&state) | 1;

    ngx_gw_json_fast = 0;
    fz_tokenize(&plain, doc, len, max_depth, cap, in_input, lone,
                NULL, 0, quiet);
    ngx_gw_json_fast = 1;

    fz_tokenize(&split, doc, len, max_depth, cap, in_input, lone,
                NULL, 0, quiet);
    fz_compare_runs(&plain, &split);
    fz_run_free(&split);

    for (i = 0; i <= len; i++) {
        cuts[i] = i;
    }

    fz_tokenize(&split, doc, len, max_depth, cap, in_input, lone,
                cuts, len + 1, quiet);
    fz_compare_runs(&plain, &split);
    fz_run_free(&split);

    for (i = 1; i < len && i <= FZ_EVERY_CUT; i++) {
        cuts[0] = i;
        fz_tokenize(&split, doc, len, max_depth, cap, in_input, lone,
                    cuts, 1, quiet);
        fz_compare_runs(&plain, &split);
        fz_run_free(&split);
    }

    fz_run_free(&plain);
    free(cuts);

    if (lone) {
        valid = (fz_ref_parse(&strict, doc, len, max_depth, 0) == 0);
        fz_check_object_members(&strict, valid, doc, len, max_depth);
        fz_ref_free(&strict);

    } else {
        fz_check_object_members(&ref, valid, doc, len, max_depth);
    }

    fz_run_free(&whole);
    fz_ref_free(&ref);

    return 0;
}
