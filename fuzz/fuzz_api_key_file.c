
/*
 * libFuzzer target for API key files (ngx_http_auth_api_key_file.c): the
 * input is a key file, read by ngx_http_auth_api_key_read_file() as the
 * auth_api_key_file directive does, from a memfd.
 *
 * An independent reader written from the format the module documents
 * says what the file holds: lines split at LF, a CR before it dropped,
 * blank lines and those starting with "#" (after spaces and tabs)
 * skipped, and each other line "<SHA-256 in hex> <consumer>
 * [name=value ...]", words split by spaces and tabs, at most 16 fields,
 * names of letters, digits and "_" (lowercased), neither "consumer"
 * nor twice on a line, no control character but the tab in what is left
 * of a line (a CR before its CR included), and no key twice in a file.
 * The module must refuse the file exactly when the reader does, naming
 * the line it stopped at (or the consumer of a key given twice), and else
 * find every key by its digest, with its consumer and fields in order,
 * and no digest it was not given.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_auth_api_key.h"
#include "ngx_fuzz.h"


#define FZ_MAX_FIELDS  16


typedef struct {
    u_char                          digest[NGX_HTTP_AUTH_API_KEY_DIGEST_LEN];
    ngx_str_t                       consumer;
    ngx_uint_t                      nfields;
    ngx_http_auth_api_key_field_t   field[FZ_MAX_FIELDS];
} fz_key_t;


typedef struct {
    fz_key_t                       *key;        /* malloc()ed */
    ngx_uint_t                      nkeys;
    ngx_uint_t                      bad_line;   /* 0: none */
    ngx_uint_t                      twice;      /* of key[nkeys] */
} fz_file_t;


static int         fz_fd = -1;
static ngx_str_t   fz_name;
static u_char      fz_name_buf[64];


ngx_int_t
ngx_conf_full_name(ngx_cycle_t *cycle, ngx_str_t *name,
    ngx_uint_t conf_prefix)
{
    /* the memfd's path is absolute */
    return NGX_OK;
}


/* the words of a line, runs of bytes but spaces and tabs: max at most */

static ngx_uint_t
fz_words(u_char *p, u_char *last, ngx_str_t *word, ngx_uint_t max)
{
    ngx_uint_t  n, in;

    for (n = 0, in = 0; p < last; p++) {
        if (*p == ' ' || *p == '\t') {
            in = 0;
            continue;
        }

        if (!in) {
            if (n == max) {
                break;
            }

            word[n].data = p;
            word[n].len = 0;
            n++;
            in = 1;
        }

        word[n - 1].len++;
    }

    return n;
}


static ngx_int_t
fz_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


/* one line but comments and blank ones: NGX_OK, or NGX_ERROR */

static ngx_int_t
fz_line(u_char *p, u_char *last, fz_key_t *key, u_char *names)
{
    u_char                         *eq;
    ngx_int_t                       hi, lo;
    ngx_str_t                       word[2 + FZ_MAX_FIELDS + 1];
    ngx_uint_t                      i, k, n;
    ngx_http_auth_api_key_field_t  *field;

    for (eq = p; eq < last; eq++) {
        if ((*eq < 0x20 && *eq != '\t') || *eq == 0x7f) {
            return NGX_ERROR;
        }
    }

    n = fz_words(p, last, word, 2 + FZ_MAX_FIELDS + 1);

    if (n < 2 || n > 2 + FZ_MAX_FIELDS
        || word[0].len != 2 * NGX_HTTP_AUTH_API_KEY_DIGEST_LEN)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_AUTH_API_KEY_DIGEST_LEN; i++) {
        hi = fz_hex(word[0].data[2 * i]);
        lo = fz_hex(word[0].data[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return NGX_ERROR;
        }

        key->digest[i] = (u_char) (hi << 4 | lo);
    }

    key->consumer = word[1];
    key->nfields = n - 2;

    for (k = 0; k < key->nfields; k++) {
        field = &key->field[k];

        eq = memchr(word[2 + k].data, '=', word[2 + k].len);

        if (eq == NULL || eq == word[2 + k].data) {
            return NGX_ERROR;
        }

        field->value.data = eq + 1;
        field->value.len = word[2 + k].data + word[2 + k].len - (eq + 1);

        /* the name lowercased, in a copy: the module's is in its text */

        field->name.data = names;
        field->name.len = eq - word[2 + k].data;
        names += field->name.len;

        for (i = 0; i < field->name.len; i++) {
            field->name.data[i] = ngx_tolower(word[2 + k].data[i]);

            if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_",
                       field->name.data[i])
                == NULL
                || field->name.data[i] == '\0')
            {
                return NGX_ERROR;
            }
        }

        if (field->name.len == sizeof("consumer") - 1
            && ngx_memcmp(field->name.data, "consumer", 8) == 0)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < k; i++) {
            if (key->field[i].name.len == field->name.len
                && ngx_memcmp(key->field[i].name.data, field->name.data,
                              field->name.len)
                   == 0)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static void
fz_read(u_char *p, u_char *last, u_char *names, fz_file_t *file)
{
    u_char      *eol, *end;
    ngx_uint_t   line, k;
    fz_key_t    *key;

    for (line = 1; p < last; line++, p = eol + 1) {
        eol = memchr(p, LF, last - p);

        if (eol == NULL) {
            eol = last;
        }

        end = (eol > p && eol[-1] == CR) ? eol - 1 : eol;

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == end || *p == '#') {
            continue;
        }

        key = &file->key[file->nkeys];

        if (fz_line(p, end, key, names) != NGX_OK) {
            file->bad_line = line;
            return;
        }

        names += end - p;

        for (k = 0; k < file->nkeys; k++) {
            if (ngx_memcmp(file->key[k].digest, key->digest,
                           NGX_HTTP_AUTH_API_KEY_DIGEST_LEN)
                == 0)
            {
                file->twice = 1;
                return;
            }
        }

        file->nkeys++;
    }
}


static void
fz_check_refused(fz_file_t *file)
{
    u_char      *p, *last;
    ngx_str_t   *consumer;
    ngx_uint_t   line;

    p = ngx_fuzz_log_line.data;
    last = p + ngx_fuzz_log_line.len;

    if (file->twice) {
        consumer = &file->key[file->nkeys].consumer;

        /* a long consumer's message is cut at NGX_MAX_ERROR_STR */

        if (ngx_fuzz_log_line.len >= NGX_MAX_ERROR_STR) {
            return;
        }

        ngx_fuzz_assert(ngx_memcmp(last - (sizeof("\" twice") - 1),
                                   "\" twice", sizeof("\" twice") - 1)
                        == 0);
        ngx_fuzz_assert(memmem(p, last - p, consumer->data, consumer->len)
                        != NULL);
        return;
    }

    p = memmem(p, last - p, "\", line ", sizeof("\", line ") - 1);
    ngx_fuzz_assert(p != NULL);

    p += sizeof("\", line ") - 1;

    for (line = 0; p < last && *p >= '0' && *p <= '9'; p++) {
        line = line * 10 + (*p - '0');
    }

    ngx_fuzz_assert(p < last && *p == ':');
    ngx_fuzz_assert(line == file->bad_line);
}


static void
fz_check_table(ngx_http_auth_api_key_table_t *table, fz_file_t *file)
{
    u_char                    digest[NGX_HTTP_AUTH_API_KEY_DIGEST_LEN];
    ngx_uint_t                i, k, other;
    fz_key_t                 *fk;
    ngx_http_auth_api_key_t  *key;

    ngx_fuzz_assert(table->nkeys == file->nkeys);

    /* open addressing needs a free slot to stop at */
    ngx_fuzz_assert(table->nkeys <= table->mask);

    for (i = 0; i < file->nkeys; i++) {
        fk = &file->key[i];

        key = ngx_http_auth_api_key_find(table, fk->digest);

        ngx_fuzz_assert(key != NULL);
        ngx_fuzz_assert(key->consumer.len == fk->consumer.len);
        ngx_fuzz_assert(ngx_memcmp(key->consumer.data, fk->consumer.data,
                                   fk->consumer.len)
                        == 0);
        ngx_fuzz_assert(key->nfields == fk->nfields);

        for (k = 0; k < fk->nfields; k++) {
            ngx_fuzz_assert(key->fields[k].name.len
                            == fk->field[k].name.len);
            ngx_fuzz_assert(ngx_memcmp(key->fields[k].name.data,
                                       fk->field[k].name.data,
                                       fk->field[k].name.len)
                            == 0);
            ngx_fuzz_assert(key->fields[k].value.len
                            == fk->field[k].value.len);
            ngx_fuzz_assert(ngx_memcmp(key->fields[k].value.data,
                                       fk->field[k].value.data,
                                       fk->field[k].value.len)
                            == 0);
        }

        /* a digest a bit away is another key, or none */

        ngx_memcpy(digest, fk->digest, sizeof(digest));
        digest[i % sizeof(digest)] ^= (u_char) (1 << (i % 8));

        for (other = 0; other < file->nkeys; other++) {
            if (ngx_memcmp(file->key[other].digest, digest, sizeof(digest))
                == 0)
            {
                break;
            }
        }

        key = ngx_http_auth_api_key_find(table, digest);

        ngx_fuzz_assert(other < file->nkeys ? key != NULL : key == NULL);
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();

    fz_fd = memfd_create("fuzz_api_key_file", 0);
    ngx_fuzz_assert(fz_fd != -1);

    fz_name.data = fz_name_buf;
    fz_name.len = ngx_sprintf(fz_name_buf, "/proc/self/fd/%d%Z", fz_fd)
                  - fz_name_buf - 1;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *text, *names;
    char                           *rv;
    ngx_pool_t                     *pool, *temp_pool;
    ngx_conf_t                      cf;
    fz_file_t                       file;
    ngx_http_auth_api_key_table_t   table;

    ngx_fuzz_assert(ftruncate(fz_fd, 0) == 0);
    ngx_fuzz_assert(pwrite(fz_fd, data, size, 0) == (ssize_t) size);

    /* what the module reads, as it reads it */

    text = ngx_fuzz_dup(data, size);
    names = malloc(size + 1);
    file.key = calloc(size / 66 + 2, sizeof(fz_key_t));
    ngx_fuzz_assert(names != NULL && file.key != NULL);
    file.nkeys = 0;
    file.bad_line = 0;
    file.twice = 0;

    fz_read(text, text + size, names, &file);

    pool = ngx_fuzz_pool();
    temp_pool = ngx_fuzz_pool();

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;
    cf.temp_pool = temp_pool;
    cf.log = &ngx_fuzz_log;
    cf.cycle = (ngx_cycle_t *) ngx_cycle;

    ngx_memzero(&table, sizeof(ngx_http_auth_api_key_table_t));
    ngx_fuzz_log_line.len = 0;

    rv = ngx_http_auth_api_key_read_file(&cf, &fz_name, &table);

    /* the text goes with the temporary pool: keys must not need it */
    ngx_destroy_pool(temp_pool);

    if (file.bad_line || file.twice) {
        ngx_fuzz_assert(rv == NGX_CONF_ERROR);
        fz_check_refused(&file);

    } else {
        ngx_fuzz_assert(rv == NGX_CONF_OK);
        fz_check_table(&table, &file);
    }

    ngx_destroy_pool(pool);
    free(file.key);
    free(names);
    free(text);

    return 0;
}
