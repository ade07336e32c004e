
/*
 * The streaming part of JSON trimming: bytes in, the kept ones out, with
 * no request in sight (so that it can be fuzzed on its own).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_json.h"
#include "ngx_http_json_filter.h"


static ngx_int_t ngx_http_json_filter_members(
    ngx_http_json_filter_stream_t *st, u_char **pos, u_char *last,
    u_char **from);
static NGX_GW_JSON_INLINE void ngx_http_json_filter_keep_member(
    ngx_http_json_filter_stream_t *st, ngx_http_json_filter_level_t *level,
    u_char *start, u_char *end);
static NGX_GW_JSON_INLINE ngx_http_json_sel_t *ngx_http_json_filter_named(
    ngx_http_json_sel_t *sel, ngx_str_t *name);
static void ngx_http_json_filter_event(ngx_http_json_filter_stream_t *st);
static void ngx_http_json_filter_quiet(ngx_http_json_filter_stream_t *st,
    ngx_uint_t level);
static ngx_int_t ngx_http_json_filter_range(
    ngx_http_json_filter_stream_t *st, u_char *from, u_char *to);
static NGX_GW_JSON_INLINE void ngx_http_json_filter_emit(
    ngx_http_json_filter_stream_t *st, u_char *p, size_t len);
static void ngx_http_json_filter_copy_run(ngx_http_json_filter_stream_t *st);
static void ngx_http_json_filter_copy(ngx_http_json_filter_stream_t *st,
    u_char *p, size_t len);
static void ngx_http_json_filter_hold(ngx_http_json_filter_stream_t *st,
    u_char *p, size_t len);
static void ngx_http_json_filter_keep_held(ngx_http_json_filter_stream_t *st);
static void ngx_http_json_filter_drop_pending(
    ngx_http_json_filter_stream_t *st);
static void ngx_http_json_filter_flush_pending(
    ngx_http_json_filter_stream_t *st, ngx_uint_t first);
static void ngx_http_json_filter_broken(ngx_http_json_filter_stream_t *st,
    const char *error, off_t where);


/* the buffers are not cleared: a level is set when it opens */

ngx_int_t
ngx_http_json_filter_stream_init(ngx_http_json_filter_stream_t *st,
    ngx_http_json_filter_sels_t *sels, ngx_pool_t *pool, ngx_log_t *log)
{
    if (ngx_http_json_sel_set_init(pool, sels->fields, &st->root.fields)
        != NGX_OK
        || ngx_http_json_sel_set_init(pool, sels->allow, &st->root.allow)
           != NGX_OK
        || ngx_http_json_sel_set_init(pool, sels->deny, &st->root.deny)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    st->buf = NULL;
    st->log = log;

    /* from a value's end to the next name's end, all is held */

    ngx_gw_json_init(&st->json, NGX_HTTP_JSON_FILTER_MAX_DEPTH, st->name,
                     NGX_HTTP_JSON_FILTER_NAME);
    st->json.name_in_input = 1;
    st->json.lone_surrogates = 1;

    st->mode = NGX_HTTP_JSON_FILTER_EMIT;
    st->quiet = 0;
    st->broken = 0;

    /* what json_allow and json_deny remove never passes, broken or not */
    st->strict = !ngx_http_json_sel_is_whole(sels->allow)
                 || sels->deny != NULL;

    st->offset = 0;
    st->run_start = NULL;
    st->run_end = NULL;
    st->hold_start = NULL;
    st->hold_end = NULL;
    st->pending_len = 0;

    return NGX_OK;
}


/*
 * Walks one buffer.  The bytes between two tokenizer events go the way of
 * the current mode: out, into pending (a separator and member name whose
 * fate is not yet known), or nowhere.
 */

void
ngx_http_json_filter_stream_feed(ngx_http_json_filter_stream_t *st,
    u_char *pos, u_char *last)
{
    u_char     *from, *to, *p;
    ngx_int_t   rc;

    from = pos;
    p = pos;

    while (!st->broken) {
        rc = NGX_DECLINED;

        if (ngx_gw_json_fast && st->mode == NGX_HTTP_JSON_FILTER_HOLD) {
            rc = ngx_http_json_filter_members(st, &p, last, &from);
        }

        if (rc == NGX_DECLINED) {
            rc = ngx_gw_json_next(&st->json, &p, last);
        }

        /* the bytes up to the event, or up to where the tokenizer stopped */

        to = (rc == NGX_OK) ? st->json.mark : p;

        if (ngx_http_json_filter_range(st, from, to) != NGX_OK) {
            ngx_http_json_filter_broken(st, NULL, st->offset + (from - pos));
            break;
        }

        from = to;

        if (rc == NGX_AGAIN) {
            break;
        }

        if (rc == NGX_ERROR) {
            ngx_http_json_filter_broken(st, st->json.error,
                                        st->offset + (p - pos));
            break;
        }

        if (rc == NGX_DONE) {
            if (p == last) {
                break;
            }

            continue;
        }

        ngx_http_json_filter_event(st);

        /* the opening brace of a filtered object is out already */

        if (st->json.event == NGX_GW_JSON_VALUE_START
            && st->json.type == NGX_GW_JSON_OBJECT
            && st->mode == NGX_HTTP_JSON_FILTER_HOLD)
        {
            from++;
        }
    }

    /* once broken, the rest goes out as it comes, or nowhere if strict */

    if (st->broken && !st->strict) {
        ngx_http_json_filter_emit(st, from, last - from);
    }

    /* the buffer may go once this returns */

    ngx_http_json_filter_copy_run(st);
    ngx_http_json_filter_keep_held(st);

    st->offset += last - pos;
}


void
ngx_http_json_filter_stream_end(ngx_http_json_filter_stream_t *st)
{
    if (!st->broken && ngx_gw_json_finish(&st->json) != NGX_DONE) {
        ngx_http_json_filter_broken(st, st->json.error, -1);
    }

    ngx_http_json_filter_copy_run(st);
}


/*
 * The members of an object one after another, as long as each is decided
 * at its name and its value is skipped or kept whole: the tokenizer's
 * events, and what the feed loop does with them, without a round of the
 * loop for each.  It stops where the loop must take over, in the state
 * the loop would have there: NGX_DECLINED, the loop goes on from *pos;
 * else the tokenizer's answer for the loop to handle.
 */

static ngx_int_t
ngx_http_json_filter_members(ngx_http_json_filter_stream_t *st,
    u_char **pos, u_char *last, u_char **from)
{
    u_char                        *p, *start;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_uint_t                     state, l, keep;
    ngx_gw_json_t                 *j;
    ngx_http_json_sel_t           *m;
    ngx_http_json_filter_level_t  *level;

    j = &st->json;
    p = *pos;

    for ( ;; ) {

        /* the separator and the name: held, as the loop would hold them */

        state = j->state;
        start = p;

        if (st->quiet || *from != p || st->pending_len || st->hold_start) {
            return NGX_DECLINED;
        }

        /*
         * a member whose value is no container (nor an array of them):
         * decided and done at once; at a brace, no name to look for
         */

        if (p < last && *p == '}') {
            rc = NGX_DECLINED;

        } else if (j->depth && st->levels[j->depth].simple) {
            rc = ngx_gw_json_next_member(j, &p, last);

        } else {
            rc = (ngx_gw_json_next_name(j, &p, last) == NGX_OK) ? NGX_AGAIN
                                                                : NGX_DECLINED;
        }

        if (rc == NGX_OK) {
            level = &st->levels[j->depth];

            if ((size_t) (j->name.data + j->name.len + 1 - start)
                > NGX_HTTP_JSON_FILTER_PENDING)
            {
                /* too long a separator: the loop's own way finds it */
                j->state = state;
                return NGX_DECLINED;
            }

            m = ngx_http_json_filter_named(level->simple, &j->name);

            /* a selection inside a scalar removes nothing from it */

            keep = level->simple_deny
                   ? (m == NULL || !ngx_http_json_sel_is_whole(m))
                   : (m != NULL);

            if (keep) {
                ngx_http_json_filter_keep_member(st, level, start, j->mark);
            }

            *from = j->mark;
            *pos = p;

            continue;
        }

        if (rc == NGX_DECLINED) {

            if (ngx_gw_json_next_bracket(j, &p, last) != NGX_OK) {
                return NGX_DECLINED;
            }

            /*
             * the object's end, as ngx_http_json_filter_event() takes it
             * where nothing waits undecided: what precedes the brace is
             * only whitespace, and goes out with it
             */

            len = j->mark - start;
            *pos = p;

            if (len > NGX_HTTP_JSON_FILTER_PENDING) {
                return NGX_OK;
            }

            ngx_http_json_filter_emit(st, start, len);
            *from = j->mark;

            l = j->level;
            st->mode = (l > 0 && st->levels[l].object)
                       ? NGX_HTTP_JSON_FILTER_HOLD : NGX_HTTP_JSON_FILTER_EMIT;

            if (st->mode == NGX_HTTP_JSON_FILTER_HOLD) {
                continue;
            }

            /* in an array, its next element or its end */

            start = p;

            if (ngx_gw_json_next_bracket(j, &p, last) != NGX_OK) {
                return NGX_DECLINED;
            }

            ngx_http_json_filter_emit(st, start, j->mark - start);
            *from = j->mark;
            *pos = p;

            ngx_http_json_filter_event(st);

            if (j->event != NGX_GW_JSON_VALUE_START
                || j->type != NGX_GW_JSON_OBJECT
                || st->mode != NGX_HTTP_JSON_FILTER_HOLD)
            {
                return NGX_DECLINED;
            }

            /* its opening brace is out already */

            (*from)++;

            continue;
        }

        l = j->level;
        level = &st->levels[l];
        len = j->mark - start;

        if (level->simple == NULL
            || len > NGX_HTTP_JSON_FILTER_PENDING)
        {
            /* the loop's own way, or too long a name: it finds it again */

            if (len > NGX_HTTP_JSON_FILTER_PENDING) {
                j->state = state;
                return NGX_DECLINED;
            }

            ngx_http_json_filter_hold(st, start, len);
            *from = j->mark;
            *pos = p;

            ngx_http_json_filter_event(st);

            if (!st->quiet) {
                return NGX_DECLINED;
            }

            goto value;
        }

        m = ngx_http_json_filter_named(level->simple, &j->name);

        if (m && !ngx_http_json_sel_is_whole(m)) {

            /* kept in part: the loop opens it */

            ngx_http_json_filter_hold(st, start, len);
            *from = j->mark;
            *pos = p;

            ngx_http_json_filter_event(st);

            return NGX_DECLINED;
        }

        keep = level->simple_deny ? (m == NULL) : (m != NULL);

        *from = j->mark;
        *pos = p;

        if (keep) {
            ngx_http_json_filter_keep_member(st, level, start, j->mark);
            st->mode = NGX_HTTP_JSON_FILTER_EMIT;

        } else {
            st->mode = NGX_HTTP_JSON_FILTER_DROP;
        }

        ngx_http_json_filter_quiet(st, l);

    value:

        /* the value: dropped or copied whole */

        rc = ngx_gw_json_skip(j, &p, last);

        if (rc != NGX_OK) {
            rc = ngx_gw_json_next(j, &p, last);
        }

        *pos = p;

        if (rc != NGX_OK) {
            return rc;
        }

        if (st->mode == NGX_HTTP_JSON_FILTER_EMIT) {
            ngx_http_json_filter_emit(st, *from, j->mark - *from);
        }

        *from = j->mark;

        /* its end, as ngx_http_json_filter_event() takes it */

        st->quiet = 0;
        st->mode = NGX_HTTP_JSON_FILTER_HOLD;
    }
}


/* the first member kept in an object goes without the comma before it */

static NGX_GW_JSON_INLINE void
ngx_http_json_filter_keep_member(ngx_http_json_filter_stream_t *st,
    ngx_http_json_filter_level_t *level, u_char *start, u_char *end)
{
    u_char  *c;

    if (!level->kept) {
        for (c = start; *c != ',' && *c != '"'; c++) {
            /* void */
        }

        if (*c == ',') {
            ngx_http_json_filter_emit(st, start, c - start);
            start = c + 1;
        }

        level->kept = 1;
    }

    ngx_http_json_filter_emit(st, start, end - start);
}


/* names are short: compared here, not by a call to memcmp() */

static NGX_GW_JSON_INLINE ngx_http_json_sel_t *
ngx_http_json_filter_named(ngx_http_json_sel_t *sel, ngx_str_t *name)
{
    size_t                k;
    ngx_uint_t            i;
    ngx_http_json_sel_t  *member;

    member = sel->members->elts;

    for (i = 0; i < sel->members->nelts; i++) {
        if (member[i].name.len != name->len) {
            continue;
        }

        for (k = 0; k < name->len; k++) {
            if (member[i].name.data[k] != name->data[k]) {
                break;
            }
        }

        if (k == name->len) {
            return &member[i];
        }
    }

    return NULL;
}


static void
ngx_http_json_filter_event(ngx_http_json_filter_stream_t *st)
{
    ngx_str_t                     *name;
    ngx_uint_t                     l;
    ngx_http_json_sel_set_t       *f, *a, *d;
    ngx_http_json_filter_view_t    view;
    ngx_http_json_filter_level_t  *level;

    l = st->json.level;
    level = &st->levels[l];

    switch (st->json.event) {

    case NGX_GW_JSON_MEMBER_NAME:

        /* a member is kept if both selections keep it and no deny drops it */

        f = &st->member.fields;
        a = &st->member.allow;
        d = &st->member.deny;

        /* a long name can only be kept by "*" */
        name = st->json.name_truncated ? NULL : &st->json.name;

        ngx_http_json_sel_set_find(&level->view.fields, name, f);
        ngx_http_json_sel_set_find(&level->view.allow, name, a);
        ngx_http_json_sel_set_find(&level->view.deny, name, d);

        if (f->n == 0 || a->n == 0 || ngx_http_json_sel_set_is_whole(d)) {
            ngx_http_json_filter_drop_pending(st);
            st->mode = NGX_HTTP_JSON_FILTER_DROP;
            ngx_http_json_filter_quiet(st, l);
            return;
        }

        ngx_http_json_filter_flush_pending(st, !level->kept);
        level->kept = 1;

        st->mode = NGX_HTTP_JSON_FILTER_EMIT;

        /* a value kept whole needs not even its start told */

        if (ngx_http_json_sel_set_is_whole(f)
            && ngx_http_json_sel_set_is_whole(a) && d->n == 0)
        {
            ngx_http_json_filter_quiet(st, l);
        }

        return;

    case NGX_GW_JSON_VALUE_START:

        if (l == 0) {
            view = st->root;

        } else if (level->object) {
            view = st->member;

        } else {
            view = level->view;
        }

        st->mode = NGX_HTTP_JSON_FILTER_EMIT;

        if (ngx_http_json_sel_set_is_whole(&view.fields)
            && ngx_http_json_sel_set_is_whole(&view.allow)
            && view.deny.n == 0)
        {
            /* nothing inside is removed: copy it whole */
            ngx_http_json_filter_quiet(st, l);
            return;
        }

        if (st->json.type != NGX_GW_JSON_OBJECT
            && st->json.type != NGX_GW_JSON_ARRAY)
        {
            return;
        }

        level = &st->levels[l + 1];
        level->view = view;
        level->object = (st->json.type == NGX_GW_JSON_OBJECT);
        level->kept = 0;
        level->simple = NULL;
        level->simple_deny = 0;

        if (level->object && ngx_http_json_sel_set_is_whole(&view.allow)) {

            if (view.deny.n == 0 && view.fields.n == 1
                && !ngx_http_json_sel_set_is_whole(&view.fields)
                && view.fields.node[0]->wildcard == NULL)
            {
                level->simple = view.fields.node[0];

            } else if (view.deny.n == 1
                       && ngx_http_json_sel_set_is_whole(&view.fields)
                       && !ngx_http_json_sel_set_is_whole(&view.deny)
                       && view.deny.node[0]->wildcard == NULL)
            {
                level->simple = view.deny.node[0];
                level->simple_deny = 1;
            }
        }

        if (level->object) {
            ngx_http_json_filter_emit(st, st->json.mark, 1);
            st->mode = NGX_HTTP_JSON_FILTER_HOLD;
        }

        return;

    case NGX_GW_JSON_VALUE_END:

        if (st->quiet) {
            st->quiet = 0;

        } else if (st->json.type == NGX_GW_JSON_OBJECT) {

            /* before the closing brace only whitespace can wait */
            ngx_http_json_filter_flush_pending(st, 0);
        }

        st->mode = (l > 0 && level->object) ? NGX_HTTP_JSON_FILTER_HOLD
                                             : NGX_HTTP_JSON_FILTER_EMIT;
        return;
    }
}


/*
 * What is inside the value that begins goes one way, whole: the tokenizer
 * still checks it, but says nothing until its end.
 */

static void
ngx_http_json_filter_quiet(ngx_http_json_filter_stream_t *st, ngx_uint_t level)
{
    st->quiet = 1;
    st->json.quiet = 1;
    st->json.quiet_level = level;
}


/* NGX_DECLINED: what waits undecided would outgrow pending */

static ngx_int_t
ngx_http_json_filter_range(ngx_http_json_filter_stream_t *st, u_char *from,
    u_char *to)
{
    size_t  len;

    len = to - from;

    if (len == 0) {
        return NGX_OK;
    }

    switch (st->mode) {

    case NGX_HTTP_JSON_FILTER_EMIT:
        ngx_http_json_filter_emit(st, from, len);
        break;

    case NGX_HTTP_JSON_FILTER_HOLD:

        if (len > NGX_HTTP_JSON_FILTER_PENDING - st->pending_len
                  - (st->hold_end - st->hold_start))
        {
            return NGX_DECLINED;
        }

        ngx_http_json_filter_hold(st, from, len);
        break;

    default:
        break;
    }

    return NGX_OK;
}


/*
 * Kept bytes of the input that adjoin the ones kept before them only
 * extend the run: a kept object whose dropped members all follow its kept
 * ones goes out in one copy, not one for each token.
 */

static NGX_GW_JSON_INLINE void
ngx_http_json_filter_emit(ngx_http_json_filter_stream_t *st, u_char *p,
    size_t len)
{
    if (len == 0) {
        return;
    }

    if (p == st->run_end) {
        st->run_end += len;
        return;
    }

    ngx_http_json_filter_copy_run(st);

    st->run_start = p;
    st->run_end = p + len;
}


static void
ngx_http_json_filter_copy_run(ngx_http_json_filter_stream_t *st)
{
    if (st->run_start == NULL) {
        return;
    }

    st->buf->last = ngx_cpymem(st->buf->last, st->run_start,
                               st->run_end - st->run_start);
    st->run_start = NULL;
    st->run_end = NULL;
}


/* bytes not in the input at hand go out after the run before them */

static void
ngx_http_json_filter_copy(ngx_http_json_filter_stream_t *st, u_char *p,
    size_t len)
{
    ngx_http_json_filter_copy_run(st);
    st->buf->last = ngx_cpymem(st->buf->last, p, len);
}


/* held bytes stay where they are while they adjoin */

static void
ngx_http_json_filter_hold(ngx_http_json_filter_stream_t *st, u_char *p,
    size_t len)
{
    if (p != st->hold_end) {
        ngx_http_json_filter_keep_held(st);
        st->hold_start = p;
        st->hold_end = p;
    }

    st->hold_end += len;
}


/* into pending, for a later buffer or a hold that does not adjoin */

static void
ngx_http_json_filter_keep_held(ngx_http_json_filter_stream_t *st)
{
    size_t  len;

    len = st->hold_end - st->hold_start;

    if (len) {
        ngx_memcpy(st->pending + st->pending_len, st->hold_start, len);
        st->pending_len += len;
    }

    st->hold_start = NULL;
    st->hold_end = NULL;
}


static void
ngx_http_json_filter_drop_pending(ngx_http_json_filter_stream_t *st)
{
    st->pending_len = 0;
    st->hold_start = NULL;
    st->hold_end = NULL;
}


/*
 * The first member kept in an object goes out without the comma that
 * separated it from the members dropped before it; the comma, if any,
 * comes before the quote that opens the member's name.
 */

static void
ngx_http_json_filter_flush_pending(ngx_http_json_filter_stream_t *st,
    ngx_uint_t first)
{
    u_char      *start, *p, *last;
    ngx_uint_t   in_input;

    if (st->pending_len) {
        ngx_http_json_filter_keep_held(st);
        start = st->pending;
        last = start + st->pending_len;
        in_input = 0;

    } else {
        start = st->hold_start;
        last = st->hold_end;
        in_input = 1;
    }

    ngx_http_json_filter_drop_pending(st);

    if (start == last) {
        return;
    }

    p = last;

    if (first) {
        for (p = start; p < last && *p != ',' && *p != '"'; p++) {
            /* void */
        }

        if (p == last || *p != ',') {
            p = last;
        }
    }

    /* everything but the comma at p, if there is one */

    if (in_input) {
        ngx_http_json_filter_emit(st, start, p - start);

        if (p < last) {
            ngx_http_json_filter_emit(st, p + 1, last - p - 1);
        }

    } else {
        ngx_http_json_filter_copy(st, start, p - start);

        if (p < last) {
            ngx_http_json_filter_copy(st, p + 1, last - p - 1);
        }
    }
}


/*
 * The headers are gone when a body stops being JSON (or a name outgrows
 * pending): with json_fields alone the rest is sent on as it comes; under
 * json_allow or json_deny, what is undecided (a separator and a name that
 * may be a denied one's) is dropped with the rest, and the caller ends the
 * response as incomplete.  One line says where it broke.  error NULL: the
 * name was too long.
 */

static void
ngx_http_json_filter_broken(ngx_http_json_filter_stream_t *st,
    const char *error, off_t where)
{
    st->broken = 1;

    if (st->strict) {
        ngx_http_json_filter_drop_pending(st);

    } else {
        ngx_http_json_filter_flush_pending(st, 0);
    }

    if (where < 0) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "json_filter: malformed JSON from upstream: %s at "
                      "its end%s", error,
                      st->strict ? "; the response is cut short" : "");
        return;
    }

    ngx_log_error(NGX_LOG_ERR, st->log, 0,
                  "json_filter: %s%s at byte %O; %s",
                  error ? "malformed JSON from upstream: " : "",
                  error ? error : "a member name or the space before it is "
                                  "longer than 4k",
                  where,
                  st->strict ? "the response is cut short there"
                             : "the rest passes untrimmed");
}
