
/*
 * Active health checks with NGINX Plus's interface: "health_check" in a
 * location that proxies to an upstream with a zone, and "match" blocks.
 *
 * A check is made as the location would make its request: the module
 * sees the location's proxy_pass, proxy_set_header and
 * proxy_http_version as nginx parses them (its module comes before the
 * proxy module and hands each of them on to it), and takes the
 * timeouts from the proxy module's upstream configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_health_check.h"


#define NGX_HTTP_HEALTH_CHECK_PROXY  "ngx_http_proxy_module"


static char *ngx_http_health_check(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_health_check_time(ngx_conf_t *cf, ngx_str_t *value,
    size_t skip, ngx_msec_t *time, ngx_msec_t least);
static char *ngx_http_health_check_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_health_check_proxy_pass(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_health_check_proxy_set_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_health_check_proxy_http_version(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_health_check_hand_on(ngx_conf_t *cf,
    ngx_command_t *cmd);
static ngx_int_t ngx_http_health_check_preconf(ngx_conf_t *cf);
static ngx_int_t ngx_http_health_check_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_health_check_location(ngx_conf_t *cf,
    ngx_http_health_check_main_conf_t *hmcf, ngx_http_health_check_t *hc);
static ngx_http_health_check_upstream_t *ngx_http_health_check_upstream(
    ngx_conf_t *cf, ngx_http_health_check_main_conf_t *hmcf,
    ngx_http_upstream_srv_conf_t *uscf);
static ngx_int_t ngx_http_health_check_init_process(ngx_cycle_t *cycle);
static void ngx_http_health_check_exit_process(ngx_cycle_t *cycle);
static void *ngx_http_health_check_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_health_check_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_health_check_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_health_check_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);


/*
 * The last three are the proxy module's own: the module takes them
 * first, hands them on to it, and keeps what a check needs.  Their types
 * are made the proxy module's own when nginx starts.
 */

static ngx_command_t  ngx_http_health_check_commands[] = {

    { ngx_string("health_check"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_health_check,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("match"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_health_check_match_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_check_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_health_check_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("proxy_pass"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_TAKE1,
      ngx_http_health_check_proxy_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("proxy_set_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_health_check_proxy_set_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("proxy_http_version"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_health_check_proxy_http_version,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_health_check_module_ctx = {
    ngx_http_health_check_preconf,         /* preconfiguration */
    ngx_http_health_check_init,            /* postconfiguration */

    ngx_http_health_check_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_health_check_create_srv_conf, /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_health_check_create_loc_conf, /* create location configuration */
    ngx_http_health_check_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_health_check_module = {
    NGX_MODULE_V1,
    &ngx_http_health_check_module_ctx,     /* module context */
    ngx_http_health_check_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_health_check_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_health_check_exit_process,    /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * health_check [interval=time] [jitter=time] [fails=n] [passes=n]
 *              [uri=uri] [mandatory [persistent]] [match=name]
 *              [port=n] [keepalive_time=time]
 */

static char *
ngx_http_health_check(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                               *rv;
    u_char                             *p;
    ngx_int_t                           n;
    ngx_str_t                          *value, s;
    ngx_uint_t                          i;
    ngx_http_health_check_t            *hc, **hcp;
    ngx_http_health_check_main_conf_t  *hmcf;

    hc = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_check_t));
    if (hc == NULL) {
        return NGX_CONF_ERROR;
    }

    hc->interval = 5000;
    hc->fails = 1;
    hc->passes = 1;
    ngx_str_set(&hc->uri, "/");

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0) {
            rv = ngx_http_health_check_time(cf, &value[i], 9, &hc->interval,
                                            1);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "jitter=", 7) == 0) {
            rv = ngx_http_health_check_time(cf, &value[i], 7, &hc->jitter, 0);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "keepalive_time=", 15) == 0) {
            rv = ngx_http_health_check_time(cf, &value[i], 15,
                                            &hc->keepalive_time, 1);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "fails=", 6) == 0
            || ngx_strncmp(value[i].data, "passes=", 7) == 0)
        {
            p = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            n = ngx_atoi(p, value[i].data + value[i].len - p);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a number of checks, "
                                   "1 or more, expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (value[i].data[0] == 'f') {
                hc->fails = n;

            } else {
                hc->passes = n;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "uri=", 4) == 0) {
            hc->uri.data = value[i].data + 4;
            hc->uri.len = value[i].len - 4;

            if (hc->uri.len == 0 || hc->uri.data[0] != '/') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": the uri must start "
                                   "with \"/\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            for (p = hc->uri.data; p < hc->uri.data + hc->uri.len; p++) {
                if (*p <= ' ' || *p == 0x7f) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid \"%V\": the uri holds a "
                                       "space or a control character",
                                       &value[i]);
                    return NGX_CONF_ERROR;
                }
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "mandatory") == 0) {
            hc->mandatory = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "persistent") == 0) {
            if (!hc->mandatory) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"persistent\" must follow "
                                   "\"mandatory\"");
                return NGX_CONF_ERROR;
            }

            hc->persistent = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "match=", 6) == 0) {
            hc->match_name.data = value[i].data + 6;
            hc->match_name.len = value[i].len - 6;

            if (hc->match_name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a match block's name "
                                   "expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "port=", 5) == 0) {
            n = ngx_atoi(value[i].data + 5, value[i].len - 5);

            if (n < 1 || n > 65535) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a port from 1 to 65535 "
                                   "expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            hc->port = (in_port_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "type=", 5) == 0
            || ngx_strncmp(value[i].data, "grpc_service=", 13) == 0
            || ngx_strncmp(value[i].data, "grpc_status=", 12) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" is not supported: checks are HTTP "
                               "requests; gRPC health checks are not",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    s = cf->conf_file->file.name;

    hc->file.data = ngx_pstrdup(cf->pool, &s);
    if (hc->file.data == NULL) {
        return NGX_CONF_ERROR;
    }

    hc->file.len = s.len;
    hc->line = cf->conf_file->line;
    hc->ctx = *(ngx_http_conf_ctx_t *) cf->ctx;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_check_module);

    hcp = ngx_array_push(&hmcf->checks);
    if (hcp == NULL) {
        return NGX_CONF_ERROR;
    }

    *hcp = hc;

    return NGX_CONF_OK;
}


/* "name=time" with nginx's units (seconds without one), at least least */

static char *
ngx_http_health_check_time(ngx_conf_t *cf, ngx_str_t *value, size_t skip,
    ngx_msec_t *time, ngx_msec_t least)
{
    ngx_str_t   s;
    ngx_msec_t  t;

    s.data = value->data + skip;
    s.len = value->len - skip;

    t = ngx_parse_time(&s, 0);

    if (t == (ngx_msec_t) NGX_ERROR || t < least) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\": a time%s expected", value,
                           least ? " above 0" : "");
        return NGX_CONF_ERROR;
    }

    *time = t;

    return NGX_CONF_OK;
}


static char *
ngx_http_health_check_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate: the location has a handler";
    }

    clcf->handler = ngx_http_health_check_status_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_health_check_proxy_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_health_check_loc_conf_t *hlcf = conf;

    char       *rv;
    ngx_str_t  *value;

    rv = ngx_http_health_check_hand_on(cf, cmd);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;
    hlcf->url = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_health_check_proxy_set_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_health_check_loc_conf_t *hlcf = conf;

    char                                *rv;
    ngx_str_t                           *value;
    ngx_http_compile_complex_value_t     ccv;
    ngx_http_health_check_header_set_t  *h;

    rv = ngx_http_health_check_hand_on(cf, cmd);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;

    if (hlcf->headers == NULL) {
        hlcf->headers = ngx_array_create(cf->pool, 4,
                                  sizeof(ngx_http_health_check_header_set_t));
        if (hlcf->headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    h = ngx_array_push(hlcf->headers);
    if (h == NULL) {
        return NGX_CONF_ERROR;
    }

    h->key = value[1];

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &h->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_health_check_proxy_http_version(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_health_check_loc_conf_t *hlcf = conf;

    char       *rv;
    ngx_str_t  *value;

    rv = ngx_http_health_check_hand_on(cf, cmd);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;

    hlcf->http_version = (value[1].len == 3
                          && ngx_strncmp(value[1].data, "1.1", 3) == 0)
                         ? NGX_HTTP_VERSION_11 : NGX_HTTP_VERSION_10;

    return NGX_CONF_OK;
}


/*
 * The proxy module's directive, to the proxy module: its handler with
 * the configuration nginx would have given it.  What it refuses is
 * refused with its words.
 */

static char *
ngx_http_health_check_hand_on(ngx_conf_t *cf, ngx_command_t *cmd)
{
    void                               *conf, **confp;
    ngx_command_t                      *pcmd;
    ngx_http_health_check_main_conf_t  *hmcf;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_check_module);

    pcmd = NULL;

    if (hmcf->proxy) {
        for (pcmd = hmcf->proxy->commands; pcmd->name.len; pcmd++) {
            if (pcmd->name.len == cmd->name.len
                && ngx_strcmp(pcmd->name.data, cmd->name.data) == 0)
            {
                break;
            }
        }
    }

    if (pcmd == NULL || pcmd->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown directive \"%V\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    conf = NULL;
    confp = *(void **) ((char *) cf->ctx + pcmd->conf);

    if (confp) {
        conf = confp[hmcf->proxy->ctx_index];
    }

    return pcmd->set(cf, pcmd, conf);
}


/*
 * Before the http block is parsed: the proxy module, and whether this
 * module comes before it, so that nginx gives the directives to this one.
 */

static ngx_int_t
ngx_http_health_check_preconf(ngx_conf_t *cf)
{
    ngx_uint_t                          i, ours;
    ngx_module_t                      **modules;
    ngx_command_t                      *cmd, *pcmd;
    ngx_http_health_check_main_conf_t  *hmcf;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_check_module);

    modules = cf->cycle->modules;
    ours = 0;

    for (i = 0; modules[i]; i++) {

        if (modules[i] == &ngx_http_health_check_module) {
            ours = 1;
            continue;
        }

        if (ngx_strcmp(modules[i]->name, NGX_HTTP_HEALTH_CHECK_PROXY) == 0) {
            hmcf->proxy = modules[i];
            hmcf->ahead = ours;
            break;
        }
    }

    if (hmcf->proxy == NULL) {
        return NGX_OK;
    }

    for (cmd = ngx_http_health_check_commands; cmd->name.len; cmd++) {

        if (cmd->name.len < 6 || ngx_strncmp(cmd->name.data, "proxy_", 6) != 0)
        {
            continue;
        }

        for (pcmd = hmcf->proxy->commands; pcmd->name.len; pcmd++) {
            if (pcmd->name.len == cmd->name.len
                && ngx_strcmp(pcmd->name.data, cmd->name.data) == 0)
            {
                cmd->type = pcmd->type;
                break;
            }
        }
    }

    return NGX_OK;
}


/* after parsing: each check finds its location's upstream, and the zone */

static ngx_int_t
ngx_http_health_check_init(ngx_conf_t *cf)
{
    size_t                               size, node;
    ngx_str_t                            name;
    ngx_uint_t                           i;
    ngx_http_health_check_t            **hc;
    ngx_http_health_check_upstream_t   **hcu;
    ngx_http_health_check_main_conf_t   *hmcf;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_check_module);

    if (hmcf->checks.nelts == 0) {
        return NGX_OK;
    }

    hc = hmcf->checks.elts;

    if (hmcf->proxy == NULL || !hmcf->ahead) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"health_check\" in %V:%ui needs nginx's proxy "
                      "module, and ngx_http_health_check_module loaded "
                      "as a dynamic module (it must come before the "
                      "proxy module)", &hc[0]->file, hc[0]->line);
        return NGX_ERROR;
    }

    for (i = 0; i < hmcf->checks.nelts; i++) {
        if (ngx_http_health_check_location(cf, hmcf, hc[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* room for the servers of every upstream, and the slab's own */

    size = 8 * ngx_pagesize;
    hcu = hmcf->table.upstreams.elts;

    for (i = 0; i < hmcf->table.upstreams.nelts; i++) {
        hcu[i]->node_size = offsetof(ngx_http_health_check_node_t, slots)
                            + hcu[i]->checks.nelts
                              * sizeof(ngx_http_health_check_slot_t);

        for (node = 8; node < hcu[i]->node_size; node <<= 1) {
            /* void */
        }

        size += NGX_HTTP_HEALTH_CHECK_MAX_SERVERS * node
                + 2 * sizeof(ngx_http_health_check_shared_t);

        hcu[i]->init = hcu[i]->uscf->peer.init;
        hcu[i]->uscf->peer.init = ngx_http_health_check_init_peer;
    }

    ngx_str_set(&name, NGX_GW_HEALTH_ZONE);

    hmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_health_check_module);
    if (hmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    /*
     * a zone of each configuration, set up after the upstreams' zones:
     * the old one is read for "persistent", and goes with its workers
     */

    hmcf->shm_zone->init = ngx_http_health_check_init_zone;
    hmcf->shm_zone->data = hmcf;
    hmcf->shm_zone->noreuse = 1;
    hmcf->cycle = cf->cycle;

    return NGX_OK;
}


/* a check's location: its proxy_pass, its upstream, its match block */

static ngx_int_t
ngx_http_health_check_location(ngx_conf_t *cf,
    ngx_http_health_check_main_conf_t *hmcf, ngx_http_health_check_t *hc)
{
    u_char                             *p, *last, *slash;
    size_t                              skip;
    ngx_http_health_check_t           **hcp;
    ngx_http_upstream_conf_t           *conf;
    ngx_http_upstream_srv_conf_t       *uscf;
    ngx_http_health_check_upstream_t   *hcu;
    ngx_http_health_check_loc_conf_t   *hlcf;

    hlcf = hc->ctx.loc_conf[ngx_http_health_check_module.ctx_index];

    /*
     * the proxy module's location configuration starts with the upstream
     * configuration it gives nginx's upstream (u->conf): its upstream
     * block, timeouts, buffer size and TLS context
     */

    conf = hc->ctx.loc_conf[hmcf->proxy->ctx_index];
    uscf = conf->upstream;

    if (hlcf->url.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"health_check\" in %V:%ui needs \"proxy_pass\" in "
                      "its location", &hc->file, hc->line);
        return NGX_ERROR;
    }

    if (ngx_strncasecmp(hlcf->url.data, (u_char *) "http://", 7) == 0) {
        skip = 7;

    } else if (ngx_strncasecmp(hlcf->url.data, (u_char *) "https://", 8)
               == 0)
    {
        skip = 8;
        hc->ssl = 1;

    } else {
        skip = 0;
    }

    if (skip == 0 || uscf == NULL || !(uscf->flags & NGX_HTTP_UPSTREAM_CREATE))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"health_check\" in %V:%ui needs \"proxy_pass\" to "
                      "an upstream block with a zone, not \"%V\"",
                      &hc->file, hc->line, &hlcf->url);
        return NGX_ERROR;
    }

#if !(NGX_HTTP_SSL)
    if (hc->ssl) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"health_check\" in %V:%ui: nginx is built without "
                      "TLS", &hc->file, hc->line);
        return NGX_ERROR;
    }
#endif

    /* $proxy_host, the Host the location's requests have by default */

    p = hlcf->url.data + skip;
    last = hlcf->url.data + hlcf->url.len;

    slash = ngx_strlchr(p, last, '/');

    hc->host.data = p;
    hc->host.len = (slash ? slash : last) - p;

    hc->url = hlcf->url;
    hc->proxy = conf;
    hc->http_version = hlcf->http_version;
    hc->headers = hlcf->headers;

    if (hc->match_name.len) {
        hc->match = ngx_http_health_check_match_find(hmcf, &hc->match_name);

        if (hc->match == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"health_check\" in %V:%ui: unknown match "
                          "block \"%V\"", &hc->file, hc->line,
                          &hc->match_name);
            return NGX_ERROR;
        }
    }

    hcu = ngx_http_health_check_upstream(cf, hmcf, uscf);
    if (hcu == NULL) {
        return NGX_ERROR;
    }

    hc->upstream = hcu;
    hc->slot = hcu->checks.nelts;

    if (hc->mandatory) {
        hcu->mandatory = 1;
    }

    hcp = ngx_array_push(&hcu->checks);
    if (hcp == NULL) {
        return NGX_ERROR;
    }

    *hcp = hc;

    return NGX_OK;
}


static ngx_http_health_check_upstream_t *
ngx_http_health_check_upstream(ngx_conf_t *cf,
    ngx_http_health_check_main_conf_t *hmcf,
    ngx_http_upstream_srv_conf_t *uscf)
{
    ngx_http_health_check_upstream_t   *hcu, **hcup;
    ngx_http_health_check_srv_conf_t   *hscf;

    hscf = ngx_http_conf_upstream_srv_conf(uscf, ngx_http_health_check_module);

    if (hscf->upstream) {
        return hscf->upstream;
    }

    hcu = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_check_upstream_t));
    if (hcu == NULL) {
        return NULL;
    }

    if (ngx_array_init(&hcu->checks, cf->pool, 2,
                       sizeof(ngx_http_health_check_t *))
        != NGX_OK)
    {
        return NULL;
    }

    hcu->pub.name = uscf->host;
    hcu->uscf = uscf;

    hcup = ngx_array_push(&hmcf->table.upstreams);
    if (hcup == NULL) {
        return NULL;
    }

    *hcup = hcu;
    hscf->upstream = hcu;

    return hcu;
}


static ngx_int_t
ngx_http_health_check_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                           i;
    ngx_http_health_check_t            **hc;
    ngx_http_health_check_main_conf_t   *hmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    hmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_health_check_module);
    if (hmcf == NULL) {
        return NGX_OK;
    }

    hc = hmcf->checks.elts;

    for (i = 0; i < hmcf->checks.nelts; i++) {
        ngx_queue_init(&hc[i]->probes);
        ngx_queue_init(&hc[i]->idle);

        hc[i]->timer.handler = ngx_http_health_check_tick;
        hc[i]->timer.data = hc[i];
        hc[i]->timer.log = cycle->log;
        hc[i]->timer.cancelable = 1;

        /* a new worker, after a reload too, looks at once */

        ngx_add_timer(&hc[i]->timer, 1);
    }

    return NGX_OK;
}


static void
ngx_http_health_check_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                           i;
    ngx_http_health_check_t            **hc;
    ngx_http_health_check_main_conf_t   *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_health_check_module);
    if (hmcf == NULL) {
        return;
    }

    hc = hmcf->checks.elts;

    for (i = 0; i < hmcf->checks.nelts; i++) {
        ngx_http_health_check_close_all(hc[i]);
    }
}


static void *
ngx_http_health_check_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_health_check_main_conf_t  *hmcf;

    hmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_check_main_conf_t));
    if (hmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&hmcf->table.upstreams, cf->pool, 4,
                       sizeof(ngx_http_health_check_upstream_t *))
        != NGX_OK
        || ngx_array_init(&hmcf->checks, cf->pool, 4,
                          sizeof(ngx_http_health_check_t *))
           != NGX_OK
        || ngx_array_init(&hmcf->matches, cf->pool, 4,
                          sizeof(ngx_http_health_check_match_t *))
           != NGX_OK)
    {
        return NULL;
    }

    return hmcf;
}


static void *
ngx_http_health_check_create_srv_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_health_check_srv_conf_t));
}


static void *
ngx_http_health_check_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_health_check_loc_conf_t  *hlcf;

    hlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_check_loc_conf_t));
    if (hlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     hlcf->url = { 0, NULL };
     *     hlcf->headers = NULL;
     */

    hlcf->http_version = NGX_CONF_UNSET_UINT;

    return hlcf;
}


/* as the proxy module inherits them: proxy_pass is not */

static char *
ngx_http_health_check_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_health_check_loc_conf_t *prev = parent;
    ngx_http_health_check_loc_conf_t *conf = child;

    if (conf->headers == NULL) {
        conf->headers = prev->headers;
    }

    ngx_conf_merge_uint_value(conf->http_version, prev->http_version,
                              NGX_HTTP_VERSION_10);

    return NGX_CONF_OK;
}
