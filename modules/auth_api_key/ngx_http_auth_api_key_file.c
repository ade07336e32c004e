
/*
 * Key files: one key a line, as "<SHA-256 in hex> <consumer> [name=value
 * ...]", read when the configuration is loaded, into a table by digest.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_api_key.h"


#define NGX_HTTP_AUTH_API_KEY_MAX_FIELDS  16


static char *ngx_http_auth_api_key_parse(ngx_conf_t *cf,
    ngx_http_auth_api_key_table_t *table, u_char *p, u_char *last);
static const char *ngx_http_auth_api_key_line(ngx_conf_t *cf, u_char *p,
    u_char *last, u_char *digest, ngx_http_auth_api_key_t *key);
static u_char *ngx_http_auth_api_key_word(u_char *p, u_char *last,
    ngx_str_t *word);
static ngx_int_t ngx_http_auth_api_key_hex(u_char *dst, ngx_str_t *hex);
static ngx_int_t ngx_http_auth_api_key_insert(
    ngx_http_auth_api_key_table_t *table, ngx_http_auth_api_key_slot_t *line);


char *
ngx_http_auth_api_key_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_auth_api_key_table_t *table)
{
    char             *rv;
    u_char           *buf, *p;
    size_t            size;
    ssize_t           n;
    ngx_uint_t        slots;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    table->file = *name;

    if (ngx_conf_full_name(cf->cycle, &table->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = table->file;
    file.log = cf->log;

    file.fd = ngx_open_file(file.name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &file.name);
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_ERROR;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &file.name);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    /* each line keeps a copy of what it needs: the file's text goes */

    buf = ngx_pnalloc(cf->temp_pool, size + 1);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, buf, size, 0);

    if (n == NGX_ERROR) {
        goto done;
    }

    if ((size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%V\" returned only %z bytes "
                           "instead of %uz", &file.name, n, size);
        goto done;
    }

    /*
     * a slot for every line but comments and empty ones is enough: the
     * table is sized before the file is read into it
     */

    n = 0;

    for (p = buf; p < buf + size; p++) {
        if (*p == LF) {
            n++;
        }
    }

    for (slots = 16; slots < 2 * ((size_t) n + 1); slots *= 2) {
        /* void */
    }

    table->slots = ngx_pcalloc(cf->pool,
                               slots * sizeof(ngx_http_auth_api_key_slot_t));
    if (table->slots == NULL) {
        goto done;
    }

    table->mask = slots - 1;
    table->nkeys = 0;

    if (ngx_http_auth_api_key_parse(cf, table, buf, buf + size)
        != NGX_CONF_OK)
    {
        goto done;
    }

    rv = NGX_CONF_OK;

done:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &file.name);
    }

    return rv;
}


static char *
ngx_http_auth_api_key_parse(ngx_conf_t *cf,
    ngx_http_auth_api_key_table_t *table, u_char *p, u_char *last)
{
    u_char                        *eol, *end;
    ngx_uint_t                     line;
    const char                    *error;
    ngx_http_auth_api_key_slot_t   slot;

    for (line = 1; p < last; line++, p = eol + 1) {

        eol = ngx_strlchr(p, last, LF);
        if (eol == NULL) {
            eol = last;
        }

        end = eol;

        if (end > p && end[-1] == CR) {
            end--;
        }

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == end || *p == '#') {
            continue;
        }

        slot.key = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_api_key_t));
        if (slot.key == NULL) {
            return NGX_CONF_ERROR;
        }

        error = ngx_http_auth_api_key_line(cf, p, end, slot.digest, slot.key);

        if (error) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid key file \"%V\", line %ui: %s",
                               &table->file, line, error);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_auth_api_key_insert(table, &slot) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key file \"%V\" has the key of consumer "
                               "\"%V\" twice", &table->file,
                               &slot.key->consumer);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* NULL, or what is wrong with the line */

static const char *
ngx_http_auth_api_key_line(ngx_conf_t *cf, u_char *p, u_char *last,
    u_char *digest, ngx_http_auth_api_key_t *key)
{
    u_char                         *eq, *tail, *text;
    ngx_str_t                       word;
    ngx_uint_t                      i, n;
    ngx_http_auth_api_key_field_t   fields[NGX_HTTP_AUTH_API_KEY_MAX_FIELDS];

    /*
     * the consumer and the fields become variables, sent on in headers
     * and written to logs: a CR, LF or NUL there would end or forge them
     */

    for (eq = p; eq < last; eq++) {
        if ((*eq < 0x20 && *eq != '\t') || *eq == 0x7f) {
            return "a control character in the line";
        }
    }

    p = ngx_http_auth_api_key_word(p, last, &word);

    if (word.len != 2 * NGX_HTTP_AUTH_API_KEY_DIGEST_LEN
        || ngx_http_auth_api_key_hex(digest, &word) != NGX_OK)
    {
        return "a SHA-256 in hex, 64 characters, expected first";
    }

    p = ngx_http_auth_api_key_word(p, last, &key->consumer);

    if (key->consumer.len == 0) {
        return "a consumer name expected after the SHA-256";
    }

    for (n = 0; p < last; n++) {
        p = ngx_http_auth_api_key_word(p, last, &word);

        if (word.len == 0) {
            break;
        }

        if (n == NGX_HTTP_AUTH_API_KEY_MAX_FIELDS) {
            return "more than 16 fields";
        }

        eq = ngx_strlchr(word.data, word.data + word.len, '=');

        if (eq == NULL || eq == word.data) {
            return "a field must be name=value";
        }

        fields[n].name.data = word.data;
        fields[n].name.len = eq - word.data;
        fields[n].value.data = eq + 1;
        fields[n].value.len = word.data + word.len - (eq + 1);

        /* the name is a variable's: $api_key_<name>, any case */

        for (i = 0; i < fields[n].name.len; i++) {
            word.data[i] = ngx_tolower(word.data[i]);

            if (!((word.data[i] >= 'a' && word.data[i] <= 'z')
                  || (word.data[i] >= '0' && word.data[i] <= '9')
                  || word.data[i] == '_'))
            {
                return "a field name has letters, digits and \"_\" only";
            }
        }

        if (fields[n].name.len == sizeof("consumer") - 1
            && ngx_strncmp(fields[n].name.data, "consumer", 8) == 0)
        {
            return "\"consumer\" is not a field name: the consumer comes "
                   "second";
        }

        for (i = 0; i < n; i++) {
            if (fields[i].name.len == fields[n].name.len
                && ngx_strncmp(fields[i].name.data, fields[n].name.data,
                               fields[n].name.len)
                   == 0)
            {
                return "a field name appears twice";
            }
        }
    }

    /* the consumer and the fields, one stretch of the line, copied once */

    tail = n ? fields[n - 1].value.data + fields[n - 1].value.len
             : key->consumer.data + key->consumer.len;

    text = ngx_pnalloc(cf->pool, tail - key->consumer.data);
    if (text == NULL) {
        return "no memory";
    }

    ngx_memcpy(text, key->consumer.data, tail - key->consumer.data);

    for (i = 0; i < n; i++) {
        fields[i].name.data = text + (fields[i].name.data
                                      - key->consumer.data);
        fields[i].value.data = text + (fields[i].value.data
                                       - key->consumer.data);
    }

    key->consumer.data = text;

    if (n) {
        key->fields = ngx_palloc(cf->pool,
                                 n * sizeof(ngx_http_auth_api_key_field_t));
        if (key->fields == NULL) {
            return "no memory";
        }

        ngx_memcpy(key->fields, fields,
                   n * sizeof(ngx_http_auth_api_key_field_t));
        key->nfields = n;
    }

    return NULL;
}


/* the next word, past spaces and tabs; an empty one at the end */

static u_char *
ngx_http_auth_api_key_word(u_char *p, u_char *last, ngx_str_t *word)
{
    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    word->data = p;

    while (p < last && *p != ' ' && *p != '\t') {
        p++;
    }

    word->len = p - word->data;

    return p;
}


static ngx_int_t
ngx_http_auth_api_key_hex(u_char *dst, ngx_str_t *hex)
{
    u_char      c, d;
    ngx_uint_t  i;

    for (i = 0; i < hex->len; i++) {
        c = ngx_tolower(hex->data[i]);

        if (c >= '0' && c <= '9') {
            d = c - '0';

        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;

        } else {
            return NGX_ERROR;
        }

        if (i % 2) {
            dst[i / 2] |= d;

        } else {
            dst[i / 2] = d << 4;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_api_key_insert(ngx_http_auth_api_key_table_t *table,
    ngx_http_auth_api_key_slot_t *line)
{
    uint32_t                       hash;
    ngx_uint_t                     i;
    ngx_http_auth_api_key_slot_t  *slot;

    ngx_memcpy(&hash, line->digest, sizeof(uint32_t));

    for (i = hash & table->mask; /* void */ ; i = (i + 1) & table->mask) {
        slot = &table->slots[i];

        if (slot->key == NULL) {
            break;
        }

        if (ngx_memcmp(slot->digest, line->digest,
                       NGX_HTTP_AUTH_API_KEY_DIGEST_LEN)
            == 0)
        {
            return NGX_DECLINED;
        }
    }

    *slot = *line;
    table->nkeys++;

    return NGX_OK;
}


/*
 * The slot is found by the digest's first bytes, which tell an attacker
 * nothing he can use: he controls the key, not its SHA-256.  For the same
 * reason a slot whose first bytes differ is passed over at once; a slot
 * that may hold the digest is compared whole, in constant time.
 */

ngx_http_auth_api_key_t *
ngx_http_auth_api_key_find(ngx_http_auth_api_key_table_t *table,
    u_char *digest)
{
    uint32_t                       hash;
    ngx_uint_t                     i;
    ngx_http_auth_api_key_slot_t  *slot;

    ngx_memcpy(&hash, digest, sizeof(uint32_t));

    for (i = hash & table->mask; /* void */ ; i = (i + 1) & table->mask) {
        slot = &table->slots[i];

        if (slot->key == NULL) {
            return NULL;
        }

        if (ngx_memcmp(slot->digest, digest, sizeof(uint32_t)) == 0
            && CRYPTO_memcmp(slot->digest, digest,
                             NGX_HTTP_AUTH_API_KEY_DIGEST_LEN)
               == 0)
        {
            return slot->key;
        }
    }
}
