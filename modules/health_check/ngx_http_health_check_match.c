
/*
 * "match" blocks: the tests a check's response must pass, as NGINX Plus
 * has them.  A response passes when it passes every test of the block;
 * without a block, when its status is 2xx or 3xx.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_health_check.h"


/* header tests a block may have: one bit each in a probe's results */
#define NGX_HTTP_HEALTH_CHECK_MAX_HEADERS  64


static char *ngx_http_health_check_match_line(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_health_check_match_status(ngx_conf_t *cf,
    ngx_http_health_check_match_t *match);
static char *ngx_http_health_check_match_header_test(ngx_conf_t *cf,
    ngx_http_health_check_match_t *match);
static char *ngx_http_health_check_match_body(ngx_conf_t *cf,
    ngx_http_health_check_match_t *match);
#if (NGX_PCRE)
static ngx_regex_t *ngx_http_health_check_match_regex(ngx_conf_t *cf,
    ngx_str_t *pattern);
#endif


/* match name { ... } */

char *
ngx_http_health_check_match_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_health_check_main_conf_t *hmcf = conf;

    char                           *rv;
    ngx_str_t                      *value;
    ngx_conf_t                      save;
    ngx_http_health_check_match_t  *match, **m;

    value = cf->args->elts;

    if (ngx_http_health_check_match_find(hmcf, &value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate match \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    match = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_check_match_t));
    if (match == NULL) {
        return NGX_CONF_ERROR;
    }

    match->name = value[1];

    if (ngx_array_init(&match->status, cf->pool, 2,
                       sizeof(ngx_http_health_check_range_t))
        != NGX_OK
        || ngx_array_init(&match->headers, cf->pool, 2,
                          sizeof(ngx_http_health_check_header_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    m = ngx_array_push(&hmcf->matches);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    *m = match;

    save = *cf;
    cf->handler = ngx_http_health_check_match_line;
    cf->handler_conf = (char *) match;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (!match->has_status && !match->has_body && match->headers.nelts == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "match \"%V\" has no tests", &match->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_health_check_match_line(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_str_t                      *value;
    ngx_http_health_check_match_t  *match;

    match = (ngx_http_health_check_match_t *) cf->handler_conf;
    value = cf->args->elts;

    if (value[0].len == 6 && ngx_strncmp(value[0].data, "status", 6) == 0) {
        return ngx_http_health_check_match_status(cf, match);
    }

    if (value[0].len == 6 && ngx_strncmp(value[0].data, "header", 6) == 0) {
        return ngx_http_health_check_match_header_test(cf, match);
    }

    if (value[0].len == 4 && ngx_strncmp(value[0].data, "body", 4) == 0) {
        return ngx_http_health_check_match_body(cf, match);
    }

    if (value[0].len == 7 && ngx_strncmp(value[0].data, "require", 7) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"require\" is not supported in \"match\": "
                           "a check has no request whose variables it "
                           "could test");
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown test \"%V\" in match \"%V\": \"status\", "
                       "\"header\" or \"body\" expected",
                       &value[0], &match->name);
    return NGX_CONF_ERROR;
}


/* status [!] 200 204 301-303 ... */

static char *
ngx_http_health_check_match_status(ngx_conf_t *cf,
    ngx_http_health_check_match_t *match)
{
    u_char                         *dash;
    ngx_int_t                       low, high;
    ngx_str_t                      *value;
    ngx_uint_t                      i;
    ngx_http_health_check_range_t  *range;

    value = cf->args->elts;

    if (match->has_status) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "match \"%V\" has \"status\" twice",
                           &match->name);
        return NGX_CONF_ERROR;
    }

    i = 1;

    if (cf->args->nelts > 1 && value[1].len == 1 && value[1].data[0] == '!')
    {
        match->status_not = 1;
        i = 2;
    }

    if (i == cf->args->nelts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"status\" in match \"%V\" has no status codes",
                           &match->name);
        return NGX_CONF_ERROR;
    }

    for ( /* void */ ; i < cf->args->nelts; i++) {

        dash = ngx_strlchr(value[i].data, value[i].data + value[i].len, '-');

        if (dash) {
            low = ngx_atoi(value[i].data, dash - value[i].data);
            high = ngx_atoi(dash + 1, value[i].data + value[i].len - dash - 1);

        } else {
            low = ngx_atoi(value[i].data, value[i].len);
            high = low;
        }

        if (low < 100 || high > 599 || low > high) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid status \"%V\" in match \"%V\": a "
                               "code or a range from 100 to 599 expected",
                               &value[i], &match->name);
            return NGX_CONF_ERROR;
        }

        range = ngx_array_push(&match->status);
        if (range == NULL) {
            return NGX_CONF_ERROR;
        }

        range->low = low;
        range->high = high;
    }

    match->has_status = 1;

    return NGX_CONF_OK;
}


/* header Name | ! Name | Name = value | != value | ~ regex | !~ regex */

static char *
ngx_http_health_check_match_header_test(ngx_conf_t *cf,
    ngx_http_health_check_match_t *match)
{
    ngx_str_t                       *value, *name, *op;
    ngx_uint_t                       n;
    ngx_http_health_check_header_t  *h;

    value = cf->args->elts;
    n = cf->args->nelts;

    if (match->headers.nelts == NGX_HTTP_HEALTH_CHECK_MAX_HEADERS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "match \"%V\" has more than %d header tests",
                           &match->name, NGX_HTTP_HEALTH_CHECK_MAX_HEADERS);
        return NGX_CONF_ERROR;
    }

    h = ngx_array_push(&match->headers);
    if (h == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(h, sizeof(ngx_http_health_check_header_t));

    if (n == 2) {
        name = &value[1];
        h->op = NGX_HTTP_HEALTH_CHECK_PRESENT;

    } else if (n == 3 && value[1].len == 1 && value[1].data[0] == '!') {
        name = &value[2];
        h->op = NGX_HTTP_HEALTH_CHECK_ABSENT;

    } else if (n == 4) {
        name = &value[1];
        op = &value[2];
        h->value = value[3];

        if (op->len == 1 && op->data[0] == '=') {
            h->op = NGX_HTTP_HEALTH_CHECK_EQUAL;

        } else if (op->len == 2 && ngx_strncmp(op->data, "!=", 2) == 0) {
            h->op = NGX_HTTP_HEALTH_CHECK_NOT_EQUAL;

        } else if (op->len == 1 && op->data[0] == '~') {
            h->op = NGX_HTTP_HEALTH_CHECK_MATCHES;

        } else if (op->len == 2 && ngx_strncmp(op->data, "!~", 2) == 0) {
            h->op = NGX_HTTP_HEALTH_CHECK_NOT_MATCHES;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid operator \"%V\" in match \"%V\": "
                               "\"=\", \"!=\", \"~\" or \"!~\" expected",
                               op, &match->name);
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"header\" test in match \"%V\"",
                           &match->name);
        return NGX_CONF_ERROR;
    }

    if (name->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty header name in match \"%V\"",
                           &match->name);
        return NGX_CONF_ERROR;
    }

    h->name.len = name->len;
    h->name.data = ngx_pnalloc(cf->pool, name->len);
    if (h->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_strlow(h->name.data, name->data, name->len);

    if (h->op == NGX_HTTP_HEALTH_CHECK_MATCHES
        || h->op == NGX_HTTP_HEALTH_CHECK_NOT_MATCHES)
    {
#if (NGX_PCRE)
        h->regex = ngx_http_health_check_match_regex(cf, &h->value);
        if (h->regex == NULL) {
            return NGX_CONF_ERROR;
        }
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "using regex \"%V\" requires PCRE library",
                           &h->value);
        return NGX_CONF_ERROR;
#endif
    }

    return NGX_CONF_OK;
}


/* body ~ regex | body !~ regex */

static char *
ngx_http_health_check_match_body(ngx_conf_t *cf,
    ngx_http_health_check_match_t *match)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (match->has_body) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "match \"%V\" has \"body\" twice", &match->name);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts != 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"body\" test in match \"%V\": "
                           "\"body ~ regex\" or \"body !~ regex\" expected",
                           &match->name);
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 2 && ngx_strncmp(value[1].data, "!~", 2) == 0) {
        match->body_not = 1;

    } else if (value[1].len != 1 || value[1].data[0] != '~') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid operator \"%V\" in match \"%V\": "
                           "\"~\" or \"!~\" expected",
                           &value[1], &match->name);
        return NGX_CONF_ERROR;
    }

#if (NGX_PCRE)
    match->body = ngx_http_health_check_match_regex(cf, &value[2]);
    if (match->body == NULL) {
        return NGX_CONF_ERROR;
    }
#else
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "using regex \"%V\" requires PCRE library",
                       &value[2]);
    return NGX_CONF_ERROR;
#endif

    match->has_body = 1;

    return NGX_CONF_OK;
}


#if (NGX_PCRE)

static ngx_regex_t *
ngx_http_health_check_match_regex(ngx_conf_t *cf, ngx_str_t *pattern)
{
    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_regex_compile_t  rc;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = *pattern;
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V", &rc.err);
        return NULL;
    }

    return rc.regex;
}

#endif


ngx_http_health_check_match_t *
ngx_http_health_check_match_find(ngx_http_health_check_main_conf_t *hmcf,
    ngx_str_t *name)
{
    ngx_uint_t                       i;
    ngx_http_health_check_match_t  **match;

    match = hmcf->matches.elts;

    for (i = 0; i < hmcf->matches.nelts; i++) {
        if (match[i]->name.len == name->len
            && ngx_strncmp(match[i]->name.data, name->data, name->len) == 0)
        {
            return match[i];
        }
    }

    return NULL;
}


/*
 * A test of a header holds if some header of that name passes it: each
 * of the response's headers is seen here as it is parsed.
 */

void
ngx_http_health_check_match_header(ngx_http_health_check_match_t *match,
    ngx_str_t *name, ngx_str_t *value, uint64_t *seen, uint64_t *passed)
{
    ngx_int_t                        ok;
    ngx_uint_t                       i;
    ngx_http_health_check_header_t  *h;

    h = match->headers.elts;

    for (i = 0; i < match->headers.nelts; i++) {

        if (h[i].name.len != name->len
            || ngx_strncmp(h[i].name.data, name->data, name->len) != 0)
        {
            continue;
        }

        *seen |= (uint64_t) 1 << i;

        switch (h[i].op) {

        case NGX_HTTP_HEALTH_CHECK_EQUAL:
        case NGX_HTTP_HEALTH_CHECK_NOT_EQUAL:
            ok = (value->len == h[i].value.len
                  && ngx_strncmp(value->data, h[i].value.data, value->len)
                     == 0);

            if (h[i].op == NGX_HTTP_HEALTH_CHECK_NOT_EQUAL) {
                ok = !ok;
            }

            break;

#if (NGX_PCRE)
        case NGX_HTTP_HEALTH_CHECK_MATCHES:
        case NGX_HTTP_HEALTH_CHECK_NOT_MATCHES:
            ok = (ngx_regex_exec(h[i].regex, value, NULL, 0) >= 0);

            if (h[i].op == NGX_HTTP_HEALTH_CHECK_NOT_MATCHES) {
                ok = !ok;
            }

            break;
#endif

        default: /* present, absent: seen is what counts */
            ok = 1;
        }

        if (ok) {
            *passed |= (uint64_t) 1 << i;
        }
    }
}


u_char *
ngx_http_health_check_match_test(ngx_http_health_check_match_t *match,
    ngx_uint_t status, uint64_t seen, uint64_t passed, ngx_str_t *body,
    u_char *reason, size_t len)
{
    ngx_uint_t                       i, in;
    ngx_http_health_check_range_t   *range;
    ngx_http_health_check_header_t  *h;

    if (match == NULL) {
        if (status >= 200 && status < 400) {
            return NULL;
        }

        return ngx_snprintf(reason, len, "status %ui", status);
    }

    if (match->has_status) {
        range = match->status.elts;
        in = 0;

        for (i = 0; i < match->status.nelts; i++) {
            if (status >= range[i].low && status <= range[i].high) {
                in = 1;
                break;
            }
        }

        if (in == match->status_not) {
            return ngx_snprintf(reason, len,
                                "status %ui does not pass match \"%V\"",
                                status, &match->name);
        }
    }

    h = match->headers.elts;

    for (i = 0; i < match->headers.nelts; i++) {

        if (h[i].op == NGX_HTTP_HEALTH_CHECK_ABSENT) {
            if (!(seen & ((uint64_t) 1 << i))) {
                continue;
            }

        } else if (passed & ((uint64_t) 1 << i)) {
            continue;
        }

        return ngx_snprintf(reason, len,
                            "header \"%V\" does not pass match \"%V\"",
                            &h[i].name, &match->name);
    }

#if (NGX_PCRE)
    if (match->has_body
        && (ngx_regex_exec(match->body, body, NULL, 0) >= 0)
           == match->body_not)
    {
        return ngx_snprintf(reason, len, "body does not pass match \"%V\"",
                            &match->name);
    }
#endif

    return NULL;
}
