
/*
 * Decoding a JWS in compact serialization (RFC 7515).  Nothing here trusts
 * the token: every part is checked strictly before the signature is, and
 * nothing is taken from it that verification depends on except the name of
 * the algorithm, which must then match the key.  What its claims hold is
 * read by modules/common/ngx_gw_claim.c.
 *
 * Base64url and the algorithms are the token's, and JWKs use them too:
 * ngx_http_auth_jwt_keys.c calls down here, never the other way.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_jwt.h"




static u_char  ngx_http_auth_jwt_base64url[256] = {
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 62, 77, 77,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 77, 77, 77, 77, 77, 77,
    77,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 77, 77, 77, 77, 63,
    77, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 77, 77, 77, 77, 77,

    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77
};


static ngx_http_auth_jwt_alg_t  ngx_http_auth_jwt_algs[] = {
    { ngx_string("HS256"), NGX_HTTP_AUTH_JWT_OCT, 0, 0, 0, NULL },
    { ngx_string("HS384"), NGX_HTTP_AUTH_JWT_OCT, 1, 0, 0, NULL },
    { ngx_string("HS512"), NGX_HTTP_AUTH_JWT_OCT, 2, 0, 0, NULL },
    { ngx_string("RS256"), NGX_HTTP_AUTH_JWT_RSA, 0, 0, 0, NULL },
    { ngx_string("RS384"), NGX_HTTP_AUTH_JWT_RSA, 1, 0, 0, NULL },
    { ngx_string("RS512"), NGX_HTTP_AUTH_JWT_RSA, 2, 0, 0, NULL },
    { ngx_string("PS256"), NGX_HTTP_AUTH_JWT_RSA, 0, 1, 0, NULL },
    { ngx_string("PS384"), NGX_HTTP_AUTH_JWT_RSA, 1, 1, 0, NULL },
    { ngx_string("PS512"), NGX_HTTP_AUTH_JWT_RSA, 2, 1, 0, NULL },
    { ngx_string("ES256"), NGX_HTTP_AUTH_JWT_EC, 0, 0, 32, "P-256" },
    { ngx_string("ES384"), NGX_HTTP_AUTH_JWT_EC, 1, 0, 48, "P-384" },
    { ngx_string("ES512"), NGX_HTTP_AUTH_JWT_EC, 2, 0, 66, "P-521" },
    { ngx_string("EdDSA"), NGX_HTTP_AUTH_JWT_OKP, NGX_HTTP_AUTH_JWT_NO_HASH,
      0, 0, NULL }
};

#define ngx_http_auth_jwt_nalgs                                               \
    (sizeof(ngx_http_auth_jwt_algs) / sizeof(ngx_http_auth_jwt_alg_t))


/*
 * JWE: NGINX Plus's algorithms, and ECDH-ES.  RSA1_5 (Bleichenbacher's
 * oracle) and PBES2 (a work factor the sender sets) are left out on
 * purpose, see ngx_http_auth_jwt_jwe_decode().
 */

static ngx_http_auth_jwt_jwe_alg_t  ngx_http_auth_jwt_jwe_algs[] = {
    { ngx_string("dir"), NGX_HTTP_AUTH_JWT_DIR, NGX_HTTP_AUTH_JWT_OCT, 0, 0 },
    { ngx_string("A128KW"), NGX_HTTP_AUTH_JWT_KW, NGX_HTTP_AUTH_JWT_OCT,
      16, 0 },
    { ngx_string("A192KW"), NGX_HTTP_AUTH_JWT_KW, NGX_HTTP_AUTH_JWT_OCT,
      24, 0 },
    { ngx_string("A256KW"), NGX_HTTP_AUTH_JWT_KW, NGX_HTTP_AUTH_JWT_OCT,
      32, 0 },
    { ngx_string("A128GCMKW"), NGX_HTTP_AUTH_JWT_GCMKW,
      NGX_HTTP_AUTH_JWT_OCT, 16, 0 },
    { ngx_string("A192GCMKW"), NGX_HTTP_AUTH_JWT_GCMKW,
      NGX_HTTP_AUTH_JWT_OCT, 24, 0 },
    { ngx_string("A256GCMKW"), NGX_HTTP_AUTH_JWT_GCMKW,
      NGX_HTTP_AUTH_JWT_OCT, 32, 0 },
    { ngx_string("RSA-OAEP"), NGX_HTTP_AUTH_JWT_OAEP, NGX_HTTP_AUTH_JWT_RSA,
      0, 0 },
    { ngx_string("RSA-OAEP-256"), NGX_HTTP_AUTH_JWT_OAEP,
      NGX_HTTP_AUTH_JWT_RSA, 0, 1 },
    { ngx_string("RSA-OAEP-384"), NGX_HTTP_AUTH_JWT_OAEP,
      NGX_HTTP_AUTH_JWT_RSA, 0, 2 },
    { ngx_string("RSA-OAEP-512"), NGX_HTTP_AUTH_JWT_OAEP,
      NGX_HTTP_AUTH_JWT_RSA, 0, 3 },
    { ngx_string("ECDH-ES"), NGX_HTTP_AUTH_JWT_ECDH, NGX_HTTP_AUTH_JWT_EC,
      0, 0 },
    { ngx_string("ECDH-ES+A128KW"), NGX_HTTP_AUTH_JWT_ECDH_KW,
      NGX_HTTP_AUTH_JWT_EC, 16, 0 },
    { ngx_string("ECDH-ES+A192KW"), NGX_HTTP_AUTH_JWT_ECDH_KW,
      NGX_HTTP_AUTH_JWT_EC, 24, 0 },
    { ngx_string("ECDH-ES+A256KW"), NGX_HTTP_AUTH_JWT_ECDH_KW,
      NGX_HTTP_AUTH_JWT_EC, 32, 0 }
};


/* the key is MAC key and AES key, one after the other (RFC 7518, 5.2.2.1) */

static ngx_http_auth_jwt_enc_t  ngx_http_auth_jwt_encs[] = {
    { ngx_string("A128CBC-HS256"), 32, 16, 16, 0, 1, 0 },
    { ngx_string("A192CBC-HS384"), 48, 16, 24, 0, 2, 1 },
    { ngx_string("A256CBC-HS512"), 64, 16, 32, 0, 3, 2 },
    { ngx_string("A128GCM"), 16, 12, 16, 1, 0, 0 },
    { ngx_string("A192GCM"), 24, 12, 16, 1, 0, 1 },
    { ngx_string("A256GCM"), 32, 12, 16, 1, 0, 2 }
};


/*
 * Unpadded base64url only, and only its canonical form: the bits left over
 * in the last character must be zero, so one value has one encoding.
 * dst->data needs room for src->len * 3 / 4 bytes.
 */

ngx_int_t
ngx_http_auth_jwt_decode_base64url(ngx_str_t *dst, ngx_str_t *src)
{
    u_char   *s, *d, *basis, a, b, c, e;
    size_t    len, rest;

    basis = ngx_http_auth_jwt_base64url;
    rest = src->len % 4;

    if (rest == 1) {
        return NGX_ERROR;
    }

    s = src->data;
    d = dst->data;

    /* 77, the mark of a character outside the alphabet, has bit 0x40 */

    for (len = src->len - rest; len; len -= 4) {
        a = basis[s[0]];
        b = basis[s[1]];
        c = basis[s[2]];
        e = basis[s[3]];

        if ((a | b | c | e) & 0x40) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (a << 2 | b >> 4);
        *d++ = (u_char) (b << 4 | c >> 2);
        *d++ = (u_char) (c << 6 | e);
        s += 4;
    }

    if (rest) {
        a = basis[s[0]];
        b = basis[s[1]];
        c = (rest == 3) ? basis[s[2]] : 0;

        if ((a | b | c) & 0x40) {
            return NGX_ERROR;
        }

        if (rest == 2) {
            if (b & 0x0f) {
                return NGX_ERROR;
            }

            *d++ = (u_char) (a << 2 | b >> 4);

        } else {
            if (c & 0x03) {
                return NGX_ERROR;
            }

            *d++ = (u_char) (a << 2 | b >> 4);
            *d++ = (u_char) (b << 4 | c >> 2);
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


/*
 * The dots of a compact serialization, the first n of them kept; the count
 * is of all, so that a JWS and a JWE tell each other apart.
 */

ngx_uint_t
ngx_http_auth_jwt_dots(ngx_str_t *raw, u_char **dot, ngx_uint_t n)
{
    u_char      *p, *last;
    ngx_uint_t   dots;

    dots = 0;
    last = raw->data + raw->len;

    for (p = raw->data; p < last; p++) {
        if (*p == '.') {
            if (dots < n) {
                dot[dots] = p;
            }

            dots++;
        }
    }

    return dots;
}


ngx_int_t
ngx_http_auth_jwt_token_decode(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_http_auth_jwt_token_t *token, const char **reason)
{
    u_char                *dot[2], *last;
    ngx_str_t              segment, alg;
    ngx_uint_t             dots;
    ngx_gw_json_member_t  *member;

    if (raw->len > NGX_HTTP_AUTH_JWT_MAX_TOKEN) {
        *reason = "token too long";
        return NGX_DECLINED;
    }

    dots = ngx_http_auth_jwt_dots(raw, dot, 2);
    last = raw->data + raw->len;

    if (dots != 2) {
        *reason = (dots == 4) ? "a JWE (five segments) where a JWS is "
                                "expected"
                              : "not three segments";
        return NGX_DECLINED;
    }

    if (dot[0] == raw->data || dot[1] == dot[0] + 1 || dot[1] + 1 == last) {
        *reason = "empty segment";
        return NGX_DECLINED;
    }

    segment.data = raw->data;
    segment.len = dot[0] - raw->data;

    /* room for the usual members: a request pool is only 4k */

    if (ngx_http_auth_jwt_decode_json(pool, &segment, &token->header_json,
                                      &token->header, 3, reason)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    segment.data = dot[0] + 1;
    segment.len = dot[1] - segment.data;

    if (ngx_http_auth_jwt_decode_json(pool, &segment, &token->payload_json,
                                      &token->claims, 8, reason)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    segment.data = dot[1] + 1;
    segment.len = last - segment.data;

    token->signature.data = ngx_pnalloc(pool, segment.len);
    if (token->signature.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_auth_jwt_decode_base64url(&token->signature, &segment)
        != NGX_OK)
    {
        *reason = "signature is not base64url";
        return NGX_DECLINED;
    }

    token->signing_input.data = raw->data;
    token->signing_input.len = dot[1] - raw->data;

    member = ngx_gw_json_member(&token->header, (u_char *) "alg", 3);

    if (member == NULL || member->type != NGX_GW_JSON_STRING) {
        *reason = "no \"alg\" string in header";
        return NGX_DECLINED;
    }

    if (ngx_gw_json_member_text(pool, member, &alg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (alg.len == 4 && ngx_strncasecmp(alg.data, (u_char *) "none", 4) == 0)
    {
        *reason = "\"alg\" is \"none\"";
        return NGX_DECLINED;
    }

    token->alg = ngx_http_auth_jwt_alg(&alg);
    if (token->alg == NULL) {
        *reason = "unsupported \"alg\"";
        return NGX_DECLINED;
    }

    /*
     * No extension is understood, so any "crit" makes the token unusable
     * (RFC 7515, 4.1.11); "b64" is only valid when listed there.
     */

    if (ngx_gw_json_member(&token->header, (u_char *) "crit", 4)) {
        *reason = "unsupported \"crit\" header";
        return NGX_DECLINED;
    }

    ngx_str_null(&token->kid);

    member = ngx_gw_json_member(&token->header, (u_char *) "kid", 3);

    if (member) {
        if (member->type != NGX_GW_JSON_STRING) {
            *reason = "\"kid\" is not a string";
            return NGX_DECLINED;
        }

        if (ngx_gw_json_member_text(pool, member, &token->kid)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_http_auth_jwt_alg_t *
ngx_http_auth_jwt_alg(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_auth_jwt_nalgs; i++) {
        if (name->len == ngx_http_auth_jwt_algs[i].name.len
            && ngx_strncmp(name->data, ngx_http_auth_jwt_algs[i].name.data,
                           name->len)
               == 0)
        {
            return &ngx_http_auth_jwt_algs[i];
        }
    }

    return NULL;
}


ngx_http_auth_jwt_jwe_alg_t *
ngx_http_auth_jwt_jwe_alg(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_http_auth_jwt_jwe_algs)
                    / sizeof(ngx_http_auth_jwt_jwe_alg_t); i++)
    {
        if (name->len == ngx_http_auth_jwt_jwe_algs[i].name.len
            && ngx_strncmp(name->data, ngx_http_auth_jwt_jwe_algs[i].name.data,
                           name->len)
               == 0)
        {
            return &ngx_http_auth_jwt_jwe_algs[i];
        }
    }

    return NULL;
}


ngx_http_auth_jwt_enc_t *
ngx_http_auth_jwt_enc(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_http_auth_jwt_encs)
                    / sizeof(ngx_http_auth_jwt_enc_t); i++)
    {
        if (name->len == ngx_http_auth_jwt_encs[i].name.len
            && ngx_strncmp(name->data, ngx_http_auth_jwt_encs[i].name.data,
                           name->len)
               == 0)
        {
            return &ngx_http_auth_jwt_encs[i];
        }
    }

    return NULL;
}


/* the algorithm of keys on an EC curve: a curve has one */

ngx_http_auth_jwt_alg_t *
ngx_http_auth_jwt_alg_curve(ngx_str_t *crv)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_auth_jwt_nalgs; i++) {
        if (ngx_http_auth_jwt_algs[i].curve
            && crv->len == ngx_strlen(ngx_http_auth_jwt_algs[i].curve)
            && ngx_strncmp(crv->data, ngx_http_auth_jwt_algs[i].curve,
                           crv->len)
               == 0)
        {
            return &ngx_http_auth_jwt_algs[i];
        }
    }

    return NULL;
}


/* a segment of a JWS or a JWE that is base64url of a JSON object */

ngx_int_t
ngx_http_auth_jwt_decode_json(ngx_pool_t *pool, ngx_str_t *segment,
    ngx_str_t *json, ngx_array_t *members, ngx_uint_t n, const char **reason)
{
    ngx_int_t    rc;
    const char  *error;

    json->data = ngx_pnalloc(pool, segment->len);
    if (json->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_auth_jwt_decode_base64url(json, segment) != NGX_OK) {
        *reason = "segment is not base64url";
        return NGX_DECLINED;
    }

    if (ngx_array_init(members, pool, n, sizeof(ngx_gw_json_member_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_gw_json_object_members(pool, json, NGX_HTTP_AUTH_JWT_MAX_DEPTH,
                                    members, &error);

    if (rc == NGX_ERROR) {
        *reason = error;
        return NGX_DECLINED;
    }

    return (rc == NGX_OK) ? NGX_OK : NGX_ERROR;
}


/* NGX_HTTP_AUTH_JWT_VALID: the clock lets the token in, for now */

ngx_http_auth_jwt_status_e
ngx_http_auth_jwt_clock_check(ngx_gw_claim_clock_t *clock, time_t now,
    time_t leeway, const char **reason)
{
    if (clock->has_exp && clock->exp + leeway <= now) {
        *reason = "token expired";
        return NGX_HTTP_AUTH_JWT_EXPIRED;
    }

    if (clock->has_nbf && clock->nbf - leeway > now) {
        *reason = "token not yet valid";
        return NGX_HTTP_AUTH_JWT_NOT_YET_VALID;
    }

    return NGX_HTTP_AUTH_JWT_VALID;
}
