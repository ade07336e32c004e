
/*
 * The members of a JSON object that an issuer vouches for (a JWT's claims,
 * an introspection answer), as nginx variables give them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_claim.h"


static ngx_int_t ngx_gw_claim_time(ngx_array_t *members, char *name,
    double *value, ngx_uint_t *present);
static ngx_int_t ngx_gw_claim_array_text(ngx_pool_t *pool,
    ngx_gw_json_member_t *member, ngx_str_t *text);
static ngx_uint_t ngx_gw_claim_has_control(u_char *p, u_char *last);
static size_t ngx_gw_claim_json_clean(u_char *dst, u_char *src, size_t len);


ngx_int_t
ngx_gw_claim_clock(ngx_array_t *members, ngx_gw_claim_clock_t *clock,
    const char **reason)
{
    ngx_uint_t  present;

    if (ngx_gw_claim_time(members, "exp", &clock->exp, &present) != NGX_OK) {
        *reason = "\"exp\" is not a number of seconds";
        return NGX_DECLINED;
    }

    clock->has_exp = present;

    if (ngx_gw_claim_time(members, "nbf", &clock->nbf, &present) != NGX_OK) {
        *reason = "\"nbf\" is not a number of seconds";
        return NGX_DECLINED;
    }

    clock->has_nbf = present;

    return NGX_OK;
}


static ngx_int_t
ngx_gw_claim_time(ngx_array_t *members, char *name, double *value,
    ngx_uint_t *present)
{
    u_char                 text[64];
    time_t                 seconds;
    ngx_gw_json_member_t  *member;

    member = ngx_gw_json_member(members, (u_char *) name, ngx_strlen(name));
    if (member == NULL) {
        *present = 0;
        return NGX_OK;
    }

    *present = 1;

    if (member->type != NGX_GW_JSON_NUMBER
        || member->value.len >= sizeof(text))
    {
        return NGX_ERROR;
    }

    /* whole seconds, the usual form, need no strtod() */

    seconds = ngx_atotm(member->value.data, member->value.len);

    if (seconds != NGX_ERROR) {
        *value = (double) seconds;

    } else {
        /* the tokenizer accepted it, so strtod() reads all of it */

        ngx_memcpy(text, member->value.data, member->value.len);
        text[member->value.len] = '\0';

        *value = strtod((char *) text, NULL);
    }

    /* beyond 2^53 seconds (285 million years) is no time, nor is inf */

    if (*value > 9007199254740992.0 || *value < -9007199254740992.0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_gw_claim_path(ngx_pool_t *pool, ngx_array_t *members, ngx_str_t *names,
    ngx_uint_t n, ngx_gw_json_member_t **found)
{
    ngx_uint_t             i;
    const char            *error;
    ngx_gw_json_member_t  *member;

    *found = NULL;

    for (i = 0; /* void */; i++) {
        member = ngx_gw_json_member(members, names[i].data, names[i].len);

        if (member == NULL || i == n - 1) {
            break;
        }

        if (member->type != NGX_GW_JSON_OBJECT) {
            return NGX_OK;
        }

        members = ngx_array_create(pool, 8, sizeof(ngx_gw_json_member_t));
        if (members == NULL) {
            return NGX_ERROR;
        }

        /* the document was validated whole: this cannot fail on syntax */

        if (ngx_gw_json_object_members(pool, &member->value,
                                       NGX_GW_JSON_MAX_DEPTH, members, &error)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    *found = member;

    return NGX_OK;
}


/*
 * A claim as nginx variables show it, to headers, logs and services:
 * strings unescaped, numbers and booleans as sent, null empty, objects as
 * JSON, arrays as their elements (each shown the same way) joined by
 * commas; but never with a control character (C0, DEL or C1, Unicode's
 * Cc), which a header or a log line would take for its end or worse.  A
 * string that holds one is NGX_DECLINED, and so is an array with such a
 * string, which would otherwise read as a shorter list: no text rather
 * than another text.  JSON text keeps its meaning: it holds control
 * characters raw only as whitespace between tokens, which is dropped, and
 * as DEL or C1 characters inside strings, which are escaped.
 */

ngx_int_t
ngx_gw_claim_variable(ngx_pool_t *pool, ngx_gw_json_member_t *member,
    ngx_str_t *text)
{
    switch (member->type) {

    case NGX_GW_JSON_STRING:
        if (ngx_gw_json_member_text(pool, member, text) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_gw_claim_has_control(text->data, text->data + text->len)
               ? NGX_DECLINED : NGX_OK;

    case NGX_GW_JSON_OBJECT:
        return ngx_gw_claim_json(pool, &member->value, text);

    case NGX_GW_JSON_ARRAY:
        return ngx_gw_claim_array_text(pool, member, text);

    default:
        return ngx_gw_json_member_text(pool, member, text);
    }
}


/* JSON text, such as the payload, without control characters */

ngx_int_t
ngx_gw_claim_json(ngx_pool_t *pool, ngx_str_t *json, ngx_str_t *text)
{
    if (!ngx_gw_claim_has_control(json->data, json->data + json->len)) {
        *text = *json;
        return NGX_OK;
    }

    text->len = ngx_gw_claim_json_clean(NULL, json->data, json->len);

    text->data = ngx_pnalloc(pool, text->len);
    if (text->data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_gw_claim_json_clean(text->data, json->data, json->len);

    return NGX_OK;
}


static ngx_int_t
ngx_gw_claim_array_text(ngx_pool_t *pool, ngx_gw_json_member_t *member,
    ngx_str_t *text)
{
    u_char                  *p, *start;
    size_t                   size;
    ngx_uint_t               n;
    ngx_gw_json_member_t     element;
    ngx_gw_json_elements_t   elements;

    /*
     * the elements take no more room than the array did, but for the
     * escapes that ngx_gw_claim_json_clean() adds
     */

    size = ngx_gw_claim_json_clean(NULL, member->value.data,
                                   member->value.len);

    text->data = ngx_pnalloc(pool, size);
    if (text->data == NULL) {
        return NGX_ERROR;
    }

    p = text->data;
    n = 0;

    ngx_gw_json_elements_init(&elements, &member->value,
                              NGX_GW_JSON_MAX_DEPTH);

    while (ngx_gw_json_element(&elements, &element) == NGX_OK) {

        if (n++) {
            *p++ = ',';
        }

        start = p;

        switch (element.type) {

        case NGX_GW_JSON_STRING:
            p = ngx_gw_json_unescape(p, element.value.data + 1,
                                     element.value.len - 2);

            if (ngx_gw_claim_has_control(start, p)) {
                return NGX_DECLINED;
            }

            break;

        case NGX_GW_JSON_NULL:
            break;

        case NGX_GW_JSON_OBJECT:
        case NGX_GW_JSON_ARRAY:
            p += ngx_gw_claim_json_clean(p, element.value.data,
                                         element.value.len);
            break;

        default:
            p = ngx_cpymem(p, element.value.data, element.value.len);
        }
    }

    text->len = p - text->data;

    return NGX_OK;
}


/*
 * Whether a claim holds a value, exactly: an array one of whose elements is
 * a string equal to it, or a string equal to it; with words, the string
 * is a list of values separated by spaces, as "scope" is (RFC 8693, 4.2).
 * Numbers and other types never match: "1" is not 1.
 */

ngx_int_t
ngx_gw_claim_contains(ngx_pool_t *pool, ngx_gw_json_member_t *member,
    ngx_str_t *value, ngx_uint_t words)
{
    u_char                  *last, *p, *word;
    ngx_str_t                text;
    ngx_gw_json_member_t     element;
    ngx_gw_json_elements_t   elements;

    if (member->type == NGX_GW_JSON_STRING) {
        if (ngx_gw_json_member_text(pool, member, &text) != NGX_OK) {
            return NGX_ERROR;
        }

        if (!words) {
            return text.len == value->len
                   && ngx_memcmp(text.data, value->data, value->len) == 0;
        }

        last = text.data + text.len;

        for (word = text.data; word < last; word = p + 1) {
            p = ngx_strlchr(word, last, ' ');

            if (p == NULL) {
                p = last;
            }

            if ((size_t) (p - word) == value->len
                && ngx_memcmp(word, value->data, value->len) == 0)
            {
                return 1;
            }
        }

        return 0;
    }

    if (member->type != NGX_GW_JSON_ARRAY) {
        return 0;
    }

    ngx_gw_json_elements_init(&elements, &member->value,
                              NGX_GW_JSON_MAX_DEPTH);

    while (ngx_gw_json_element(&elements, &element) == NGX_OK) {

        if (element.type != NGX_GW_JSON_STRING) {
            continue;
        }

        if (ngx_gw_json_member_text(pool, &element, &text) != NGX_OK) {
            return NGX_ERROR;
        }

        if (text.len == value->len
            && ngx_memcmp(text.data, value->data, value->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


char *
ngx_gw_claim_contains_conf(ngx_conf_t *cf, ngx_uint_t *n, ngx_str_t *value,
    ngx_uint_t *words)
{
    ngx_str_t  *args, *name;

    args = cf->args->elts;

    if (*n < 4) {
        return "needs a claim and a value";
    }

    *value = args[--(*n)];

    if (value->len == 0) {
        return "has an empty value";
    }

    if (ngx_strlchr(value->data, value->data + value->len, '$')) {
        return "with variables is not supported";
    }

    /* OAuth's scope is a string of values separated by spaces */

    name = &args[*n - 1];

    *words = (name->len == 5 && ngx_strncmp(name->data, "scope", 5) == 0)
             || (name->len == 3 && ngx_strncmp(name->data, "scp", 3) == 0);

    return NGX_CONF_OK;
}


ngx_int_t
ngx_gw_claim_value(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    ngx_gw_json_member_t *member, ngx_str_t *name, const char *module,
    ngx_uint_t *logged)
{
    ngx_int_t  rc;
    ngx_str_t  text;

    if (member == NULL) {
        v->not_found = 1;
        v->no_cacheable = 1;

        return NGX_OK;
    }

    rc = ngx_gw_claim_variable(r->pool, member, &text);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {

        /* once a request: a value may be read many times */

        if (!*logged) {
            *logged = 1;
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "%s: $%V holds a control character: left empty",
                          module, name);
        }

        ngx_str_set(&text, "");
    }

    v->data = text.data;
    v->len = text.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_uint_t
ngx_gw_claim_has_control(u_char *p, u_char *last)
{
    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 1;
        }

        /* U+0080 to U+009F in UTF-8, which the tokenizer checked */

        if (*p == 0xc2 && p + 1 < last && p[1] <= 0x9f) {
            return 1;
        }
    }

    return 0;
}


/*
 * In JSON text the tokenizer accepted, a raw tab, CR or LF can only be
 * whitespace between tokens, and DEL and C1 characters can only be inside
 * strings.  Returns the size of the result; with dst NULL, only counts.
 */

static size_t
ngx_gw_claim_json_clean(u_char *dst, u_char *src, size_t len)
{
    u_char         *last, ch;
    size_t          n;
    static u_char   hex[] = "0123456789abcdef";

    last = src + len;
    n = 0;

    for ( /* void */ ; src < last; src++) {
        ch = *src;

        if (ch == '\t' || ch == '\r' || ch == '\n') {
            continue;
        }

        if (ch == 0xc2 && src + 1 < last && src[1] <= 0x9f) {
            ch = *++src;

        } else if (ch != 0x7f) {
            if (dst) {
                dst[n] = ch;
            }

            n++;
            continue;
        }

        if (dst) {
            ngx_memcpy(&dst[n], "\\u00", 4);
            dst[n + 4] = hex[ch >> 4];
            dst[n + 5] = hex[ch & 0x0f];
        }

        n += 6;
    }

    return n;
}
