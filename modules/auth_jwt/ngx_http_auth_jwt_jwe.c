
/*
 * Decrypting a JWE in compact serialization (RFC 7516): the content key
 * comes from the key management algorithm ("alg", RFC 7518, 4) and a key
 * of the JWK Sets, and opens the content ("enc", RFC 7518, 5).
 *
 * Nothing tells a client why a token did not decrypt.  A key that does not
 * unwrap the content key, a tag that does not match, a length that does
 * not fit: all end the same way, with one reason.  A content key that does
 * not unwrap is replaced by random bytes, without a branch on the outcome
 * (RFC 7516, 11.5), so that a wrong key does the work a wrong tag does and
 * fails where it fails: OpenSSL's key unwrap and RSA-OAEP decoding take
 * the same time whatever the outcome, and tags are compared in constant
 * time.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include "ngx_http_auth_jwt.h"


static ngx_int_t ngx_http_auth_jwt_jwe_header(ngx_pool_t *pool,
    ngx_http_auth_jwt_jwe_t *jwe, const char **reason);
static ngx_int_t ngx_http_auth_jwt_jwe_string(ngx_pool_t *pool,
    ngx_array_t *header, char *name, ngx_str_t *value);
static ngx_int_t ngx_http_auth_jwt_jwe_bytes(ngx_pool_t *pool,
    ngx_array_t *header, char *name, ngx_str_t *value);
static ngx_uint_t ngx_http_auth_jwt_jwe_fits(ngx_http_auth_jwt_jwe_t *jwe,
    ngx_http_auth_jwt_key_t *key);
static ngx_int_t ngx_http_auth_jwt_jwe_unwrap(ngx_http_auth_jwt_jwe_t *jwe,
    ngx_http_auth_jwt_key_t *key, u_char *cek);
static int ngx_http_auth_jwt_jwe_aes_unwrap(u_char *kek, size_t kek_len,
    ngx_str_t *in, u_char *out);
static int ngx_http_auth_jwt_jwe_gcm(u_char *key, size_t key_len,
    ngx_str_t *iv, ngx_str_t *aad, ngx_str_t *in, ngx_str_t *tag,
    u_char *out);
static int ngx_http_auth_jwt_jwe_oaep(ngx_http_auth_jwt_jwe_t *jwe,
    ngx_http_auth_jwt_key_t *key, u_char *out);
static int ngx_http_auth_jwt_jwe_ecdh(ngx_http_auth_jwt_jwe_t *jwe,
    ngx_http_auth_jwt_key_t *key, ngx_str_t *alg_id, u_char *out,
    size_t len);
static int ngx_http_auth_jwt_jwe_kdf(u_char *z, size_t z_len,
    ngx_str_t *alg_id, ngx_str_t *apu, ngx_str_t *apv, u_char *out,
    size_t len);
static void ngx_http_auth_jwt_jwe_be32(u_char *p, size_t value);
static int ngx_http_auth_jwt_jwe_cbc_hmac(ngx_http_auth_jwt_jwe_t *jwe,
    u_char *cek, u_char *out, size_t *len);
static void ngx_http_auth_jwt_jwe_cleanup(void *data);


/*
 * The hashes (SHA-1, -256, -384, -512) and ciphers (AES-128, -192, -256
 * in GCM, CBC and key wrap), fetched once rather than by name at every
 * use, and a cipher context and an HMAC for each worker, made at its
 * first token; freed with the last configuration that uses them.
 */
static EVP_MD          *ngx_http_auth_jwt_jwe_md[4];
static EVP_CIPHER      *ngx_http_auth_jwt_jwe_gcm_cipher[3];
static EVP_CIPHER      *ngx_http_auth_jwt_jwe_cbc_cipher[3];
static EVP_CIPHER      *ngx_http_auth_jwt_jwe_wrap_cipher[3];
static EVP_MAC         *ngx_http_auth_jwt_jwe_hmac;
static EVP_CIPHER_CTX  *ngx_http_auth_jwt_jwe_ctx;
static EVP_MAC_CTX     *ngx_http_auth_jwt_jwe_mac_ctx;
static ngx_uint_t       ngx_http_auth_jwt_jwe_users;


ngx_int_t
ngx_http_auth_jwt_jwe_init(ngx_pool_t *pool)
{
    ngx_uint_t           i;
    ngx_pool_cleanup_t  *cln;

    static const char  *mds[] = { "SHA1", "SHA256", "SHA384", "SHA512" };
    static const char  *gcm[] = { "AES-128-GCM", "AES-192-GCM",
                                  "AES-256-GCM" };
    static const char  *cbc[] = { "AES-128-CBC", "AES-192-CBC",
                                  "AES-256-CBC" };
    static const char  *wrap[] = { "AES-128-WRAP", "AES-192-WRAP",
                                   "AES-256-WRAP" };

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_auth_jwt_jwe_cleanup;
    ngx_http_auth_jwt_jwe_users++;

    if (ngx_http_auth_jwt_jwe_hmac) {
        return NGX_OK;
    }

    for (i = 0; i < 4; i++) {
        ngx_http_auth_jwt_jwe_md[i] = EVP_MD_fetch(NULL, mds[i], NULL);

        if (ngx_http_auth_jwt_jwe_md[i] == NULL) {
            return NGX_ERROR;
        }
    }

    for (i = 0; i < 3; i++) {
        ngx_http_auth_jwt_jwe_gcm_cipher[i] = EVP_CIPHER_fetch(NULL, gcm[i],
                                                               NULL);
        ngx_http_auth_jwt_jwe_cbc_cipher[i] = EVP_CIPHER_fetch(NULL, cbc[i],
                                                               NULL);
        ngx_http_auth_jwt_jwe_wrap_cipher[i] = EVP_CIPHER_fetch(NULL,
                                                                wrap[i],
                                                                NULL);

        if (ngx_http_auth_jwt_jwe_gcm_cipher[i] == NULL
            || ngx_http_auth_jwt_jwe_cbc_cipher[i] == NULL
            || ngx_http_auth_jwt_jwe_wrap_cipher[i] == NULL)
        {
            return NGX_ERROR;
        }
    }

    /* last: it marks the set as complete */

    ngx_http_auth_jwt_jwe_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);

    if (ngx_http_auth_jwt_jwe_hmac == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_auth_jwt_jwe_cleanup(void *data)
{
    ngx_uint_t  i;

    if (--ngx_http_auth_jwt_jwe_users) {
        return;
    }

    EVP_CIPHER_CTX_free(ngx_http_auth_jwt_jwe_ctx);
    ngx_http_auth_jwt_jwe_ctx = NULL;

    EVP_MAC_CTX_free(ngx_http_auth_jwt_jwe_mac_ctx);
    ngx_http_auth_jwt_jwe_mac_ctx = NULL;

    EVP_MAC_free(ngx_http_auth_jwt_jwe_hmac);
    ngx_http_auth_jwt_jwe_hmac = NULL;

    for (i = 0; i < 4; i++) {
        EVP_MD_free(ngx_http_auth_jwt_jwe_md[i]);
        ngx_http_auth_jwt_jwe_md[i] = NULL;
    }

    for (i = 0; i < 3; i++) {
        EVP_CIPHER_free(ngx_http_auth_jwt_jwe_gcm_cipher[i]);
        EVP_CIPHER_free(ngx_http_auth_jwt_jwe_cbc_cipher[i]);
        EVP_CIPHER_free(ngx_http_auth_jwt_jwe_wrap_cipher[i]);
        ngx_http_auth_jwt_jwe_gcm_cipher[i] = NULL;
        ngx_http_auth_jwt_jwe_cbc_cipher[i] = NULL;
        ngx_http_auth_jwt_jwe_wrap_cipher[i] = NULL;
    }
}


/*
 * The five segments and the header, checked as strictly as a JWS is
 * (ngx_http_auth_jwt_token_decode()); the lengths of the parts are the
 * key's and the algorithms' business, see ngx_http_auth_jwt_jwe_unwrap()
 * and ngx_http_auth_jwt_jwe_open().
 */

ngx_int_t
ngx_http_auth_jwt_jwe_decode(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_http_auth_jwt_jwe_t *jwe, const char **reason)
{
    u_char      *dot[4], *last, *start;
    ngx_str_t    segment, *part[4];
    ngx_uint_t   dots, i;

    ngx_memzero(jwe, sizeof(ngx_http_auth_jwt_jwe_t));

    if (raw->len > NGX_HTTP_AUTH_JWT_MAX_TOKEN) {
        *reason = "token too long";
        return NGX_DECLINED;
    }

    dots = ngx_http_auth_jwt_dots(raw, dot, 4);
    last = raw->data + raw->len;

    if (dots != 4) {
        *reason = (dots == 2) ? "a JWS (three segments) where a JWE is "
                                "expected"
                              : "not five segments";
        return NGX_DECLINED;
    }

    /* only the encrypted key is empty, with "dir" and "ECDH-ES" */

    if (dot[0] == raw->data || dot[2] == dot[1] + 1 || dot[3] == dot[2] + 1
        || dot[3] + 1 == last)
    {
        *reason = "empty segment";
        return NGX_DECLINED;
    }

    jwe->aad.data = raw->data;
    jwe->aad.len = dot[0] - raw->data;

    if (ngx_http_auth_jwt_decode_json(pool, &jwe->aad, &jwe->header_json,
                                      &jwe->header, 4, reason)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    part[0] = &jwe->encrypted_key;
    part[1] = &jwe->iv;
    part[2] = &jwe->ciphertext;
    part[3] = &jwe->tag;

    for (i = 0; i < 4; i++) {
        start = dot[i] + 1;

        segment.data = start;
        segment.len = ((i < 3) ? dot[i + 1] : last) - start;

        part[i]->data = ngx_pnalloc(pool, segment.len + 1);
        if (part[i]->data == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_auth_jwt_decode_base64url(part[i], &segment) != NGX_OK) {
            *reason = "segment is not base64url";
            return NGX_DECLINED;
        }
    }

    return ngx_http_auth_jwt_jwe_header(pool, jwe, reason);
}


static ngx_int_t
ngx_http_auth_jwt_jwe_header(ngx_pool_t *pool, ngx_http_auth_jwt_jwe_t *jwe,
    const char **reason)
{
    ngx_int_t              rc;
    ngx_str_t              alg, enc, cty;
    const char            *error;
    ngx_gw_json_member_t  *epk;

    if (ngx_http_auth_jwt_jwe_string(pool, &jwe->header, "alg", &alg)
        != NGX_OK
        || alg.data == NULL)
    {
        *reason = "no \"alg\" string in header";
        return NGX_DECLINED;
    }

    if (ngx_http_auth_jwt_jwe_string(pool, &jwe->header, "enc", &enc)
        != NGX_OK
        || enc.data == NULL)
    {
        *reason = "no \"enc\" string in header";
        return NGX_DECLINED;
    }

    /*
     * RSA1_5 is refused whatever the keys: its padding check is the oracle
     * of Bleichenbacher's attack, which OpenSSL's implicit rejection only
     * blunts from 3.2 on (RFC 8725, 3.2).  PBES2 lets the sender choose
     * the work of each request (its "p2c").
     */

    if (alg.len == 6 && ngx_strncmp(alg.data, "RSA1_5", 6) == 0) {
        *reason = "\"alg\" RSA1_5 is refused";
        return NGX_DECLINED;
    }

    if (alg.len > 5 && ngx_strncmp(alg.data, "PBES2", 5) == 0) {
        *reason = "\"alg\" PBES2 is refused";
        return NGX_DECLINED;
    }

    jwe->alg = ngx_http_auth_jwt_jwe_alg(&alg);
    if (jwe->alg == NULL) {
        *reason = "unsupported \"alg\"";
        return NGX_DECLINED;
    }

    jwe->enc = ngx_http_auth_jwt_enc(&enc);
    if (jwe->enc == NULL) {
        *reason = "unsupported \"enc\"";
        return NGX_DECLINED;
    }

    /* a deflated payload would inflate to any size: no "zip" at all */

    if (ngx_gw_json_member(&jwe->header, (u_char *) "zip", 3)) {
        *reason = "\"zip\" is refused";
        return NGX_DECLINED;
    }

    if (ngx_gw_json_member(&jwe->header, (u_char *) "crit", 4)) {
        *reason = "unsupported \"crit\" header";
        return NGX_DECLINED;
    }

    if (ngx_http_auth_jwt_jwe_string(pool, &jwe->header, "kid", &jwe->kid)
        != NGX_OK)
    {
        *reason = "\"kid\" is not a string";
        return NGX_DECLINED;
    }

    if (ngx_http_auth_jwt_jwe_string(pool, &jwe->header, "cty", &cty)
        != NGX_OK)
    {
        *reason = "\"cty\" is not a string";
        return NGX_DECLINED;
    }

    /* "JWT", or the media type in full (RFC 7519, 5.2; RFC 7515, 4.1.10) */

    jwe->jwt = (cty.len == 3
                && ngx_strncasecmp(cty.data, (u_char *) "JWT", 3) == 0)
               || (cty.len == 15
                   && ngx_strncasecmp(cty.data, (u_char *) "application/jwt",
                                      15)
                      == 0);

    if (jwe->alg->wrap == NGX_HTTP_AUTH_JWT_GCMKW
        && (ngx_http_auth_jwt_jwe_bytes(pool, &jwe->header, "iv",
                                        &jwe->kw_iv)
            != NGX_OK
            || ngx_http_auth_jwt_jwe_bytes(pool, &jwe->header, "tag",
                                           &jwe->kw_tag)
               != NGX_OK
            || jwe->kw_iv.data == NULL || jwe->kw_tag.data == NULL))
    {
        *reason = "no base64url \"iv\" and \"tag\" in header";
        return NGX_DECLINED;
    }

    if (jwe->alg->wrap != NGX_HTTP_AUTH_JWT_ECDH
        && jwe->alg->wrap != NGX_HTTP_AUTH_JWT_ECDH_KW)
    {
        return NGX_OK;
    }

    if (ngx_http_auth_jwt_jwe_bytes(pool, &jwe->header, "apu", &jwe->apu)
        != NGX_OK
        || ngx_http_auth_jwt_jwe_bytes(pool, &jwe->header, "apv", &jwe->apv)
           != NGX_OK)
    {
        *reason = "\"apu\" or \"apv\" is not base64url";
        return NGX_DECLINED;
    }

    epk = ngx_gw_json_member(&jwe->header, (u_char *) "epk", 3);

    if (epk == NULL || epk->type != NGX_GW_JSON_OBJECT) {
        *reason = "no \"epk\" object in header";
        return NGX_DECLINED;
    }

    rc = ngx_http_auth_jwt_epk(pool, &epk->value, &jwe->epk, &error);

    if (rc == NGX_DECLINED) {
        *reason = "invalid \"epk\"";
    }

    return rc;
}


/* a string member, or none (no data); NGX_DECLINED if not a string */

static ngx_int_t
ngx_http_auth_jwt_jwe_string(ngx_pool_t *pool, ngx_array_t *header,
    char *name, ngx_str_t *value)
{
    ngx_gw_json_member_t  *member;

    ngx_str_null(value);

    member = ngx_gw_json_member(header, (u_char *) name, ngx_strlen(name));

    if (member == NULL) {
        return NGX_OK;
    }

    if (member->type != NGX_GW_JSON_STRING) {
        return NGX_DECLINED;
    }

    return ngx_gw_json_member_text(pool, member, value);
}


static ngx_int_t
ngx_http_auth_jwt_jwe_bytes(ngx_pool_t *pool, ngx_array_t *header,
    char *name, ngx_str_t *value)
{
    ngx_int_t  rc;
    ngx_str_t  text;

    rc = ngx_http_auth_jwt_jwe_string(pool, header, name, &text);

    if (rc != NGX_OK || text.data == NULL) {
        *value = text;
        return rc;
    }

    value->data = ngx_pnalloc(pool, text.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    return (ngx_http_auth_jwt_decode_base64url(value, &text) == NGX_OK)
           ? NGX_OK : NGX_DECLINED;
}


/*
 * Tries the keys that may decrypt the token: the same "kid" where both
 * name one, a key for encryption of the type and size the algorithms
 * take, and the token's "alg" if the key names one.  *tried counts them.
 * On NGX_OK, jwe->plaintext is the payload and jwe->cek its key.
 */

ngx_int_t
ngx_http_auth_jwt_jwe_decrypt(ngx_pool_t *pool, ngx_http_auth_jwt_jwe_t *jwe,
    ngx_array_t *keys, ngx_log_t *log, ngx_uint_t *tried)
{
    u_char                    cek[NGX_HTTP_AUTH_JWT_MAX_CEK];
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_http_auth_jwt_key_t  *key;

    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {

        if (!ngx_http_auth_jwt_jwe_fits(jwe, &key[i])) {
            continue;
        }

        (*tried)++;

        rc = ngx_http_auth_jwt_jwe_unwrap(jwe, &key[i], cek);

        if (rc == NGX_OK) {
            rc = ngx_http_auth_jwt_jwe_open(pool, jwe, cek,
                                            jwe->enc->key_len);
        }

        if (rc == NGX_OK) {
            jwe->cek.data = ngx_pnalloc(pool, jwe->enc->key_len);

            if (jwe->cek.data) {
                ngx_memcpy(jwe->cek.data, cek, jwe->enc->key_len);
                jwe->cek.len = jwe->enc->key_len;
            }
        }

        ngx_explicit_memzero(cek, sizeof(cek));

        if (rc == NGX_OK) {
            return (jwe->cek.data == NULL) ? NGX_ERROR : NGX_OK;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "auth_jwt: OpenSSL failed decrypting a %V token",
                          &jwe->alg->name);
            return NGX_ERROR;
        }
    }

    return NGX_DECLINED;
}


static ngx_uint_t
ngx_http_auth_jwt_jwe_fits(ngx_http_auth_jwt_jwe_t *jwe,
    ngx_http_auth_jwt_key_t *key)
{
    if (!key->decrypts
        || !(key->use & NGX_HTTP_AUTH_JWT_USE_ENC)
        || (key->jwe_alg && key->jwe_alg != jwe->alg)
        || (key->kid.len && jwe->kid.len
            && (key->kid.len != jwe->kid.len
                || ngx_memcmp(key->kid.data, jwe->kid.data, jwe->kid.len)
                   != 0)))
    {
        return 0;
    }

    switch (jwe->alg->wrap) {

    case NGX_HTTP_AUTH_JWT_DIR:
        return key->kty == NGX_HTTP_AUTH_JWT_OCT
               && key->secret.len == jwe->enc->key_len;

    case NGX_HTTP_AUTH_JWT_KW:
    case NGX_HTTP_AUTH_JWT_GCMKW:
        return key->kty == NGX_HTTP_AUTH_JWT_OCT
               && key->secret.len == jwe->alg->key_len;

    case NGX_HTTP_AUTH_JWT_OAEP:
        return key->kty == NGX_HTTP_AUTH_JWT_RSA;

    default:

        /* ECDH: the sender's key on the key's curve (sizes tell ours) */

        return (key->kty == NGX_HTTP_AUTH_JWT_EC
                || key->kty == NGX_HTTP_AUTH_JWT_OKP)
               && EVP_PKEY_get_base_id(key->pkey)
                  == EVP_PKEY_get_base_id(jwe->epk)
               && EVP_PKEY_get_bits(key->pkey) == EVP_PKEY_get_bits(jwe->epk);
    }
}


/*
 * The content key, enc->key_len bytes, into cek: NGX_OK whether it
 * unwrapped or is random in its place; NGX_DECLINED for a length that
 * does not fit, known before any key is used.
 */

static ngx_int_t
ngx_http_auth_jwt_jwe_unwrap(ngx_http_auth_jwt_jwe_t *jwe,
    ngx_http_auth_jwt_key_t *key, u_char *cek)
{
    int         ok, unwrapped;
    u_char      out[512], kek[32], mask;
    size_t      len, i;
    ngx_str_t   alg_id;

    len = jwe->enc->key_len;

    switch (jwe->alg->wrap) {

    case NGX_HTTP_AUTH_JWT_DIR:
        if (jwe->encrypted_key.len) {
            return NGX_DECLINED;
        }

        ngx_memcpy(cek, key->secret.data, len);
        return NGX_OK;

    case NGX_HTTP_AUTH_JWT_ECDH:
        if (jwe->encrypted_key.len) {
            return NGX_DECLINED;
        }

        break;

    case NGX_HTTP_AUTH_JWT_KW:
    case NGX_HTTP_AUTH_JWT_ECDH_KW:
        if (jwe->encrypted_key.len != len + 8) {
            return NGX_DECLINED;
        }

        break;

    case NGX_HTTP_AUTH_JWT_GCMKW:
        if (jwe->encrypted_key.len != len || jwe->kw_iv.len != 12
            || jwe->kw_tag.len != 16)
        {
            return NGX_DECLINED;
        }

        break;

    default: /* NGX_HTTP_AUTH_JWT_OAEP */
        if ((int) jwe->encrypted_key.len != EVP_PKEY_get_size(key->pkey)
            || jwe->encrypted_key.len > sizeof(out))
        {
            return NGX_DECLINED;
        }
    }

    /* the stand-in, drawn before the outcome is known */

    if (RAND_bytes(cek, len) != 1) {
        return NGX_ERROR;
    }

    switch (jwe->alg->wrap) {

    case NGX_HTTP_AUTH_JWT_KW:
        ok = ngx_http_auth_jwt_jwe_aes_unwrap(key->secret.data,
                                              key->secret.len,
                                              &jwe->encrypted_key, out);
        break;

    case NGX_HTTP_AUTH_JWT_GCMKW:
        ok = ngx_http_auth_jwt_jwe_gcm(key->secret.data, key->secret.len,
                                       &jwe->kw_iv, NULL,
                                       &jwe->encrypted_key, &jwe->kw_tag,
                                       out);
        break;

    case NGX_HTTP_AUTH_JWT_OAEP:
        ok = ngx_http_auth_jwt_jwe_oaep(jwe, key, out);
        break;

    case NGX_HTTP_AUTH_JWT_ECDH:

        /* the derived key is the content key; "enc" names it */

        ok = ngx_http_auth_jwt_jwe_ecdh(jwe, key, &jwe->enc->name, out, len);
        break;

    default: /* NGX_HTTP_AUTH_JWT_ECDH_KW */

        /* the derived key wraps the content key; "alg" names it */

        alg_id = jwe->alg->name;
        ok = ngx_http_auth_jwt_jwe_ecdh(jwe, key, &alg_id, kek,
                                        jwe->alg->key_len);

        if (ok >= 0) {
            unwrapped = ngx_http_auth_jwt_jwe_aes_unwrap(kek,
                                                         jwe->alg->key_len,
                                                         &jwe->encrypted_key,
                                                         out);
            ok = (unwrapped < 0) ? unwrapped : (ok & unwrapped);
        }

        ngx_explicit_memzero(kek, sizeof(kek));
    }

    if (ok < 0) {
        ngx_explicit_memzero(out, sizeof(out));
        return NGX_ERROR;
    }

    /* ok is 0 or 1: the unwrapped key or the stand-in, without a branch */

    mask = (u_char) (0 - (unsigned int) ok);

    for (i = 0; i < len; i++) {
        cek[i] = (u_char) ((out[i] & mask) | (cek[i] & ~mask));
    }

    ngx_explicit_memzero(out, sizeof(out));

    /* a failure left OpenSSL's errors behind */
    ERR_clear_error();

    return NGX_OK;
}


/*
 * AES key wrap (RFC 3394), out gets in->len - 8 bytes: 1 if the integrity
 * check passed, 0 if not.  OpenSSL does all six rounds before checking,
 * and checks with CRYPTO_memcmp().  A failure of OpenSSL itself is 0 too,
 * as it cannot be told apart; it is rare, and refuses the token.
 */

static int
ngx_http_auth_jwt_jwe_aes_unwrap(u_char *kek, size_t kek_len, ngx_str_t *in,
    u_char *out)
{
    int              n, ok;
    EVP_CIPHER_CTX  *ctx;

    n = 0;

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return -1;
    }

    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);

    ok = EVP_DecryptInit_ex(ctx,
                            ngx_http_auth_jwt_jwe_wrap_cipher[kek_len / 8 - 2],
                            NULL, kek, NULL)
         == 1;

    ok &= EVP_DecryptUpdate(ctx, out, &n, in->data, (int) in->len) == 1;
    ok &= (n == (int) in->len - 8);

    EVP_CIPHER_CTX_free(ctx);

    return ok;
}


/*
 * AES-GCM decryption (content, and GCMKW's key): 1 if the tag matched,
 * which OpenSSL checks with CRYPTO_memcmp(), 0 if not, -1 on failure
 */

static int
ngx_http_auth_jwt_jwe_gcm(u_char *key, size_t key_len, ngx_str_t *iv,
    ngx_str_t *aad, ngx_str_t *in, ngx_str_t *tag, u_char *out)
{
    int              n;
    EVP_CIPHER_CTX  *ctx;

    if (ngx_http_auth_jwt_jwe_ctx == NULL) {
        ngx_http_auth_jwt_jwe_ctx = EVP_CIPHER_CTX_new();

        if (ngx_http_auth_jwt_jwe_ctx == NULL) {
            return -1;
        }
    }

    ctx = ngx_http_auth_jwt_jwe_ctx;

    /* a 96-bit IV is GCM's default */

    if (EVP_DecryptInit_ex(ctx,
                           ngx_http_auth_jwt_jwe_gcm_cipher[key_len / 8 - 2],
                           NULL, key, iv->data)
        != 1
        || (aad
            && EVP_DecryptUpdate(ctx, NULL, &n, aad->data, (int) aad->len)
               != 1)
        || EVP_DecryptUpdate(ctx, out, &n, in->data, (int) in->len) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int) tag->len,
                               tag->data)
           != 1)
    {
        return -1;
    }

    return EVP_DecryptFinal_ex(ctx, out + n, &n) > 0;
}


/*
 * RSA-OAEP with the algorithm's hash, for the digest and for MGF1, out
 * gets the key: 1 if it decoded to the content key's length, 0 if not.
 * OpenSSL decodes OAEP in constant time and fails the same way whatever
 * is wrong, so nothing here tells Manger's oracle where the padding broke:
 * the outcome is only ever used through the mask in the caller.  (OpenSSL
 * 3.2's implicit rejection is for PKCS #1 v1.5 padding, RSA1_5, which is
 * refused.)
 */

static int
ngx_http_auth_jwt_jwe_oaep(ngx_http_auth_jwt_jwe_t *jwe,
    ngx_http_auth_jwt_key_t *key, u_char *out)
{
    int            ok;
    size_t         len;
    EVP_MD        *md;
    EVP_PKEY_CTX  *ctx;

    md = ngx_http_auth_jwt_jwe_md[jwe->alg->hash];
    ctx = key->decrypt[jwe->alg->hash];

    if (ctx == NULL) {

        /* set up once for each hash, and kept with the key */

        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);

        if (ctx == NULL
            || EVP_PKEY_decrypt_init(ctx) != 1
            || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1
            || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1)
        {
            EVP_PKEY_CTX_free(ctx);
            return -1;
        }

        key->decrypt[jwe->alg->hash] = ctx;
    }

    len = 512;

    ok = EVP_PKEY_decrypt(ctx, out, &len, jwe->encrypted_key.data,
                          jwe->encrypted_key.len)
         == 1;

    return ok & (len == jwe->enc->key_len);
}


/*
 * ECDH-ES (RFC 7518, 4.6): the shared secret of the key and the sender's
 * "epk", through the Concat KDF, into len bytes of out: 1, or 0 if the
 * two keys give no secret (an X25519 point of small order).
 */

static int
ngx_http_auth_jwt_jwe_ecdh(ngx_http_auth_jwt_jwe_t *jwe,
    ngx_http_auth_jwt_key_t *key, ngx_str_t *alg_id, u_char *out,
    size_t len)
{
    int            ok;
    u_char         z[66];
    size_t         z_len;
    EVP_PKEY_CTX  *ctx;

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (ctx == NULL) {
        return -1;
    }

    z_len = sizeof(z);

    /* the sender's key was checked on its curve when it was decoded */

    ok = EVP_PKEY_derive_init(ctx) == 1
         && EVP_PKEY_derive_set_peer_ex(ctx, jwe->epk, 0) == 1
         && EVP_PKEY_derive(ctx, z, &z_len) == 1;

    EVP_PKEY_CTX_free(ctx);

    if (!ok) {
        ngx_explicit_memzero(z, sizeof(z));
        ngx_memzero(out, len);
        return 0;
    }

    ok = ngx_http_auth_jwt_jwe_kdf(z, z_len, alg_id, &jwe->apu, &jwe->apv,
                                   out, len);

    ngx_explicit_memzero(z, sizeof(z));

    return ok;
}


/*
 * The Concat KDF of NIST SP 800-56A, 5.8.1, with SHA-256, as RFC 7518,
 * 4.6.2 sets its inputs: each round hashes a 32-bit big-endian counter
 * from 1, the shared secret Z and OtherInfo, which is AlgorithmID,
 * PartyUInfo and PartyVInfo, each a 32-bit length and its bytes, and
 * SuppPubInfo, the key's length in bits; the rounds' digests, one after
 * the other, are cut to len bytes.
 */

static int
ngx_http_auth_jwt_jwe_kdf(u_char *z, size_t z_len, ngx_str_t *alg_id,
    ngx_str_t *apu, ngx_str_t *apv, u_char *out, size_t len)
{
    int          ok;
    u_char       digest[32], counter[4], lengths[3][4], bits[4];
    size_t       n, done;
    uint32_t     round;
    EVP_MD_CTX  *mctx;

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return -1;
    }

    ngx_http_auth_jwt_jwe_be32(lengths[0], alg_id->len);
    ngx_http_auth_jwt_jwe_be32(lengths[1], apu->len);
    ngx_http_auth_jwt_jwe_be32(lengths[2], apv->len);
    ngx_http_auth_jwt_jwe_be32(bits, len * 8);

    ok = 1;

    for (round = 1, done = 0; ok && done < len; round++) {
        ngx_http_auth_jwt_jwe_be32(counter, round);

        ok = EVP_DigestInit_ex(mctx, ngx_http_auth_jwt_jwe_md[1], NULL) == 1
             && EVP_DigestUpdate(mctx, counter, 4) == 1
             && EVP_DigestUpdate(mctx, z, z_len) == 1
             && EVP_DigestUpdate(mctx, lengths[0], 4) == 1
             && EVP_DigestUpdate(mctx, alg_id->data, alg_id->len) == 1
             && EVP_DigestUpdate(mctx, lengths[1], 4) == 1
             && EVP_DigestUpdate(mctx, apu->data, apu->len) == 1
             && EVP_DigestUpdate(mctx, lengths[2], 4) == 1
             && EVP_DigestUpdate(mctx, apv->data, apv->len) == 1
             && EVP_DigestUpdate(mctx, bits, 4) == 1
             && EVP_DigestFinal_ex(mctx, digest, NULL) == 1;

        n = ngx_min(len - done, sizeof(digest));
        ngx_memcpy(out + done, digest, n);
        done += n;
    }

    EVP_MD_CTX_free(mctx);
    ngx_explicit_memzero(digest, sizeof(digest));

    return ok ? 1 : -1;
}


static void
ngx_http_auth_jwt_jwe_be32(u_char *p, size_t value)
{
    p[0] = (u_char) (value >> 24);
    p[1] = (u_char) (value >> 16);
    p[2] = (u_char) (value >> 8);
    p[3] = (u_char) value;
}


/*
 * Opens the content with the content key: NGX_OK with jwe->plaintext,
 * NGX_DECLINED if a length does not fit or the tag does not match.  Also
 * used alone for a token the verified-token cache holds, with the key it
 * kept.
 */

ngx_int_t
ngx_http_auth_jwt_jwe_open(ngx_pool_t *pool, ngx_http_auth_jwt_jwe_t *jwe,
    u_char *cek, size_t len)
{
    int                       rc;
    u_char                   *out;
    size_t                    n;
    ngx_http_auth_jwt_enc_t  *enc;

    enc = jwe->enc;

    if (len != enc->key_len || jwe->iv.len != enc->iv_len
        || jwe->tag.len != enc->tag_len
        || (!enc->gcm
            && (jwe->ciphertext.len == 0 || jwe->ciphertext.len % 16)))
    {
        return NGX_DECLINED;
    }

    /* room for CBC's last block */

    out = ngx_pnalloc(pool, jwe->ciphertext.len + 16);
    if (out == NULL) {
        return NGX_ERROR;
    }

    n = jwe->ciphertext.len;

    if (enc->gcm) {
        rc = ngx_http_auth_jwt_jwe_gcm(cek, len, &jwe->iv, &jwe->aad,
                                       &jwe->ciphertext, &jwe->tag, out);

    } else {
        rc = ngx_http_auth_jwt_jwe_cbc_hmac(jwe, cek, out, &n);
    }

    if (rc != 1) {
        ngx_explicit_memzero(out, jwe->ciphertext.len + 16);
        ERR_clear_error();
        return (rc < 0) ? NGX_ERROR : NGX_DECLINED;
    }

    jwe->plaintext.data = out;
    jwe->plaintext.len = n;

    return NGX_OK;
}


/*
 * AES-CBC with HMAC (RFC 7518, 5.2.2): the first half of the key is the
 * MAC's, the second the cipher's; the tag is the first half of the HMAC
 * of the AAD, the IV, the ciphertext and the AAD's length in bits as 64
 * bits, compared in constant time before anything is decrypted, so that
 * the padding is checked only on what the sender made.
 */

static int
ngx_http_auth_jwt_jwe_cbc_hmac(ngx_http_auth_jwt_jwe_t *jwe, u_char *cek,
    u_char *out, size_t *len)
{
    int                       n, m;
    u_char                    mac[EVP_MAX_MD_SIZE], al[8];
    size_t                    mac_len, half;
    uint64_t                  bits;
    ngx_uint_t                i;
    OSSL_PARAM                params[2];
    EVP_MAC_CTX              *mctx;
    EVP_CIPHER_CTX           *ctx;
    ngx_http_auth_jwt_enc_t  *enc;

    static const char  *digests[] = { "SHA1", "SHA256", "SHA384", "SHA512" };

    enc = jwe->enc;
    half = enc->key_len / 2;

    if (ngx_http_auth_jwt_jwe_mac_ctx == NULL) {
        ngx_http_auth_jwt_jwe_mac_ctx =
                                EVP_MAC_CTX_new(ngx_http_auth_jwt_jwe_hmac);

        if (ngx_http_auth_jwt_jwe_mac_ctx == NULL) {
            return -1;
        }
    }

    mctx = ngx_http_auth_jwt_jwe_mac_ctx;

    bits = (uint64_t) jwe->aad.len * 8;

    for (i = 0; i < 8; i++) {
        al[i] = (u_char) (bits >> (56 - 8 * i));
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                          (char *) digests[enc->hash], 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(mctx, cek, half, params) != 1
        || EVP_MAC_update(mctx, jwe->aad.data, jwe->aad.len) != 1
        || EVP_MAC_update(mctx, jwe->iv.data, jwe->iv.len) != 1
        || EVP_MAC_update(mctx, jwe->ciphertext.data, jwe->ciphertext.len)
           != 1
        || EVP_MAC_update(mctx, al, 8) != 1
        || EVP_MAC_final(mctx, mac, &mac_len, sizeof(mac)) != 1)
    {
        return -1;
    }

    if (CRYPTO_memcmp(mac, jwe->tag.data, enc->tag_len) != 0) {
        return 0;
    }

    if (ngx_http_auth_jwt_jwe_ctx == NULL) {
        ngx_http_auth_jwt_jwe_ctx = EVP_CIPHER_CTX_new();

        if (ngx_http_auth_jwt_jwe_ctx == NULL) {
            return -1;
        }
    }

    ctx = ngx_http_auth_jwt_jwe_ctx;

    if (EVP_DecryptInit_ex(ctx, ngx_http_auth_jwt_jwe_cbc_cipher[enc->aes],
                           NULL, cek + half, jwe->iv.data)
        != 1
        || EVP_DecryptUpdate(ctx, out, &n, jwe->ciphertext.data,
                             (int) jwe->ciphertext.len)
           != 1)
    {
        return -1;
    }

    /* the padding: the sender's, who knew the key */

    if (EVP_DecryptFinal_ex(ctx, out + n, &m) != 1) {
        return 0;
    }

    *len = n + m;

    return 1;
}


/*
 * The token's variables, from the decrypted payload: the header is the
 * JWE's, as NGINX Plus's $jwt_header_ variables are the top level's; the
 * claims are the payload's under "encrypted", and the inner JWS's under
 * "nested", whose $jwt_payload is that JWS.  inner gets the JWS, still to
 * be verified.
 */

ngx_int_t
ngx_http_auth_jwt_jwe_payload(ngx_pool_t *pool, ngx_http_auth_jwt_jwe_t *jwe,
    ngx_uint_t type, ngx_http_auth_jwt_token_t *token,
    ngx_http_auth_jwt_token_t *inner, const char **reason)
{
    ngx_int_t    rc;
    const char  *error;

    ngx_memzero(token, sizeof(ngx_http_auth_jwt_token_t));

    token->header = jwe->header;
    token->header_json = jwe->header_json;
    token->payload_json = jwe->plaintext;
    token->kid = jwe->kid;

    if (type == NGX_HTTP_AUTH_JWT_NESTED) {
        if (!jwe->jwt) {
            *reason = "no \"cty\" JWT: not a nested token";
            return NGX_DECLINED;
        }

        ngx_memzero(inner, sizeof(ngx_http_auth_jwt_token_t));

        rc = ngx_http_auth_jwt_token_decode(pool, &jwe->plaintext, inner,
                                            reason);
        if (rc != NGX_OK) {
            return rc;
        }

        token->claims = inner->claims;

        return NGX_OK;
    }

    if (jwe->jwt) {
        *reason = "\"cty\" JWT: a nested token under auth_jwt_type encrypted";
        return NGX_DECLINED;
    }

    if (ngx_array_init(&token->claims, pool, 8, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_gw_json_object_members(pool, &jwe->plaintext,
                                    NGX_HTTP_AUTH_JWT_MAX_DEPTH,
                                    &token->claims, &error);

    if (rc == NGX_ERROR) {
        *reason = error;
        return NGX_DECLINED;
    }

    return (rc == NGX_OK) ? NGX_OK : NGX_ERROR;
}
