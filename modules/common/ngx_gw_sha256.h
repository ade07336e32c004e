
/*
 * SHA-256, for the digests that stand for a credential: a token, an API
 * key.
 */


#ifndef _NGX_GW_SHA256_H_INCLUDED_
#define _NGX_GW_SHA256_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gw_hidden.h"


#define NGX_GW_SHA256_LEN  32


NGX_GW_HIDDEN_BEGIN

/* the digest of the n parts one after another, in NGX_GW_SHA256_LEN bytes */
ngx_int_t ngx_gw_sha256(ngx_str_t *parts, ngx_uint_t n, u_char *digest);

NGX_GW_HIDDEN_END


#endif /* _NGX_GW_SHA256_H_INCLUDED_ */
