
/*
 * gateway-token --encrypt: the token (a JWS, or the claims alone) in a JWE
 * (RFC 7516) for the recipient's key of a JWK Set, with OpenSSL, as
 * auth_jwt decrypts it: the algorithms it takes, and no others.
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "gateway-token.h"


/* how the content key gets to the recipient (RFC 7518, 4) */
#define GW_TOKEN_DIR      1
#define GW_TOKEN_KW       2
#define GW_TOKEN_GCMKW    3
#define GW_TOKEN_OAEP     4
#define GW_TOKEN_ECDH     5
#define GW_TOKEN_ECDH_KW  6


struct gw_token_jwe_alg_s {
    const char            *name;
    int                    kind;
    size_t                 key_len;   /* KW, GCMKW, ECDH-ES+KW: the KEK's */
    const char            *md;        /* RSA-OAEP: the hash, and MGF1's */
};


struct gw_token_enc_s {
    const char            *name;
    size_t                 key_len;
    const char            *cipher;
    const char            *mac;       /* CBC: the HMAC's hash; NULL: GCM */
};


/* the recipient's key, as --enc-kid names it */
typedef struct {
    unsigned char         *secret;    /* oct */
    size_t                 len;
    EVP_PKEY              *pkey;      /* RSA, EC, X25519: the public key */
    char                   kty[64];   /* of a key of the kid, of another */
} gw_token_recipient_t;


static int gw_token_recipient_jwk(gw_token_conf_t *conf, jwt_t *jwk,
    void *data);
static int gw_token_recipient_oct(gw_token_conf_t *conf, jwt_t *jwk,
    gw_token_recipient_t *rcpt);
static int gw_token_recipient_rsa(gw_token_conf_t *conf, jwt_t *jwk,
    gw_token_recipient_t *rcpt);
static int gw_token_recipient_ec(gw_token_conf_t *conf, jwt_t *jwk,
    gw_token_recipient_t *rcpt);
static int gw_token_jwe_seal(gw_token_conf_t *conf,
    gw_token_recipient_t *rcpt, const char *payload, int nested,
    char **token);
static int gw_token_ecdh(gw_token_conf_t *conf, gw_token_recipient_t *rcpt,
    const char *alg_id, unsigned char *out, size_t len, jwt_t *header);
static int gw_token_epk(EVP_PKEY *eph, jwt_t *header);
static int gw_token_concat_kdf(unsigned char *z, size_t z_len,
    const char *alg_id, unsigned char *out, size_t len);
static int gw_token_aes_wrap(const unsigned char *kek, size_t kek_len,
    const unsigned char *in, size_t len, unsigned char *out);
static int gw_token_gcm(const unsigned char *key, size_t key_len,
    const unsigned char *iv, const char *aad, const unsigned char *in,
    size_t len, unsigned char *out, unsigned char *tag);
static int gw_token_cbc_hmac(const gw_token_enc_t *enc,
    const unsigned char *key, const unsigned char *iv, const char *aad,
    const unsigned char *in, size_t len, unsigned char *out,
    size_t *out_len, unsigned char *tag);
static char *gw_token_b64url(const unsigned char *src, size_t len);
static int gw_token_add_b64url(jwt_t *header, const char *name,
    const unsigned char *bytes, size_t len);


static const gw_token_jwe_alg_t  gw_token_jwe_algs[] = {
    { "dir", GW_TOKEN_DIR, 0, NULL },
    { "A128KW", GW_TOKEN_KW, 16, NULL },
    { "A192KW", GW_TOKEN_KW, 24, NULL },
    { "A256KW", GW_TOKEN_KW, 32, NULL },
    { "A128GCMKW", GW_TOKEN_GCMKW, 16, NULL },
    { "A192GCMKW", GW_TOKEN_GCMKW, 24, NULL },
    { "A256GCMKW", GW_TOKEN_GCMKW, 32, NULL },
    { "RSA-OAEP", GW_TOKEN_OAEP, 0, "SHA1" },
    { "RSA-OAEP-256", GW_TOKEN_OAEP, 0, "SHA256" },
    { "RSA-OAEP-384", GW_TOKEN_OAEP, 0, "SHA384" },
    { "RSA-OAEP-512", GW_TOKEN_OAEP, 0, "SHA512" },
    { "ECDH-ES", GW_TOKEN_ECDH, 0, NULL },
    { "ECDH-ES+A128KW", GW_TOKEN_ECDH_KW, 16, NULL },
    { "ECDH-ES+A192KW", GW_TOKEN_ECDH_KW, 24, NULL },
    { "ECDH-ES+A256KW", GW_TOKEN_ECDH_KW, 32, NULL },
    { NULL, 0, 0, NULL }
};


static const gw_token_enc_t  gw_token_encs[] = {
    { "A128CBC-HS256", 32, "AES-128-CBC", "SHA256" },
    { "A192CBC-HS384", 48, "AES-192-CBC", "SHA384" },
    { "A256CBC-HS512", 64, "AES-256-CBC", "SHA512" },
    { "A128GCM", 16, "AES-128-GCM", NULL },
    { "A192GCM", 24, "AES-192-GCM", NULL },
    { "A256GCM", 32, "AES-256-GCM", NULL },
    { NULL, 0, NULL, NULL }
};


/* --encrypt ALG/ENC */

int
gw_token_set_encrypt(gw_token_conf_t *conf, const char *opt, const char *arg)
{
    size_t                     len;
    const char                *slash;
    const gw_token_enc_t      *e;
    const gw_token_jwe_alg_t  *a;

    slash = strchr(arg, '/');

    if (slash == NULL || slash == arg || slash[1] == '\0') {
        gw_token_error("%s: \"%s\" is not ALG/ENC (see --help)", opt, arg);
        return GW_TOKEN_USAGE;
    }

    len = slash - arg;

    /* as auth_jwt: Bleichenbacher's padding, and work the sender sets */

    if ((len == 6 && strncmp(arg, "RSA1_5", 6) == 0)
        || (len > 5 && strncmp(arg, "PBES2", 5) == 0))
    {
        gw_token_error("%s: \"%.*s\" is not supported: auth_jwt refuses it",
                       opt, (int) len, arg);
        return GW_TOKEN_USAGE;
    }

    for (a = gw_token_jwe_algs; a->name; a++) {
        if (strlen(a->name) == len && strncmp(a->name, arg, len) == 0) {
            break;
        }
    }

    if (a->name == NULL) {
        gw_token_error("%s: unknown algorithm \"%.*s\" (dir, A128KW, A192KW, "
                       "A256KW, A128GCMKW, A192GCMKW, A256GCMKW, RSA-OAEP, "
                       "RSA-OAEP-256, RSA-OAEP-384, RSA-OAEP-512, ECDH-ES, "
                       "ECDH-ES+A128KW, ECDH-ES+A192KW, ECDH-ES+A256KW)",
                       opt, (int) len, arg);
        return GW_TOKEN_USAGE;
    }

    for (e = gw_token_encs; e->name; e++) {
        if (strcmp(e->name, slash + 1) == 0) {
            break;
        }
    }

    if (e->name == NULL) {
        gw_token_error("%s: unknown content encryption \"%s\" "
                       "(A128CBC-HS256, A192CBC-HS384, A256CBC-HS512, "
                       "A128GCM, A192GCM, A256GCM)", opt, slash + 1);
        return GW_TOKEN_USAGE;
    }

    conf->jwe_alg = a;
    conf->enc = e;

    return GW_TOKEN_OK;
}


/* the payload in a JWE for the key of --enc-key that --enc-kid names */

int
gw_token_jwe(gw_token_conf_t *conf, const char *payload, int nested,
    char **token)
{
    int                    rc;
    size_t                 len;
    jwt_t                 *set;
    unsigned char         *data;
    const char            *want;
    gw_token_recipient_t   rcpt;

    rc = gw_token_read("--enc-key", conf->enc_key, &data, &len);
    if (rc != GW_TOKEN_OK) {
        return rc;
    }

    if (jwt_new(&set) != 0) {
        OPENSSL_cleanse(data, len);
        free(data);
        gw_token_error("out of memory");
        return GW_TOKEN_FAILED;
    }

    rc = (memchr(data, '\0', len) == NULL
          && jwt_add_grants_json(set, (char *) data) == 0)
         ? GW_TOKEN_OK : GW_TOKEN_FAILED;

    OPENSSL_cleanse(data, len);
    free(data);

    if (rc != GW_TOKEN_OK) {
        jwt_free(set);
        gw_token_error("--enc-key %s: not a JWK Set (a JSON object with "
                       "\"keys\")", conf->enc_key);
        return GW_TOKEN_FAILED;
    }

    memset(&rcpt, 0, sizeof(gw_token_recipient_t));

    rc = gw_token_jwks_each(conf, "--enc-key", conf->enc_key, set,
                            conf->enc_kid, gw_token_recipient_jwk, &rcpt);
    jwt_free(set);

    if (rc == GW_TOKEN_DECLINED) {
        want = (conf->jwe_alg->kind == GW_TOKEN_OAEP) ? "an RSA key"
               : (conf->jwe_alg->kind >= GW_TOKEN_ECDH) ? "an EC or X25519 key"
               : "an oct key";

        if (rcpt.kty[0]) {
            gw_token_error("--enc-key %s: the key \"%s\" is %s, %s needs %s",
                           conf->enc_key, conf->enc_kid, rcpt.kty,
                           conf->jwe_alg->name, want);

        } else {
            gw_token_error("--enc-key %s: no key \"%s\" in the JWK Set",
                           conf->enc_key, conf->enc_kid);
        }

        rc = GW_TOKEN_FAILED;
    }

    if (rc == GW_TOKEN_OK) {
        rc = gw_token_jwe_seal(conf, &rcpt, payload, nested, token);
    }

    if (rcpt.secret) {
        OPENSSL_cleanse(rcpt.secret, rcpt.len);
        free(rcpt.secret);
    }

    EVP_PKEY_free(rcpt.pkey);

    return rc;
}


/* a key of the kid: the first of the type the algorithm takes */

static int
gw_token_recipient_jwk(gw_token_conf_t *conf, jwt_t *jwk, void *data)
{
    gw_token_recipient_t *rcpt = data;

    int          kind;
    const char  *kty, *use, *alg;

    kind = conf->jwe_alg->kind;
    kty = jwt_get_grant(jwk, "kty");

    if (kty == NULL
        || !((strcmp(kty, "oct") == 0 && kind <= GW_TOKEN_GCMKW)
             || (strcmp(kty, "RSA") == 0 && kind == GW_TOKEN_OAEP)
             || ((strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0)
                 && kind >= GW_TOKEN_ECDH)))
    {
        /* kept for the error if no key of the type follows */
        snprintf(rcpt->kty, sizeof(rcpt->kty), "%s",
                 kty ? kty : "without \"kty\"");
        return GW_TOKEN_DECLINED;
    }

    use = jwt_get_grant(jwk, "use");

    if (use && strcmp(use, "enc") != 0) {
        gw_token_error("--enc-key %s: the key \"%s\" has \"use\" \"%s\": "
                       "auth_jwt decrypts only with keys for \"enc\"",
                       conf->enc_key, conf->enc_kid, use);
        return GW_TOKEN_FAILED;
    }

    alg = jwt_get_grant(jwk, "alg");

    if (alg && strcmp(alg, conf->jwe_alg->name) != 0) {
        gw_token_error("--enc-key %s: the key \"%s\" is for %s, not %s",
                       conf->enc_key, conf->enc_kid, alg,
                       conf->jwe_alg->name);
        return GW_TOKEN_FAILED;
    }

    if (kind <= GW_TOKEN_GCMKW) {
        return gw_token_recipient_oct(conf, jwk, rcpt);
    }

    if (kind == GW_TOKEN_OAEP) {
        return gw_token_recipient_rsa(conf, jwk, rcpt);
    }

    return gw_token_recipient_ec(conf, jwk, rcpt);
}


static int
gw_token_recipient_oct(gw_token_conf_t *conf, jwt_t *jwk,
    gw_token_recipient_t *rcpt)
{
    int          rc;
    size_t       want;
    const char  *k;

    k = jwt_get_grant(jwk, "k");

    rc = k ? gw_token_base64url(k, &rcpt->secret, &rcpt->len)
           : GW_TOKEN_DECLINED;

    if (rc == GW_TOKEN_DECLINED) {
        gw_token_error("--enc-key %s: the key \"%s\" has no base64url \"k\"",
                       conf->enc_key, conf->enc_kid);
        return GW_TOKEN_FAILED;
    }

    if (rc != GW_TOKEN_OK) {
        return rc;
    }

    /* dir uses the key as the content key; KW and GCMKW have a size */

    want = (conf->jwe_alg->kind == GW_TOKEN_DIR) ? conf->enc->key_len
                                                 : conf->jwe_alg->key_len;

    if (rcpt->len != want) {
        gw_token_error("--enc-key %s: the key \"%s\" is %zu bytes, %s with %s "
                       "needs %zu", conf->enc_key, conf->enc_kid, rcpt->len,
                       conf->jwe_alg->name, conf->enc->name, want);
        return GW_TOKEN_FAILED;
    }

    return GW_TOKEN_OK;
}


static int
gw_token_recipient_rsa(gw_token_conf_t *conf, jwt_t *jwk,
    gw_token_recipient_t *rcpt)
{
    int              bits;
    size_t           n_len, e_len;
    BIGNUM          *n, *e;
    OSSL_PARAM      *params;
    const char      *n_text, *e_text;
    unsigned char   *n_bytes, *e_bytes;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    n_text = jwt_get_grant(jwk, "n");
    e_text = jwt_get_grant(jwk, "e");

    if (n_text == NULL || e_text == NULL
        || gw_token_base64url(n_text, &n_bytes, &n_len) != GW_TOKEN_OK)
    {
        gw_token_error("--enc-key %s: the key \"%s\" has no base64url \"n\" "
                       "and \"e\"", conf->enc_key, conf->enc_kid);
        return GW_TOKEN_FAILED;
    }

    if (gw_token_base64url(e_text, &e_bytes, &e_len) != GW_TOKEN_OK) {
        free(n_bytes);
        gw_token_error("--enc-key %s: the key \"%s\" has no base64url \"n\" "
                       "and \"e\"", conf->enc_key, conf->enc_kid);
        return GW_TOKEN_FAILED;
    }

    n = BN_bin2bn(n_bytes, (int) n_len, NULL);
    e = BN_bin2bn(e_bytes, (int) e_len, NULL);
    free(n_bytes);
    free(e_bytes);

    bld = OSSL_PARAM_BLD_new();
    params = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);

    if (n == NULL || e == NULL || bld == NULL || ctx == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &rcpt->pkey, EVP_PKEY_PUBLIC_KEY, params)
           != 1)
    {
        rcpt->pkey = NULL;
    }

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);

    if (rcpt->pkey == NULL) {
        ERR_clear_error();
        gw_token_error("--enc-key %s: the key \"%s\" is not a valid RSA key",
                       conf->enc_key, conf->enc_kid);
        return GW_TOKEN_FAILED;
    }

    bits = EVP_PKEY_get_bits(rcpt->pkey);

    if (bits < GW_TOKEN_RSA_MIN_BITS) {
        gw_token_error("--enc-key %s: the key \"%s\" is RSA of %d bits, %s "
                       "needs %d or more", conf->enc_key, conf->enc_kid,
                       bits, conf->jwe_alg->name, GW_TOKEN_RSA_MIN_BITS);
        return GW_TOKEN_FAILED;
    }

    return GW_TOKEN_OK;
}


/* EC on P-256, P-384 or P-521, or OKP on X25519: its public point */

static int
gw_token_recipient_ec(gw_token_conf_t *conf, jwt_t *jwk,
    gw_token_recipient_t *rcpt)
{
    int              ok;
    size_t           x_len, y_len, half;
    OSSL_PARAM      *params;
    const char      *kty, *crv, *x_text, *y_text, *group;
    unsigned char   *x, *y, point[1 + 2 * 66];
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    kty = jwt_get_grant(jwk, "kty");
    crv = jwt_get_grant(jwk, "crv");
    x_text = jwt_get_grant(jwk, "x");
    y_text = jwt_get_grant(jwk, "y");

    if (crv == NULL || x_text == NULL) {
        gw_token_error("--enc-key %s: the key \"%s\" has no \"crv\" and "
                       "\"x\"", conf->enc_key, conf->enc_kid);
        return GW_TOKEN_FAILED;
    }

    if (strcmp(kty, "OKP") == 0) {
        if (strcmp(crv, "X25519") != 0) {
            gw_token_error("--enc-key %s: the key \"%s\" is OKP on %s, %s "
                           "needs X25519", conf->enc_key, conf->enc_kid,
                           crv, conf->jwe_alg->name);
            return GW_TOKEN_FAILED;
        }

        if (gw_token_base64url(x_text, &x, &x_len) != GW_TOKEN_OK) {
            x = NULL;
            x_len = 0;
        }

        rcpt->pkey = (x_len == 32)
                     ? EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, x,
                                                   x_len)
                     : NULL;
        free(x);

        if (rcpt->pkey == NULL) {
            gw_token_error("--enc-key %s: the key \"%s\" has no 32 bytes of "
                           "base64url \"x\"", conf->enc_key, conf->enc_kid);
            return GW_TOKEN_FAILED;
        }

        return GW_TOKEN_OK;
    }

    if (strcmp(crv, "P-256") == 0) {
        group = "P-256";
        half = 32;

    } else if (strcmp(crv, "P-384") == 0) {
        group = "P-384";
        half = 48;

    } else if (strcmp(crv, "P-521") == 0) {
        group = "P-521";
        half = 66;

    } else {
        gw_token_error("--enc-key %s: the key \"%s\" is EC on %s, %s needs "
                       "P-256, P-384 or P-521", conf->enc_key,
                       conf->enc_kid, crv, conf->jwe_alg->name);
        return GW_TOKEN_FAILED;
    }

    x = NULL;
    y = NULL;

    ok = y_text != NULL
         && gw_token_base64url(x_text, &x, &x_len) == GW_TOKEN_OK
         && gw_token_base64url(y_text, &y, &y_len) == GW_TOKEN_OK
         && x_len == half && y_len == half;

    if (ok) {
        point[0] = 0x04;
        memcpy(point + 1, x, half);
        memcpy(point + 1 + half, y, half);
    }

    free(x);
    free(y);

    bld = OSSL_PARAM_BLD_new();
    params = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    if (!ok || bld == NULL || ctx == NULL
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point, 1 + 2 * half)
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &rcpt->pkey, EVP_PKEY_PUBLIC_KEY, params)
           != 1)
    {
        rcpt->pkey = NULL;
    }

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);

    if (rcpt->pkey == NULL) {
        ERR_clear_error();
        gw_token_error("--enc-key %s: the key \"%s\" is not a valid EC key on "
                       "%s", conf->enc_key, conf->enc_kid, group);
        return GW_TOKEN_FAILED;
    }

    return GW_TOKEN_OK;
}


/*
 * The JWE: the content key, random unless dir, is wrapped (KW, GCMKW, or
 * ECDH-ES+KW with the key the Concat KDF derives), encrypted (RSA-OAEP)
 * or derived (ECDH-ES); the content is encrypted with the protected
 * header, in base64url, as additional data.
 */

static int
gw_token_jwe_seal(gw_token_conf_t *conf, gw_token_recipient_t *rcpt,
    const char *payload, int nested, char **token)
{
    int                        rc;
    char                      *json, *parts[5];
    size_t                     ek_len, ct_len, len, i, total;
    jwt_t                     *header;
    EVP_PKEY_CTX              *ctx;
    unsigned char              cek[64], kek[32], ek[1024], iv[16], tag[32];
    unsigned char              kw_iv[12], kw_tag[16], *ct;
    const gw_token_enc_t      *enc;
    const gw_token_jwe_alg_t  *alg;

    alg = conf->jwe_alg;
    enc = conf->enc;
    len = strlen(payload);
    ek_len = 0;
    ct = NULL;
    json = NULL;
    memset(parts, 0, sizeof(parts));

    if (jwt_new(&header) != 0) {
        gw_token_error("out of memory");
        return GW_TOKEN_FAILED;
    }

    /* the header as libjwt's grants: jansson escapes the kid */

    rc = (jwt_add_grant(header, "alg", alg->name) == 0
          && jwt_add_grant(header, "enc", enc->name) == 0
          && jwt_add_grant(header, "kid", conf->enc_kid) == 0
          && (!nested || jwt_add_grant(header, "cty", "JWT") == 0))
         ? GW_TOKEN_OK : GW_TOKEN_USAGE;

    if (rc != GW_TOKEN_OK) {
        gw_token_error("--enc-kid: \"%s\" is not UTF-8", conf->enc_kid);
        goto done;
    }

    rc = GW_TOKEN_FAILED;

    if (alg->kind == GW_TOKEN_DIR) {
        memcpy(cek, rcpt->secret, enc->key_len);

    } else if (alg->kind != GW_TOKEN_ECDH
               && RAND_bytes(cek, (int) enc->key_len) != 1)
    {
        goto failed;
    }

    switch (alg->kind) {

    case GW_TOKEN_KW:
        if (gw_token_aes_wrap(rcpt->secret, rcpt->len, cek, enc->key_len, ek)
            != GW_TOKEN_OK)
        {
            goto failed;
        }

        ek_len = enc->key_len + 8;
        break;

    case GW_TOKEN_GCMKW:
        if (RAND_bytes(kw_iv, sizeof(kw_iv)) != 1
            || gw_token_gcm(rcpt->secret, rcpt->len, kw_iv, "", cek,
                            enc->key_len, ek, kw_tag)
               != GW_TOKEN_OK
            || gw_token_add_b64url(header, "iv", kw_iv, sizeof(kw_iv))
               != GW_TOKEN_OK
            || gw_token_add_b64url(header, "tag", kw_tag, sizeof(kw_tag))
               != GW_TOKEN_OK)
        {
            goto failed;
        }

        ek_len = enc->key_len;
        break;

    case GW_TOKEN_OAEP:
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rcpt->pkey, NULL);
        ek_len = sizeof(ek);

        if (ctx == NULL
            || EVP_PKEY_encrypt_init(ctx) != 1
            || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, alg->md, NULL) != 1
            || EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, alg->md, NULL) != 1
            || EVP_PKEY_encrypt(ctx, ek, &ek_len, cek, enc->key_len) != 1)
        {
            EVP_PKEY_CTX_free(ctx);
            goto failed;
        }

        EVP_PKEY_CTX_free(ctx);
        break;

    case GW_TOKEN_ECDH:

        /* the derived key is the content key, named by "enc" */

        if (gw_token_ecdh(conf, rcpt, enc->name, cek, enc->key_len, header)
            != GW_TOKEN_OK)
        {
            goto failed;
        }

        break;

    case GW_TOKEN_ECDH_KW:

        /* the derived key, named by "alg", wraps the content key */

        if (gw_token_ecdh(conf, rcpt, alg->name, kek, alg->key_len, header)
            != GW_TOKEN_OK
            || gw_token_aes_wrap(kek, alg->key_len, cek, enc->key_len, ek)
               != GW_TOKEN_OK)
        {
            goto failed;
        }

        ek_len = enc->key_len + 8;
        break;

    default: /* GW_TOKEN_DIR */
        break;
    }

    json = jwt_get_grants_json(header, NULL);
    ct = malloc(len + 16);

    if (json == NULL || ct == NULL
        || (parts[0] = gw_token_b64url((unsigned char *) json, strlen(json)))
           == NULL
        || RAND_bytes(iv, 16) != 1)
    {
        goto failed;
    }

    /* RFC 7518, 5.3: a 96-bit IV for GCM; 5.2: 128 bits for CBC */

    if (enc->mac == NULL) {
        if (gw_token_gcm(cek, enc->key_len, iv, parts[0],
                         (unsigned char *) payload, len, ct, tag)
            != GW_TOKEN_OK)
        {
            goto failed;
        }

        ct_len = len;
        parts[2] = gw_token_b64url(iv, 12);
        parts[4] = gw_token_b64url(tag, 16);

    } else {
        if (gw_token_cbc_hmac(enc, cek, iv, parts[0],
                              (unsigned char *) payload, len, ct, &ct_len,
                              tag)
            != GW_TOKEN_OK)
        {
            goto failed;
        }

        parts[2] = gw_token_b64url(iv, 16);
        parts[4] = gw_token_b64url(tag, enc->key_len / 2);
    }

    parts[1] = gw_token_b64url(ek, ek_len);
    parts[3] = gw_token_b64url(ct, ct_len);

    total = 5;

    for (i = 0; i < 5; i++) {
        if (parts[i] == NULL) {
            goto failed;
        }

        total += strlen(parts[i]);
    }

    *token = malloc(total);
    if (*token == NULL) {
        goto failed;
    }

    snprintf(*token, total, "%s.%s.%s.%s.%s", parts[0], parts[1], parts[2],
             parts[3], parts[4]);

    rc = GW_TOKEN_OK;
    goto done;

failed:

    ERR_clear_error();
    gw_token_error("encrypting with %s and %s failed", alg->name,
                   enc->name);

done:

    OPENSSL_cleanse(cek, sizeof(cek));
    OPENSSL_cleanse(kek, sizeof(kek));

    for (i = 0; i < 5; i++) {
        free(parts[i]);
    }

    free(ct);
    free(json);
    jwt_free(header);

    return rc;
}


/*
 * ECDH-ES: a key of the recipient's curve made for this token, whose public
 * part goes into the header as "epk"; the secret it shares with the
 * recipient's key, through the Concat KDF, into len bytes of out
 */

static int
gw_token_ecdh(gw_token_conf_t *conf, gw_token_recipient_t *rcpt,
    const char *alg_id, unsigned char *out, size_t len, jwt_t *header)
{
    int             rc;
    size_t          z_len;
    EVP_PKEY       *eph;
    EVP_PKEY_CTX   *ctx;
    unsigned char   z[66];

    (void) conf;

    eph = NULL;
    rc = GW_TOKEN_FAILED;

    /* a key of the same kind and group as the recipient's */

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rcpt->pkey, NULL);

    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1
        || EVP_PKEY_keygen(ctx, &eph) != 1)
    {
        EVP_PKEY_CTX_free(ctx);
        return GW_TOKEN_FAILED;
    }

    EVP_PKEY_CTX_free(ctx);

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
    z_len = sizeof(z);

    if (ctx && EVP_PKEY_derive_init(ctx) == 1
        && EVP_PKEY_derive_set_peer(ctx, rcpt->pkey) == 1
        && EVP_PKEY_derive(ctx, z, &z_len) == 1
        && gw_token_concat_kdf(z, z_len, alg_id, out, len) == GW_TOKEN_OK
        && gw_token_epk(eph, header) == GW_TOKEN_OK)
    {
        rc = GW_TOKEN_OK;
    }

    OPENSSL_cleanse(z, sizeof(z));
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(eph);

    return rc;
}


/* "epk": the public JWK of the sender's key */

static int
gw_token_epk(EVP_PKEY *eph, jwt_t *header)
{
    int             rc;
    char           *x, *y, *json;
    size_t          len, half, n;
    unsigned char   point[1 + 2 * 66];

    len = sizeof(point);
    x = NULL;
    y = NULL;
    json = NULL;
    rc = GW_TOKEN_FAILED;

    if (EVP_PKEY_get_base_id(eph) == EVP_PKEY_X25519) {
        if (EVP_PKEY_get_raw_public_key(eph, point, &len) == 1
            && (x = gw_token_b64url(point, len)) != NULL)
        {
            n = strlen(x) + 64;
            json = malloc(n);

            if (json) {
                snprintf(json, n, "{\"epk\":{\"kty\":\"OKP\","
                         "\"crv\":\"X25519\",\"x\":\"%s\"}}", x);
            }
        }

    } else if (EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY,
                                               point, sizeof(point), &len)
               == 1
               && point[0] == 0x04)
    {
        /* uncompressed: 04, x, y, each the field's size (RFC 7518, 6.2.1) */

        half = (len - 1) / 2;

        x = gw_token_b64url(point + 1, half);
        y = gw_token_b64url(point + 1 + half, half);

        if (x && y) {
            n = strlen(x) + strlen(y) + 64;
            json = malloc(n);

            if (json) {
                snprintf(json, n, "{\"epk\":{\"kty\":\"EC\",\"crv\":\"%s\","
                         "\"x\":\"%s\",\"y\":\"%s\"}}",
                         half == 32 ? "P-256" : half == 48 ? "P-384"
                                                           : "P-521", x, y);
            }
        }
    }

    if (json && jwt_add_grants_json(header, json) == 0) {
        rc = GW_TOKEN_OK;
    }

    free(x);
    free(y);
    free(json);

    return rc;
}


/*
 * The Concat KDF (NIST SP 800-56A, 5.8.1) with SHA-256, as RFC 7518,
 * 4.6.2 has it: each round hashes a 32-bit counter from 1, Z, and
 * OtherInfo (AlgorithmID, and empty PartyUInfo and PartyVInfo, each a
 * 32-bit length and its bytes, and the key's length in bits)
 */

static int
gw_token_concat_kdf(unsigned char *z, size_t z_len, const char *alg_id,
    unsigned char *out, size_t len)
{
    int             ok;
    size_t          id_len, n, done;
    uint32_t        round, values[3];
    EVP_MD_CTX     *mctx;
    unsigned char   be[4][4], digest[32];
    unsigned int    i, j;

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return GW_TOKEN_FAILED;
    }

    id_len = strlen(alg_id);
    values[0] = (uint32_t) id_len;
    values[1] = 0;
    values[2] = (uint32_t) (len * 8);
    ok = 1;

    for (round = 1, done = 0; ok && done < len; round++) {

        for (j = 0; j < 4; j++) {
            be[0][j] = (unsigned char) (round >> (24 - 8 * j));

            for (i = 0; i < 3; i++) {
                be[i + 1][j] = (unsigned char) (values[i] >> (24 - 8 * j));
            }
        }

        ok = EVP_DigestInit_ex(mctx, EVP_sha256(), NULL) == 1
             && EVP_DigestUpdate(mctx, be[0], 4) == 1
             && EVP_DigestUpdate(mctx, z, z_len) == 1
             && EVP_DigestUpdate(mctx, be[1], 4) == 1
             && EVP_DigestUpdate(mctx, alg_id, id_len) == 1
             && EVP_DigestUpdate(mctx, be[2], 4) == 1     /* PartyUInfo */
             && EVP_DigestUpdate(mctx, be[2], 4) == 1     /* PartyVInfo */
             && EVP_DigestUpdate(mctx, be[3], 4) == 1
             && EVP_DigestFinal_ex(mctx, digest, NULL) == 1;

        n = (len - done < sizeof(digest)) ? len - done : sizeof(digest);
        memcpy(out + done, digest, n);
        done += n;
    }

    EVP_MD_CTX_free(mctx);
    OPENSSL_cleanse(digest, sizeof(digest));

    return ok ? GW_TOKEN_OK : GW_TOKEN_FAILED;
}


/* AES key wrap (RFC 3394): len + 8 bytes into out */

static int
gw_token_aes_wrap(const unsigned char *kek, size_t kek_len,
    const unsigned char *in, size_t len, unsigned char *out)
{
    int              n, ok;
    EVP_CIPHER      *cipher;
    EVP_CIPHER_CTX  *ctx;

    cipher = EVP_CIPHER_fetch(NULL, kek_len == 16 ? "AES-128-WRAP"
                                    : kek_len == 24 ? "AES-192-WRAP"
                                                    : "AES-256-WRAP", NULL);
    ctx = EVP_CIPHER_CTX_new();

    ok = cipher && ctx
         && EVP_EncryptInit_ex(ctx, cipher, NULL, kek, NULL) == 1
         && EVP_EncryptUpdate(ctx, out, &n, in, (int) len) == 1
         && n == (int) len + 8;

    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);

    return ok ? GW_TOKEN_OK : GW_TOKEN_FAILED;
}


/* AES-GCM with a 96-bit IV and a 128-bit tag: len bytes into out */

static int
gw_token_gcm(const unsigned char *key, size_t key_len,
    const unsigned char *iv, const char *aad, const unsigned char *in,
    size_t len, unsigned char *out, unsigned char *tag)
{
    int              n, ok;
    EVP_CIPHER      *cipher;
    EVP_CIPHER_CTX  *ctx;

    cipher = EVP_CIPHER_fetch(NULL, key_len == 16 ? "AES-128-GCM"
                                    : key_len == 24 ? "AES-192-GCM"
                                                    : "AES-256-GCM", NULL);
    ctx = EVP_CIPHER_CTX_new();

    ok = cipher && ctx
         && EVP_EncryptInit_ex(ctx, cipher, NULL, key, iv) == 1
         && EVP_EncryptUpdate(ctx, NULL, &n, (unsigned char *) aad,
                              (int) strlen(aad)) == 1
         && EVP_EncryptUpdate(ctx, out, &n, in, (int) len) == 1
         && EVP_EncryptFinal_ex(ctx, out + n, &n) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;

    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);

    return ok ? GW_TOKEN_OK : GW_TOKEN_FAILED;
}


/*
 * AES-CBC with HMAC (RFC 7518, 5.2.2.1): the key's second half encrypts,
 * its first half MACs the AAD, the IV, the ciphertext and the AAD's
 * length in bits (64 bits), and the tag is the MAC's first half
 */

static int
gw_token_cbc_hmac(const gw_token_enc_t *enc, const unsigned char *key,
    const unsigned char *iv, const char *aad, const unsigned char *in,
    size_t len, unsigned char *out, size_t *out_len, unsigned char *tag)
{
    int              n, m, ok;
    size_t           half, aad_len, mac_len;
    uint64_t         bits;
    EVP_MAC         *mac;
    OSSL_PARAM       params[2];
    EVP_CIPHER      *cipher;
    EVP_MAC_CTX     *mctx;
    unsigned char    al[8], digest[EVP_MAX_MD_SIZE];
    unsigned int     i;
    EVP_CIPHER_CTX  *ctx;

    half = enc->key_len / 2;
    aad_len = strlen(aad);
    bits = (uint64_t) aad_len * 8;

    for (i = 0; i < 8; i++) {
        al[i] = (unsigned char) (bits >> (56 - 8 * i));
    }

    cipher = EVP_CIPHER_fetch(NULL, enc->cipher, NULL);
    ctx = EVP_CIPHER_CTX_new();
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) enc->mac, 0);
    params[1] = OSSL_PARAM_construct_end();

    ok = cipher && ctx && mctx
         && EVP_EncryptInit_ex(ctx, cipher, NULL, key + half, iv) == 1
         && EVP_EncryptUpdate(ctx, out, &n, in, (int) len) == 1
         && EVP_EncryptFinal_ex(ctx, out + n, &m) == 1
         && EVP_MAC_init(mctx, key, half, params) == 1
         && EVP_MAC_update(mctx, (unsigned char *) aad, aad_len) == 1
         && EVP_MAC_update(mctx, iv, 16) == 1
         && EVP_MAC_update(mctx, out, n + m) == 1
         && EVP_MAC_update(mctx, al, 8) == 1
         && EVP_MAC_final(mctx, digest, &mac_len, sizeof(digest)) == 1;

    if (ok) {
        *out_len = n + m;
        memcpy(tag, digest, half);
    }

    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(mac);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);

    return ok ? GW_TOKEN_OK : GW_TOKEN_FAILED;
}


/* unpadded base64url, malloc()ed, NUL-terminated */

static char *
gw_token_b64url(const unsigned char *src, size_t len)
{
    char           *dst, *d;
    uint32_t        v;
    static char     basis[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                              "vwxyz0123456789-_";

    dst = malloc(len / 3 * 4 + 5);
    if (dst == NULL) {
        return NULL;
    }

    d = dst;

    for ( /* void */ ; len >= 3; len -= 3, src += 3) {
        v = (uint32_t) src[0] << 16 | (uint32_t) src[1] << 8 | src[2];
        *d++ = basis[v >> 18];
        *d++ = basis[(v >> 12) & 0x3f];
        *d++ = basis[(v >> 6) & 0x3f];
        *d++ = basis[v & 0x3f];
    }

    if (len) {
        v = (uint32_t) src[0] << 16 | (len == 2 ? (uint32_t) src[1] << 8 : 0);
        *d++ = basis[v >> 18];
        *d++ = basis[(v >> 12) & 0x3f];

        if (len == 2) {
            *d++ = basis[(v >> 6) & 0x3f];
        }
    }

    *d = '\0';

    return dst;
}


static int
gw_token_add_b64url(jwt_t *header, const char *name,
    const unsigned char *bytes, size_t len)
{
    int    rc;
    char  *text;

    text = gw_token_b64url(bytes, len);
    if (text == NULL) {
        return GW_TOKEN_FAILED;
    }

    rc = (jwt_add_grant(header, name, text) == 0) ? GW_TOKEN_OK
                                                  : GW_TOKEN_FAILED;
    free(text);

    return rc;
}
