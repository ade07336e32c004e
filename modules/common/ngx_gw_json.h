
/*
 * A resumable JSON tokenizer (RFC 8259, strict).
 *
 * The document may arrive in pieces: ngx_gw_json_next() consumes input up
 * to the next event and can be called again with the next piece wherever
 * the previous one ended, even inside a token.  It never copies values:
 * events carry positions into the caller's buffer, so number text and
 * string escapes reach the caller exactly as sent.  Memory is fixed by the
 * nesting limit, whatever the size of the document.
 */


#ifndef _NGX_GW_JSON_H_INCLUDED_
#define _NGX_GW_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gw_hidden.h"


#define NGX_GW_JSON_MAX_DEPTH  256

/* a fast path's steps are in its loop, not calls of their own */
#if (defined __GNUC__ || defined __clang__)
#define NGX_GW_JSON_INLINE     inline __attribute__((always_inline))
#else
#define NGX_GW_JSON_INLINE     ngx_inline
#endif


typedef enum {
    NGX_GW_JSON_OBJECT = 1,
    NGX_GW_JSON_ARRAY,
    NGX_GW_JSON_STRING,
    NGX_GW_JSON_NUMBER,
    NGX_GW_JSON_TRUE,
    NGX_GW_JSON_FALSE,
    NGX_GW_JSON_NULL
} ngx_gw_json_type_e;


typedef enum {
    /* a value begins; mark is its first byte */
    NGX_GW_JSON_VALUE_START = 1,
    /* a value ends; mark is just past its last byte */
    NGX_GW_JSON_VALUE_END,
    /* a member name ends; name holds it unescaped, mark is past its quote */
    NGX_GW_JSON_MEMBER_NAME
} ngx_gw_json_event_e;


typedef struct {
    /* what ngx_gw_json_next() found */
    ngx_gw_json_event_e   event;
    ngx_gw_json_type_e    type;
    u_char               *mark;
    ngx_uint_t            level;        /* 0: the top-level value */
    ngx_str_t             name;
    unsigned              name_truncated:1;
    const char           *error;

    /* containers open around the current position */
    ngx_uint_t            depth;
    ngx_uint_t            max_depth;

    /*
     * set by callers not interested in what is inside the value at hand:
     * no event until the VALUE_END at quiet_level, which clears it
     */
    unsigned              quiet:1;
    ngx_uint_t            quiet_level;

    /*
     * set by callers done with a name before they feed more input: a name
     * with nothing to unescape then points into the input, not copied
     */
    unsigned              name_in_input:1;

    /*
     * set by callers that take an unpaired surrogate in an escape
     * ("\ud800" alone), which RFC 8259's grammar allows and
     * JSON.stringify() and Python's json.dumps() write; in a name it
     * becomes the three bytes of its code point (WTF-8).  Unset (tokens,
     * keys, etcd answers, aggregated parts), it is an error, as in I-JSON
     * (RFC 7493)
     */
    unsigned              lone_surrogates:1;

    /* internal state */
    ngx_uint_t            state;
    ngx_uint_t            after_string;
    ngx_uint_t            count;
    uint32_t              code_point;
    uint32_t              high_surrogate;
    u_char                utf8_low;
    u_char                utf8_high;
    const u_char         *literal;
    u_char               *name_buf;
    size_t                name_cap;
    uint64_t              objects[NGX_GW_JSON_MAX_DEPTH / 64];
} ngx_gw_json_t;


NGX_GW_HIDDEN_BEGIN

/*
 * Set (the default), the tokenizer takes its fast paths: strings scanned
 * 16 or 32 bytes at a time (SSE2, AVX2 where the CPU has it), and the
 * inside of a quiet value skipped without the state machine.  Events,
 * marks, errors and their positions are the same either way: the fuzz
 * targets clear it to compare the two.
 */
extern ngx_uint_t  ngx_gw_json_fast;

/*
 * name_buf receives member names (name_cap bytes at most; a longer name
 * sets name_truncated); it may be NULL when names do not matter.
 */
void ngx_gw_json_init(ngx_gw_json_t *j, ngx_uint_t max_depth,
    u_char *name_buf, size_t name_cap);

/*
 * NGX_OK: an event is in j; NGX_AGAIN: all input consumed, feed more;
 * NGX_DONE: the document is complete (only whitespace may follow, which a
 * further call accepts); NGX_ERROR: j->error says why.
 */
ngx_int_t ngx_gw_json_next(ngx_gw_json_t *j, u_char **pos, u_char *last);

/*
 * The fast path of ngx_gw_json_next() for the next member's name: when
 * the separator and the name are all in the input and the name has
 * nothing to unescape, NGX_OK and the MEMBER_NAME event that
 * ngx_gw_json_next() would give; else NGX_DECLINED, and nothing is
 * consumed.
 */
ngx_int_t ngx_gw_json_next_name(ngx_gw_json_t *j, u_char **pos,
    u_char *last);

/*
 * ngx_gw_json_next_name(), and then the member's value when it is no
 * container, or an array of scalars, and all in the input: NGX_OK, the
 * name still in j->name and the value's VALUE_END that ngx_gw_json_next()
 * would give (the events inside unsaid); NGX_AGAIN: the MEMBER_NAME
 * alone, as ngx_gw_json_next_name() gives it; NGX_DECLINED: nothing is
 * consumed.
 */
ngx_int_t ngx_gw_json_next_member(ngx_gw_json_t *j, u_char **pos,
    u_char *last);

/*
 * The fast path of ngx_gw_json_next() after a value inside a container:
 * the VALUE_END of the container when its closing bracket comes next, or,
 * in an array, the VALUE_START of the next element when it is an object
 * or an array; else NGX_DECLINED, and nothing is consumed.
 */
ngx_int_t ngx_gw_json_next_bracket(ngx_gw_json_t *j, u_char **pos,
    u_char *last);

/*
 * The fast path of ngx_gw_json_next() inside a quiet value: NGX_OK and
 * the VALUE_END that ends it, or NGX_AGAIN where ngx_gw_json_next() must
 * go on from *pos (the end of the input, a token cut by it, or one that
 * the machine checks itself, errors included).
 */
ngx_int_t ngx_gw_json_skip(ngx_gw_json_t *j, u_char **pos, u_char *last);

/*
 * End of input: NGX_DONE if the document is complete (a top-level number
 * then ends at the end of input), NGX_ERROR otherwise.
 */
ngx_int_t ngx_gw_json_finish(ngx_gw_json_t *j);

typedef struct {
    ngx_str_t             name;     /* unescaped */
    ngx_gw_json_type_e    type;
    ngx_str_t             value;    /* as sent; strings with their quotes */
} ngx_gw_json_member_t;


/*
 * Validates a whole document held in memory, which must be an object, and
 * lists its top-level members.  Duplicate member names are an error at any
 * depth: two parsers reading "last wins" and "first wins" must never see
 * different documents.  Returns NGX_OK, NGX_ERROR with *error set, or
 * NGX_ABORT when out of memory.
 */
ngx_int_t ngx_gw_json_object_members(ngx_pool_t *pool, ngx_str_t *doc,
    ngx_uint_t max_depth, ngx_array_t *members, const char **error);

/* the member of that name in what ngx_gw_json_object_members() listed */
ngx_gw_json_member_t *ngx_gw_json_member(ngx_array_t *members, u_char *name,
    size_t len);

/*
 * A member's value as text: a string unescaped (in place when it holds no
 * escape), null empty with no data, any other value as sent.  NGX_ERROR
 * means out of memory.
 */
ngx_int_t ngx_gw_json_member_text(ngx_pool_t *pool,
    ngx_gw_json_member_t *member, ngx_str_t *text);


/*
 * The elements of an array held in memory, one at a time and with no
 * memory of their own: each as a member without a name, its value as sent.
 */
typedef struct {
    ngx_gw_json_t         json;
    u_char               *pos;
    u_char               *last;
} ngx_gw_json_elements_t;


void ngx_gw_json_elements_init(ngx_gw_json_elements_t *elements,
    ngx_str_t *array, ngx_uint_t max_depth);

/*
 * NGX_OK: *element is the next element; NGX_DONE: the array has ended;
 * NGX_ERROR: elements->json.error says why.
 */
ngx_int_t ngx_gw_json_element(ngx_gw_json_elements_t *elements,
    ngx_gw_json_member_t *element);

/*
 * Unescapes the text between the quotes of a string the tokenizer accepted
 * (an unpaired surrogate becomes the three bytes of its code point); dst
 * needs at most len bytes.  Returns the end of what it wrote.
 */
u_char *ngx_gw_json_unescape(u_char *dst, u_char *src, size_t len);


NGX_GW_HIDDEN_END


#endif /* _NGX_GW_JSON_H_INCLUDED_ */
