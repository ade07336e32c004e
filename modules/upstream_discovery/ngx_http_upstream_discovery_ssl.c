
/*
 * TLS to the etcd members through nginx's OpenSSL: one context for the
 * upstream's members, the member's certificate verified against the CA
 * file unless told not to, a client certificate for etcd's mutual TLS,
 * and the last session resumed, so that a sync every interval does not
 * cost a full handshake.  The connection's pool must be set: nginx's TLS
 * allocates from it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_upstream_discovery.h"


/* the member's certificate, then up to three CAs above it */
#define NGX_HTTP_UPSTREAM_DISCOVERY_SSL_DEPTH  4


static void ngx_http_upstream_discovery_ssl_handshaked(ngx_connection_t *c);
static ngx_int_t ngx_http_upstream_discovery_ssl_check(ngx_connection_t *c,
    ngx_str_t *name, const char **error);
static void ngx_http_upstream_discovery_ssl_save(ngx_connection_t *c);


/* the handshake's end, kept with the connection's SSL while it runs */
static int  ngx_http_upstream_discovery_ssl_index = -1;


typedef struct {
    ngx_http_upstream_discovery_conf_t         *dcf;
    ngx_str_t                                   name;
    ngx_http_upstream_discovery_ssl_handler_pt  handler;
} ngx_http_upstream_discovery_ssl_ctx_t;


char *
ngx_http_upstream_discovery_ssl_init(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf)
{
    ngx_pool_cleanup_t  *cln;

    if (ngx_http_upstream_discovery_ssl_index == -1) {
        ngx_http_upstream_discovery_ssl_index =
            SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);

        if (ngx_http_upstream_discovery_ssl_index == -1) {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "SSL_get_ex_new_index() failed");
            return NGX_CONF_ERROR;
        }
    }

    dcf->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (dcf->ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    dcf->ssl->log = cf->log;

    if (ngx_ssl_create(dcf->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(dcf->ssl);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = dcf->ssl;

    if (dcf->ssl_certificate.len
        && ngx_ssl_certificate(cf, dcf->ssl, &dcf->ssl_certificate,
                               &dcf->ssl_certificate_key, NULL)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (dcf->ssl_verify
        && ngx_ssl_trusted_certificate(cf, dcf->ssl,
                                       &dcf->ssl_trusted_certificate,
                                       NGX_HTTP_UPSTREAM_DISCOVERY_SSL_DEPTH)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the sessions etcd hands out, TLSv1.3's after the handshake too */

    if (ngx_ssl_client_session_cache(cf, dcf->ssl, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


void
ngx_http_upstream_discovery_ssl_handshake(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_connection_t *c,
    ngx_http_upstream_discovery_member_t *member,
    ngx_http_upstream_discovery_ssl_handler_pt handler)
{
    ngx_int_t                               rc;
    ngx_http_upstream_discovery_ssl_ctx_t  *ctx;

    if (ngx_ssl_create_connection(dcf->ssl, c, NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        handler(c, NGX_ERROR, "TLS failed");
        return;
    }

    ctx = ngx_palloc(c->pool, sizeof(ngx_http_upstream_discovery_ssl_ctx_t));
    if (ctx == NULL) {
        handler(c, NGX_ERROR, "no memory");
        return;
    }

    ctx->dcf = dcf;
    ctx->name = dcf->ssl_name.len ? dcf->ssl_name : member->host;
    ctx->handler = handler;

    if (SSL_set_ex_data(c->ssl->connection,
                        ngx_http_upstream_discovery_ssl_index, ctx)
        == 0)
    {
        handler(c, NGX_ERROR, "TLS failed");
        return;
    }

    /* a name, not an address, goes in SNI (RFC 6066) */

    if (ngx_inet_addr(ctx->name.data, ctx->name.len) == INADDR_NONE
#if (NGX_HAVE_INET6)
        && ngx_strlchr(ctx->name.data, ctx->name.data + ctx->name.len, ':')
           == NULL
#endif
        )
    {
        /* the directive keeps names NUL-terminated */

        if (SSL_set_tlsext_host_name(c->ssl->connection,
                                     (char *) ctx->name.data)
            == 0)
        {
            handler(c, NGX_ERROR, "TLS failed");
            return;
        }
    }

    c->ssl->save_session = ngx_http_upstream_discovery_ssl_save;

    if (dcf->ssl_session
        && ngx_ssl_set_session(c, dcf->ssl_session) != NGX_OK)
    {
        handler(c, NGX_ERROR, "TLS failed");
        return;
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_upstream_discovery_ssl_handshaked;
        return;
    }

    ngx_http_upstream_discovery_ssl_handshaked(c);
}


void
ngx_http_upstream_discovery_ssl_close(ngx_connection_t *c)
{
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
}


void
ngx_http_upstream_discovery_ssl_forget(ngx_http_upstream_discovery_conf_t *dcf)
{
    if (dcf->ssl_session) {
        ngx_ssl_free_session(dcf->ssl_session);
        dcf->ssl_session = NULL;
    }
}


static void
ngx_http_upstream_discovery_ssl_handshaked(ngx_connection_t *c)
{
    long                                    rc;
    const char                             *error;
    ngx_http_upstream_discovery_ssl_ctx_t  *ctx;

    ctx = SSL_get_ex_data(c->ssl->connection,
                          ngx_http_upstream_discovery_ssl_index);

    if (!c->ssl->handshaked) {
        ctx->handler(c, NGX_ERROR, "TLS handshake failed");
        return;
    }

    if (ctx->dcf->ssl_verify) {
        rc = SSL_get_verify_result(c->ssl->connection);

        if (rc != X509_V_OK) {
            /* OpenSSL's own text, which is static */
            ctx->handler(c, NGX_ERROR, X509_verify_cert_error_string(rc));
            return;
        }

        if (ngx_http_upstream_discovery_ssl_check(c, &ctx->name, &error)
            != NGX_OK)
        {
            ctx->handler(c, NGX_ERROR, error);
            return;
        }
    }

    ctx->handler(c, NGX_OK, NULL);
}


/*
 * nginx's ngx_ssl_check_host() matches names only; etcd's certificates
 * usually name the members' addresses as well
 */

static ngx_int_t
ngx_http_upstream_discovery_ssl_check(ngx_connection_t *c, ngx_str_t *name,
    const char **error)
{
    int     rc;
    X509   *cert;

    if (ngx_inet_addr(name->data, name->len) == INADDR_NONE
#if (NGX_HAVE_INET6)
        && ngx_strlchr(name->data, name->data + name->len, ':') == NULL
#endif
        )
    {
        if (ngx_ssl_check_host(c, name) != NGX_OK) {
            *error = "the certificate does not name the member";
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        *error = "no certificate";
        return NGX_ERROR;
    }

    /* the directive keeps names NUL-terminated */

    rc = X509_check_ip_asc(cert, (char *) name->data, 0);

    X509_free(cert);

    if (rc != 1) {
        *error = "the certificate does not name the member";
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a session etcd handed out, for the next connection to the member */

static void
ngx_http_upstream_discovery_ssl_save(ngx_connection_t *c)
{
    ngx_ssl_session_t                      *session;
    ngx_http_upstream_discovery_ssl_ctx_t  *ctx;

    ctx = SSL_get_ex_data(c->ssl->connection,
                          ngx_http_upstream_discovery_ssl_index);
    if (ctx == NULL) {
        return;
    }

    session = ngx_ssl_get_session(c);
    if (session == NULL) {
        return;
    }

    ngx_http_upstream_discovery_ssl_forget(ctx->dcf);

    ctx->dcf->ssl_session = session;
}
