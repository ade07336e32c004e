
/*
 * JSON response trimming: what the module's files share.
 */


#ifndef _NGX_HTTP_JSON_FILTER_H_INCLUDED_
#define _NGX_HTTP_JSON_FILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct ngx_http_json_sel_s  ngx_http_json_sel_t;

/*
 * A node of a selection: the members it names, and "*" for the others.
 * A node without members (members == NULL) stands for the whole value.
 * After parsing, what "*" selects is also merged into each named member,
 * so that finding a member is one lookup.
 */
struct ngx_http_json_sel_s {
    ngx_str_t               name;
    ngx_array_t            *members;     /* of ngx_http_json_sel_t */
    ngx_http_json_sel_t    *wildcard;
};


/* the whole value: what no selection at all keeps */
extern ngx_http_json_sel_t  ngx_http_json_sel_whole;

#define ngx_http_json_sel_is_whole(sel)  ((sel)->members == NULL)


ngx_int_t ngx_http_json_sel_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_uint_t max_depth, ngx_http_json_sel_t *root, const char **error);
ngx_int_t ngx_http_json_sel_finish(ngx_pool_t *pool,
    ngx_http_json_sel_t *root);
ngx_http_json_sel_t *ngx_http_json_sel_find(ngx_http_json_sel_t *sel,
    ngx_str_t *name);


#endif /* _NGX_HTTP_JSON_FILTER_H_INCLUDED_ */
