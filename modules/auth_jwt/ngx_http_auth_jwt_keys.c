
/*
 * JSON Web Keys (RFC 7517, 7518, 8037) parsed once into OpenSSL objects,
 * and JWS signatures verified with them.  Keys for JWE (a private RSA, EC
 * or X25519 key, an oct key's bytes) are parsed here too, and used by
 * ngx_http_auth_jwt_jwe.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include "ngx_http_auth_jwt.h"


#define NGX_HTTP_AUTH_JWT_RSA_MIN_BITS  2048


static ngx_int_t ngx_http_auth_jwt_jwk_parse(ngx_pool_t *pool,
    ngx_log_t *log, ngx_uint_t level, ngx_str_t *json,
    ngx_http_auth_jwt_key_t *key, const char **error);
static ngx_str_t *ngx_http_auth_jwt_log_text(ngx_pool_t *pool,
    ngx_str_t *text, ngx_str_t *buf);
static ngx_int_t ngx_http_auth_jwt_jwk_string(ngx_pool_t *pool,
    ngx_array_t *members, char *name, ngx_str_t *value);
static ngx_int_t ngx_http_auth_jwt_jwk_bytes(ngx_pool_t *pool,
    ngx_array_t *members, char *name, ngx_str_t *value);
static ngx_int_t ngx_http_auth_jwt_jwk_oct(ngx_pool_t *pool, ngx_log_t *log,
    ngx_uint_t level, ngx_str_t *kid_log, ngx_array_t *members,
    ngx_http_auth_jwt_key_t *key, const char **error);
static ngx_int_t ngx_http_auth_jwt_jwk_rsa(ngx_pool_t *pool,
    ngx_array_t *members, ngx_http_auth_jwt_key_t *key, const char **error);
static ngx_int_t ngx_http_auth_jwt_rsa_decrypts(EVP_PKEY *pkey);
static ngx_int_t ngx_http_auth_jwt_jwk_ec(ngx_pool_t *pool,
    ngx_array_t *members, ngx_http_auth_jwt_key_t *key, const char **error);
static ngx_int_t ngx_http_auth_jwt_jwk_okp(ngx_pool_t *pool,
    ngx_array_t *members, ngx_http_auth_jwt_key_t *key, const char **error);
static ngx_int_t ngx_http_auth_jwt_jwk_x25519(ngx_pool_t *pool,
    ngx_array_t *members, ngx_str_t *x, ngx_http_auth_jwt_key_t *key,
    const char **error);
static ngx_int_t ngx_http_auth_jwt_jwk_bn(ngx_pool_t *pool,
    ngx_array_t *members, char *name, BIGNUM **bn, size_t *len);
static EVP_PKEY *ngx_http_auth_jwt_pkey_fromdata(const char *type,
    int selection, OSSL_PARAM_BLD *bld);
static void ngx_http_auth_jwt_pkey_cleanup(void *data);
static ngx_int_t ngx_http_auth_jwt_jwk_add(ngx_pool_t *pool, ngx_log_t *log,
    ngx_uint_t level, ngx_str_t *json, ngx_array_t *keys,
    const char **error);
static void ngx_http_auth_jwt_crypto_cleanup(void *data);
static void ngx_http_auth_jwt_keys_cleanup(void *data);
static void ngx_http_auth_jwt_key_free(ngx_http_auth_jwt_key_t *key);
static ngx_int_t ngx_http_auth_jwt_verify_hmac(ngx_http_auth_jwt_key_t *key,
    ngx_http_auth_jwt_token_t *token);
static ngx_int_t ngx_http_auth_jwt_verify_pkey(ngx_http_auth_jwt_key_t *key,
    ngx_http_auth_jwt_token_t *token);
static EVP_PKEY_CTX *ngx_http_auth_jwt_verify_ctx(
    ngx_http_auth_jwt_key_t *key, ngx_http_auth_jwt_alg_t *alg);
static ngx_int_t ngx_http_auth_jwt_ecdsa_der(ngx_http_auth_jwt_token_t *token,
    u_char *der, size_t *len);


/*
 * SHA-256, -384, -512, fetched once rather than by name on every use;
 * shared by the configurations that use them and freed with the last one,
 * before nginx unloads the module.
 */
static EVP_MD      *ngx_http_auth_jwt_md[3];
static ngx_uint_t   ngx_http_auth_jwt_crypto_users;


ngx_int_t
ngx_http_auth_jwt_crypto_init(ngx_pool_t *pool)
{
    ngx_uint_t           i;
    ngx_pool_cleanup_t  *cln;
    const char          *names[] = { "SHA256", "SHA384", "SHA512" };

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_auth_jwt_crypto_cleanup;
    ngx_http_auth_jwt_crypto_users++;

    for (i = 0; i < 3; i++) {
        if (ngx_http_auth_jwt_md[i] == NULL) {
            ngx_http_auth_jwt_md[i] = EVP_MD_fetch(NULL, names[i], NULL);

            if (ngx_http_auth_jwt_md[i] == NULL) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static void
ngx_http_auth_jwt_crypto_cleanup(void *data)
{
    ngx_uint_t  i;

    if (--ngx_http_auth_jwt_crypto_users) {
        return;
    }

    for (i = 0; i < 3; i++) {
        EVP_MD_free(ngx_http_auth_jwt_md[i]);
        ngx_http_auth_jwt_md[i] = NULL;
    }
}


/*
 * Adds the keys of a JWKS document (or of a single JWK) to keys: signature
 * keys, and decryption keys for JWE.  Keys for other uses and of unknown
 * types are skipped, as RFC 7517 asks, with a line at the given level; a
 * malformed key is an error, not something to skip quietly.
 */

ngx_int_t
ngx_http_auth_jwt_jwks_parse(ngx_pool_t *pool, ngx_log_t *log,
    ngx_uint_t level, ngx_str_t *json, ngx_array_t *keys,
    const char **error)
{
    ngx_int_t                 rc;
    ngx_uint_t                n;
    ngx_array_t               members;
    ngx_gw_json_member_t     *member, element;
    ngx_gw_json_elements_t    elements;

    if (ngx_array_init(&members, pool, 4, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_gw_json_object_members(pool, json, NGX_HTTP_AUTH_JWT_MAX_DEPTH,
                                    &members, error);
    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    member = ngx_gw_json_member(&members, (u_char *) "keys", 4);

    if (member == NULL) {

        /* a single JWK */

        if (ngx_gw_json_member(&members, (u_char *) "kty", 3) == NULL) {
            *error = "neither a JWK Set nor a JWK";
            return NGX_ERROR;
        }

        *error = "no usable key";

        rc = ngx_http_auth_jwt_jwk_add(pool, log, level, json, keys, error);

        if (rc == NGX_DECLINED) {
            return NGX_ERROR;
        }

        return rc;
    }

    if (member->type != NGX_GW_JSON_ARRAY) {
        *error = "\"keys\" is not an array";
        return NGX_ERROR;
    }

    ngx_gw_json_elements_init(&elements, &member->value,
                              NGX_HTTP_AUTH_JWT_MAX_DEPTH);
    n = 0;

    while (ngx_gw_json_element(&elements, &element) == NGX_OK) {

        if (element.type != NGX_GW_JSON_OBJECT) {
            *error = "a member of \"keys\" is not an object";
            return NGX_ERROR;
        }

        rc = ngx_http_auth_jwt_jwk_add(pool, log, level, &element.value,
                                       keys, error);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            n++;
        }
    }

    if (n == 0) {
        *error = "no usable keys in \"keys\"";
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_jwt_jwk_parse(ngx_pool_t *pool, ngx_log_t *log,
    ngx_uint_t level, ngx_str_t *json, ngx_http_auth_jwt_key_t *key,
    const char **error)
{
    ngx_int_t            rc;
    ngx_str_t            kty, use, alg, kid_log, log_buf;
    ngx_uint_t           uses;
    ngx_array_t          members;

    ngx_memzero(key, sizeof(ngx_http_auth_jwt_key_t));

    if (ngx_array_init(&members, pool, 8, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_gw_json_object_members(pool, json, NGX_HTTP_AUTH_JWT_MAX_DEPTH,
                                   &members, error)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_auth_jwt_jwk_string(pool, &members, "kty", &kty) != NGX_OK
        || ngx_http_auth_jwt_jwk_string(pool, &members, "use", &use)
           != NGX_OK
        || ngx_http_auth_jwt_jwk_string(pool, &members, "alg", &alg)
           != NGX_OK
        || ngx_http_auth_jwt_jwk_string(pool, &members, "kid", &key->kid)
           != NGX_OK)
    {
        *error = "JWK member \"kty\", \"use\", \"alg\" or \"kid\" "
                 "is not a string";
        return NGX_ERROR;
    }

    if (kty.data == NULL) {
        *error = "JWK without \"kty\"";
        return NGX_ERROR;
    }

    /* the key outlives the document it came in */

    if (key->kid.len) {
        key->kid.data = ngx_pstrdup(pool, &key->kid);
        if (key->kid.data == NULL) {
            return NGX_ERROR;
        }
    }

    kid_log = *ngx_http_auth_jwt_log_text(pool, &key->kid, &kid_log);

    /* without "use", a key serves whatever its type and "alg" allow */

    key->use = NGX_HTTP_AUTH_JWT_USE_SIG | NGX_HTTP_AUTH_JWT_USE_ENC;

    if (use.len == 3 && ngx_strncmp(use.data, "sig", 3) == 0) {
        key->use = NGX_HTTP_AUTH_JWT_USE_SIG;

    } else if (use.len == 3 && ngx_strncmp(use.data, "enc", 3) == 0) {
        key->use = NGX_HTTP_AUTH_JWT_USE_ENC;

    } else if (use.data) {
        ngx_log_error(level, log, 0,
                      "auth_jwt: skipped JWK \"%V\" with \"use\" \"%V\"",
                      &kid_log, ngx_http_auth_jwt_log_text(pool, &use,
                                                           &log_buf));
        return NGX_DECLINED;
    }

    if (alg.data) {
        key->alg = ngx_http_auth_jwt_alg(&alg);
        uses = NGX_HTTP_AUTH_JWT_USE_SIG;

        if (key->alg == NULL) {
            key->jwe_alg = ngx_http_auth_jwt_jwe_alg(&alg);
            uses = NGX_HTTP_AUTH_JWT_USE_ENC;
        }

        if (key->alg == NULL && key->jwe_alg == NULL) {
            ngx_log_error(level, log, 0,
                          "auth_jwt: skipped JWK \"%V\" with unsupported "
                          "\"alg\" \"%V\"", &kid_log,
                          ngx_http_auth_jwt_log_text(pool, &alg, &log_buf));
            return NGX_DECLINED;
        }

        if (!(key->use & uses)) {
            *error = "JWK \"alg\" does not fit its \"use\"";
            return NGX_ERROR;
        }

        key->use = uses;
    }

    if (kty.len == 3 && ngx_strncmp(kty.data, "oct", 3) == 0) {
        key->kty = NGX_HTTP_AUTH_JWT_OCT;

    } else if (kty.len == 3 && ngx_strncmp(kty.data, "RSA", 3) == 0) {
        key->kty = NGX_HTTP_AUTH_JWT_RSA;

    } else if (kty.len == 2 && ngx_strncmp(kty.data, "EC", 2) == 0) {
        key->kty = NGX_HTTP_AUTH_JWT_EC;

    } else if (kty.len == 3 && ngx_strncmp(kty.data, "OKP", 3) == 0) {
        key->kty = NGX_HTTP_AUTH_JWT_OKP;
    }

    /* an "alg" of another kind makes the key malformed, not just unusable */

    if (key->kty
        && ((key->alg && key->alg->kty != key->kty)
            || (key->jwe_alg && key->jwe_alg->kty != key->kty
                && !(key->jwe_alg->kty == NGX_HTTP_AUTH_JWT_EC
                     && key->kty == NGX_HTTP_AUTH_JWT_OKP))))
    {
        *error = "JWK \"alg\" does not fit its \"kty\"";
        return NGX_ERROR;
    }

    if (key->kty == NGX_HTTP_AUTH_JWT_OCT) {
        rc = ngx_http_auth_jwt_jwk_oct(pool, log, level, &kid_log, &members,
                                       key, error);

    } else if (key->kty == NGX_HTTP_AUTH_JWT_RSA) {
        rc = ngx_http_auth_jwt_jwk_rsa(pool, &members, key, error);

    } else if (key->kty == NGX_HTTP_AUTH_JWT_EC) {
        rc = ngx_http_auth_jwt_jwk_ec(pool, &members, key, error);

    } else if (key->kty == NGX_HTTP_AUTH_JWT_OKP) {
        rc = ngx_http_auth_jwt_jwk_okp(pool, &members, key, error);

    } else {
        ngx_log_error(level, log, 0,
                      "auth_jwt: skipped JWK \"%V\" of unknown \"kty\" "
                      "\"%V\"", &kid_log,
                      ngx_http_auth_jwt_log_text(pool, &kty, &log_buf));
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {
        ngx_log_error(level, log, 0, "auth_jwt: skipped JWK \"%V\": %s",
                      &kid_log, *error);
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return NGX_OK;
}


/*
 * A JWK Set may come from a key request's answer, from anywhere: its
 * strings reach the log with quotes, backslashes and control characters
 * written as \xHH, as nginx's access log writes variables.
 */

static ngx_str_t *
ngx_http_auth_jwt_log_text(ngx_pool_t *pool, ngx_str_t *text, ngx_str_t *buf)
{
    u_char         *p, *last, *d;
    size_t          n;
    static u_char   hex[] = "0123456789ABCDEF";

    /* a JWK without "kid" has none: no data */

    if (text->len == 0) {
        return text;
    }

    n = 0;
    last = text->data + text->len;

    for (p = text->data; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            n++;
        }
    }

    if (n == 0) {
        return text;
    }

    buf->data = ngx_pnalloc(pool, text->len + 3 * n);
    if (buf->data == NULL) {
        ngx_str_set(buf, "");
        return buf;
    }

    d = buf->data;

    for (p = text->data; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            *d++ = '\\';
            *d++ = 'x';
            *d++ = hex[*p >> 4];
            *d++ = hex[*p & 0x0f];
            continue;
        }

        *d++ = *p;
    }

    buf->len = d - buf->data;

    return buf;
}


static ngx_int_t
ngx_http_auth_jwt_jwk_oct(ngx_pool_t *pool, ngx_log_t *log, ngx_uint_t level,
    ngx_str_t *kid_log, ngx_array_t *members, ngx_http_auth_jwt_key_t *key,
    const char **error)
{
    EVP_MAC     *mac;
    ngx_str_t    k;
    ngx_uint_t   i, first, warn;
    OSSL_PARAM   params[2];
    const char  *digests[] = { "SHA256", "SHA384", "SHA512" };

    static const char  *asks_any[] = {
        "32 bytes for HS256, 48 for HS384, 64 for HS512",
        "48 bytes for HS384, 64 for HS512",
        "64 bytes for HS512"
    };

    static const char  *asks_one[] = {
        "32 bytes for HS256", "48 bytes for HS384", "64 bytes for HS512"
    };

    if (ngx_http_auth_jwt_jwk_bytes(pool, members, "k", &k) != NGX_OK) {
        *error = "oct JWK without a base64url \"k\"";
        return NGX_ERROR;
    }

    if (k.len == 0) {
        *error = "oct JWK with an empty \"k\"";
        return NGX_DECLINED;
    }

    if (key->use & NGX_HTTP_AUTH_JWT_USE_ENC) {

        /* the key of dir, KW and GCMKW: kept, and wiped with the key */

        if (key->jwe_alg && key->jwe_alg->key_len
            && key->jwe_alg->key_len != k.len)
        {
            ngx_explicit_memzero(k.data, k.len);
            *error = "oct JWK of another size than its \"alg\" takes";
            return NGX_DECLINED;
        }

        key->secret = k;
        key->decrypts = 1;
    }

    if (!(key->use & NGX_HTTP_AUTH_JWT_USE_SIG)) {
        return NGX_OK;
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        *error = "HMAC unavailable in OpenSSL";
        return NGX_ERROR;
    }

    for (i = 0; i < 3; i++) {

        if (key->alg && key->alg->hash != i) {
            continue;
        }

        key->hmac[i] = EVP_MAC_CTX_new(mac);
        if (key->hmac[i] == NULL) {
            break;
        }

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     (char *) digests[i], 0);
        params[1] = OSSL_PARAM_construct_end();

        if (EVP_MAC_init(key->hmac[i], k.data, k.len, params) != 1) {
            break;
        }
    }

    EVP_MAC_free(mac);

    if (!key->decrypts) {
        ngx_explicit_memzero(k.data, k.len);
    }

    if (i < 3) {
        *error = "HMAC key setup failed in OpenSSL";
        return NGX_ERROR;
    }

    /*
     * RFC 7518, 3.2 asks for a key at least as long as the hash; NGINX
     * Plus takes shorter ones, and so does this module, with a warning.
     * The first hash the key falls short of, and all after it.
     */

    first = key->alg ? key->alg->hash : 0;

    while (first < 3 && k.len >= 32 + 16 * first) {
        first++;
    }

    if (first == 3 || (key->alg && first != key->alg->hash)) {
        return NGX_OK;
    }

    /*
     * a warning when a key file is loaded; a fetched set is parsed at
     * each fetch, and its lines stay at its level
     */

    warn = (level == NGX_LOG_INFO) ? NGX_LOG_INFO : NGX_LOG_WARN;

    ngx_log_error(warn, log, 0,
                  "auth_jwt: JWK \"%V\" is an HMAC key of %uz bytes; "
                  "RFC 7518, 3.2 asks for %s", kid_log, k.len,
                  key->alg ? asks_one[first] : asks_any[first]);

    return NGX_OK;
}


/*
 * A public RSA key verifies; a private one (RFC 7518, 6.3.2) also decrypts,
 * with or without its CRT values, but never with more than two primes.
 */

static ngx_int_t
ngx_http_auth_jwt_jwk_rsa(ngx_pool_t *pool, ngx_array_t *members,
    ngx_http_auth_jwt_key_t *key, const char **error)
{
    int              selection;
    BIGNUM          *n, *e, *priv[6];
    ngx_int_t        rc;
    ngx_str_t        n_bytes, e_bytes;
    ngx_uint_t       i, have;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    static char     *names[] = { "d", "p", "q", "dp", "dq", "qi" };

    static const char  *params[] = {
        OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1
    };

    if (ngx_http_auth_jwt_jwk_bytes(pool, members, "n", &n_bytes) != NGX_OK
        || ngx_http_auth_jwt_jwk_bytes(pool, members, "e", &e_bytes)
           != NGX_OK)
    {
        *error = "RSA JWK without base64url \"n\" and \"e\"";
        return NGX_ERROR;
    }

    if (ngx_gw_json_member(members, (u_char *) "d", 1) == NULL) {
        if (!(key->use & NGX_HTTP_AUTH_JWT_USE_SIG)) {
            *error = "RSA JWK for encryption without its private part";
            return NGX_DECLINED;
        }

        key->use = NGX_HTTP_AUTH_JWT_USE_SIG;
    }

    if (ngx_gw_json_member(members, (u_char *) "oth", 3)) {
        *error = "RSA JWK of more than two primes";
        return NGX_DECLINED;
    }

    have = 0;

    for (i = 0; i < 6; i++) {
        priv[i] = NULL;

        if (ngx_gw_json_member(members, (u_char *) names[i],
                               ngx_strlen(names[i])))
        {
            have |= 1 << i;

            if (ngx_http_auth_jwt_jwk_bn(pool, members, names[i], &priv[i],
                                         NULL)
                != NGX_OK)
            {
                have = 0x80;
                break;
            }
        }
    }

    /* "d" alone, or with all the CRT values */

    if (have != 0 && have != 0x01 && have != 0x3f) {
        for (i = 0; i < 6; i++) {
            BN_clear_free(priv[i]);
        }

        *error = (have & 0x80) ? "RSA JWK with a private part that is not "
                                 "base64url"
                               : "RSA JWK with \"d\" and only some of "
                                 "\"p\", \"q\", \"dp\", \"dq\", \"qi\"";
        return NGX_ERROR;
    }

    n = BN_bin2bn(n_bytes.data, n_bytes.len, NULL);
    e = BN_bin2bn(e_bytes.data, e_bytes.len, NULL);
    bld = OSSL_PARAM_BLD_new();

    selection = have ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;

    if (n && e && bld
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        for (i = 0; i < 6; i++) {
            if (priv[i]
                && !OSSL_PARAM_BLD_push_BN(bld, params[i], priv[i]))
            {
                break;
            }
        }

        if (i == 6) {
            key->pkey = ngx_http_auth_jwt_pkey_fromdata("RSA", selection,
                                                        bld);
        }
    }

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);

    for (i = 0; i < 6; i++) {
        BN_clear_free(priv[i]);
    }

    if (key->pkey == NULL) {
        ERR_clear_error();
        *error = "invalid RSA JWK";
        return NGX_ERROR;
    }

    if (EVP_PKEY_get_bits(key->pkey) < NGX_HTTP_AUTH_JWT_RSA_MIN_BITS) {
        *error = "RSA JWK shorter than 2048 bits";
        return NGX_DECLINED;
    }

    if (have) {

        /*
         * a private part that does not fit "n" and "e" would decrypt
         * nothing: OpenSSL checks the primes and "d" when they are all
         * there, and what the key decrypts is tried once in any case
         */

        ctx = (have == 0x3f) ? EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey,
                                                          NULL)
                             : NULL;

        rc = (have != 0x3f || (ctx && EVP_PKEY_pairwise_check(ctx) == 1))
             ? ngx_http_auth_jwt_rsa_decrypts(key->pkey) : NGX_ERROR;

        EVP_PKEY_CTX_free(ctx);

        if (rc != NGX_OK) {
            ERR_clear_error();
            *error = "RSA JWK private part does not fit its public part";
            return NGX_ERROR;
        }

        key->decrypts = (key->use & NGX_HTTP_AUTH_JWT_USE_ENC) ? 1 : 0;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_jwt_rsa_decrypts(EVP_PKEY *pkey)
{
    u_char         in[32], out[1024], back[1024];
    size_t         out_len, back_len;
    ngx_int_t      rc;
    EVP_PKEY_CTX  *ctx;

    if (EVP_PKEY_get_size(pkey) > (int) sizeof(out)
        || RAND_bytes(in, sizeof(in)) != 1)
    {
        return NGX_ERROR;
    }

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    out_len = sizeof(out);
    back_len = sizeof(back);

    rc = (EVP_PKEY_encrypt_init(ctx) == 1
          && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
          && EVP_PKEY_encrypt(ctx, out, &out_len, in, sizeof(in)) == 1
          && EVP_PKEY_decrypt_init(ctx) == 1
          && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
          && EVP_PKEY_decrypt(ctx, back, &back_len, out, out_len) == 1
          && back_len == sizeof(in)
          && ngx_memcmp(back, in, sizeof(in)) == 0)
         ? NGX_OK : NGX_ERROR;

    EVP_PKEY_CTX_free(ctx);
    ngx_explicit_memzero(back, sizeof(back));

    return rc;
}


/*
 * A public EC key verifies; a private one (with "d") also decrypts, with
 * ECDH-ES.  A curve has one signature algorithm.
 */

static ngx_int_t
ngx_http_auth_jwt_jwk_ec(ngx_pool_t *pool, ngx_array_t *members,
    ngx_http_auth_jwt_key_t *key, const char **error)
{
    int                       selection;
    u_char                   *point;
    size_t                    len;
    BIGNUM                   *d;
    ngx_str_t                 crv, x, y;
    OSSL_PARAM_BLD           *bld;
    EVP_PKEY_CTX             *ctx;
    ngx_http_auth_jwt_alg_t  *alg;

    if (ngx_http_auth_jwt_jwk_string(pool, members, "crv", &crv) != NGX_OK
        || crv.data == NULL
        || ngx_http_auth_jwt_jwk_bytes(pool, members, "x", &x) != NGX_OK
        || ngx_http_auth_jwt_jwk_bytes(pool, members, "y", &y) != NGX_OK)
    {
        *error = "EC JWK without \"crv\", \"x\" and \"y\"";
        return NGX_ERROR;
    }

    alg = ngx_http_auth_jwt_alg_curve(&crv);

    if (alg == NULL) {
        *error = "EC JWK on an unsupported curve";
        return NGX_DECLINED;
    }

    if (key->alg && key->alg != alg) {
        *error = "EC JWK \"alg\" does not fit its \"crv\"";
        return NGX_ERROR;
    }

    /* "x", "y" and "d" are exactly the field size long (RFC 7518, 6.2) */

    if (x.len != alg->ec_half || y.len != alg->ec_half) {
        *error = "EC JWK coordinates of the wrong length";
        return NGX_DECLINED;
    }

    d = NULL;

    if (ngx_gw_json_member(members, (u_char *) "d", 1)) {
        if (ngx_http_auth_jwt_jwk_bn(pool, members, "d", &d, &len) != NGX_OK
            || len != alg->ec_half)
        {
            BN_clear_free(d);
            *error = "EC JWK \"d\" is not base64url of the field size";
            return NGX_ERROR;
        }

    } else if (!(key->use & NGX_HTTP_AUTH_JWT_USE_SIG)) {
        *error = "EC JWK for encryption without its private part";
        return NGX_DECLINED;

    } else {
        key->use = NGX_HTTP_AUTH_JWT_USE_SIG;
    }

    /* a curve has one algorithm: pinning it keeps ES256 keys to ES256 */
    key->alg = alg;

    point = ngx_pnalloc(pool, 1 + x.len + y.len);
    if (point == NULL) {
        BN_clear_free(d);
        return NGX_ERROR;
    }

    point[0] = 0x04;
    ngx_memcpy(point + 1, x.data, x.len);
    ngx_memcpy(point + 1 + x.len, y.data, y.len);

    bld = OSSL_PARAM_BLD_new();
    selection = d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;

    if (bld
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           alg->curve, 0)
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, 1 + x.len + y.len)
        && (d == NULL
            || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
    {
        key->pkey = ngx_http_auth_jwt_pkey_fromdata("EC", selection, bld);
    }

    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);

    if (key->pkey == NULL) {
        *error = "invalid EC JWK";
        return NGX_ERROR;
    }

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);

    if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        ERR_clear_error();
        *error = "EC JWK point is not on its curve";
        return NGX_ERROR;
    }

    if (selection == EVP_PKEY_KEYPAIR && EVP_PKEY_pairwise_check(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        ERR_clear_error();
        *error = "EC JWK \"d\" does not fit its point";
        return NGX_ERROR;
    }

    EVP_PKEY_CTX_free(ctx);

    key->decrypts = (selection == EVP_PKEY_KEYPAIR
                     && (key->use & NGX_HTTP_AUTH_JWT_USE_ENC)) ? 1 : 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_jwt_jwk_okp(ngx_pool_t *pool, ngx_array_t *members,
    ngx_http_auth_jwt_key_t *key, const char **error)
{
    int        type;
    size_t     len;
    ngx_str_t  crv, x;

    if (ngx_http_auth_jwt_jwk_string(pool, members, "crv", &crv) != NGX_OK
        || crv.data == NULL
        || ngx_http_auth_jwt_jwk_bytes(pool, members, "x", &x) != NGX_OK)
    {
        *error = "OKP JWK without \"crv\" and \"x\"";
        return NGX_ERROR;
    }

    if (crv.len == 6 && ngx_strncmp(crv.data, "X25519", 6) == 0) {
        return ngx_http_auth_jwt_jwk_x25519(pool, members, &x, key, error);
    }

    if (crv.len == 7 && ngx_strncmp(crv.data, "Ed25519", 7) == 0) {
        type = EVP_PKEY_ED25519;
        len = 32;

    } else if (crv.len == 5 && ngx_strncmp(crv.data, "Ed448", 5) == 0) {
        type = EVP_PKEY_ED448;
        len = 57;

    } else {
        *error = "OKP JWK on an unsupported curve";
        return NGX_DECLINED;
    }

    if (!(key->use & NGX_HTTP_AUTH_JWT_USE_SIG)) {
        *error = "OKP JWK on a curve that does not decrypt";
        return NGX_DECLINED;
    }

    key->use = NGX_HTTP_AUTH_JWT_USE_SIG;

    if (x.len != len) {
        *error = "OKP JWK \"x\" of the wrong length";
        return NGX_ERROR;
    }

    key->pkey = EVP_PKEY_new_raw_public_key(type, NULL, x.data, x.len);

    if (key->pkey == NULL) {
        *error = "invalid OKP JWK";
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* X25519 only decrypts (ECDH-ES), and only with its private part */

static ngx_int_t
ngx_http_auth_jwt_jwk_x25519(ngx_pool_t *pool, ngx_array_t *members,
    ngx_str_t *x, ngx_http_auth_jwt_key_t *key, const char **error)
{
    u_char     pub[32];
    size_t     len;
    ngx_str_t  d;

    if (!(key->use & NGX_HTTP_AUTH_JWT_USE_ENC)) {
        *error = "OKP JWK on a curve that does not sign";
        return NGX_DECLINED;
    }

    key->use = NGX_HTTP_AUTH_JWT_USE_ENC;

    if (ngx_gw_json_member(members, (u_char *) "d", 1) == NULL) {
        *error = "X25519 JWK without its private part";
        return NGX_DECLINED;
    }

    if (x->len != 32
        || ngx_http_auth_jwt_jwk_bytes(pool, members, "d", &d) != NGX_OK
        || d.len != 32)
    {
        *error = "X25519 JWK \"x\" or \"d\" is not 32 bytes of base64url";
        return NGX_ERROR;
    }

    key->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, d.data,
                                             d.len);
    ngx_explicit_memzero(d.data, d.len);

    len = sizeof(pub);

    if (key->pkey == NULL
        || EVP_PKEY_get_raw_public_key(key->pkey, pub, &len) != 1)
    {
        *error = "invalid X25519 JWK";
        return NGX_ERROR;
    }

    if (len != 32 || ngx_memcmp(pub, x->data, 32) != 0) {
        *error = "X25519 JWK \"d\" does not fit its \"x\"";
        return NGX_ERROR;
    }

    key->decrypts = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_jwt_jwk_string(ngx_pool_t *pool, ngx_array_t *members,
    char *name, ngx_str_t *value)
{
    ngx_gw_json_member_t  *member;

    member = ngx_gw_json_member(members, (u_char *) name, ngx_strlen(name));
    if (member == NULL) {
        ngx_str_null(value);
        return NGX_OK;
    }

    if (member->type != NGX_GW_JSON_STRING) {
        return NGX_ERROR;
    }

    return ngx_gw_json_member_text(pool, member, value);
}


static ngx_int_t
ngx_http_auth_jwt_jwk_bytes(ngx_pool_t *pool, ngx_array_t *members,
    char *name, ngx_str_t *value)
{
    ngx_str_t  text;

    if (ngx_http_auth_jwt_jwk_string(pool, members, name, &text) != NGX_OK
        || text.data == NULL)
    {
        return NGX_ERROR;
    }

    value->data = ngx_pnalloc(pool, text.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_auth_jwt_decode_base64url(value, &text);
}


/* a private number, and its length: its bytes wiped once it is a BIGNUM */

static ngx_int_t
ngx_http_auth_jwt_jwk_bn(ngx_pool_t *pool, ngx_array_t *members, char *name,
    BIGNUM **bn, size_t *len)
{
    ngx_str_t  bytes;

    *bn = NULL;

    if (ngx_http_auth_jwt_jwk_bytes(pool, members, name, &bytes) != NGX_OK
        || bytes.len == 0)
    {
        return NGX_ERROR;
    }

    /* secure: the parameters made of it are wiped when freed */

    *bn = BN_secure_new();

    if (*bn && BN_bin2bn(bytes.data, bytes.len, *bn) == NULL) {
        BN_clear_free(*bn);
        *bn = NULL;
    }

    ngx_explicit_memzero(bytes.data, bytes.len);

    if (len) {
        *len = bytes.len;
    }

    return (*bn == NULL) ? NGX_ERROR : NGX_OK;
}


static EVP_PKEY *
ngx_http_auth_jwt_pkey_fromdata(const char *type, int selection,
    OSSL_PARAM_BLD *bld)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    /* private numbers are secure BIGNUMs: OpenSSL wipes their copies here */
    OSSL_PARAM_free(params);

    return pkey;
}


/*
 * A key is parsed aside and copied into the set only when it is whole, so
 * the set never holds a half-made key and one cleanup frees them all.
 */

static ngx_int_t
ngx_http_auth_jwt_jwk_add(ngx_pool_t *pool, ngx_log_t *log, ngx_uint_t level,
    ngx_str_t *json, ngx_array_t *keys, const char **error)
{
    ngx_int_t                 rc;
    ngx_http_auth_jwt_key_t   key, *slot;

    rc = ngx_http_auth_jwt_jwk_parse(pool, log, level, json, &key, error);

    if (rc == NGX_OK) {
        slot = ngx_array_push(keys);

        if (slot) {
            *slot = key;
            return NGX_OK;
        }

        rc = NGX_ERROR;
    }

    ngx_http_auth_jwt_key_free(&key);

    return rc;
}


/* what the keys serve: NGX_HTTP_AUTH_JWT_USE_SIG, _ENC, or both */

ngx_uint_t
ngx_http_auth_jwt_keys_use(ngx_array_t *keys)
{
    ngx_uint_t                use, i;
    ngx_http_auth_jwt_key_t  *key;

    use = 0;
    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        use |= key[i].use & NGX_HTTP_AUTH_JWT_USE_SIG;

        if (key[i].decrypts) {
            use |= NGX_HTTP_AUTH_JWT_USE_ENC;
        }
    }

    return use;
}


/*
 * The sender's ephemeral key of ECDH-ES ("epk", RFC 7518, 4.6.1.1): a
 * public EC key on a curve of the module's, or an X25519 key, freed with
 * the pool.
 */

ngx_int_t
ngx_http_auth_jwt_epk(ngx_pool_t *pool, ngx_str_t *json, EVP_PKEY **pkey,
    const char **error)
{
    ngx_str_t                 kty, crv, x;
    ngx_array_t               members;
    ngx_pool_cleanup_t       *cln;
    ngx_http_auth_jwt_key_t   key;

    *pkey = NULL;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_auth_jwt_pkey_cleanup;
    cln->data = NULL;

    if (ngx_array_init(&members, pool, 4, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_gw_json_object_members(pool, json, NGX_HTTP_AUTH_JWT_MAX_DEPTH,
                                   &members, error)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* the sender's key is public: a private part is a mistake or worse */

    if (ngx_http_auth_jwt_jwk_string(pool, &members, "kty", &kty) != NGX_OK
        || ngx_http_auth_jwt_jwk_string(pool, &members, "crv", &crv)
           != NGX_OK
        || ngx_gw_json_member(&members, (u_char *) "d", 1))
    {
        *error = "\"epk\" is not a public EC or OKP key";
        return NGX_DECLINED;
    }

    ngx_memzero(&key, sizeof(ngx_http_auth_jwt_key_t));
    key.use = NGX_HTTP_AUTH_JWT_USE_SIG;

    if (kty.len == 2 && ngx_strncmp(kty.data, "EC", 2) == 0) {

        if (ngx_http_auth_jwt_jwk_ec(pool, &members, &key, error) != NGX_OK)
        {
            EVP_PKEY_free(key.pkey);
            return NGX_DECLINED;
        }

    } else if (kty.len == 3 && ngx_strncmp(kty.data, "OKP", 3) == 0
               && crv.len == 6 && ngx_strncmp(crv.data, "X25519", 6) == 0)
    {
        if (ngx_http_auth_jwt_jwk_bytes(pool, &members, "x", &x) != NGX_OK
            || x.len != 32)
        {
            *error = "\"epk\" of X25519 without 32 bytes of \"x\"";
            return NGX_DECLINED;
        }

        key.pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL,
                                               x.data, x.len);
        if (key.pkey == NULL) {
            return NGX_ERROR;
        }

    } else {
        *error = "\"epk\" is not a public EC or OKP key";
        return NGX_DECLINED;
    }

    cln->data = key.pkey;
    *pkey = key.pkey;

    return NGX_OK;
}


static void
ngx_http_auth_jwt_pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
}


ngx_array_t *
ngx_http_auth_jwt_keys_create(ngx_pool_t *pool)
{
    ngx_array_t         *keys;
    ngx_pool_cleanup_t  *cln;

    keys = ngx_array_create(pool, 4, sizeof(ngx_http_auth_jwt_key_t));
    if (keys == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_auth_jwt_keys_cleanup;
    cln->data = keys;

    return keys;
}


static void
ngx_http_auth_jwt_keys_cleanup(void *data)
{
    ngx_array_t  *keys = data;

    ngx_uint_t                i;
    ngx_http_auth_jwt_key_t  *key;

    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        ngx_http_auth_jwt_key_free(&key[i]);
    }
}


static void
ngx_http_auth_jwt_key_free(ngx_http_auth_jwt_key_t *key)
{
    ngx_uint_t  i;

    EVP_PKEY_free(key->pkey);
    key->pkey = NULL;

    for (i = 0; i < 6; i++) {
        EVP_PKEY_CTX_free(key->verify[i]);
        key->verify[i] = NULL;
    }

    for (i = 0; i < 4; i++) {
        EVP_PKEY_CTX_free(key->decrypt[i]);
        key->decrypt[i] = NULL;
    }

    if (key->secret.len) {
        ngx_explicit_memzero(key->secret.data, key->secret.len);
        key->secret.len = 0;
    }

    for (i = 0; i < 3; i++) {
        EVP_MAC_CTX_free(key->hmac[i]);
        key->hmac[i] = NULL;
    }
}


/*
 * Tries the keys that may have signed the token: the same "kid" where both
 * name one, and a type and algorithm that fit the token's "alg", so an RSA
 * key can never serve as an HMAC secret.  *tried counts the keys that fit.
 */

ngx_int_t
ngx_http_auth_jwt_verify(ngx_http_auth_jwt_token_t *token, ngx_array_t *keys,
    ngx_log_t *log, ngx_uint_t *tried)
{
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_http_auth_jwt_key_t  *key;

    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {

        if (!(key[i].use & NGX_HTTP_AUTH_JWT_USE_SIG)
            || key[i].kty != token->alg->kty
            || (key[i].alg && key[i].alg != token->alg)
            || (key[i].kid.len && token->kid.len
                && (key[i].kid.len != token->kid.len
                    || ngx_memcmp(key[i].kid.data, token->kid.data,
                                  token->kid.len) != 0)))
        {
            continue;
        }

        (*tried)++;

        if (key[i].kty == NGX_HTTP_AUTH_JWT_OCT) {
            rc = ngx_http_auth_jwt_verify_hmac(&key[i], token);

        } else {
            rc = ngx_http_auth_jwt_verify_pkey(&key[i], token);
        }

        if (rc == NGX_OK) {
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "auth_jwt: OpenSSL failed verifying a %V token",
                          &token->alg->name);
            return NGX_ERROR;
        }
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_auth_jwt_verify_hmac(ngx_http_auth_jwt_key_t *key,
    ngx_http_auth_jwt_token_t *token)
{
    u_char        mac[EVP_MAX_MD_SIZE];
    size_t        len;
    EVP_MAC_CTX  *ctx;

    ctx = key->hmac[token->alg->hash];

    if (ctx == NULL) {
        /* the key's "alg" is another, or it decrypts only */
        return NGX_DECLINED;
    }

    /* a NULL key restarts the MAC with the key it was set up with */

    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1
        || EVP_MAC_update(ctx, token->signing_input.data,
                          token->signing_input.len)
           != 1
        || EVP_MAC_final(ctx, mac, &len, sizeof(mac)) != 1)
    {
        return NGX_ERROR;
    }

    if (token->signature.len != len
        || CRYPTO_memcmp(mac, token->signature.data, len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_jwt_verify_pkey(ngx_http_auth_jwt_key_t *key,
    ngx_http_auth_jwt_token_t *token)
{
    int            rc;
    u_char         der[160], digest[EVP_MAX_MD_SIZE];
    size_t         der_len;
    EVP_MD        *md;
    ngx_str_t      sig;
    EVP_MD_CTX    *mctx;
    unsigned int   digest_len;
    EVP_PKEY_CTX  *pctx;

    sig = token->signature;

    switch (key->kty) {

    case NGX_HTTP_AUTH_JWT_RSA:
        if ((int) sig.len != EVP_PKEY_get_size(key->pkey)) {
            return NGX_DECLINED;
        }

        break;

    case NGX_HTTP_AUTH_JWT_EC:
        if (ngx_http_auth_jwt_ecdsa_der(token, der, &der_len) != NGX_OK) {
            return NGX_DECLINED;
        }

        sig.data = der;
        sig.len = der_len;
        break;

    default:
        break;
    }

    if (key->kty == NGX_HTTP_AUTH_JWT_OKP) {

        /* EdDSA signs the message itself, not a digest of it */

        mctx = EVP_MD_CTX_new();
        if (mctx == NULL) {
            return NGX_ERROR;
        }

        rc = -1;

        if (EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key->pkey) == 1) {
            rc = EVP_DigestVerify(mctx, sig.data, sig.len,
                                  token->signing_input.data,
                                  token->signing_input.len);
        }

        EVP_MD_CTX_free(mctx);

    } else {
        pctx = ngx_http_auth_jwt_verify_ctx(key, token->alg);
        if (pctx == NULL) {
            return NGX_ERROR;
        }

        md = ngx_http_auth_jwt_md[token->alg->hash];

        rc = -1;

        if (EVP_Digest(token->signing_input.data, token->signing_input.len,
                       digest, &digest_len, md, NULL)
            == 1)
        {
            rc = EVP_PKEY_verify(pctx, sig.data, sig.len, digest, digest_len);
        }
    }

    if (rc == 1) {
        return NGX_OK;
    }

    /* a wrong signature is not an OpenSSL failure: drop its error queue */
    ERR_clear_error();

    return NGX_DECLINED;
}


/*
 * A verification context for each algorithm a key serves, made on first
 * use and kept with the key: setting one up costs a fifth of an RSA-2048
 * verification.
 */

static EVP_PKEY_CTX *
ngx_http_auth_jwt_verify_ctx(ngx_http_auth_jwt_key_t *key,
    ngx_http_auth_jwt_alg_t *alg)
{
    ngx_uint_t     i;
    EVP_PKEY_CTX  *pctx;

    i = alg->hash * 2 + alg->pss;

    if (key->verify[i]) {
        return key->verify[i];
    }

    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);

    if (pctx == NULL
        || EVP_PKEY_verify_init(pctx) != 1
        || EVP_PKEY_CTX_set_signature_md(pctx, ngx_http_auth_jwt_md[alg->hash])
           != 1
        || (key->kty == NGX_HTTP_AUTH_JWT_RSA
            && EVP_PKEY_CTX_set_rsa_padding(pctx,
                                            alg->pss ? RSA_PKCS1_PSS_PADDING
                                                     : RSA_PKCS1_PADDING)
               != 1)
        || (alg->pss
            && (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
                   != 1
                || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx,
                                           ngx_http_auth_jwt_md[alg->hash])
                   != 1)))
    {
        EVP_PKEY_CTX_free(pctx);
        return NULL;
    }

    key->verify[i] = pctx;

    return pctx;
}


/*
 * JWS carries ECDSA signatures as R || S, each the curve's size; OpenSSL
 * takes DER.  Anything but the exact length, and zero R or S, is refused
 * here.
 */

static ngx_int_t
ngx_http_auth_jwt_ecdsa_der(ngx_http_auth_jwt_token_t *token, u_char *der,
    size_t *len)
{
    int         n;
    size_t      half;
    BIGNUM     *r, *s;
    ECDSA_SIG  *sig;

    half = token->alg->ec_half;

    if (token->signature.len != 2 * half) {
        return NGX_DECLINED;
    }

    r = BN_bin2bn(token->signature.data, half, NULL);
    s = BN_bin2bn(token->signature.data + half, half, NULL);
    sig = ECDSA_SIG_new();

    if (r == NULL || s == NULL || sig == NULL
        || BN_is_zero(r) || BN_is_zero(s))
    {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return NGX_DECLINED;
    }

    /* the signature owns r and s from here */
    ECDSA_SIG_set0(sig, r, s);

    n = i2d_ECDSA_SIG(sig, NULL);

    if (n <= 0 || n > 160) {
        ECDSA_SIG_free(sig);
        return NGX_DECLINED;
    }

    *len = i2d_ECDSA_SIG(sig, &der);

    ECDSA_SIG_free(sig);

    return NGX_OK;
}
