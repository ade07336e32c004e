
/*
 * API key authentication: what the module's files share.
 */


#ifndef _NGX_HTTP_AUTH_API_KEY_H_INCLUDED_
#define _NGX_HTTP_AUTH_API_KEY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/crypto.h>
#include "ngx_gw_challenge.h"
#include "ngx_gw_sha256.h"
#include "ngx_gw_hidden.h"


#define NGX_HTTP_AUTH_API_KEY_DIGEST_LEN  NGX_GW_SHA256_LEN

/* longer keys are refused before they are hashed */
#define NGX_HTTP_AUTH_API_KEY_MAX_KEY     4096


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     value;
} ngx_http_auth_api_key_field_t;


/* a line of a key file but its SHA-256, which only the table holds */
typedef struct {
    ngx_str_t                     consumer;
    ngx_http_auth_api_key_field_t  *fields;
    ngx_uint_t                    nfields;
} ngx_http_auth_api_key_t;


/* a slot holds the digest itself: a probe reads one place in memory */
typedef struct {
    u_char                        digest[NGX_HTTP_AUTH_API_KEY_DIGEST_LEN];
    ngx_http_auth_api_key_t      *key;          /* NULL: empty */
} ngx_http_auth_api_key_slot_t;


/*
 * The keys of one file, by digest: open addressing on the digest's first
 * bytes, which are as good as random, in a table at most half full.
 */
typedef struct {
    ngx_str_t                     file;
    ngx_http_auth_api_key_slot_t *slots;
    ngx_uint_t                    mask;
    ngx_uint_t                    nkeys;
} ngx_http_auth_api_key_table_t;


NGX_GW_HIDDEN_BEGIN

/* NGX_CONF_OK, or the error already logged */
char *ngx_http_auth_api_key_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_auth_api_key_table_t *table);
ngx_http_auth_api_key_t *ngx_http_auth_api_key_find(
    ngx_http_auth_api_key_table_t *table, u_char *digest);

NGX_GW_HIDDEN_END


#endif /* _NGX_HTTP_AUTH_API_KEY_H_INCLUDED_ */
