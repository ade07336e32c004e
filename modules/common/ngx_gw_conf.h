
/*
 * Directive parameters that several of the gateway's modules take.
 */


#ifndef _NGX_GW_CONF_H_INCLUDED_
#define _NGX_GW_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gw_hidden.h"


NGX_GW_HIDDEN_BEGIN

/*
 * A shared memory zone's "name:size", as "<prefix>name:size" in value
 * (prefix "zone=" or ""), at least 8 pages as a slab pool needs.  Errors
 * are emerg lines that quote the parameter as written; returns NGX_OK or
 * NGX_ERROR.
 */
ngx_int_t ngx_gw_conf_zone(ngx_conf_t *cf, ngx_str_t *value,
    const char *prefix, ngx_str_t *name, ssize_t *size);

NGX_GW_HIDDEN_END


#endif /* _NGX_GW_CONF_H_INCLUDED_ */
