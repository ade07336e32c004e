
/*
 * JSON response trimming: what the module's files share.
 */


#ifndef _NGX_HTTP_JSON_FILTER_H_INCLUDED_
#define _NGX_HTTP_JSON_FILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_json.h"
#include "ngx_gw_hidden.h"


#define NGX_HTTP_JSON_FILTER_MAX_DEPTH  NGX_GW_JSON_MAX_DEPTH

/* what may wait undecided: the separator before a member and its name */
#define NGX_HTTP_JSON_FILTER_PENDING    4096

#define NGX_HTTP_JSON_FILTER_NAME       256


typedef struct ngx_http_json_sel_s  ngx_http_json_sel_t;

/*
 * A node of a selection: the members it names, and "*" for the others.
 * A node without members (members == NULL) stands for the whole value.
 * What "*" selects is not copied into the named members, which would
 * multiply the nodes at each level of "a(z),*(a(z),*(...))": a lookup
 * takes both (ngx_http_json_sel_set_t).
 */
struct ngx_http_json_sel_s {
    ngx_str_t               name;
    ngx_array_t            *members;     /* of ngx_http_json_sel_t */
    ngx_http_json_sel_t    *wildcard;
    ngx_uint_t              nodes;       /* of a root: those made below it */
};


/*
 * What a selection keeps of the value at hand: the union of the nodes
 * that lead to it, a named member and the "*" beside it at each level.
 * n == 0: nothing; the whole value: one node, whole.  The nodes of a set
 * are of one depth in the tree, so the sets of the levels open at a time
 * hold each node once at most: one stack of them per selection, as long
 * as the selection has nodes.
 */
typedef struct {
    ngx_http_json_sel_t   **node;
    ngx_uint_t              n;
} ngx_http_json_sel_set_t;


/* the selections of a response */
typedef struct {
    ngx_http_json_sel_t          *fields;
    ngx_http_json_sel_t          *allow;
    ngx_http_json_sel_t          *deny;        /* NULL: none */
} ngx_http_json_filter_sels_t;


/* what the selections keep of the value at hand */
typedef struct {
    ngx_http_json_sel_set_t       fields;
    ngx_http_json_sel_set_t       allow;
    ngx_http_json_sel_set_t       deny;        /* n == 0: nothing below */
} ngx_http_json_filter_view_t;


typedef struct {
    ngx_http_json_filter_view_t   view;

    /*
     * of an object whose members one node's names decide alone: the
     * json_fields node that keeps them, or the json_deny node that drops
     * them; NULL: the sets decide
     */
    ngx_http_json_sel_t          *simple;
    unsigned                      simple_deny:1;

    unsigned                      object:1;
    unsigned                      kept:1;       /* a member was kept */
} ngx_http_json_filter_level_t;


typedef enum {
    NGX_HTTP_JSON_FILTER_EMIT = 0,
    NGX_HTTP_JSON_FILTER_HOLD,
    NGX_HTTP_JSON_FILTER_DROP
} ngx_http_json_filter_mode_e;


/*
 * One document being trimmed.  Before each feed, the caller sets buf: room
 * for the input fed plus NGX_HTTP_JSON_FILTER_PENDING.
 */
typedef struct {
    ngx_http_json_filter_view_t   root;
    ngx_buf_t                    *buf;
    ngx_log_t                    *log;

    ngx_gw_json_t                 json;
    ngx_http_json_filter_mode_e   mode;
    unsigned                      quiet:1;      /* till a value's end */
    unsigned                      broken:1;     /* the rest is copied, */
    unsigned                      strict:1;     /* or dropped: allow, deny */
    ngx_http_json_filter_view_t   member;       /* the kept member's view */
    off_t                         offset;       /* of the input fed */

    /* kept bytes of the buffer at hand, copied out when they stop adjoining */
    u_char                       *run_start;
    u_char                       *run_end;

    /* held bytes: those of the buffer at hand, after those of earlier ones */
    u_char                       *hold_start;
    u_char                       *hold_end;
    size_t                        pending_len;
    u_char                        pending[NGX_HTTP_JSON_FILTER_PENDING];
    u_char                        name[NGX_HTTP_JSON_FILTER_NAME];
    ngx_http_json_filter_level_t  levels[NGX_HTTP_JSON_FILTER_MAX_DEPTH + 1];
} ngx_http_json_filter_stream_t;


NGX_GW_HIDDEN_BEGIN

/* the whole value: what no selection at all keeps */
extern ngx_http_json_sel_t  ngx_http_json_sel_whole;

#define ngx_http_json_sel_is_whole(sel)  ((sel)->members == NULL)
#define ngx_http_json_sel_set_is_whole(set)                                  \
    ((set)->n == 1 && ngx_http_json_sel_is_whole((set)->node[0]))


ngx_int_t ngx_http_json_sel_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_uint_t max_depth, ngx_http_json_sel_t *root, const char **error);
ngx_int_t ngx_http_json_sel_set_init(ngx_pool_t *pool,
    ngx_http_json_sel_t *root, ngx_http_json_sel_set_t *set);
void ngx_http_json_sel_set_find(ngx_http_json_sel_set_t *set,
    ngx_str_t *name, ngx_http_json_sel_set_t *found);

ngx_int_t ngx_http_json_filter_stream_init(ngx_http_json_filter_stream_t *st,
    ngx_http_json_filter_sels_t *sels, ngx_pool_t *pool, ngx_log_t *log);
void ngx_http_json_filter_stream_feed(ngx_http_json_filter_stream_t *st,
    u_char *pos, u_char *last);
void ngx_http_json_filter_stream_end(ngx_http_json_filter_stream_t *st);

/* the body is cut short: what the client got must end as incomplete */
#define ngx_http_json_filter_stream_cut(st)  ((st)->broken && (st)->strict)


NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_JSON_FILTER_H_INCLUDED_ */
