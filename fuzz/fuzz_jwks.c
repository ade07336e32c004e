
/*
 * libFuzzer target for JWK Set parsing (ngx_http_auth_jwt_jwks_parse() in
 * ngx_http_auth_jwt_keys.c), with OpenSSL: signature keys, and decryption
 * keys for JWE (fuzz_jwe.c decrypts with them).
 *
 * The input is a key file, or a JWK Set that a key request fetched.  If
 * it holds a NUL byte, the text after it is a second one added to the
 * same keys, as a second auth_jwt_key_file directive does.  The keys of a
 * set that parses are checked for what verification relies on, and tried
 * on tokens of every algorithm (signed by the keys in t/data/jwt), which
 * must verify or be refused without an OpenSSL failure.  The pool is
 * destroyed after every input: its cleanups must free every OpenSSL object
 * exactly once, or LeakSanitizer or ASan says so.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/err.h>
#include "ngx_http_auth_jwt.h"
#include "ngx_fuzz.h"


/* perl -It/helpers -MGwJwt -e 'print jwt("RS256", {sub => "a"})' */
static const char  *fz_tokens[] = {

    /* HS256 */
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJhIn0.K6JadHBwsVTy_7kS"
    "CXXRL8MbUZnlNPFG3Skcxz_Dvtw",

    /* HS512 */
    "eyJraWQiOiJocyIsImFsZyI6IkhTNTEyIn0.eyJzdWIiOiJhIn0.21narOQakuLS6tzl"
    "etIV2_O65E-FqPV9rfVOu_SRH2wQp9LxPpJeCmn_l9761usPZzCBc1zhF-K3-fMOx45K"
    "3Q",

    /* RS256 */
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYSJ9.eyJzdWIiOiJhIn0.IwlWMotF6J8QkrF"
    "9p9BnNTqIXxildXUoGggoXgQ3LiOSDwDHFYT9hKEcsUFbjCJegTEqnQiCbtIfLwGWd0j"
    "Y1bR8eoC-eXC5yX04aMU8hESWvq8vW64JMieQaKh4qFgSIdBJgua3GCtxlMn_eOg8xQ_"
    "6buBXdCLmP6eUP1tW7oUbu4AMxu5qLP1v6ks7DqFgRYNc7D5GEc_EniEBDNGpdLE_Sy8"
    "D7lPjCs4KB4ptQhVtt5S-X9k03dn57XFd4AdcS9Ufzw8kH7YyNcL1X-MSIosOAX5X2Ky"
    "P-npsXxG39oDeXuIn9ZIPAMHVXwFBK41Uz1Hot-h6dSLAKraeHMkK3A",

    /* PS384 */
    "eyJraWQiOiJyc2EiLCJhbGciOiJQUzM4NCJ9.eyJzdWIiOiJhIn0.CVtKwnfNuhDP-w4"
    "Hal1Aqa6YkJTzCgvnHS-RXLkwuNAUQddJ-Km4iysBmoAbJ9T5rcfELeE4h_l1fS9QyHQ"
    "aogejXI3zRRjttRzrX8SUJyssXrwSaTgGXjFcVoDs28IlrT-PYolQkcafL8GqPpAGkxg"
    "bRpmwwHx2nvd4qrk1WHsw3nU4zeHnCUgmMC7P566m7atW6r285cyFL_KELHSx8nPTBqv"
    "0MKdxf5fDXf12482IQxhl_aHl75dQIAoPP8STmdHMcGlKlFhdUWg9yzbOAdEc-MDX-5a"
    "AKDDUN40dYdjupK7O_xLY1-S4ef0Jyg7qoFxDmvK56Vu2eMdCnCu-Fw",

    /* ES256 */
    "eyJraWQiOiJlYzI1NiIsImFsZyI6IkVTMjU2In0.eyJzdWIiOiJhIn0.6E5P-Xc9G8Ab"
    "KFMoxQM-RaxU9kw8t-AVPaGYOcWCknpe7Qmit7fM95SdWZDWcuLvnYv9it2fAgBuMe4P"
    "rFNonQ",

    /* ES384 */
    "eyJraWQiOiJlYzM4NCIsImFsZyI6IkVTMzg0In0.eyJzdWIiOiJhIn0.Uy9aQayH940T"
    "ddE856V4FQxRdngXVLCzFTTW_2UDNfzZQANhPcl_Su6JM76pgaaTVzxTPRBL1T3t8S0J"
    "ZGF-LOPsVPYtvES5ywP93IQ6ZHzIYQodm0tHI5SmYhVq7OTo",

    /* ES512 */
    "eyJraWQiOiJlYzUyMSIsImFsZyI6IkVTNTEyIn0.eyJzdWIiOiJhIn0.AWtIw08P45qx"
    "1fZq46J-jrsX5Ac15Jg8YWcxplHDh4DGSOklWNnIQ3PDfRaFGjABRG2K4_XzaLly5LBn"
    "ZxrIQRNcARwyiUIR4DgVqs6Cz4lcsnDMvijBNIGPe2j69MzQC8H4stMK914OmGf7V_NR"
    "i-6bRGrLvHSRSRGzwI3kd0FTfqaS",

    /* EdDSA */
    "eyJraWQiOiJlZDI1NTE5IiwiYWxnIjoiRWREU0EifQ.eyJzdWIiOiJhIn0.Fe4sXxy2N"
    "X9eV1Eze4gxrSk7EbnfkeMgRcIxEfQ20Aj_3_HUyO8NhNb2mJl-MIqBwtTgARN_qXymZ"
    "gte8CVfCA",

    /* Ed448 */
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkNDQ4In0.eyJzdWIiOiJhIn0.hozdvLkS0rao"
    "dcVp-6Y02UU6V8AiySyKD_APkarInfc6ahIjHgsawKNnRZ7d5LOyN_Z0d4O8GmeAAPPM"
    "7ZllCU57Dw1D_Mu70J-prCC6Vr7G9FcQrLfWh_-__14U2JVLosaHctIiCQbuQttYNpIR"
    "hgQA",
};

#define FZ_NTOKENS  (sizeof(fz_tokens) / sizeof(fz_tokens[0]))


static ngx_http_auth_jwt_token_t  fz_token[FZ_NTOKENS];


static void
fz_check_keys(ngx_array_t *keys, ngx_uint_t from)
{
    ngx_uint_t                i;
    ngx_http_auth_jwt_key_t  *key;

    ngx_fuzz_assert(keys->nelts > from);

    key = keys->elts;

    for (i = from; i < keys->nelts; i++) {

        switch (key[i].kty) {

        case NGX_HTTP_AUTH_JWT_OCT:
            ngx_fuzz_assert(key[i].pkey == NULL);

            /* an HMAC key for signatures, its bytes for decryption */
            ngx_fuzz_assert(!(key[i].use & NGX_HTTP_AUTH_JWT_USE_SIG)
                            || key[i].hmac[0] || key[i].hmac[1]
                            || key[i].hmac[2]);
            ngx_fuzz_assert(key[i].decrypts == (key[i].secret.len != 0));
            ngx_fuzz_assert(!key[i].decrypts
                            || (key[i].use & NGX_HTTP_AUTH_JWT_USE_ENC));
            break;

        case NGX_HTTP_AUTH_JWT_RSA:
        case NGX_HTTP_AUTH_JWT_EC:
        case NGX_HTTP_AUTH_JWT_OKP:
            ngx_fuzz_assert(key[i].pkey != NULL);
            ngx_fuzz_assert(!key[i].hmac[0] && !key[i].hmac[1]
                            && !key[i].hmac[2]);
            ngx_fuzz_assert(key[i].secret.len == 0);
            break;

        default:
            ngx_fuzz_assert(0 && "unknown kty");
        }

        /* a key serves something, and what its "alg" allows */
        ngx_fuzz_assert(key[i].use & (NGX_HTTP_AUTH_JWT_USE_SIG
                                      | NGX_HTTP_AUTH_JWT_USE_ENC));
        ngx_fuzz_assert(!(key[i].alg && key[i].jwe_alg));
        ngx_fuzz_assert(key[i].jwe_alg == NULL
                        || key[i].use == NGX_HTTP_AUTH_JWT_USE_ENC);

        /* an "alg" pins the key to it, and it must fit the key */
        ngx_fuzz_assert(key[i].alg == NULL || key[i].alg->kty == key[i].kty);
        ngx_fuzz_assert(key[i].kid.len == 0 || key[i].kid.data != NULL);
    }
}


static void
fz_verify_all(ngx_array_t *keys)
{
    ngx_int_t   rc;
    ngx_uint_t  i, tried;

    for (i = 0; i < FZ_NTOKENS; i++) {
        tried = 0;
        rc = ngx_http_auth_jwt_verify(&fz_token[i], keys, &ngx_fuzz_log,
                                      &tried);

        /* NGX_ERROR: OpenSSL failed to use a key it had accepted */
        ngx_fuzz_assert(rc == NGX_DECLINED || (rc == NGX_OK && tried));
        ngx_fuzz_assert(tried <= keys->nelts);
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_str_t    raw;
    ngx_uint_t   i;
    ngx_pool_t  *pool;
    const char  *reason;

    ngx_fuzz_init();

    /* digests and tokens live as long as the process */
    pool = ngx_create_pool(4096, &ngx_fuzz_log);
    ngx_fuzz_assert(pool != NULL);

    ngx_fuzz_assert(ngx_http_auth_jwt_crypto_init(pool) == NGX_OK);

    for (i = 0; i < FZ_NTOKENS; i++) {
        raw.len = strlen(fz_tokens[i]);
        raw.data = ngx_pnalloc(pool, raw.len);
        ngx_fuzz_assert(raw.data != NULL);
        ngx_memcpy(raw.data, fz_tokens[i], raw.len);

        ngx_fuzz_assert(ngx_http_auth_jwt_token_decode(pool, &raw,
                                                       &fz_token[i], &reason)
                        == NGX_OK);
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char       *nul;
    size_t        len;
    ngx_int_t     rc;
    ngx_str_t     json;
    ngx_uint_t    from, file;
    ngx_pool_t   *pool;
    const char   *error;
    ngx_array_t  *keys;

    pool = ngx_fuzz_pool();

    /* the set frees its keys in a cleanup of the pool */
    keys = ngx_http_auth_jwt_keys_create(pool);
    ngx_fuzz_assert(keys != NULL);

    for (file = 0; file < 2; file++) {
        nul = (file == 0) ? memchr(data, '\0', size) : NULL;
        len = nul ? (size_t) (nul - data) : size;

        json.data = ngx_fuzz_dup(data, len);
        json.len = len;
        error = NULL;
        from = keys->nelts;

        rc = ngx_http_auth_jwt_jwks_parse(pool, &ngx_fuzz_log, NGX_LOG_INFO,
                                          &json, keys, &error);

        /* the module wipes key files after parsing: keys must not need them */
        ngx_explicit_memzero(json.data, json.len);
        free(json.data);

        if (rc != NGX_OK) {
            ngx_fuzz_assert(rc == NGX_ERROR && error != NULL);
            break;
        }

        fz_check_keys(keys, from);
        fz_verify_all(keys);

        if (nul == NULL) {
            break;
        }

        data = nul + 1;
        size -= len + 1;
    }

    ngx_destroy_pool(pool);

    /* what failed keys left in OpenSSL's error queue */
    ERR_clear_error();

    return 0;
}
