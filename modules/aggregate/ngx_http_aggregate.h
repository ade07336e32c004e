
/*
 * Fan-out aggregation: what the module's files share.
 */


#ifndef _NGX_HTTP_AGGREGATE_H_INCLUDED_
#define _NGX_HTTP_AGGREGATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_header.h"
#include "ngx_gw_json.h"
#include "ngx_gw_subrequest.h"
#include "ngx_gw_hidden.h"


typedef struct {
    ngx_str_t                        name;
    ngx_http_complex_value_t         uri;
    ngx_flag_t                       required;

    /* a URI without variables, checked once: the path and the arguments */
    unsigned                         checked:1;
    ngx_str_t                        path;
    ngx_str_t                        args;
} ngx_http_aggregate_part_conf_t;


typedef struct {
    ngx_array_t                     *parts;     /* part_conf */
    ngx_msec_t                       timeout;
    ngx_flag_t                       merge;
    size_t                           part_max_size;
    ngx_flag_t                       pass_request_body;
} ngx_http_aggregate_loc_conf_t;


/* how a part ended, for $aggregate_parts; names in the module's table */

typedef enum {
    NGX_HTTP_AGGREGATE_OK = 0,
    NGX_HTTP_AGGREGATE_STATUS,
    NGX_HTTP_AGGREGATE_TOO_BIG,
    NGX_HTTP_AGGREGATE_INCOMPLETE,
    NGX_HTTP_AGGREGATE_INVALID,
    NGX_HTTP_AGGREGATE_TIMEOUT,
    NGX_HTTP_AGGREGATE_UNSAFE_URI,
    NGX_HTTP_AGGREGATE_ERROR
} ngx_http_aggregate_outcome_e;


typedef struct ngx_http_aggregate_ctx_s  ngx_http_aggregate_ctx_t;


typedef struct {
    ngx_http_aggregate_part_conf_t  *conf;
    ngx_http_aggregate_ctx_t        *ctx;
    ngx_gw_capture_t                 capture;
    ngx_uint_t                       status;    /* as the client sees it */
    const char                      *failure;   /* NULL: the part is good */
    ngx_http_aggregate_outcome_e     outcome;   /* OK while failure is NULL */
    ngx_array_t                      members;   /* ngx_gw_json_member_t */
    unsigned                         done:1;
    unsigned                         timed_out:1;   /* the deadline's */
} ngx_http_aggregate_part_t;


struct ngx_http_aggregate_ctx_s {
    ngx_http_request_t              *request;
    ngx_http_aggregate_loc_conf_t   *conf;
    ngx_http_aggregate_part_t       *parts;
    ngx_uint_t                       nparts;
    ngx_uint_t                       pending;
    ngx_event_t                      deadline;
    ngx_str_t                        outcomes;  /* made on first use */
    unsigned                         responded:1;
    unsigned                         built:1;   /* every outcome is final */
};


NGX_GW_HIDDEN_BEGIN

/* the response: its status, headers and body; NGX_ERROR on no memory */
ngx_int_t ngx_http_aggregate_build(ngx_http_aggregate_ctx_t *ctx,
    ngx_chain_t **out);

NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_AGGREGATE_H_INCLUDED_ */
