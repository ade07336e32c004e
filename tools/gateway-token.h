
/*
 * gateway-token: what its two files share, gateway-token.c (options,
 * claims, signing with libjwt) and gateway-token-jwe.c (JWE, with
 * OpenSSL: libjwt has none).
 */


#ifndef _GATEWAY_TOKEN_H_INCLUDED_
#define _GATEWAY_TOKEN_H_INCLUDED_


#include <stddef.h>

#include <jwt.h>


#define GW_TOKEN_OK        0
#define GW_TOKEN_FAILED    1
#define GW_TOKEN_USAGE     2
#define GW_TOKEN_HELP      3
#define GW_TOKEN_DECLINED  4

/* the largest key file, as auth_jwt reads at most that of a JWK Set */
#define GW_TOKEN_KEY_MAX   (1024 * 1024)

/* RFC 7518, 3.3; auth_jwt refuses shorter RSA keys */
#define GW_TOKEN_RSA_MIN_BITS  2048


typedef struct gw_token_alg_s      gw_token_alg_t;
typedef struct gw_token_jwe_alg_s  gw_token_jwe_alg_t;
typedef struct gw_token_enc_s      gw_token_enc_t;


typedef struct {
    const gw_token_alg_t      *alg;
    const char                *key;
    const char                *kid;
    long                       ttl;

    /* --encrypt ALG/ENC, --enc-key, --enc-kid */
    const gw_token_jwe_alg_t  *jwe_alg;
    const gw_token_enc_t      *enc;
    const char                *enc_key;
    const char                *enc_kid;

    unsigned                   ttl_set:1;
} gw_token_conf_t;


/* a JWK of a JWK Set, as libjwt's grants, for the handler to take */
typedef int (*gw_token_jwk_pt)(gw_token_conf_t *conf, jwt_t *jwk,
    void *data);


/* gateway-token.c */
void gw_token_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
int gw_token_read(const char *opt, const char *file, unsigned char **data,
    size_t *len);
int gw_token_base64url(const char *src, unsigned char **dst, size_t *len);
int gw_token_jwks_each(gw_token_conf_t *conf, const char *opt,
    const char *file, jwt_t *set, const char *kid, gw_token_jwk_pt handler,
    void *data);

/* gateway-token-jwe.c */
int gw_token_set_encrypt(gw_token_conf_t *conf, const char *opt,
    const char *arg);
int gw_token_jwe(gw_token_conf_t *conf, const char *payload, int nested,
    char **token);


#endif /* _GATEWAY_TOKEN_H_INCLUDED_ */
