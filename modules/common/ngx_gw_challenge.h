
/*
 * WWW-Authenticate challenges, as the gateway's access modules send them,
 * and the bearer tokens they ask for.
 */


#ifndef _NGX_GW_CHALLENGE_H_INCLUDED_
#define _NGX_GW_CHALLENGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_hidden.h"


NGX_GW_HIDDEN_BEGIN

/*
 * Adds "WWW-Authenticate: <scheme> realm="<realm>"<params>" to the
 * response and to r->headers_out.www_authenticate, so that "satisfy any"
 * drops it when another module lets the request in; NULL on no memory.
 * A module that runs after ours may take the pointer over (auth_basic
 * does), so the caller still drops its own challenge (hash = 0) once the
 * request got past the access phase.
 */
ngx_table_elt_t *ngx_gw_challenge(ngx_http_request_t *r, const char *scheme,
    ngx_str_t *realm, const char *params);

/*
 * RFC 6750, 3: "Bearer realm=..." for a request without a token, with
 * error="invalid_token" for one whose token was refused: NGX_HTTP_
 * UNAUTHORIZED, the challenge in *challenge for the caller to drop if the
 * request gets in, or 500 when the realm or the header could not be had.
 */
ngx_int_t ngx_gw_challenge_token(ngx_http_request_t *r,
    ngx_http_complex_value_t *realm, ngx_uint_t invalid,
    ngx_table_elt_t **challenge);

/*
 * The token of "Authorization: Bearer <token>" (RFC 6750, 2.1; the scheme
 * in any case, spaces around the token dropped), or an empty one.
 */
void ngx_gw_challenge_bearer(ngx_http_request_t *r, ngx_str_t *token);

/*
 * The arguments of "<directive> realm [<name>=$variable] | off", name
 * given as "token=": the realm (NULL for off) and the credential's
 * variable (NULL when not given).
 */
char *ngx_gw_challenge_conf(ngx_conf_t *cf, const char *name,
    ngx_http_complex_value_t **realm, ngx_http_complex_value_t **source);

NGX_GW_HIDDEN_END


#endif /* _NGX_GW_CHALLENGE_H_INCLUDED_ */
