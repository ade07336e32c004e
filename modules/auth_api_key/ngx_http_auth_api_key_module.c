
/*
 * API key authentication: a key from a header or any variable, known to
 * the key files only by its SHA-256, maps the request to a consumer and
 * the consumer's fields, which become variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_api_key.h"


typedef enum {
    NGX_HTTP_AUTH_API_KEY_UNCHECKED = 0,
    NGX_HTTP_AUTH_API_KEY_MISSING,
    NGX_HTTP_AUTH_API_KEY_UNKNOWN,
    NGX_HTTP_AUTH_API_KEY_VALID,
    NGX_HTTP_AUTH_API_KEY_ERROR
} ngx_http_auth_api_key_status_e;


/* each key file once, however many locations name it */
typedef struct {
    ngx_array_t                      tables;   /* table_t * */
} ngx_http_auth_api_key_main_conf_t;


typedef struct {
    ngx_http_complex_value_t        *realm;    /* NULL: off */
    ngx_http_complex_value_t        *key;      /* NULL: X-API-Key */
    ngx_array_t                     *tables;   /* table_t * */

    /* where "auth_api_key" was set, for the error when there is no file */
    ngx_str_t                        file;
    ngx_uint_t                       line;
} ngx_http_auth_api_key_loc_conf_t;


/* the verdict on the client request, shared by its subrequests */
typedef struct {
    ngx_http_auth_api_key_loc_conf_t  *conf;   /* the verdict is for */
    ngx_http_auth_api_key_status_e     status;
    ngx_http_auth_api_key_t           *key;
    ngx_table_elt_t                   *challenge;
} ngx_http_auth_api_key_ctx_t;


static ngx_http_auth_api_key_ctx_t *ngx_http_auth_api_key_check(
    ngx_http_request_t *r);
static void ngx_http_auth_api_key_header(ngx_http_request_t *r,
    ngx_str_t *value);
static ngx_int_t ngx_http_auth_api_key_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_api_key_challenge(ngx_http_request_t *r,
    ngx_http_auth_api_key_ctx_t *ctx);
static ngx_int_t ngx_http_auth_api_key_let_in(ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_api_key_consumer_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_api_key_field_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_auth_api_key_add_variables(ngx_conf_t *cf);
static void *ngx_http_auth_api_key_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_auth_api_key_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_auth_api_key_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_auth_api_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_api_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_auth_api_key_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_auth_api_key_commands[] = {

    { ngx_string("auth_api_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE12,
      ngx_http_auth_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_api_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_http_auth_api_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_auth_api_key_module_ctx = {
    ngx_http_auth_api_key_add_variables,   /* preconfiguration */
    ngx_http_auth_api_key_init,            /* postconfiguration */

    ngx_http_auth_api_key_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_auth_api_key_create_loc_conf, /* create location configuration */
    ngx_http_auth_api_key_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_auth_api_key_module = {
    NGX_MODULE_V1,
    &ngx_http_auth_api_key_module_ctx,     /* module context */
    ngx_http_auth_api_key_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_auth_api_key_vars[] = {

    { ngx_string("api_key_consumer"), NULL,
      ngx_http_auth_api_key_consumer_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_key_"), NULL, ngx_http_auth_api_key_field_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};




/*
 * Looks the key up once, whichever asks first: the access phase, or a
 * variable read earlier (a rate-limit key in the preaccess phase) or
 * later (a subrequest or the log).
 */

static ngx_http_auth_api_key_ctx_t *
ngx_http_auth_api_key_check(ngx_http_request_t *r)
{
    u_char                        digest[NGX_HTTP_AUTH_API_KEY_DIGEST_LEN];
    ngx_str_t                         value;
    ngx_uint_t                        i;
    ngx_http_auth_api_key_t          *key;
    ngx_http_auth_api_key_ctx_t      *ctx;
    ngx_http_auth_api_key_table_t   **tables;
    ngx_http_auth_api_key_loc_conf_t *akcf;

    r = r->main;

    akcf = ngx_http_get_module_loc_conf(r, ngx_http_auth_api_key_module);

    if (akcf->realm == NULL) {
        return NULL;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_api_key_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_auth_api_key_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_auth_api_key_module);

    } else if (ctx->conf != akcf) {

        /* the request moved on to a location with other key files */

        ngx_memzero(ctx, sizeof(ngx_http_auth_api_key_ctx_t));
    }

    ctx->conf = akcf;

    if (ctx->status != NGX_HTTP_AUTH_API_KEY_UNCHECKED) {
        return ctx;
    }

    if (akcf->key == NULL) {
        ngx_http_auth_api_key_header(r, &value);

    } else if (ngx_http_complex_value(r, akcf->key, &value) != NGX_OK) {
        ctx->status = NGX_HTTP_AUTH_API_KEY_ERROR;
        return ctx;
    }

    if (value.len == 0) {
        ctx->status = NGX_HTTP_AUTH_API_KEY_MISSING;
        return ctx;
    }

    ctx->status = NGX_HTTP_AUTH_API_KEY_UNKNOWN;

    if (value.len > NGX_HTTP_AUTH_API_KEY_MAX_KEY) {
        return ctx;
    }

    if (ngx_gw_sha256(&value, 1, digest) != NGX_OK) {
        ctx->status = NGX_HTTP_AUTH_API_KEY_ERROR;
        return ctx;
    }

    tables = akcf->tables->elts;

    for (i = 0; i < akcf->tables->nelts; i++) {
        key = ngx_http_auth_api_key_find(tables[i], digest);

        if (key) {
            ctx->status = NGX_HTTP_AUTH_API_KEY_VALID;
            ctx->key = key;
            break;
        }
    }

    return ctx;
}


/*
 * The first X-API-Key header, in place: $http_x_api_key would cost a
 * variable lookup and, in later nginx versions, join several headers.
 */

static void
ngx_http_auth_api_key_header(ngx_http_request_t *r, ngx_str_t *value)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("X-API-Key") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-API-Key",
                               sizeof("X-API-Key") - 1)
               == 0)
        {
            *value = h[i].value;
            return;
        }
    }

    ngx_str_null(value);
}


static ngx_int_t
ngx_http_auth_api_key_handler(ngx_http_request_t *r)
{
    ngx_http_auth_api_key_ctx_t       *ctx;
    ngx_http_auth_api_key_loc_conf_t  *akcf;

    akcf = ngx_http_get_module_loc_conf(r, ngx_http_auth_api_key_module);

    if (akcf->realm == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_auth_api_key_check(r);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ctx->status) {

    case NGX_HTTP_AUTH_API_KEY_VALID:
        return NGX_OK;

    case NGX_HTTP_AUTH_API_KEY_MISSING:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_api_key: no key");
        return ngx_http_auth_api_key_challenge(r, ctx);

    case NGX_HTTP_AUTH_API_KEY_UNKNOWN:

        /* never the key itself: logs are read by more people than keys */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_api_key: unknown key");
        return ngx_http_auth_api_key_challenge(r, ctx);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/* "Key realm=...", as Kong's key-auth says it */

static ngx_int_t
ngx_http_auth_api_key_challenge(ngx_http_request_t *r,
    ngx_http_auth_api_key_ctx_t *ctx)
{
    ngx_str_t         realm;
    ngx_table_elt_t  *h;

    if (ngx_http_complex_value(r, ctx->conf->realm, &realm) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_gw_challenge(r, "Key", &realm, "");
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* dropped by ngx_http_auth_api_key_let_in() if the request gets in */

    ctx->challenge = h;

    return NGX_HTTP_UNAUTHORIZED;
}


/* the request got past the access phase: no challenge of ours is due */

static ngx_int_t
ngx_http_auth_api_key_let_in(ngx_http_request_t *r)
{
    ngx_http_auth_api_key_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_api_key_module);

    if (ctx && ctx->challenge) {
        ctx->challenge->hash = 0;
        ctx->challenge = NULL;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_auth_api_key_consumer_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_auth_api_key_ctx_t  *ctx;

    ctx = ngx_http_auth_api_key_check(r);

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_API_KEY_VALID) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->key->consumer.data;
    v->len = ctx->key->consumer.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* a prefix variable's data is its full name, lower case, set by nginx */

static ngx_int_t
ngx_http_auth_api_key_field_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    size_t                          len;
    u_char                         *field;
    ngx_uint_t                      i;
    ngx_http_auth_api_key_ctx_t    *ctx;
    ngx_http_auth_api_key_field_t  *fields;

    ctx = ngx_http_auth_api_key_check(r);

    if (ctx == NULL || ctx->status != NGX_HTTP_AUTH_API_KEY_VALID) {
        v->not_found = 1;
        return NGX_OK;
    }

    field = name->data + sizeof("api_key_") - 1;
    len = name->len - (sizeof("api_key_") - 1);

    fields = ctx->key->fields;

    for (i = 0; i < ctx->key->nfields; i++) {
        if (fields[i].name.len == len
            && ngx_strncmp(fields[i].name.data, field, len) == 0)
        {
            v->data = fields[i].value.data;
            v->len = fields[i].value.len;
            v->valid = 1;
            v->no_cacheable = 0;
            v->not_found = 0;

            return NGX_OK;
        }
    }

    v->not_found = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_api_key_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_auth_api_key_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_auth_api_key_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_auth_api_key_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_api_key_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&conf->tables, cf->pool, 4,
                       sizeof(ngx_http_auth_api_key_table_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return conf;
}


static void *
ngx_http_auth_api_key_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_auth_api_key_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_api_key_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->file = { 0, NULL };
     *     conf->line = 0;
     */

    conf->realm = NGX_CONF_UNSET_PTR;
    conf->key = NGX_CONF_UNSET_PTR;
    conf->tables = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_auth_api_key_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_auth_api_key_loc_conf_t  *prev = parent;
    ngx_http_auth_api_key_loc_conf_t  *conf = child;

    if (conf->realm == NGX_CONF_UNSET_PTR) {
        conf->realm = prev->realm;
        conf->key = prev->key;
        conf->file = prev->file;
        conf->line = prev->line;
    }

    ngx_conf_merge_ptr_value(conf->realm, NULL, NULL);
    ngx_conf_merge_ptr_value(conf->key, NULL, NULL);
    ngx_conf_merge_ptr_value(conf->tables, prev->tables, NULL);

    if (conf->realm == NULL) {
        return NGX_CONF_OK;
    }

    if (conf->tables == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"auth_api_key\" in %V:%ui has no keys: add "
                      "\"auth_api_key_file\" where it applies",
                      &conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* auth_api_key realm [key=$variable] | off */

static char *
ngx_http_auth_api_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_api_key_loc_conf_t *akcf = conf;

    if (akcf->realm != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    akcf->file = cf->conf_file->file.name;
    akcf->line = cf->conf_file->line;

    return ngx_gw_challenge_conf(cf, "key=", &akcf->realm, &akcf->key);
}


/* a file named in several places is read once */

static char *
ngx_http_auth_api_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_api_key_loc_conf_t *akcf = conf;

    char                                *rv;
    ngx_str_t                           *value, full;
    ngx_uint_t                           i;
    ngx_http_auth_api_key_table_t       *table, **t, **tables;
    ngx_http_auth_api_key_main_conf_t   *akmcf;

    value = cf->args->elts;

    akmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_auth_api_key_module);

    if (akcf->tables == NGX_CONF_UNSET_PTR) {
        akcf->tables = ngx_array_create(cf->pool, 1,
                                     sizeof(ngx_http_auth_api_key_table_t *));
        if (akcf->tables == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    full = value[1];

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    table = NULL;
    tables = akmcf->tables.elts;

    for (i = 0; i < akmcf->tables.nelts; i++) {
        if (tables[i]->file.len == full.len
            && ngx_strncmp(tables[i]->file.data, full.data, full.len) == 0)
        {
            table = tables[i];
            break;
        }
    }

    if (table == NULL) {
        table = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_api_key_table_t));
        if (table == NULL) {
            return NGX_CONF_ERROR;
        }

        rv = ngx_http_auth_api_key_read_file(cf, &value[1], table);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        t = ngx_array_push(&akmcf->tables);
        if (t == NULL) {
            return NGX_CONF_ERROR;
        }

        *t = table;
    }

    t = ngx_array_push(akcf->tables);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    *t = table;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_auth_api_key_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_auth_api_key_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_auth_api_key_let_in;

    return NGX_OK;
}
