
/*
 * gateway-api-key: makes a random API key and prints the line of an
 * auth_api_key_file that knows it: the key's SHA-256 in hex, the consumer
 * and the consumer's fields.  The key itself goes to stderr, this once: the
 * file never holds it.  With --key-stdin, a key read from stdin is hashed
 * instead, to import a key that clients already have.
 *
 * Exit status: 0 with the line on stdout; 1 when random bytes, hashing,
 * reading or writing failed; 2 for a usage error.  Each error is one line
 * on stderr, and neither the line nor the key is printed then.
 */


#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>


#define GW_API_KEY_OK          0
#define GW_API_KEY_FAILED      1
#define GW_API_KEY_USAGE       2
#define GW_API_KEY_HELP        3

/* 256 bits, after a prefix that tells the key's kind in a leaked text */
#define GW_API_KEY_BYTES       32
#define GW_API_KEY_PREFIX      "gk_"

/* the prefix, 43 base64url characters without padding, and a NUL */
#define GW_API_KEY_SIZE        (sizeof(GW_API_KEY_PREFIX) - 1 \
                                + (4 * GW_API_KEY_BYTES + 2) / 3 + 1)

/* auth_api_key refuses longer keys before it hashes them */
#define GW_API_KEY_MAX         4096

/* a key of the largest size, CR LF, and a byte more to tell a longer one */
#define GW_API_KEY_BUF         (GW_API_KEY_MAX + 3)

/* as many as a key file line may have */
#define GW_API_KEY_MAX_FIELDS  16

#define GW_API_KEY_DIGEST_LEN  32


typedef struct {
    const char    *consumer;
    const char    *fields[GW_API_KEY_MAX_FIELDS];
    int            nfields;
    unsigned       key_stdin:1;
} gw_api_key_conf_t;


static int gw_api_key_options(gw_api_key_conf_t *conf, int argc,
    char **argv);
static int gw_api_key_consumer(gw_api_key_conf_t *conf, const char *arg);
static int gw_api_key_field(gw_api_key_conf_t *conf, const char *arg);
static int gw_api_key_help(void);
static int gw_api_key_generate(unsigned char *key, size_t *len);
static int gw_api_key_read(unsigned char *key, size_t size, size_t *len);
static int gw_api_key_print(gw_api_key_conf_t *conf, unsigned char *key,
    size_t len);
static const char *gw_api_key_ssl_error(void);
static void gw_api_key_error(const char *fmt, ...);


static const char  gw_api_key_usage[] =
"Usage: gateway-api-key [--key-stdin] CONSUMER [NAME=VALUE]...\n"
"\n"
"Makes a random API key and prints a line for auth_api_key_file: the key's\n"
"SHA-256 in hex, CONSUMER and the fields.  The key itself goes to stderr\n"
"as \"key: gk_...\", shown this once: the key file holds only its hash.\n"
"\n"
"  gateway-api-key alice plan=premium >> keys.txt\n"
"\n"
"  CONSUMER      $api_key_consumer: no spaces, tabs or control characters,\n"
"                not starting with \"#\"\n"
"  NAME=VALUE    a field, $api_key_NAME, at most 16: NAME of letters,\n"
"                digits and \"_\", not \"consumer\", each once (case does\n"
"                not count); VALUE not empty, without spaces, tabs or\n"
"                control characters\n"
"  --key-stdin   hash a key read from stdin instead, to import a key that\n"
"                clients already have: one line, less its newline, of at\n"
"                most 4096 bytes; nothing goes to stderr then\n"
"  --help        this text\n"
"\n"
"A CONSUMER starting with \"-\" comes after \"--\".\n"
"\n"
"Exit status: 0; 1 if random bytes, hashing, reading or writing failed;\n"
"2 for a usage error.\n";


int
main(int argc, char **argv)
{
    int                 rc;
    size_t              len;
    unsigned char       key[GW_API_KEY_BUF];
    gw_api_key_conf_t   conf;

    memset(&conf, 0, sizeof(gw_api_key_conf_t));
    len = 0;

    rc = gw_api_key_options(&conf, argc, argv);

    if (rc == GW_API_KEY_OK) {
        rc = conf.key_stdin ? gw_api_key_read(key, sizeof(key), &len)
                            : gw_api_key_generate(key, &len);
    }

    if (rc == GW_API_KEY_OK) {
        rc = gw_api_key_print(&conf, key, len);
    }

    OPENSSL_cleanse(key, sizeof(key));

    return (rc == GW_API_KEY_HELP) ? 0 : rc;
}


static int
gw_api_key_options(gw_api_key_conf_t *conf, int argc, char **argv)
{
    int          i, rc, options;
    size_t       len;
    const char  *arg, *value;

    options = 1;

    for (i = 1; i < argc; i++) {
        arg = argv[i];

        if (options && arg[0] == '-') {

            if (strcmp(arg, "--") == 0) {
                options = 0;
                continue;
            }

            value = strchr(arg, '=');
            len = value ? (size_t) (value - arg) : strlen(arg);

            if (len == sizeof("--key-stdin") - 1
                && strncmp(arg, "--key-stdin", len) == 0)
            {
                if (value) {
                    gw_api_key_error("--key-stdin: takes no value");
                    return GW_API_KEY_USAGE;
                }

                conf->key_stdin = 1;
                continue;
            }

            if ((len == sizeof("--help") - 1
                 && strncmp(arg, "--help", len) == 0)
                || (len == sizeof("-h") - 1 && strncmp(arg, "-h", len) == 0))
            {
                if (value) {
                    gw_api_key_error("%.*s: takes no value", (int) len, arg);
                    return GW_API_KEY_USAGE;
                }

                return gw_api_key_help();
            }

            gw_api_key_error("%.*s: unknown option (see --help)", (int) len,
                             arg);
            return GW_API_KEY_USAGE;
        }

        rc = (conf->consumer == NULL) ? gw_api_key_consumer(conf, arg)
                                      : gw_api_key_field(conf, arg);
        if (rc != GW_API_KEY_OK) {
            return rc;
        }
    }

    if (conf->consumer == NULL) {
        gw_api_key_error("CONSUMER: missing (see --help)");
        return GW_API_KEY_USAGE;
    }

    return GW_API_KEY_OK;
}


/*
 * The key file parser would take more, as it ends the consumer at a space
 * or a tab only, but a control character or a leading "#" is a mistake in
 * a name that logs and headers show.
 */

static int
gw_api_key_consumer(gw_api_key_conf_t *conf, const char *arg)
{
    const unsigned char  *p;

    if (arg[0] == '\0') {
        gw_api_key_error("consumer \"\": empty");
        return GW_API_KEY_USAGE;
    }

    for (p = (const unsigned char *) arg; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            gw_api_key_error("consumer \"%s\": has a space or a tab", arg);
            return GW_API_KEY_USAGE;
        }
    }

    for (p = (const unsigned char *) arg; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            gw_api_key_error("consumer \"%s\": has a control character",
                             arg);
            return GW_API_KEY_USAGE;
        }
    }

    if (arg[0] == '#') {
        gw_api_key_error("consumer \"%s\": starts with \"#\"", arg);
        return GW_API_KEY_USAGE;
    }

    conf->consumer = arg;

    return GW_API_KEY_OK;
}


/*
 * As the key file parser checks a field, which lowers the name's case for
 * $api_key_<name>.  A value that it would take empty or split into two
 * words is refused too, and a control character, which would break the
 * line or a header that shows the value.
 */

static int
gw_api_key_field(gw_api_key_conf_t *conf, const char *arg)
{
    int                   i;
    char                  c;
    size_t                len, n;
    const char           *eq, *other;
    const unsigned char  *p;

    eq = strchr(arg, '=');

    if (eq == NULL || eq == arg) {
        gw_api_key_error("field \"%s\": not NAME=VALUE", arg);
        return GW_API_KEY_USAGE;
    }

    len = eq - arg;

    for (n = 0; n < len; n++) {
        c = arg[n];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_'))
        {
            gw_api_key_error("field \"%s\": a name has letters, digits and "
                             "\"_\" only", arg);
            return GW_API_KEY_USAGE;
        }
    }

    if (len == sizeof("consumer") - 1
        && strncasecmp(arg, "consumer", len) == 0)
    {
        gw_api_key_error("field \"%s\": \"consumer\" is no field name, "
                         "CONSUMER sets $api_key_consumer", arg);
        return GW_API_KEY_USAGE;
    }

    if (eq[1] == '\0') {
        gw_api_key_error("field \"%s\": empty value", arg);
        return GW_API_KEY_USAGE;
    }

    for (p = (const unsigned char *) eq + 1; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            gw_api_key_error("field \"%s\": the value has a space or a tab",
                             arg);
            return GW_API_KEY_USAGE;
        }
    }

    for (p = (const unsigned char *) eq + 1; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            gw_api_key_error("field \"%s\": the value has a control "
                             "character", arg);
            return GW_API_KEY_USAGE;
        }
    }

    for (i = 0; i < conf->nfields; i++) {
        other = conf->fields[i];

        if (strncasecmp(other, arg, len) == 0 && other[len] == '=') {
            gw_api_key_error("field \"%s\": the name is given twice (case "
                             "does not count)", arg);
            return GW_API_KEY_USAGE;
        }
    }

    if (conf->nfields == GW_API_KEY_MAX_FIELDS) {
        gw_api_key_error("field \"%s\": more than %d fields", arg,
                         GW_API_KEY_MAX_FIELDS);
        return GW_API_KEY_USAGE;
    }

    conf->fields[conf->nfields++] = arg;

    return GW_API_KEY_OK;
}


static int
gw_api_key_help(void)
{
    fputs(gw_api_key_usage, stdout);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        gw_api_key_error("writing the usage failed: %s", strerror(errno));
        return GW_API_KEY_FAILED;
    }

    return GW_API_KEY_HELP;
}


/* "gk_" and 32 random bytes in unpadded base64url */

static int
gw_api_key_generate(unsigned char *key, size_t *len)
{
    size_t          i;
    unsigned int    bits;
    unsigned char  *p, bytes[GW_API_KEY_BYTES + 1];

    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    if (RAND_bytes(bytes, GW_API_KEY_BYTES) != 1) {
        gw_api_key_error("getting random bytes failed: %s",
                         gw_api_key_ssl_error());
        return GW_API_KEY_FAILED;
    }

    /*
     * 32 bytes are ten groups of three and two bytes more: a zero byte
     * completes the last group, whose fourth character, zeros alone, is
     * then left out
     */

    bytes[GW_API_KEY_BYTES] = 0;

    memcpy(key, GW_API_KEY_PREFIX, sizeof(GW_API_KEY_PREFIX) - 1);
    p = key + sizeof(GW_API_KEY_PREFIX) - 1;

    for (i = 0; i < GW_API_KEY_BYTES; i += 3) {
        bits = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];

        *p++ = alphabet[(bits >> 18) & 0x3f];
        *p++ = alphabet[(bits >> 12) & 0x3f];
        *p++ = alphabet[(bits >> 6) & 0x3f];
        *p++ = alphabet[bits & 0x3f];
    }

    OPENSSL_cleanse(bytes, sizeof(bytes));

    *len = GW_API_KEY_SIZE - 1;
    key[*len] = '\0';

    return GW_API_KEY_OK;
}


/*
 * A key read with read(2) into our own buffer, wiped afterwards, rather
 * than through stdio's.  From a terminal the line typed is enough; from a
 * pipe or a file, anything after that line is an error, as the tool would
 * otherwise import one key of several without a word.
 */

static int
gw_api_key_read(unsigned char *key, size_t size, size_t *len)
{
    int             tty;
    size_t          n;
    ssize_t         r;
    unsigned char  *p, *eol;

    tty = isatty(STDIN_FILENO);
    n = 0;

    while (n < size) {
        r = read(STDIN_FILENO, key + n, size - n);

        if (r == -1) {
            if (errno == EINTR) {
                continue;
            }

            gw_api_key_error("--key-stdin: reading stdin failed: %s",
                             strerror(errno));
            return GW_API_KEY_FAILED;
        }

        if (r == 0) {
            break;
        }

        n += r;

        if (tty && memchr(key, '\n', n)) {
            break;
        }
    }

    eol = memchr(key, '\n', n);

    if (eol) {
        if ((size_t) (eol + 1 - key) != n) {
            gw_api_key_error("--key-stdin: more than one line");
            return GW_API_KEY_USAGE;
        }

        if (eol > key && eol[-1] == '\r') {
            eol--;
        }

        n = eol - key;
    }

    if (n == 0) {
        gw_api_key_error("--key-stdin: empty key");
        return GW_API_KEY_USAGE;
    }

    if (n > GW_API_KEY_MAX) {
        gw_api_key_error("--key-stdin: a key longer than %d bytes, which "
                         "auth_api_key refuses", GW_API_KEY_MAX);
        return GW_API_KEY_USAGE;
    }

    for (p = key; p < key + n; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            gw_api_key_error("--key-stdin: the key has a control character");
            return GW_API_KEY_USAGE;
        }
    }

    /* nginx drops them around a header's value */

    if (key[0] == ' ' || key[n - 1] == ' ') {
        gw_api_key_error("--key-stdin: the key starts or ends with a space, "
                         "which a header cannot carry");
        return GW_API_KEY_USAGE;
    }

    *len = n;

    return GW_API_KEY_OK;
}


/* the line first: a key shown without it in the file would be of no use */

static int
gw_api_key_print(gw_api_key_conf_t *conf, unsigned char *key, size_t len)
{
    int            i;
    unsigned int   size;
    unsigned char  digest[EVP_MAX_MD_SIZE];

    if (EVP_Digest(key, len, digest, &size, EVP_sha256(), NULL) != 1
        || size != GW_API_KEY_DIGEST_LEN)
    {
        gw_api_key_error("hashing the key failed: %s",
                         gw_api_key_ssl_error());
        return GW_API_KEY_FAILED;
    }

    for (i = 0; i < GW_API_KEY_DIGEST_LEN; i++) {
        printf("%02x", digest[i]);
    }

    printf(" %s", conf->consumer);

    for (i = 0; i < conf->nfields; i++) {
        printf(" %s", conf->fields[i]);
    }

    putchar('\n');

    if (fflush(stdout) != 0 || ferror(stdout)) {
        gw_api_key_error("writing the line failed: %s", strerror(errno));
        return GW_API_KEY_FAILED;
    }

    if (conf->key_stdin) {
        return GW_API_KEY_OK;
    }

    fprintf(stderr, "key: %.*s\n", (int) len, key);

    if (fflush(stderr) != 0 || ferror(stderr)) {
        gw_api_key_error("writing the key failed: %s", strerror(errno));
        return GW_API_KEY_FAILED;
    }

    return GW_API_KEY_OK;
}


static const char *
gw_api_key_ssl_error(void)
{
    const char  *reason;

    reason = ERR_reason_error_string(ERR_get_error());

    return reason ? reason : "no reason given by OpenSSL";
}


/* one line, whatever an argument quoted in it holds */

static void
gw_api_key_error(const char *fmt, ...)
{
    int             n;
    char            buf[1024];
    va_list         args;
    unsigned char  *p;

    va_start(args, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);

    if (n < 0) {
        snprintf(buf, sizeof(buf), "%s", fmt);

    } else if ((size_t) n >= sizeof(buf)) {
        memcpy(buf + sizeof(buf) - sizeof("..."), "...", sizeof("..."));
    }

    fputs("gateway-api-key: ", stderr);

    for (p = (unsigned char *) buf; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "\\x%02x", *p);

        } else {
            fputc(*p, stderr);
        }
    }

    fputc('\n', stderr);
}
