
/*
 * gateway-token: mints a JWT that the gateway's auth_jwt accepts, signed by
 * libjwt with an HMAC secret (a file's bytes, or an oct key of a JWK Set)
 * or with an RSA or EC private key in PEM; and, with --encrypt, encrypted
 * (JWE) by gateway-token-jwe.c, or both (a nested token).
 *
 * Exit status: 0 with the token and a newline on stdout; 1 when the key
 * cannot be used or signing failed; 2 for a usage error.  Each error is one
 * line on stderr, and no token is printed then.  A secret shorter than its
 * hash signs, with a warning line on stderr.
 */


#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "gateway-token.h"


/* auth_jwt takes an "exp" beyond 2^53 seconds for no time at all */
#define GW_TOKEN_TIME_MAX  9007199254740992L


struct gw_token_alg_s {
    const char            *name;
    jwt_alg_t              alg;
    int                    type;      /* EVP_PKEY_RSA, EVP_PKEY_EC; 0: HMAC */
    int                    curve;     /* the NID of an ES algorithm's curve */
    size_t                 hash;      /* bytes */
};


/* what an HMAC key of a JWK Set gives */
typedef struct {
    unsigned char         *secret;
    size_t                 len;
    char                   kty[64];   /* of a key of the kid, not oct */
} gw_token_hmac_t;


typedef int (*gw_token_option_pt)(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);


typedef struct {
    const char            *name;
    gw_token_option_pt     handler;
    unsigned               arg:1;
} gw_token_option_t;


static int gw_token_options(gw_token_conf_t *conf, jwt_t *jwt, int argc,
    char **argv);
static int gw_token_set_alg(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);
static int gw_token_set_key(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);
static int gw_token_set_kid(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);
static int gw_token_set_jwe(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);
static int gw_token_set_ttl(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);
static int gw_token_add_claim(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);
static int gw_token_add_json(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);
static int gw_token_help(gw_token_conf_t *conf, jwt_t *jwt,
    const char *opt, const char *arg);
static int gw_token_times(gw_token_conf_t *conf, jwt_t *jwt);
static int gw_token_has_claim(jwt_t *jwt, const char *name);
static int gw_token_key(gw_token_conf_t *conf, jwt_t *jwt);
static int gw_token_print(gw_token_conf_t *conf, jwt_t *jwt);
static int gw_token_secret(gw_token_conf_t *conf, unsigned char *data,
    size_t *len);
static int gw_token_jwks(gw_token_conf_t *conf, jwt_t *set,
    unsigned char **secret, size_t *len);
static int gw_token_hmac_jwk(gw_token_conf_t *conf, jwt_t *jwk,
    void *data);
static int gw_token_pem(gw_token_conf_t *conf, unsigned char *data,
    size_t len);
static int gw_token_passphrase(char *buf, int size, int rwflag, void *data);


static const gw_token_alg_t  gw_token_algs[] = {
    { "HS256", JWT_ALG_HS256, 0, 0, 32 },
    { "HS384", JWT_ALG_HS384, 0, 0, 48 },
    { "HS512", JWT_ALG_HS512, 0, 0, 64 },
    { "RS256", JWT_ALG_RS256, EVP_PKEY_RSA, 0, 32 },
    { "RS384", JWT_ALG_RS384, EVP_PKEY_RSA, 0, 48 },
    { "RS512", JWT_ALG_RS512, EVP_PKEY_RSA, 0, 64 },
    { "ES256", JWT_ALG_ES256, EVP_PKEY_EC, NID_X9_62_prime256v1, 32 },
    { "ES384", JWT_ALG_ES384, EVP_PKEY_EC, NID_secp384r1, 48 },
    { "ES512", JWT_ALG_ES512, EVP_PKEY_EC, NID_secp521r1, 64 },
    { NULL, JWT_ALG_NONE, 0, 0, 0 }
};


static const gw_token_option_t  gw_token_opts[] = {
    { "--alg", gw_token_set_alg, 1 },
    { "--key", gw_token_set_key, 1 },
    { "--kid", gw_token_set_kid, 1 },
    { "--encrypt", gw_token_set_jwe, 1 },
    { "--enc-key", gw_token_set_jwe, 1 },
    { "--enc-kid", gw_token_set_jwe, 1 },
    { "--ttl", gw_token_set_ttl, 1 },
    { "--claim", gw_token_add_claim, 1 },
    { "--number", gw_token_add_claim, 1 },
    { "--bool", gw_token_add_claim, 1 },
    { "--json", gw_token_add_json, 1 },
    { "--help", gw_token_help, 0 },
    { "-h", gw_token_help, 0 },
    { NULL, NULL, 0 }
};


static const char  gw_token_usage[] =
"Usage: gateway-token --alg ALG --key FILE [--kid KID] [--ttl TIME]\n"
"           [--claim NAME=VALUE]... [--number NAME=N]...\n"
"           [--bool NAME=true|false]... [--json '{...}']...\n"
"           [--encrypt ALG/ENC --enc-key FILE --enc-kid KID]\n"
"\n"
"Prints a JWT for the gateway's auth_jwt, and a newline: signed (JWS);\n"
"with --encrypt also encrypted, the JWS in a JWE (a nested token, for\n"
"auth_jwt_type nested); with --encrypt and without --alg and --key, the\n"
"claims in a JWE (auth_jwt_type encrypted).\n"
"\n"
"  --alg ALG     HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384\n"
"                or ES512\n"
"  --key FILE    RS*: an RSA private key in PEM, 2048 bits or more;\n"
"                ES*: an EC private key in PEM, on P-256 for ES256, P-384\n"
"                for ES384, P-521 for ES512;\n"
"                HS*: the secret, the file's bytes less a trailing newline\n"
"                (shorter than 32, 48 or 64 bytes: a warning); or a JWK\n"
"                Set (JSON with \"keys\"), whose oct key --kid names\n"
"  --kid KID     the header's \"kid\" (and the key taken from a JWK Set)\n"
"  --ttl TIME    seconds, or a number with s, m, h or d (default 1h):\n"
"                \"iat\" is now and \"exp\" now + TIME; 0: no \"exp\"\n"
"  --claim NAME=VALUE      a string claim\n"
"  --number NAME=N         an integer claim\n"
"  --bool NAME=true|false  a boolean claim\n"
"  --json '{...}'          the claims of a JSON object\n"
"  --encrypt ALG/ENC  ALG: dir, A128KW, A192KW, A256KW, A128GCMKW,\n"
"                A192GCMKW, A256GCMKW, RSA-OAEP, RSA-OAEP-256,\n"
"                RSA-OAEP-384, RSA-OAEP-512, ECDH-ES, ECDH-ES+A128KW,\n"
"                ECDH-ES+A192KW or ECDH-ES+A256KW; ENC: A128CBC-HS256,\n"
"                A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM or\n"
"                A256GCM\n"
"  --enc-key FILE  a JWK Set with the recipient's key: oct for dir, KW\n"
"                and GCMKW (of the size they take), RSA (2048 bits or\n"
"                more) for RSA-OAEP, EC (P-256, P-384, P-521) or OKP\n"
"                (X25519) for ECDH-ES; its public part is enough\n"
"  --enc-kid KID  the key of the JWK Set, and the JWE header's \"kid\"\n"
"  --help        this text\n"
"\n"
"Claims are set in the order given, a later one replacing one of the same\n"
"name; \"iat\" and \"exp\" come from --ttl unless a claim option sets them.\n"
"Options take their value as the next argument or after \"=\".\n"
"\n"
"Exit status: 0; 1 if a key cannot be used or signing or encrypting\n"
"failed; 2 for a usage error.\n";


int
main(int argc, char **argv)
{
    int               rc;
    jwt_t            *jwt;
    gw_token_conf_t   conf;

    memset(&conf, 0, sizeof(gw_token_conf_t));
    conf.ttl = 3600;

    if (jwt_new(&jwt) != 0) {
        gw_token_error("out of memory");
        return GW_TOKEN_FAILED;
    }

    rc = gw_token_options(&conf, jwt, argc, argv);

    if (rc == GW_TOKEN_OK) {
        rc = gw_token_times(&conf, jwt);
    }

    if (rc == GW_TOKEN_OK && conf.alg) {
        rc = gw_token_key(&conf, jwt);
    }

    if (rc == GW_TOKEN_OK) {
        rc = gw_token_print(&conf, jwt);
    }

    /* jwt_free() wipes the key that jwt_set_alg() copied */
    jwt_free(jwt);

    return (rc == GW_TOKEN_HELP) ? 0 : rc;
}


/* the signed token; or it, or the claims alone, encrypted */

static int
gw_token_print(gw_token_conf_t *conf, jwt_t *jwt)
{
    int    rc;
    char  *token, *payload;

    if (conf->alg) {
        token = jwt_encode_str(jwt);

        if (token == NULL) {
            gw_token_error("signing with %s failed: %s", conf->alg->name,
                           strerror(errno));
            return GW_TOKEN_FAILED;
        }

    } else {
        token = jwt_get_grants_json(jwt, NULL);

        if (token == NULL) {
            gw_token_error("out of memory");
            return GW_TOKEN_FAILED;
        }
    }

    rc = GW_TOKEN_OK;

    if (conf->enc) {
        payload = token;
        rc = gw_token_jwe(conf, payload, conf->alg != NULL, &token);
        free(payload);

        if (rc != GW_TOKEN_OK) {
            return rc;
        }
    }

    printf("%s\n", token);
    free(token);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        gw_token_error("writing the token failed: %s", strerror(errno));
        rc = GW_TOKEN_FAILED;
    }

    return rc;
}


static int
gw_token_options(gw_token_conf_t *conf, jwt_t *jwt, int argc, char **argv)
{
    int                       i, rc;
    size_t                    len;
    const char               *arg, *value;
    const gw_token_option_t  *o;

    for (i = 1; i < argc; i++) {
        arg = argv[i];

        value = strchr(arg, '=');
        len = (value && arg[0] == '-') ? (size_t) (value - arg) : strlen(arg);

        for (o = gw_token_opts; o->name; o++) {
            if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0) {
                break;
            }
        }

        if (o->name == NULL) {
            if (arg[0] == '-') {
                gw_token_error("%.*s: unknown option (see --help)",
                               (int) len, arg);

            } else {
                gw_token_error("\"%s\": unexpected argument (see --help)",
                               arg);
            }

            return GW_TOKEN_USAGE;
        }

        if (value) {
            value++;

            if (!o->arg) {
                gw_token_error("%s: takes no value", o->name);
                return GW_TOKEN_USAGE;
            }

        } else if (o->arg) {
            if (i + 1 == argc) {
                gw_token_error("%s: needs a value", o->name);
                return GW_TOKEN_USAGE;
            }

            value = argv[++i];
        }

        rc = o->handler(conf, jwt, o->name, value);
        if (rc != GW_TOKEN_OK) {
            return rc;
        }
    }

    /* with --encrypt alone, the claims are encrypted and not signed */

    if (conf->alg == NULL && (conf->enc == NULL || conf->key || conf->kid)) {
        gw_token_error("--alg: missing (see --help)");
        return GW_TOKEN_USAGE;
    }

    if (conf->alg && conf->key == NULL) {
        gw_token_error("--key: missing (see --help)");
        return GW_TOKEN_USAGE;
    }

    if ((conf->enc_key || conf->enc_kid) && conf->enc == NULL) {
        gw_token_error("%s: needs --encrypt (see --help)",
                       conf->enc_key ? "--enc-key" : "--enc-kid");
        return GW_TOKEN_USAGE;
    }

    if (conf->enc && conf->enc_key == NULL) {
        gw_token_error("--enc-key: missing (see --help)");
        return GW_TOKEN_USAGE;
    }

    if (conf->enc && conf->enc_kid == NULL) {
        gw_token_error("--enc-kid: needed to choose a key from the JWK Set "
                       "%s", conf->enc_key);
        return GW_TOKEN_USAGE;
    }

    return GW_TOKEN_OK;
}


static int
gw_token_set_alg(gw_token_conf_t *conf, jwt_t *jwt, const char *opt,
    const char *arg)
{
    const gw_token_alg_t  *a;

    (void) jwt;

    if (conf->alg) {
        gw_token_error("%s: given twice", opt);
        return GW_TOKEN_USAGE;
    }

    /* case matters: "alg" values are case-sensitive (RFC 7515, 4.1.1) */

    for (a = gw_token_algs; a->name; a++) {
        if (strcmp(a->name, arg) == 0) {
            conf->alg = a;
            return GW_TOKEN_OK;
        }
    }

    gw_token_error("%s: unknown algorithm \"%s\" (HS256, HS384, HS512, "
                   "RS256, RS384, RS512, ES256, ES384, ES512)", opt, arg);

    return GW_TOKEN_USAGE;
}


static int
gw_token_set_key(gw_token_conf_t *conf, jwt_t *jwt, const char *opt,
    const char *arg)
{
    (void) jwt;

    if (conf->key) {
        gw_token_error("%s: given twice", opt);
        return GW_TOKEN_USAGE;
    }

    if (arg[0] == '\0') {
        gw_token_error("%s: empty file name", opt);
        return GW_TOKEN_USAGE;
    }

    conf->key = arg;

    return GW_TOKEN_OK;
}


static int
gw_token_set_kid(gw_token_conf_t *conf, jwt_t *jwt, const char *opt,
    const char *arg)
{
    if (conf->kid) {
        gw_token_error("%s: given twice", opt);
        return GW_TOKEN_USAGE;
    }

    if (arg[0] == '\0') {
        gw_token_error("%s: empty", opt);
        return GW_TOKEN_USAGE;
    }

    if (jwt_add_header(jwt, "kid", arg) != 0) {
        gw_token_error("%s: \"%s\" is not UTF-8", opt, arg);
        return GW_TOKEN_USAGE;
    }

    conf->kid = arg;

    return GW_TOKEN_OK;
}


static int
gw_token_set_jwe(gw_token_conf_t *conf, jwt_t *jwt, const char *opt,
    const char *arg)
{
    const char  **set;

    (void) jwt;

    if (strcmp(opt, "--encrypt") == 0) {
        if (conf->enc) {
            gw_token_error("%s: given twice", opt);
            return GW_TOKEN_USAGE;
        }

        return gw_token_set_encrypt(conf, opt, arg);
    }

    set = (strcmp(opt, "--enc-key") == 0) ? &conf->enc_key : &conf->enc_kid;

    if (*set) {
        gw_token_error("%s: given twice", opt);
        return GW_TOKEN_USAGE;
    }

    if (arg[0] == '\0') {
        gw_token_error("%s: empty", opt);
        return GW_TOKEN_USAGE;
    }

    *set = arg;

    return GW_TOKEN_OK;
}


static int
gw_token_set_ttl(gw_token_conf_t *conf, jwt_t *jwt, const char *opt,
    const char *arg)
{
    long         ttl, unit;
    const char  *p;

    (void) jwt;

    if (conf->ttl_set) {
        gw_token_error("%s: given twice", opt);
        return GW_TOKEN_USAGE;
    }

    ttl = 0;

    for (p = arg; *p >= '0' && *p <= '9'; p++) {
        if (ttl > (GW_TOKEN_TIME_MAX - (*p - '0')) / 10) {
            gw_token_error("%s: \"%s\" is too long", opt, arg);
            return GW_TOKEN_USAGE;
        }

        ttl = ttl * 10 + (*p - '0');
    }

    switch (*p) {

    case '\0':
    case 's':
        unit = 1;
        break;

    case 'm':
        unit = 60;
        break;

    case 'h':
        unit = 60 * 60;
        break;

    case 'd':
        unit = 24 * 60 * 60;
        break;

    default:
        unit = 0;
    }

    if (p == arg || unit == 0 || (*p != '\0' && p[1] != '\0')) {
        gw_token_error("%s: \"%s\" is not a time (seconds, or a number with "
                       "s, m, h or d)", opt, arg);
        return GW_TOKEN_USAGE;
    }

    if (ttl > GW_TOKEN_TIME_MAX / unit) {
        gw_token_error("%s: \"%s\" is too long", opt, arg);
        return GW_TOKEN_USAGE;
    }

    conf->ttl = ttl * unit;
    conf->ttl_set = 1;

    return GW_TOKEN_OK;
}


static int
gw_token_add_claim(gw_token_conf_t *conf, jwt_t *jwt, const char *opt,
    const char *arg)
{
    int          rc, flag;
    long         n;
    char        *name, *end;
    const char  *value;

    (void) conf;

    value = strchr(arg, '=');

    if (value == NULL || value == arg) {
        gw_token_error("%s: \"%s\" is not NAME=VALUE", opt, arg);
        return GW_TOKEN_USAGE;
    }

    name = strndup(arg, value - arg);
    if (name == NULL) {
        gw_token_error("out of memory");
        return GW_TOKEN_FAILED;
    }

    value++;

    /* a claim given again replaces the earlier one, whatever its type */

    jwt_del_grants(jwt, name);

    if (strcmp(opt, "--number") == 0) {
        errno = 0;
        n = strtol(value, &end, 10);

        /* strtol() would also take leading spaces and a plus sign */

        if ((value[0] != '-' && (value[0] < '0' || value[0] > '9'))
            || *end != '\0' || errno == ERANGE)
        {
            gw_token_error("%s: \"%s\": \"%s\" is not an integer", opt, arg,
                           value);
            free(name);
            return GW_TOKEN_USAGE;
        }

        rc = jwt_add_grant_int(jwt, name, n);

    } else if (strcmp(opt, "--bool") == 0) {
        if (strcmp(value, "true") == 0) {
            flag = 1;

        } else if (strcmp(value, "false") == 0) {
            flag = 0;

        } else {
            gw_token_error("%s: \"%s\": \"%s\" is not true or false", opt,
                           arg, value);
            free(name);
            return GW_TOKEN_USAGE;
        }

        rc = jwt_add_grant_bool(jwt, name, flag);

    } else {
        rc = jwt_add_grant(jwt, name, value);
    }

    free(name);

    /* jansson takes strings only in UTF-8 */

    if (rc != 0) {
        gw_token_error("%s: \"%s\" is not UTF-8", opt, arg);
        return GW_TOKEN_USAGE;
    }

    return GW_TOKEN_OK;
}


static int
gw_token_add_json(gw_token_conf_t *conf, jwt_t *jwt, const char *opt,
    const char *arg)
{
    (void) conf;

    /*
     * libjwt parses with jansson, refusing a member given twice, and
     * replaces the claims already set of the same names
     */

    if (jwt_add_grants_json(jwt, arg) != 0) {
        gw_token_error("%s: not a JSON object (invalid JSON, another type, "
                       "or a member given twice)", opt);
        return GW_TOKEN_USAGE;
    }

    return GW_TOKEN_OK;
}


static int
gw_token_help(gw_token_conf_t *conf, jwt_t *jwt, const char *opt,
    const char *arg)
{
    (void) conf;
    (void) jwt;
    (void) opt;
    (void) arg;

    fputs(gw_token_usage, stdout);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        gw_token_error("writing the usage failed: %s", strerror(errno));
        return GW_TOKEN_FAILED;
    }

    return GW_TOKEN_HELP;
}


static int
gw_token_times(gw_token_conf_t *conf, jwt_t *jwt)
{
    int     rc;
    time_t  now;

    now = time(NULL);

    if (conf->ttl > GW_TOKEN_TIME_MAX - now) {
        gw_token_error("--ttl: %ld seconds from now is too long", conf->ttl);
        return GW_TOKEN_USAGE;
    }

    rc = gw_token_has_claim(jwt, "iat");

    if (rc == GW_TOKEN_DECLINED) {
        if (jwt_add_grant_int(jwt, "iat", (long) now) != 0) {
            gw_token_error("out of memory");
            return GW_TOKEN_FAILED;
        }

    } else if (rc != GW_TOKEN_OK) {
        return rc;
    }

    if (conf->ttl == 0) {
        return GW_TOKEN_OK;
    }

    rc = gw_token_has_claim(jwt, "exp");

    if (rc == GW_TOKEN_DECLINED) {
        if (jwt_add_grant_int(jwt, "exp", (long) now + conf->ttl) != 0) {
            gw_token_error("out of memory");
            return GW_TOKEN_FAILED;
        }

    } else if (rc != GW_TOKEN_OK) {
        return rc;
    }

    return GW_TOKEN_OK;
}


/* a claim of any type: jwt_get_grant() sees only strings */

static int
gw_token_has_claim(jwt_t *jwt, const char *name)
{
    char  *json;

    errno = 0;
    json = jwt_get_grants_json(jwt, name);

    if (json == NULL) {
        if (errno == EINVAL) {
            return GW_TOKEN_DECLINED;
        }

        gw_token_error("out of memory");
        return GW_TOKEN_FAILED;
    }

    free(json);

    return GW_TOKEN_OK;
}


static int
gw_token_key(gw_token_conf_t *conf, jwt_t *jwt)
{
    int             rc;
    size_t          len;
    unsigned char  *data;

    rc = gw_token_read("--key", conf->key, &data, &len);
    if (rc != GW_TOKEN_OK) {
        return rc;
    }

    if (conf->alg->type == 0) {
        rc = gw_token_secret(conf, data, &len);

        if (rc == GW_TOKEN_OK && len == 0) {
            gw_token_error("--key %s: an empty secret", conf->key);
            rc = GW_TOKEN_FAILED;
        }

        /* auth_jwt takes short secrets, as NGINX Plus does, and warns */

        if (rc == GW_TOKEN_OK && len < conf->alg->hash) {
            gw_token_error("warning: --key %s: a secret of %zu bytes; RFC "
                           "7518, 3.2 asks for at least %zu for %s",
                           conf->key, len, conf->alg->hash, conf->alg->name);
        }

        if (rc == GW_TOKEN_OK
            && jwt_set_alg(jwt, conf->alg->alg, data, (int) len) != 0)
        {
            gw_token_error("--key %s: libjwt refused the secret", conf->key);
            rc = GW_TOKEN_FAILED;
        }

    } else {
        rc = gw_token_pem(conf, data, len);

        if (rc == GW_TOKEN_OK
            && jwt_set_alg(jwt, conf->alg->alg, data, (int) len) != 0)
        {
            gw_token_error("--key %s: libjwt refused the key", conf->key);
            rc = GW_TOKEN_FAILED;
        }
    }

    OPENSSL_cleanse(data, GW_TOKEN_KEY_MAX + 1);
    free(data);

    return rc;
}


int
gw_token_read(const char *opt, const char *file, unsigned char **data,
    size_t *len)
{
    int             err;
    FILE           *f;
    size_t          n;
    unsigned char  *buf;

    f = fopen(file, "rb");
    if (f == NULL) {
        gw_token_error("%s %s: %s", opt, file, strerror(errno));
        return GW_TOKEN_FAILED;
    }

    /* room for one byte more tells a file too large, and for a NUL */

    buf = malloc(GW_TOKEN_KEY_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        gw_token_error("out of memory");
        return GW_TOKEN_FAILED;
    }

    n = fread(buf, 1, GW_TOKEN_KEY_MAX + 1, f);
    err = ferror(f) ? errno : 0;

    fclose(f);

    if (err || n > GW_TOKEN_KEY_MAX) {
        if (err) {
            gw_token_error("%s %s: %s", opt, file, strerror(err));

        } else {
            gw_token_error("%s %s: larger than %d bytes, not a key", opt,
                           file, GW_TOKEN_KEY_MAX);
        }

        OPENSSL_cleanse(buf, GW_TOKEN_KEY_MAX + 1);
        free(buf);
        return GW_TOKEN_FAILED;
    }

    buf[n] = '\0';

    *data = buf;
    *len = n;

    return GW_TOKEN_OK;
}


/*
 * An HMAC secret, left in data: the file's bytes without the newline an
 * editor or echo leaves, or the oct key of a JWK Set named by --kid.  A PEM
 * file is a mistake: its text would be a secret that no gateway key matches.
 */

static int
gw_token_secret(gw_token_conf_t *conf, unsigned char *data, size_t *len)
{
    int             rc;
    jwt_t          *set;
    unsigned char  *k;

    if (memchr(data, '\0', *len) == NULL) {

        if (strstr((char *) data, "-----BEGIN ")) {
            gw_token_error("--key %s: a PEM file, %s needs a secret (the "
                           "file's bytes) or a JWK Set with --kid",
                           conf->key, conf->alg->name);
            return GW_TOKEN_FAILED;
        }

        /* only a file that is a JSON object is a JWK Set */

        if (jwt_new(&set) != 0) {
            gw_token_error("out of memory");
            return GW_TOKEN_FAILED;
        }

        if (jwt_add_grants_json(set, (char *) data) == 0) {
            rc = gw_token_jwks(conf, set, &k, len);
            jwt_free(set);

            if (rc != GW_TOKEN_OK) {
                return rc;
            }

            /* "k" decodes shorter than the file: the secret fits in data */

            memcpy(data, k, *len);
            OPENSSL_cleanse(k, *len);
            free(k);

            return GW_TOKEN_OK;
        }

        jwt_free(set);
    }

    if (*len && data[*len - 1] == '\n') {
        (*len)--;

        if (*len && data[*len - 1] == '\r') {
            (*len)--;
        }
    }

    return GW_TOKEN_OK;
}


/* the oct key of the JWK Set that --kid names, for HMAC */

static int
gw_token_jwks(gw_token_conf_t *conf, jwt_t *set, unsigned char **secret,
    size_t *len)
{
    int              rc;
    gw_token_hmac_t  hmac;

    if (conf->kid == NULL) {
        gw_token_error("--kid: needed to choose a key from the JWK Set %s",
                       conf->key);
        return GW_TOKEN_USAGE;
    }

    memset(&hmac, 0, sizeof(gw_token_hmac_t));

    rc = gw_token_jwks_each(conf, "--key", conf->key, set, conf->kid,
                            gw_token_hmac_jwk, &hmac);

    if (rc == GW_TOKEN_OK) {
        *secret = hmac.secret;
        *len = hmac.len;
        return GW_TOKEN_OK;
    }

    if (rc != GW_TOKEN_DECLINED) {
        return rc;
    }

    if (hmac.kty[0]) {
        gw_token_error("--key %s: the key \"%s\" is %s, %s needs an oct key",
                       conf->key, conf->kid, hmac.kty, conf->alg->name);

    } else {
        gw_token_error("--key %s: no key \"%s\" in the JWK Set", conf->key,
                       conf->kid);
    }

    return GW_TOKEN_FAILED;
}


/*
 * Calls the handler with each key of the JWK Set whose "kid" is kid, in
 * order, until it takes one (GW_TOKEN_OK) or fails; GW_TOKEN_DECLINED if
 * none was taken.  libjwt gives no JSON parser of its own, but
 * jwt_get_grants_json() prints "keys" compactly with jansson, so the
 * elements of the array are told apart here by their nesting alone,
 * outside strings.
 */

int
gw_token_jwks_each(gw_token_conf_t *conf, const char *opt, const char *file,
    jwt_t *set, const char *kid, gw_token_jwk_pt handler, void *data)
{
    int          rc, depth, quoted;
    char        *keys, *text, *p, *start;
    jwt_t       *jwk;
    const char  *id;

    errno = 0;
    keys = jwt_get_grants_json(set, "keys");

    if (keys == NULL || keys[0] != '[') {
        gw_token_error("%s %s: JSON without a \"keys\" array, not a JWK "
                       "Set", opt, file);
        free(keys);
        return GW_TOKEN_FAILED;
    }

    rc = GW_TOKEN_DECLINED;
    depth = 0;
    quoted = 0;
    start = keys + 1;

    for (p = start; *p && rc == GW_TOKEN_DECLINED; p++) {

        if (quoted) {
            if (*p == '\\') {
                p++;

            } else if (*p == '"') {
                quoted = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            quoted = 1;
            continue;

        case '{':
        case '[':
            depth++;
            continue;

        case '}':
        case ']':
            if (depth--) {
                continue;
            }

            break;

        case ',':
            if (depth) {
                continue;
            }

            break;

        default:
            continue;
        }

        /* an element ends at a comma or at the end of the array */

        if (p == start) {
            break;
        }

        text = strndup(start, p - start);
        if (text == NULL) {
            gw_token_error("out of memory");
            rc = GW_TOKEN_FAILED;
            break;
        }

        if (jwt_new(&jwk) != 0) {
            gw_token_error("out of memory");
            rc = GW_TOKEN_FAILED;

        } else if (jwt_add_grants_json(jwk, text) == 0) {

            /* an element that is no object is no key */

            id = jwt_get_grant(jwk, "kid");

            if (id && strcmp(id, kid) == 0) {
                rc = handler(conf, jwk, data);
            }
        }

        jwt_free(jwk);
        OPENSSL_cleanse(text, p - start);
        free(text);
        start = p + 1;
    }

    OPENSSL_cleanse(keys, strlen(keys));
    free(keys);

    return rc;
}


/* an oct key of the kid, or the type it has instead */

static int
gw_token_hmac_jwk(gw_token_conf_t *conf, jwt_t *jwk, void *data)
{
    gw_token_hmac_t *hmac = data;

    int              rc;
    const char      *type, *alg, *k;

    type = jwt_get_grant(jwk, "kty");
    alg = jwt_get_grant(jwk, "alg");
    k = jwt_get_grant(jwk, "k");

    if (type == NULL || strcmp(type, "oct") != 0) {
        /* kept for the error if no oct key of that "kid" follows */
        snprintf(hmac->kty, sizeof(hmac->kty), "%s",
                 type ? type : "without \"kty\"");
        return GW_TOKEN_DECLINED;
    }

    if (alg && strcmp(alg, conf->alg->name) != 0) {
        /* auth_jwt would not take the key for another algorithm either */
        gw_token_error("--key %s: the key \"%s\" is for %s, not %s",
                       conf->key, conf->kid, alg,
                       conf->alg->name);
        return GW_TOKEN_FAILED;
    }

    if (k == NULL) {
        gw_token_error("--key %s: the key \"%s\" has no \"k\"",
                       conf->key, conf->kid);
        return GW_TOKEN_FAILED;
    }

    rc = gw_token_base64url(k, &hmac->secret, &hmac->len);

    if (rc == GW_TOKEN_DECLINED) {
        gw_token_error("--key %s: the key \"%s\" has a \"k\" that is not "
                       "base64url", conf->key, conf->kid);
        rc = GW_TOKEN_FAILED;
    }

    return rc;
}


/* unpadded base64url, in its one canonical form as auth_jwt takes it */

int
gw_token_base64url(const char *src, unsigned char **dst, size_t *len)
{
    int             v, nbits;
    size_t          n;
    unsigned int    bits;
    unsigned char  *buf, *d;
    const char     *p;

    n = strlen(src);

    if (n % 4 == 1) {
        return GW_TOKEN_DECLINED;
    }

    buf = malloc(n * 3 / 4 + 1);
    if (buf == NULL) {
        gw_token_error("out of memory");
        return GW_TOKEN_FAILED;
    }

    d = buf;
    bits = 0;
    nbits = 0;

    for (p = src; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            v = *p - 'A';

        } else if (*p >= 'a' && *p <= 'z') {
            v = *p - 'a' + 26;

        } else if (*p >= '0' && *p <= '9') {
            v = *p - '0' + 52;

        } else if (*p == '-') {
            v = 62;

        } else if (*p == '_') {
            v = 63;

        } else {
            break;
        }

        bits = ((bits << 6) | v) & 0xfff;
        nbits += 6;

        if (nbits >= 8) {
            nbits -= 8;
            *d++ = (unsigned char) (bits >> nbits);
        }
    }

    /* the bits left over in the last character must be zero */

    if (*p || (bits & ((1u << nbits) - 1))) {
        OPENSSL_cleanse(buf, n * 3 / 4 + 1);
        free(buf);
        return GW_TOKEN_DECLINED;
    }

    *dst = buf;
    *len = d - buf;

    return GW_TOKEN_OK;
}


/*
 * libjwt 1.10.2 signs with any key of the right OpenSSL type, whatever its
 * curve or size, so the key is checked against the algorithm here.
 */

static int
gw_token_pem(gw_token_conf_t *conf, unsigned char *data, size_t len)
{
    int          encrypted, type, nid, bits;
    BIO         *bio;
    char         group[64];
    EVP_PKEY    *pkey;
    const char  *name, *want;

    bio = BIO_new_mem_buf(data, (int) len);
    if (bio == NULL) {
        gw_token_error("out of memory");
        return GW_TOKEN_FAILED;
    }

    encrypted = 0;

    /* the callback keeps OpenSSL from asking for a passphrase */

    pkey = PEM_read_bio_PrivateKey(bio, NULL, gw_token_passphrase,
                                   &encrypted);
    BIO_free(bio);

    if (pkey == NULL) {
        if (encrypted) {
            gw_token_error("--key %s: an encrypted key: give it decrypted "
                           "(openssl pkey -in FILE)", conf->key);

        } else if (strstr((char *) data, "-----BEGIN PUBLIC KEY-----")
                   || strstr((char *) data, "-----BEGIN RSA PUBLIC KEY-----"))
        {
            gw_token_error("--key %s: a public key, %s signs with the "
                           "private key", conf->key, conf->alg->name);

        } else {
            gw_token_error("--key %s: no PEM private key in it, %s needs one",
                           conf->key, conf->alg->name);
        }

        ERR_clear_error();
        return GW_TOKEN_FAILED;
    }

    type = EVP_PKEY_get_base_id(pkey);
    name = EVP_PKEY_get0_type_name(pkey);
    want = (conf->alg->type == EVP_PKEY_RSA) ? "RSA" : "EC";

    if (type != conf->alg->type) {
        gw_token_error("--key %s: the key is %s, %s needs %s", conf->key,
                       name ? name : "of another type", conf->alg->name,
                       want);
        EVP_PKEY_free(pkey);
        return GW_TOKEN_FAILED;
    }

    if (type == EVP_PKEY_RSA) {
        bits = EVP_PKEY_get_bits(pkey);
        EVP_PKEY_free(pkey);

        if (bits < GW_TOKEN_RSA_MIN_BITS) {
            gw_token_error("--key %s: the key is RSA of %d bits, %s needs %d "
                           "or more (RFC 7518, 3.3)", conf->key, bits,
                           conf->alg->name, GW_TOKEN_RSA_MIN_BITS);
            return GW_TOKEN_FAILED;
        }

        return GW_TOKEN_OK;
    }

    nid = NID_undef;

    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) == 1) {
        nid = OBJ_txt2nid(group);

    } else {
        snprintf(group, sizeof(group), "an unknown curve");
    }

    EVP_PKEY_free(pkey);
    ERR_clear_error();

    if (nid != conf->alg->curve) {
        name = EC_curve_nid2nist(nid);

        gw_token_error("--key %s: the key is EC on %s, %s needs EC on %s",
                       conf->key, name ? name : group, conf->alg->name,
                       EC_curve_nid2nist(conf->alg->curve));
        return GW_TOKEN_FAILED;
    }

    return GW_TOKEN_OK;
}


static int
gw_token_passphrase(char *buf, int size, int rwflag, void *data)
{
    (void) buf;
    (void) size;
    (void) rwflag;

    *(int *) data = 1;

    return -1;
}


void
gw_token_error(const char *fmt, ...)
{
    va_list  args;

    fputs("gateway-token: ", stderr);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputc('\n', stderr);
}
