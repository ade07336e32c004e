
/*
 * TLS to Redis (rediss://) through nginx's OpenSSL, on the event loop, as
 * proxy_ssl does it: the context of rate_limit_redis_ssl_trusted_certificate
 * and rate_limit_redis_ssl_verify, SNI, the server's certificate and name
 * checked after the handshake, and each connection's session kept for the
 * next one to the same server.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>
#include "ngx_http_rate_limit.h"


#if (NGX_SSL)


/* a server's certificate, intermediates and root: as in a managed Redis */
#define NGX_HTTP_RATE_LIMIT_SSL_VERIFY_DEPTH  4


static ngx_uint_t ngx_http_rate_limit_ssl_address(ngx_str_t *host);
static void ngx_http_rate_limit_ssl_save_session(ngx_connection_t *c);


/* one context for every rediss:// server of the http{} block */

ngx_int_t
ngx_http_rate_limit_redis_ssl_conf(ngx_conf_t *cf, ngx_ssl_t *ssl,
    ngx_str_t *trusted, ngx_flag_t verify)
{
    ngx_pool_cleanup_t  *cln;

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    if (verify) {
        if (trusted->len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "a \"rediss\" server needs "
                          "\"rate_limit_redis_ssl_trusted_certificate\" to "
                          "verify its certificate (or "
                          "\"rate_limit_redis_ssl_verify off\")");
            return NGX_ERROR;
        }

        if (ngx_ssl_trusted_certificate(cf, ssl, trusted,
                                        NGX_HTTP_RATE_LIMIT_SSL_VERIFY_DEPTH)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "\"rate_limit_redis_ssl_verify\" is off: the "
                      "certificates of \"rediss\" servers are not checked, "
                      "anyone between nginx and Redis can read and change "
                      "the limits and the password");
    }

    if (ngx_ssl_client_session_cache(cf, ssl, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The handshake on a link's new TCP connection: NGX_OK, done (the caller
 * calls handshaked itself), NGX_AGAIN, handshaked will be called, or
 * NGX_ERROR
 */

ngx_int_t
ngx_http_rate_limit_link_ssl(ngx_http_rate_limit_link_t *link,
    ngx_connection_handler_pt handshaked)
{
    u_char             name[NGX_SOCKADDR_STRLEN + 1];
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = link->connection;

    /* what OpenSSL's connection takes: the connection's own, until closed */

    c->pool = ngx_create_pool(256, c->log);
    if (c->pool == NULL) {
        return NGX_ERROR;
    }

    if (ngx_ssl_create_connection(link->redis->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

#ifdef SSL_CTRL_SET_TLSEXT_HOSTNAME

    /* as per RFC 6066, a name, never an address */

    if (!ngx_http_rate_limit_ssl_address(&link->host)) {
        (void) ngx_cpystrn(name, link->host.data, link->host.len + 1);

        if (SSL_set_tlsext_host_name(c->ssl->connection, (char *) name)
            == 0)
        {
            ngx_ssl_error(NGX_LOG_ERR, c->log, 0,
                          "SSL_set_tlsext_host_name(\"%s\") failed", name);
            return NGX_ERROR;
        }
    }

#endif

    c->ssl->save_session = ngx_http_rate_limit_ssl_save_session;

    if (link->ssl_session
        && ngx_ssl_set_session(c, link->ssl_session) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = handshaked;
        return NGX_AGAIN;
    }

    return (rc == NGX_OK) ? NGX_OK : NGX_ERROR;
}


/*
 * After the handshake: the certificate chains to the trusted one, and
 * names the server (its DNS name, or its IP address in the
 * subjectAltName when the server is given, or found, as an address)
 */

ngx_int_t
ngx_http_rate_limit_link_ssl_check(ngx_http_rate_limit_link_t *link,
    const char **why, ngx_str_t *reason)
{
    int                match;
    long               rc;
    X509              *cert;
    u_char             name[NGX_SOCKADDR_STRLEN + 1];
    ngx_connection_t  *c;

    c = link->connection;

    if (!link->redis->verify) {
        return NGX_OK;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        *why = "sent a certificate that does not verify:";
        reason->data = (u_char *) X509_verify_cert_error_string(rc);
        reason->len = ngx_strlen(reason->data);
        return NGX_ERROR;
    }

    *why = "sent a certificate that does not name it:";
    *reason = link->host;

    if (!ngx_http_rate_limit_ssl_address(&link->host)) {
        return ngx_ssl_check_host(c, &link->host);
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(name, link->host.data, link->host.len + 1);

    match = X509_check_ip_asc(cert, (char *) name, 0);

    X509_free(cert);

    return (match == 1) ? NGX_OK : NGX_ERROR;
}


static ngx_uint_t
ngx_http_rate_limit_ssl_address(ngx_str_t *host)
{
#if (NGX_HAVE_INET6)
    u_char  addr[16];

    if (ngx_inet6_addr(host->data, host->len, addr) == NGX_OK) {
        return 1;
    }
#endif

    return ngx_inet_addr(host->data, host->len) != INADDR_NONE;
}


/* the next connection to this server resumes the session */

static void
ngx_http_rate_limit_ssl_save_session(ngx_connection_t *c)
{
    ngx_ssl_session_t           *session;
    ngx_http_rate_limit_link_t  *link;

    link = c->data;

    session = ngx_ssl_get_session(c);
    if (session == NULL) {
        return;
    }

    if (link->ssl_session) {
        ngx_ssl_free_session(link->ssl_session);
    }

    link->ssl_session = session;
}


void
ngx_http_rate_limit_link_ssl_close(ngx_connection_t *c)
{
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }

    if (c->pool) {
        ngx_destroy_pool(c->pool);
        c->pool = NULL;
    }
}


#endif
