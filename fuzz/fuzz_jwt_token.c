
/*
 * libFuzzer target for JWS compact token decoding
 * (ngx_http_auth_jwt_token.c).
 *
 * The input is a raw token, as a client would send it: it goes to
 * ngx_http_auth_jwt_token_decode(), and a token that decodes has every
 * header member and claim shown as the variables show them, with
 * ngx_gw_claim_variable() (never a control character), and its times
 * read with ngx_gw_claim_clock() and checked with
 * ngx_http_auth_jwt_clock_check() at several times.  The input is
 * also decoded as base64url alone and must be the canonical encoding of
 * what comes out, re-encoded here, exactly when it is accepted.
 *
 * An input that starts with a NUL byte is instead the header JSON, a NUL,
 * the payload JSON, a NUL and the signature bytes, which are base64url
 * encoded here into a token, so the fuzzer can work on the JSON itself;
 * a token that decodes must give back exactly those three parts.
 *
 * Every buffer the code reads is malloc()ed to its exact size and the pool
 * hands out each allocation as its own malloc(), so ASan bounds them all.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_jwt.h"
#include "ngx_fuzz.h"


/* the decoder against an encoder: it takes what the encoder can give */

static void
fz_check_base64url(const u_char *data, size_t len)
{
    u_char     *again;
    size_t      n;
    ngx_int_t   rc;
    ngx_str_t   src, dst;

    src.data = ngx_fuzz_dup(data, len);
    src.len = len;

    /* as much room as the decoder asks for, and no more */
    dst.data = malloc(len * 3 / 4);
    ngx_fuzz_assert(dst.data != NULL);
    dst.len = 0;

    rc = ngx_http_auth_jwt_decode_base64url(&dst, &src);

    if (rc == NGX_OK) {
        ngx_fuzz_assert(dst.len == len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0));

        again = malloc(len);
        ngx_fuzz_assert(again != NULL);

        n = ngx_fuzz_b64url_encode(again, dst.data, dst.len);

        ngx_fuzz_assert(n == len);
        ngx_fuzz_assert(len == 0 || memcmp(again, data, len) == 0);

        free(again);

    } else {
        ngx_fuzz_assert(rc == NGX_ERROR);

        /* then no byte string encodes to the input */

        if (len % 4 != 1) {
            for (n = 0; n < len; n++) {
                if (strchr((char *) ngx_fuzz_b64url, data[n]) == NULL
                    || data[n] == '\0')
                {
                    break;
                }
            }

            if (n == len) {
                /* all base64url: then bits are left over in the end */
                n = strchr((char *) ngx_fuzz_b64url, data[len - 1])
                    - (char *) ngx_fuzz_b64url;
                ngx_fuzz_assert((len % 4 == 2 && (n & 0x0f))
                                || (len % 4 == 3 && (n & 0x03)));
            }
        }
    }

    free(src.data);
    free(dst.data);
}


/*
 * What the variables hand on: a member's text, or none (NGX_DECLINED) for
 * a string with a control character, never one raw
 */

static void
fz_check_members(ngx_pool_t *pool, ngx_array_t *members)
{
    u_char                 c;
    size_t                 n;
    ngx_int_t              rc;
    ngx_str_t              text;
    ngx_uint_t             i;
    ngx_gw_json_member_t  *member;

    member = members->elts;

    for (i = 0; i < members->nelts; i++) {
        rc = ngx_gw_claim_variable(pool, &member[i], &text);

        ngx_fuzz_assert(rc == NGX_OK || rc == NGX_DECLINED);

        if (rc == NGX_DECLINED) {
            ngx_fuzz_assert(member[i].type == NGX_GW_JSON_STRING
                            || member[i].type == NGX_GW_JSON_ARRAY);
            continue;
        }

        ngx_fuzz_assert(text.len == 0 || text.data != NULL);

        for (n = 0; n < text.len; n++) {
            c = text.data[n];
            ngx_fuzz_assert(c >= 0x20 && c != 0x7f);
            ngx_fuzz_assert(!(c == 0xc2 && n + 1 < text.len
                              && text.data[n + 1] <= 0x9f));
        }

        switch (member[i].type) {

        case NGX_GW_JSON_STRING:
            ngx_fuzz_assert(text.len <= member[i].value.len - 2);
            break;

        case NGX_GW_JSON_NULL:
            ngx_fuzz_assert(text.len == 0);
            break;

        case NGX_GW_JSON_NUMBER:
        case NGX_GW_JSON_TRUE:
        case NGX_GW_JSON_FALSE:
            ngx_fuzz_assert(text.len == member[i].value.len
                            && text.data == member[i].value.data);
            break;

        default:
            break;
        }
    }
}


static void
fz_check_token(u_char *raw, size_t len, ngx_str_t *parts)
{
    size_t                      i;
    ngx_int_t                   rc;
    ngx_gw_claim_clock_t        clock;
    ngx_http_auth_jwt_status_e  status;
    ngx_str_t                   token_raw, text;
    ngx_pool_t                 *pool;
    const char                 *reason;
    ngx_gw_json_member_t       *member;
    ngx_http_auth_jwt_token_t   token;

    static const time_t  times[][2] = {
        { 0, 0 }, { 1700000000, 0 }, { 1700000000, 60 },
        { NGX_MAX_TIME_T_VALUE, 0 }, { 0, NGX_MAX_INT32_VALUE }
    };

    pool = ngx_fuzz_pool();

    token_raw.data = raw;
    token_raw.len = len;
    reason = NULL;
    ngx_memzero(&token, sizeof(ngx_http_auth_jwt_token_t));

    rc = ngx_http_auth_jwt_token_decode(pool, &token_raw, &token, &reason);

    if (rc == NGX_DECLINED) {
        ngx_fuzz_assert(reason != NULL);
        goto done;
    }

    /* NGX_ERROR would be out of memory */
    ngx_fuzz_assert(rc == NGX_OK);
    ngx_fuzz_assert(token.alg != NULL);
    ngx_fuzz_assert(ngx_http_auth_jwt_alg(&token.alg->name) == token.alg);

    /* the signing input is the first two segments */
    ngx_fuzz_assert(token.signing_input.data == raw);
    ngx_fuzz_assert(token.signing_input.len < len);
    ngx_fuzz_assert(raw[token.signing_input.len] == '.');
    ngx_fuzz_assert(ngx_strlchr(raw + token.signing_input.len + 1, raw + len,
                                '.')
                    == NULL);

    if (parts) {
        ngx_fuzz_assert(token.header_json.len == parts[0].len);
        ngx_fuzz_assert(memcmp(token.header_json.data, parts[0].data,
                               parts[0].len)
                        == 0);
        ngx_fuzz_assert(token.payload_json.len == parts[1].len);
        ngx_fuzz_assert(memcmp(token.payload_json.data, parts[1].data,
                               parts[1].len)
                        == 0);
        ngx_fuzz_assert(token.signature.len == parts[2].len);
        ngx_fuzz_assert(memcmp(token.signature.data, parts[2].data,
                               parts[2].len)
                        == 0);
    }

    member = ngx_gw_json_member(&token.header, (u_char *) "alg", 3);
    ngx_fuzz_assert(member != NULL && member->type == NGX_GW_JSON_STRING);
    ngx_fuzz_assert(ngx_gw_json_member_text(pool, member, &text)
                    == NGX_OK);
    ngx_fuzz_assert(text.len == token.alg->name.len
                    && memcmp(text.data, token.alg->name.data, text.len)
                       == 0);

    member = ngx_gw_json_member(&token.header, (u_char *) "kid", 3);

    if (member == NULL) {
        ngx_fuzz_assert(token.kid.len == 0);

    } else {
        ngx_fuzz_assert(member->type == NGX_GW_JSON_STRING);
        ngx_fuzz_assert(ngx_gw_json_member_text(pool, member, &text)
                        == NGX_OK);
        ngx_fuzz_assert(text.len == token.kid.len
                        && (text.len == 0
                            || memcmp(text.data, token.kid.data, text.len)
                               == 0));
    }

    fz_check_members(pool, &token.header);
    fz_check_members(pool, &token.claims);

    reason = NULL;
    rc = ngx_gw_claim_clock(&token.claims, &clock, &reason);
    ngx_fuzz_assert(rc == NGX_OK || (rc == NGX_DECLINED && reason));

    for (i = 0; rc == NGX_OK && i < sizeof(times) / sizeof(times[0]); i++) {
        reason = NULL;
        status = ngx_http_auth_jwt_clock_check(&clock, times[i][0],
                                               times[i][1], &reason);
        ngx_fuzz_assert(status == NGX_HTTP_AUTH_JWT_VALID
                        || ((status == NGX_HTTP_AUTH_JWT_EXPIRED
                             || status == NGX_HTTP_AUTH_JWT_NOT_YET_VALID)
                            && reason));
    }

done:

    ngx_destroy_pool(pool);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     *raw, *p, *last, *nul;
    size_t      len;
    ngx_str_t   parts[3];
    ngx_uint_t  i;

    if (size == 0 || data[0] != '\0') {
        fz_check_base64url(data, size);

        raw = ngx_fuzz_dup(data, size);
        fz_check_token(raw, size, NULL);
        free(raw);

        return 0;
    }

    /* header NUL payload NUL signature */

    p = (u_char *) data + 1;
    last = (u_char *) data + size;

    for (i = 0; i < 3; i++) {
        nul = (i < 2) ? ngx_strlchr(p, last, '\0') : NULL;

        parts[i].data = p;
        parts[i].len = (nul ? nul : last) - p;

        p = nul ? nul + 1 : last;
    }

    raw = malloc(4 * (size / 3 + 3));
    ngx_fuzz_assert(raw != NULL);

    len = ngx_fuzz_b64url_encode(raw, parts[0].data, parts[0].len);
    raw[len++] = '.';
    len += ngx_fuzz_b64url_encode(raw + len, parts[1].data, parts[1].len);
    raw[len++] = '.';
    len += ngx_fuzz_b64url_encode(raw + len, parts[2].data, parts[2].len);

    /* exactly as long as the token */
    p = ngx_fuzz_dup(raw, len);
    free(raw);

    fz_check_token(p, len, parts);
    free(p);

    return 0;
}
