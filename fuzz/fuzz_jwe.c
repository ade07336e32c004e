
/*
 * libFuzzer target for JWE decoding and decryption
 * (ngx_http_auth_jwt_jwe.c), with OpenSSL.
 *
 * The input is a raw token, as a client would send it: it goes to
 * ngx_http_auth_jwt_jwe_decode(), and a token that decodes is decrypted
 * with the keys of t/data/jwt/jwe.json (oct keys of every size, private
 * RSA, EC and X25519 keys), then read as the payload of an encrypted and
 * of a nested token.  A decryption must succeed or be refused without an
 * OpenSSL failure; what it opens is no longer than the ciphertext, and
 * opens the same again with the content key it found, as the verified-
 * token cache does; claims never hold a control character.
 *
 * An input that starts with a NUL byte is instead a header's JSON, a NUL
 * and a payload, which are made here into a token encrypted with dir and
 * A256GCM under the key "oct32", so that the fuzzer can work on headers
 * and payloads: if the header says that, with that key or none, the token
 * must decrypt to exactly the payload.
 *
 * The pool is destroyed after every input: its cleanups must free every
 * OpenSSL object (the sender's keys of ECDH-ES) exactly once.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/err.h>
#include "ngx_http_auth_jwt.h"
#include "ngx_fuzz.h"


#define FZ_KEYS  "t/data/jwt/jwe.json"


static ngx_array_t  *fz_keys;
static u_char        fz_oct32[32];


static void
fz_check_claims(ngx_pool_t *pool, ngx_array_t *members)
{
    size_t                 n;
    ngx_int_t              rc;
    ngx_str_t              text;
    ngx_uint_t             i;
    ngx_gw_json_member_t  *member;

    member = members->elts;

    for (i = 0; i < members->nelts; i++) {
        rc = ngx_gw_claim_variable(pool, &member[i], &text);

        ngx_fuzz_assert(rc == NGX_OK || rc == NGX_DECLINED);

        for (n = 0; rc == NGX_OK && n < text.len; n++) {
            ngx_fuzz_assert(text.data[n] >= 0x20 && text.data[n] != 0x7f);
        }
    }
}


/* NGX_OK if it decrypted */

static ngx_int_t
fz_check_jwe(ngx_pool_t *pool, ngx_str_t *raw)
{
    ngx_int_t                   rc;
    ngx_str_t                   plaintext;
    ngx_uint_t                  tried, type;
    const char                 *reason;
    ngx_http_auth_jwt_jwe_t     jwe;
    ngx_http_auth_jwt_token_t   token, inner;

    reason = NULL;

    rc = ngx_http_auth_jwt_jwe_decode(pool, raw, &jwe, &reason);

    if (rc == NGX_DECLINED) {
        ngx_fuzz_assert(reason != NULL);
        return NGX_DECLINED;
    }

    ngx_fuzz_assert(rc == NGX_OK);
    ngx_fuzz_assert(jwe.alg != NULL && jwe.enc != NULL);
    ngx_fuzz_assert(jwe.aad.data == raw->data);
    ngx_fuzz_assert(jwe.aad.len < raw->len && raw->data[jwe.aad.len] == '.');
    ngx_fuzz_assert((jwe.epk != NULL)
                    == (jwe.alg->wrap == NGX_HTTP_AUTH_JWT_ECDH
                        || jwe.alg->wrap == NGX_HTTP_AUTH_JWT_ECDH_KW));

    tried = 0;
    rc = ngx_http_auth_jwt_jwe_decrypt(pool, &jwe, fz_keys, &ngx_fuzz_log,
                                       &tried);

    /* NGX_ERROR: OpenSSL failed on a key and a token it had accepted */
    ngx_fuzz_assert(rc == NGX_DECLINED || (rc == NGX_OK && tried));

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_fuzz_assert(jwe.cek.len == jwe.enc->key_len);
    ngx_fuzz_assert(jwe.plaintext.len <= jwe.ciphertext.len);

    /* opened again with the content key, as from the cache */

    plaintext = jwe.plaintext;

    ngx_fuzz_assert(ngx_http_auth_jwt_jwe_open(pool, &jwe, jwe.cek.data,
                                               jwe.cek.len)
                    == NGX_OK);
    ngx_fuzz_assert(jwe.plaintext.len == plaintext.len
                    && ngx_memcmp(jwe.plaintext.data, plaintext.data,
                                  plaintext.len)
                       == 0);

    for (type = NGX_HTTP_AUTH_JWT_ENCRYPTED; type <= NGX_HTTP_AUTH_JWT_NESTED;
         type++)
    {
        reason = NULL;
        rc = ngx_http_auth_jwt_jwe_payload(pool, &jwe, type, &token, &inner,
                                           &reason);

        ngx_fuzz_assert(rc == NGX_OK || (rc == NGX_DECLINED && reason));

        if (rc != NGX_OK) {
            continue;
        }

        /* "cty" decides which of the two reads a payload at all */
        ngx_fuzz_assert(jwe.jwt == (type == NGX_HTTP_AUTH_JWT_NESTED));
        ngx_fuzz_assert(token.payload_json.data == jwe.plaintext.data);

        fz_check_claims(pool, &token.header);
        fz_check_claims(pool, &token.claims);

        if (type == NGX_HTTP_AUTH_JWT_NESTED) {
            ngx_fuzz_assert(inner.alg != NULL);
        }
    }

    return NGX_OK;
}


/* header JSON NUL payload: dir and A256GCM with "oct32" */

static void
fz_check_made(ngx_pool_t *pool, const u_char *data, size_t size)
{
    int                       n;
    u_char                   *raw, *p, iv[12], tag[16], *ct;
    ngx_int_t                 rc;
    size_t                    hlen, plen, len;
    ngx_str_t                 token, header;
    const u_char             *nul;
    EVP_CIPHER_CTX           *ctx;
    ngx_http_auth_jwt_jwe_t   jwe;
    const char               *reason;

    nul = memchr(data, '\0', size);
    hlen = nul ? (size_t) (nul - data) : size;
    plen = nul ? size - hlen - 1 : 0;

    raw = malloc(4 * (hlen + plen + 64) / 3 + 16);
    ct = malloc(plen + 1);
    ngx_fuzz_assert(raw != NULL && ct != NULL);

    len = ngx_fuzz_b64url_encode(raw, data, hlen);

    /* the AAD is the header's segment, as the sender wrote it */

    header.data = raw;
    header.len = len;

    ngx_memset(iv, 0x5a, sizeof(iv));

    ctx = EVP_CIPHER_CTX_new();
    ngx_fuzz_assert(ctx != NULL);

    ngx_fuzz_assert(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL,
                                       fz_oct32, iv)
                    == 1);
    ngx_fuzz_assert(EVP_EncryptUpdate(ctx, NULL, &n, header.data,
                                      (int) header.len)
                    == 1);
    n = 0;
    ngx_fuzz_assert(EVP_EncryptUpdate(ctx, ct, &n, nul ? nul + 1 : data,
                                      (int) plen)
                    == 1);
    ngx_fuzz_assert(EVP_EncryptFinal_ex(ctx, ct + n, &n) == 1);
    ngx_fuzz_assert(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag)
                    == 1);
    EVP_CIPHER_CTX_free(ctx);

    p = raw + len;
    *p++ = '.';
    *p++ = '.';
    p += ngx_fuzz_b64url_encode(p, iv, sizeof(iv));
    *p++ = '.';
    p += ngx_fuzz_b64url_encode(p, ct, plen);
    *p++ = '.';
    p += ngx_fuzz_b64url_encode(p, tag, sizeof(tag));

    /* exactly as long as the token */
    token.len = p - raw;
    token.data = ngx_fuzz_dup(raw, token.len);
    free(raw);

    rc = fz_check_jwe(pool, &token);

    /* said dir, A256GCM and at most "oct32": then it opens to the payload */

    if (ngx_http_auth_jwt_jwe_decode(pool, &token, &jwe, &reason) == NGX_OK
        && jwe.alg->wrap == NGX_HTTP_AUTH_JWT_DIR
        && jwe.enc->key_len == 32 && jwe.enc->gcm
        && (jwe.kid.len == 0
            || (jwe.kid.len == 5 && ngx_memcmp(jwe.kid.data, "oct32", 5) == 0)))
    {
        ngx_fuzz_assert(rc == NGX_OK);
        ngx_fuzz_assert(ngx_http_auth_jwt_jwe_open(pool, &jwe, fz_oct32, 32)
                        == NGX_OK);
        ngx_fuzz_assert(jwe.plaintext.len == plen
                        && (plen == 0
                            || ngx_memcmp(jwe.plaintext.data, nul + 1, plen)
                               == 0));
    }

    free(token.data);
    free(ct);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FILE                     *f;
    size_t                    n;
    ngx_str_t                 json;
    ngx_uint_t                i;
    ngx_pool_t               *pool;
    const char               *error;
    static u_char             buf[65536];
    ngx_http_auth_jwt_key_t  *key;

    ngx_fuzz_init();

    /* the keys, ciphers and digests live as long as the process */
    pool = ngx_create_pool(4096, &ngx_fuzz_log);
    ngx_fuzz_assert(pool != NULL);

    ngx_fuzz_assert(ngx_http_auth_jwt_crypto_init(pool) == NGX_OK);
    ngx_fuzz_assert(ngx_http_auth_jwt_jwe_init(pool) == NGX_OK);

    f = fopen(FZ_KEYS, "r");
    ngx_fuzz_assert(f != NULL);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    ngx_fuzz_assert(n > 0 && n < sizeof(buf));

    json.data = buf;
    json.len = n;

    fz_keys = ngx_http_auth_jwt_keys_create(pool);
    ngx_fuzz_assert(fz_keys != NULL);
    ngx_fuzz_assert(ngx_http_auth_jwt_jwks_parse(pool, &ngx_fuzz_log,
                                                 NGX_LOG_INFO, &json, fz_keys,
                                                 &error)
                    == NGX_OK);

    key = fz_keys->elts;

    for (i = 0; i < fz_keys->nelts; i++) {
        ngx_fuzz_assert(key[i].decrypts);

        if (key[i].kid.len == 5
            && ngx_memcmp(key[i].kid.data, "oct32", 5) == 0)
        {
            ngx_memcpy(fz_oct32, key[i].secret.data, 32);
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t    raw;
    ngx_pool_t  *pool;

    pool = ngx_fuzz_pool();

    if (size == 0 || data[0] != '\0') {
        raw.data = ngx_fuzz_dup(data, size);
        raw.len = size;

        (void) fz_check_jwe(pool, &raw);

        free(raw.data);

    } else {
        fz_check_made(pool, data + 1, size - 1);
    }

    ngx_destroy_pool(pool);

    /* what refused tokens left in OpenSSL's error queue */
    ERR_clear_error();

    return 0;
}
