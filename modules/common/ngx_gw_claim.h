
/*
 * The members of a JSON object that an issuer vouches for (a JWT's claims,
 * an introspection answer), as nginx variables give them.
 */


#ifndef _NGX_GW_CLAIM_H_INCLUDED_
#define _NGX_GW_CLAIM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_json.h"
#include "ngx_gw_hidden.h"


/* "exp" and "nbf", in seconds */
typedef struct {
    double                 exp;
    double                 nbf;
    unsigned               has_exp:1;
    unsigned               has_nbf:1;
} ngx_gw_claim_clock_t;


NGX_GW_HIDDEN_BEGIN

/* NGX_DECLINED, and why, when "exp" or "nbf" is there but no time */
ngx_int_t ngx_gw_claim_clock(ngx_array_t *members,
    ngx_gw_claim_clock_t *clock, const char **reason);

/*
 * The member that n names lead to through nested objects, in the members
 * of a document that ngx_gw_json_object_members() validated; *found is
 * NULL when there is none.  NGX_ERROR: no memory.
 */
ngx_int_t ngx_gw_claim_path(ngx_pool_t *pool, ngx_array_t *members,
    ngx_str_t *names, ngx_uint_t n, ngx_gw_json_member_t **found);

/* NGX_DECLINED: the member holds a control character, no text is had */
ngx_int_t ngx_gw_claim_variable(ngx_pool_t *pool,
    ngx_gw_json_member_t *member, ngx_str_t *text);

ngx_int_t ngx_gw_claim_json(ngx_pool_t *pool, ngx_str_t *json,
    ngx_str_t *text);

/* 1 or 0, or NGX_ERROR */
ngx_int_t ngx_gw_claim_contains(ngx_pool_t *pool,
    ngx_gw_json_member_t *member, ngx_str_t *value, ngx_uint_t words);

/*
 * The value of the claim_contains directives, "<directive> $variable
 * name ... value", from cf->args: whether it is looked for among words
 * (in "scope" and "scp", lists separated by spaces); *n becomes the
 * number of arguments before it.  An error string, or NGX_CONF_OK.
 */
char *ngx_gw_claim_contains_conf(ngx_conf_t *cf, ngx_uint_t *n,
    ngx_str_t *value, ngx_uint_t *words);

/*
 * A member as a variable gives it (never cached: a later read may be
 * under another location's settings), not found when member is NULL.  A
 * member with a control character is empty, with one info line a request
 * ("<module>: $<name> holds a control character: left empty"), which
 * *logged remembers.
 */
ngx_int_t ngx_gw_claim_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_gw_json_member_t *member,
    ngx_str_t *name, const char *module, ngx_uint_t *logged);

NGX_GW_HIDDEN_END


#endif /* _NGX_GW_CLAIM_H_INCLUDED_ */
