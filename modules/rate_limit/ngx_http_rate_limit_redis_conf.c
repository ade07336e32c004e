
/*
 * What redis= names, read from the configuration:
 *
 *   host:port, unix:/path
 *   redis://[user[:password]@]host:port[/db]
 *   rediss://...                                       the same, in TLS
 *   redis-sentinel://[user[:password]@]host:port[,host:port...]/master
 *   redis-cluster://[user[:password]@]host:port[,host:port...]
 *
 * The user and the password are percent-decoded, go to AUTH (of the
 * primary or a Cluster's nodes, never of a sentinel), and never to a log
 * line: the
 * deployment's name in logs leaves the password out.  A password may also
 * come from a file (redis_password_file=), which the master reads.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_rate_limit.h"


/* more than any password a deployment needs, less than a surprise */
#define NGX_HTTP_RATE_LIMIT_REDIS_PASSWORD_MAX  4096


typedef struct {
    ngx_str_t                       scheme;
    ngx_uint_t                      mode;
    ngx_uint_t                      tls;
    ngx_uint_t                      port;
} ngx_http_rate_limit_redis_scheme_t;


static ngx_http_rate_limit_redis_scheme_t  ngx_http_rate_limit_redis_schemes[]
    = {
    { ngx_string("redis://"), NGX_HTTP_RATE_LIMIT_REDIS_SERVER, 0, 6379 },
    { ngx_string("rediss://"), NGX_HTTP_RATE_LIMIT_REDIS_SERVER, 1, 6379 },
    { ngx_string("redis-sentinel://"), NGX_HTTP_RATE_LIMIT_REDIS_SENTINEL, 0,
      26379 },
    { ngx_string("redis-cluster://"), NGX_HTTP_RATE_LIMIT_REDIS_CLUSTER, 0,
      6379 },
    { ngx_null_string, 0, 0, 0 }
};


/*
 * Deployments this module does not speak to: a clear "not supported" at
 * nginx -t, not an address that fails to parse.  Sentinel or a Cluster
 * in TLS would verify a server known only by the address a sentinel or
 * the slot map gives.
 */
static ngx_str_t  ngx_http_rate_limit_redis_unsupported[] = {
    ngx_string("rediss-sentinel://"),
    ngx_string("rediss-cluster://"),
    ngx_null_string
};


static char *ngx_http_rate_limit_redis_uri(ngx_conf_t *cf,
    ngx_http_rate_limit_redis_t *rd, ngx_http_rate_limit_redis_scheme_t *s,
    ngx_str_t *user, ngx_str_t *password, ngx_uint_t *db);
static char *ngx_http_rate_limit_redis_server(ngx_conf_t *cf,
    ngx_http_rate_limit_redis_t *rd, ngx_str_t *text, ngx_uint_t port);
static char *ngx_http_rate_limit_redis_password_file(ngx_conf_t *cf,
    ngx_str_t *file, ngx_str_t *password);
static ngx_int_t ngx_http_rate_limit_redis_unescape(ngx_conf_t *cf,
    ngx_str_t *s);
static ngx_int_t ngx_http_rate_limit_redis_command(ngx_conf_t *cf,
    ngx_str_t *out, ngx_str_t *args, ngx_uint_t n);


ngx_http_rate_limit_redis_t *
ngx_http_rate_limit_redis_create(ngx_conf_t *cf, ngx_str_t *uri,
    ngx_str_t *password_file)
{
    char                                *err;
    u_char                               num[NGX_INT_T_LEN];
    ngx_str_t                            user, password, args[3];
    ngx_str_t                           *un;
    ngx_uint_t                           db, n;
    ngx_http_rate_limit_server_t        *server;
    ngx_http_rate_limit_redis_t         *rd;
    ngx_http_rate_limit_redis_scheme_t  *s;

    for (un = ngx_http_rate_limit_redis_unsupported; un->len; un++) {
        if (uri->len >= un->len
            && ngx_strncasecmp(uri->data, un->data, un->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rate_limit_zone: \"%V\" is not supported, "
                               "only redis://, rediss://, redis-sentinel:// "
                               "and redis-cluster://", un);
            return NULL;
        }
    }

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_http_rate_limit_redis_t));
    if (rd == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rd->servers, cf->pool, 1,
                       sizeof(ngx_http_rate_limit_server_t))
        != NGX_OK)
    {
        return NULL;
    }

    rd->uri = *uri;
    rd->password_file = *password_file;
    rd->submit = ngx_http_rate_limit_redis_server_submit;
    rd->close = ngx_http_rate_limit_redis_server_close;

    ngx_str_null(&user);
    ngx_str_null(&password);
    db = 0;

    for (s = ngx_http_rate_limit_redis_schemes; s->scheme.len; s++) {
        if (uri->len >= s->scheme.len
            && ngx_strncmp(uri->data, s->scheme.data, s->scheme.len) == 0)
        {
            break;
        }
    }

    if (s->scheme.len == 0) {

        /* host:port or unix:/path, as before there were URIs */

        rd->name = *uri;

        err = ngx_http_rate_limit_redis_server(cf, rd, uri, 6379);

    } else {
        rd->mode = s->mode;
        rd->tls = s->tls;

        err = ngx_http_rate_limit_redis_uri(cf, rd, s, &user, &password, &db);
    }

    if (err != NGX_CONF_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid redis address \"%V\": %s", &rd->name, err);
        return NULL;
    }

    if (password_file->len) {
        if (password.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "redis \"%V\" has a password in the address "
                               "and \"redis_password_file=\"", &rd->name);
            return NULL;
        }

        err = ngx_http_rate_limit_redis_password_file(cf, password_file,
                                                      &password);
        if (err != NGX_CONF_OK) {
            if (err != NGX_CONF_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"redis_password_file=%V\": %s",
                                   password_file, err);
            }

            return NULL;
        }
    }

    if (user.len && password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis \"%V\" names a user without a password "
                           "(\"user:password@\" or \"redis_password_file=\")",
                           &rd->name);
        return NULL;
    }

    /* AUTH [user] password, and SELECT db, once for every connection */

    if (password.len) {
        ngx_str_set(&args[0], "AUTH");
        n = 1;

        if (user.len) {
            args[n++] = user;
        }

        args[n++] = password;

        if (ngx_http_rate_limit_redis_command(cf, &rd->auth, args, n)
            != NGX_OK)
        {
            return NULL;
        }
    }

    if (db) {
        ngx_str_set(&args[0], "SELECT");
        args[1].data = num;
        args[1].len = ngx_sprintf(num, "%ui", db) - num;

        if (ngx_http_rate_limit_redis_command(cf, &rd->select, args, 2)
            != NGX_OK)
        {
            return NULL;
        }
    }

    ngx_http_rate_limit_redis_script(rd);

    switch (rd->mode) {

    case NGX_HTTP_RATE_LIMIT_REDIS_SENTINEL:
        if (ngx_http_rate_limit_sentinel_init(cf, rd) != NGX_OK) {
            return NULL;
        }

        break;

    case NGX_HTTP_RATE_LIMIT_REDIS_CLUSTER:
        if (ngx_http_rate_limit_cluster_init(cf, rd) != NGX_OK) {
            return NULL;
        }

        break;

    default:
        rd->link = ngx_http_rate_limit_link_create(rd, "", cf->pool);
        if (rd->link == NULL) {
            return NULL;
        }

        server = rd->servers.elts;
        ngx_http_rate_limit_link_address(rd->link, server->addr.sockaddr,
                                         server->addr.socklen, &server->host);
    }

    return rd;
}


/*
 * scheme://[user[:password]@]host[:port][,host[:port]...][/path]: the
 * authority ends at the first "/", the user information at its last "@";
 * a "/" or "%" in a password is percent-encoded
 */

static char *
ngx_http_rate_limit_redis_uri(ngx_conf_t *cf, ngx_http_rate_limit_redis_t *rd,
    ngx_http_rate_limit_redis_scheme_t *s, ngx_str_t *user,
    ngx_str_t *password, ngx_uint_t *db)
{
    u_char     *p, *last, *authority, *at, *hosts, *path, *comma, *colon;
    char       *err;
    ngx_int_t   n;
    ngx_str_t   host, rest;

    p = rd->uri.data + s->scheme.len;
    last = rd->uri.data + rd->uri.len;

    authority = p;
    path = ngx_strlchr(authority, last, '/');
    if (path == NULL) {
        path = last;
    }

    at = NULL;

    for (p = authority; p < path; p++) {
        if (*p == '@') {
            at = p;
        }
    }

    hosts = at ? at + 1 : authority;

    if (at) {
        colon = ngx_strlchr(authority, at, ':');

        user->data = authority;
        user->len = (colon ? colon : at) - authority;

        if (colon) {
            password->data = colon + 1;
            password->len = at - (colon + 1);
        }
    }

    /* the name for logs: all but the password */

    rd->name.len = s->scheme.len + (user->len ? user->len + 1 : 0)
                   + (last - hosts);
    rd->name.data = ngx_pnalloc(cf->pool, rd->name.len);
    if (rd->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(rd->name.data, s->scheme.data, s->scheme.len);

    if (user->len) {
        p = ngx_cpymem(p, user->data, user->len);
        *p++ = '@';
    }

    ngx_memcpy(p, hosts, last - hosts);

    if (ngx_http_rate_limit_redis_unescape(cf, user) != NGX_OK
        || ngx_http_rate_limit_redis_unescape(cf, password) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (hosts == path) {
        return "no host";
    }

    for (p = hosts; p < path; p = comma + 1) {
        comma = ngx_strlchr(p, path, ',');
        if (comma == NULL) {
            comma = path;
        }

        host.data = p;
        host.len = comma - p;

        if (host.len == 0) {
            return "an empty host";
        }

        if (host.len > 5 && ngx_strncasecmp(host.data, (u_char *) "unix:", 5)
                            == 0)
        {
            return "a unix socket is named without a scheme, as "
                   "\"unix:/path\"";
        }

        err = ngx_http_rate_limit_redis_server(cf, rd, &host, s->port);
        if (err != NGX_CONF_OK) {
            return err;
        }

        if (comma == path) {
            break;
        }
    }

    rest.data = path;
    rest.len = last - path;

    if (ngx_strlchr(rest.data, last, '?') || ngx_strlchr(rest.data, last, '#'))
    {
        return "a query or a fragment";
    }

    if (rest.len && rest.data[0] == '/') {
        rest.data++;
        rest.len--;
    }

    switch (s->mode) {

    case NGX_HTTP_RATE_LIMIT_REDIS_SENTINEL:
        if (rest.len == 0 || ngx_strlchr(rest.data, last, '/')) {
            return "no master name: \"/name\" expected after the sentinels";
        }

        rd->master = rest;
        break;

    case NGX_HTTP_RATE_LIMIT_REDIS_CLUSTER:
        if (rest.len) {
            return "a path: a Cluster has only database 0";
        }

        break;

    default:
        if (rd->servers.nelts > 1) {
            return "more than one host: that is Sentinel's form";
        }

        if (rest.len) {
            n = ngx_atoi(rest.data, rest.len);
            if (n == NGX_ERROR) {
                return "an invalid database: a number expected after \"/\"";
            }

            *db = n;
        }
    }

    return NGX_CONF_OK;
}


/* host[:port]: resolved now, as nginx resolves a proxy_pass host */

static char *
ngx_http_rate_limit_redis_server(ngx_conf_t *cf,
    ngx_http_rate_limit_redis_t *rd, ngx_str_t *text, ngx_uint_t port)
{
    ngx_url_t                      u;
    ngx_http_rate_limit_server_t  *server;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *text;
    u.default_port = (in_port_t) port;
    u.no_resolve = 0;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        return u.err ? u.err : "no address";
    }

    server = ngx_array_push(&rd->servers);
    if (server == NULL) {
        return NGX_CONF_ERROR;
    }

    server->addr = u.addrs[0];
    server->host = u.host;

    if (server->host.len > 2 && server->host.data[0] == '[') {
        server->host.data++;
        server->host.len -= 2;
    }

    if (server->host.len > NGX_SOCKADDR_STRLEN) {
        return "a host name too long";
    }

    return NGX_CONF_OK;
}


/*
 * The password, the file's first line: read by the master, so that the
 * file may be the master's only (0600, root's); never logged
 */

static char *
ngx_http_rate_limit_redis_password_file(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *password)
{
    u_char           *p, *last;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_t        f;
    ngx_file_info_t   fi;

    if (ngx_conf_full_name(cf->cycle, file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(file->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open \"redis_password_file=%V\"", file);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.fd = fd;
    f.name = *file;
    f.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi)
        || ngx_file_size(&fi) > NGX_HTTP_RATE_LIMIT_REDIS_PASSWORD_MAX)
    {
        (void) ngx_close_file(fd);
        return "not a file of 4096 bytes at most";
    }

    p = ngx_pnalloc(cf->pool, NGX_HTTP_RATE_LIMIT_REDIS_PASSWORD_MAX);
    if (p == NULL) {
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&f, p, NGX_HTTP_RATE_LIMIT_REDIS_PASSWORD_MAX, 0);

    (void) ngx_close_file(fd);

    if (n == NGX_ERROR) {
        return "cannot read it";
    }

    last = p + n;

    if (last > p && last[-1] == LF) {
        last--;
    }

    if (last > p && last[-1] == CR) {
        last--;
    }

    if (last == p) {
        return "no password in it";
    }

    password->data = p;
    password->len = last - p;

    for ( /* void */ ; p < last; p++) {
        if (*p == CR || *p == LF || *p == '\0') {
            return "more than one line, or a NUL";
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_rate_limit_redis_unescape(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char  *src, *dst;

    if (s->len == 0 || ngx_strlchr(s->data, s->data + s->len, '%') == NULL) {
        return NGX_OK;
    }

    dst = ngx_pnalloc(cf->pool, s->len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    src = s->data;
    s->data = dst;

    ngx_unescape_uri(&dst, &src, s->len, 0);

    s->len = dst - s->data;

    return NGX_OK;
}


/* a command in RESP */

static ngx_int_t
ngx_http_rate_limit_redis_command(ngx_conf_t *cf, ngx_str_t *out,
    ngx_str_t *args, ngx_uint_t n)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    len = sizeof("*9\r\n") - 1;

    for (i = 0; i < n; i++) {
        len += sizeof("$4096\r\n\r\n") - 1 + args[i].len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_sprintf(p, "*%ui\r\n", n);

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "$%uz\r\n%V\r\n", args[i].len, &args[i]);
    }

    out->len = p - out->data;

    return NGX_OK;
}

