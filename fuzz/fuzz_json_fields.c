
/*
 * libFuzzer target for json_fields selections: the parser and the lookup
 * of ngx_http_json_filter_selection.c, with a bound on their memory.
 *
 * The input is a byte whose low three bits pick the nesting limit from
 * fz_depths[] (json_fields_max_depth), the selection, and optionally a
 * NUL and member paths to look up: names split by 0x01, paths by NUL.
 * More paths are made of the selection's own names and of a name it does
 * not have.  An independent parser written from the grammar in the
 * selection file's comment must accept exactly the selections the module
 * accepts, and reads each as the paths of its items: a path to a value is
 * selected if an item's path and it agree as far as both go ("*" agrees
 * with any name), and selected whole if an item ends on it or above it.
 * Looking each member up with ngx_http_json_sel_set_find(), level by
 * level from the root's set, must agree.
 *
 * Parsing a selection (ngx_http_json_sel_parse()) may take from the pool
 * at most
 * FZ_BYTES_PER_BYTE bytes for each byte of the selection, plus
 * FZ_BYTES_BASE: per-request work must be bounded by the request's own
 * bytes, whatever the selection's shape.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_json_filter.h"
#include "ngx_fuzz.h"


/*
 * A name costs its node (32 bytes) and its members' array (40 bytes and
 * room for 2 nodes), and may make its parent's array grow: selections
 * without "*" took at most 104 bytes a byte in a million runs.
 */
#define FZ_BYTES_PER_BYTE  256
#define FZ_BYTES_BASE      4096

#define FZ_MAX_PATH        32
#define FZ_MADE_PATHS      32


typedef struct {
    ngx_str_t            name;
    ngx_int_t            parent;       /* -1: the root */
    ngx_uint_t           depth;
    ngx_uint_t           leaf;         /* an item selecting a whole value */
} fz_node_t;


typedef struct {
    u_char              *pos;
    u_char              *last;
    ngx_uint_t           max_depth;
    fz_node_t           *node;
    ngx_uint_t           nnodes;
} fz_parser_t;


static const ngx_uint_t  fz_depths[] = { 8, 1, 2, 3, 4, 16, 64, 256 };


static ngx_int_t fz_list(fz_parser_t *fp, ngx_int_t parent, ngx_uint_t depth);


/* name = "*" / 1*( any visible character but ",/()*" ) */

static ngx_int_t
fz_name(fz_parser_t *fp, ngx_str_t *name)
{
    u_char  *start;

    start = fp->pos;

    if (fp->pos < fp->last && *fp->pos == '*') {
        fp->pos++;

    } else {
        while (fp->pos < fp->last && *fp->pos >= 0x21 && *fp->pos != 0x7f
               && ngx_strlchr((u_char *) ",/()*", (u_char *) ",/()*" + 5,
                              *fp->pos)
                  == NULL)
        {
            fp->pos++;
        }
    }

    name->data = start;
    name->len = fp->pos - start;

    return name->len ? NGX_OK : NGX_ERROR;
}


/* item = path [ "(" selection ")" ], path = name *( "/" name ) */

static ngx_int_t
fz_item(fz_parser_t *fp, ngx_int_t parent, ngx_uint_t depth)
{
    fz_node_t  *node;

    for ( ;; ) {
        if (depth > fp->max_depth) {
            return NGX_ERROR;
        }

        node = &fp->node[fp->nnodes];

        if (fz_name(fp, &node->name) != NGX_OK) {
            return NGX_ERROR;
        }

        node->parent = parent;
        node->depth = depth;
        node->leaf = 0;
        parent = fp->nnodes++;

        if (fp->pos < fp->last && *fp->pos == '/') {
            fp->pos++;
            depth++;
            continue;
        }

        break;
    }

    if (fp->pos < fp->last && *fp->pos == '(') {
        fp->pos++;

        if (fz_list(fp, parent, depth + 1) != NGX_OK) {
            return NGX_ERROR;
        }

        if (fp->pos == fp->last || *fp->pos != ')') {
            return NGX_ERROR;
        }

        fp->pos++;

        return NGX_OK;
    }

    node->leaf = 1;

    return NGX_OK;
}


/* selection = item *( "," item ) */

static ngx_int_t
fz_list(fz_parser_t *fp, ngx_int_t parent, ngx_uint_t depth)
{
    for ( ;; ) {
        if (fz_item(fp, parent, depth) != NGX_OK) {
            return NGX_ERROR;
        }

        if (fp->pos < fp->last && *fp->pos == ',') {
            fp->pos++;
            continue;
        }

        return NGX_OK;
    }
}


static ngx_uint_t
fz_agree(ngx_str_t *item, ngx_str_t *member)
{
    return (item->len == 1 && item->data[0] == '*')
           || (item->len == member->len
               && ngx_memcmp(item->data, member->data, member->len) == 0);
}


/*
 * What the items select of the path's first n names: 0, nothing; 1, the
 * value, with some of its members; 2, the whole value.
 */

static ngx_uint_t
fz_expect(fz_parser_t *fp, ngx_str_t *path, ngx_uint_t n)
{
    ngx_int_t    k;
    ngx_uint_t   i, selected;
    fz_node_t   *node;

    selected = 0;

    for (i = 0; i < fp->nnodes; i++) {
        node = &fp->node[i];

        if (!node->leaf) {
            continue;
        }

        /* an item's path, from its end: agree where both go */

        for (k = i; k != -1; k = fp->node[k].parent) {
            if (fp->node[k].depth <= n
                && !fz_agree(&fp->node[k].name, &path[fp->node[k].depth - 1]))
            {
                break;
            }
        }

        if (k != -1) {
            continue;
        }

        if (node->depth <= n) {
            return 2;
        }

        selected = 1;
    }

    return selected;
}


static void
fz_lookup(fz_parser_t *fp, ngx_pool_t *pool, ngx_http_json_sel_t *root,
    ngx_str_t *path, ngx_uint_t n)
{
    ngx_uint_t                expect, i;
    ngx_http_json_sel_set_t   set, found;

    ngx_fuzz_assert(ngx_http_json_sel_set_init(pool, root, &set) == NGX_OK);

    for (i = 1; i <= n; i++) {
        ngx_http_json_sel_set_find(&set, &path[i - 1], &found);
        expect = fz_expect(fp, path, i);

        if (found.n == 0) {
            ngx_fuzz_assert(expect == 0);
            return;
        }

        ngx_fuzz_assert(expect
                        == (ngx_http_json_sel_set_is_whole(&found) ? 2 : 1));

        set = found;
    }
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
    u_char               *text, *p, *last, *q, *nul;
    size_t                len;
    uint32_t              seed;
    ngx_int_t             rc;
    ngx_str_t             sel_text, path[FZ_MAX_PATH], other;
    ngx_uint_t            i, n, r, names, made;
    ngx_pool_t           *pool;
    const char           *error;
    fz_parser_t           fp;
    ngx_http_json_sel_t  *root;

    if (size < 1) {
        return 0;
    }

    nul = memchr(data + 1, '\0', size - 1);
    len = (nul ? nul : data + size) - (data + 1);

    text = ngx_fuzz_dup(data + 1, len);
    sel_text.data = text;
    sel_text.len = len;

    fp.pos = text;
    fp.last = text + len;
    fp.max_depth = fz_depths[data[0] & 0x07];
    fp.node = malloc((len + 1) * sizeof(fz_node_t));
    fp.nnodes = 0;
    ngx_fuzz_assert(fp.node != NULL);

    rc = fz_list(&fp, -1, 1);

    if (rc == NGX_OK && fp.pos != fp.last) {
        rc = NGX_ERROR;
    }

    pool = ngx_fuzz_pool();

    /* as the module makes the root of a request's selection */

    root = ngx_pcalloc(pool, sizeof(ngx_http_json_sel_t));
    ngx_fuzz_assert(root != NULL);
    root->members = ngx_array_create(pool, 4, sizeof(ngx_http_json_sel_t));
    ngx_fuzz_assert(root->members != NULL);

    ngx_fuzz_allocated = 0;
    ngx_fuzz_alloc_limit = FZ_BYTES_PER_BYTE * len + FZ_BYTES_BASE;
    ngx_fuzz_alloc_why = "a selection took more memory than a constant "
                         "times its length";

    error = NULL;

    if (ngx_http_json_sel_parse(pool, &sel_text, fp.max_depth, root, &error)
        != NGX_OK)
    {
        ngx_fuzz_alloc_limit = 0;

        ngx_fuzz_assert(error != NULL);
        ngx_fuzz_assert(rc == NGX_ERROR);

        goto done;
    }

    ngx_fuzz_assert(rc == NGX_OK);

    ngx_fuzz_alloc_limit = 0;

    /* the paths of the input */

    p = nul ? nul + 1 : (u_char *) data + size;
    last = (u_char *) data + size;

    while (p < last) {
        nul = ngx_strlchr(p, last, '\0');

        if (nul == NULL) {
            nul = last;
        }

        for (n = 0; p < nul && n < FZ_MAX_PATH; n++) {
            q = ngx_strlchr(p, nul, '\1');

            if (q == NULL) {
                q = nul;
            }

            path[n].data = p;
            path[n].len = q - p;
            p = (q < nul) ? q + 1 : q;
        }

        fz_lookup(&fp, pool, root, path, n);

        p = nul + 1;
    }

    /* paths of the selection's names, and of one it does not have */

    names = fp.nnodes;
    ngx_str_set(&other, "\xff");
    seed = (uint32_t) len * 2654435761u + data[0];

    for (made = 0; made < FZ_MADE_PATHS && names; made++) {
        seed = seed * 1103515245 + 12345;
        n = (seed >> 16) % ngx_min(fp.max_depth + 1, FZ_MAX_PATH) + 1;

        for (i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            r = (seed >> 16) % (names + 1);

            /* "*" itself is only a member name like another */
            path[i] = (r == names) ? other : fp.node[r].name;
        }

        fz_lookup(&fp, pool, root, path, n);
    }

done:

    ngx_destroy_pool(pool);
    free(fp.node);
    free(text);

    return 0;
}
