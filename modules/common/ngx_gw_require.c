
/*
 * Conditions on a valid credential: see ngx_gw_require.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_require.h"


/* "<directive> $value ... [error=401|403]" */

char *
ngx_gw_require_conf(ngx_conf_t *cf, ngx_array_t **conditions)
{
    ngx_str_t                         *value;
    ngx_uint_t                         i, last;
    ngx_gw_require_t                  *require;
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (*conditions == NGX_CONF_UNSET_PTR) {
        *conditions = ngx_array_create(cf->pool, 2, sizeof(ngx_gw_require_t));
        if (*conditions == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    require = ngx_array_push(*conditions);
    if (require == NULL) {
        return NGX_CONF_ERROR;
    }

    require->status = NGX_HTTP_UNAUTHORIZED;
    last = cf->args->nelts;

    if (ngx_strncmp(value[last - 1].data, "error=", 6) == 0) {
        if (ngx_strcmp(value[last - 1].data, "error=401") == 0) {
            require->status = NGX_HTTP_UNAUTHORIZED;

        } else if (ngx_strcmp(value[last - 1].data, "error=403") == 0) {
            require->status = NGX_HTTP_FORBIDDEN;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": \"error=401\" or "
                               "\"error=403\" expected", &value[last - 1]);
            return NGX_CONF_ERROR;
        }

        last--;
    }

    if (last < 2) {
        return "needs a value to check";
    }

    require->values = ngx_array_create(cf->pool, last - 1,
                                       sizeof(ngx_http_complex_value_t));
    if (require->values == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < last; i++) {
        if (value[i].data[0] != '$') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\": a variable expected",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        cv = ngx_array_push(require->values);
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_gw_require_check(ngx_http_request_t *r, ngx_array_t *conditions,
    const char *module)
{
    ngx_str_t                  value;
    ngx_uint_t                 i, n;
    ngx_gw_require_t          *require;
    ngx_http_complex_value_t  *cv;

    if (conditions == NULL) {
        return NGX_OK;
    }

    require = conditions->elts;

    for (i = 0; i < conditions->nelts; i++) {
        cv = require[i].values->elts;

        for (n = 0; n < require[i].values->nelts; n++) {
            if (ngx_http_complex_value(r, &cv[n], &value) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (value.len == 0 || (value.len == 1 && value.data[0] == '0')) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "%s: token does not satisfy \"%s_require %V\"",
                              module, module, &cv[n].value);
                return require[i].status;
            }
        }
    }

    return NGX_OK;
}
