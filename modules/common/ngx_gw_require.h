
/*
 * Conditions on a valid credential, as auth_jwt_require gives them:
 * "<directive> $value ... [error=401|403]", each value non-empty and not
 * "0".
 */


#ifndef _NGX_GW_REQUIRE_H_INCLUDED_
#define _NGX_GW_REQUIRE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_hidden.h"


typedef struct {
    ngx_array_t               *values;     /* of ngx_http_complex_value_t */
    ngx_uint_t                 status;     /* 401 or 403 */
} ngx_gw_require_t;


NGX_GW_HIDDEN_BEGIN

/* adds the directive's conditions to *require, made at its first use */
char *ngx_gw_require_conf(ngx_conf_t *cf, ngx_array_t **conditions);

/*
 * NGX_OK when every value of every condition holds (or there are none);
 * else the status of the first that fails, with an info line from the
 * module ("auth_jwt: token does not satisfy "auth_jwt_require $v""), or
 * 500 when a value could not be had.
 */
ngx_int_t ngx_gw_require_check(ngx_http_request_t *r,
    ngx_array_t *conditions, const char *module);

NGX_GW_HIDDEN_END


#endif /* _NGX_GW_REQUIRE_H_INCLUDED_ */
