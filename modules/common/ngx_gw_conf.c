
/*
 * Directive parameters that several of the gateway's modules take.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gw_conf.h"


ngx_int_t
ngx_gw_conf_zone(ngx_conf_t *cf, ngx_str_t *value, const char *prefix,
    ngx_str_t *name, ssize_t *size)
{
    u_char     *p, *last;
    size_t      skip;
    ngx_str_t   s;

    skip = ngx_strlen(prefix);
    last = value->data + value->len;

    name->data = value->data + skip;
    p = ngx_strlchr(name->data, last, ':');

    if (p == NULL || p == name->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\": \"%sname:size\" expected",
                           value, prefix);
        return NGX_ERROR;
    }

    name->len = p - name->data;

    s.data = p + 1;
    s.len = last - s.data;

    *size = ngx_parse_size(&s);

    if (*size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", value);
        return NGX_ERROR;
    }

    if (*size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small: %uz bytes or more "
                           "expected", value, 8 * ngx_pagesize);
        return NGX_ERROR;
    }

    return NGX_OK;
}
