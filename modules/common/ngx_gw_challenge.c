
/*
 * WWW-Authenticate challenges, as the gateway's access modules send them,
 * and the bearer tokens they ask for.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_challenge.h"
#include "ngx_gw_header.h"


ngx_table_elt_t *
ngx_gw_challenge(ngx_http_request_t *r, const char *scheme, ngx_str_t *realm,
    const char *params)
{
    u_char           *p;
    size_t            len;
    ngx_uint_t        i;
    ngx_table_elt_t  *h, **ph;

    len = ngx_strlen(scheme) + sizeof(" realm=\"\"") - 1 + 2 * realm->len
          + ngx_strlen(params);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    h = ngx_gw_header_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value.data = p;

    p = ngx_sprintf(p, "%s realm=\"", scheme);

    /* a quoted-string: quotes and backslashes in the realm are escaped */

    for (i = 0; i < realm->len; i++) {
        if (realm->data[i] == '"' || realm->data[i] == '\\') {
            *p++ = '\\';
        }

        *p++ = realm->data[i];
    }

    *p++ = '"';

    p = ngx_sprintf(p, "%s", params);

    h->value.len = p - h->value.data;

#if (nginx_version >= 1023000)

    /* since 1.23.0 the challenges are a list, and "satisfy any" drops all */

    for (ph = &r->headers_out.www_authenticate; *ph; ph = &(*ph)->next) {
        /* void */
    }

    *ph = h;

#else

    /*
     * 1.22 drops only the challenge the pointer names: another module's,
     * if it came first, stays there, and the caller drops its own
     */

    ph = &r->headers_out.www_authenticate;

    if (*ph == NULL) {
        *ph = h;
    }

#endif

    return h;
}


ngx_int_t
ngx_gw_challenge_token(ngx_http_request_t *r, ngx_http_complex_value_t *realm,
    ngx_uint_t invalid, ngx_table_elt_t **challenge)
{
    ngx_str_t         text;
    ngx_table_elt_t  *h;

    if (ngx_http_complex_value(r, realm, &text) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_gw_challenge(r, "Bearer", &text,
                         invalid ? ", error=\"invalid_token\"" : "");
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *challenge = h;

    return NGX_HTTP_UNAUTHORIZED;
}


void
ngx_gw_challenge_bearer(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char           *p, *last;
    ngx_table_elt_t  *authorization;

    ngx_str_null(token);

    authorization = r->headers_in.authorization;

    if (authorization == NULL
        || authorization->value.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(authorization->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        return;
    }

    p = authorization->value.data + sizeof("Bearer ") - 1;
    last = authorization->value.data + authorization->value.len;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    token->data = p;
    token->len = last - p;
}


char *
ngx_gw_challenge_conf(ngx_conf_t *cf, const char *name,
    ngx_http_complex_value_t **realm, ngx_http_complex_value_t **source)
{
    size_t                             len;
    ngx_str_t                         *value;
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    *source = NULL;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no parameters with \"off\"";
        }

        *realm = NULL;
        return NGX_CONF_OK;
    }

    len = ngx_strlen(name);

    if (cf->args->nelts == 3
        && (value[2].len <= len + 1
            || ngx_strncmp(value[2].data, name, len) != 0
            || value[2].data[len] != '$'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": \"%s$variable\" "
                           "expected", &value[2], name);
        return NGX_CONF_ERROR;
    }

    cv = ngx_palloc(cf->pool, 2 * sizeof(ngx_http_complex_value_t));
    if (cv == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = &cv[0];

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    *realm = &cv[0];

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    value[2].data += len;
    value[2].len -= len;

    ccv.value = &value[2];
    ccv.complex_value = &cv[1];

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    *source = &cv[1];

    return NGX_CONF_OK;
}
