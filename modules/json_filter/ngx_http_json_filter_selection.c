
/*
 * Selections in Google's partial-response syntax:
 *
 *     selection = item *( "," item )
 *     item      = path [ "(" selection ")" ]
 *     path      = name *( "/" name )
 *     name      = "*" / 1*( any visible character but ",/()*" )
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_json_filter.h"


typedef struct {
    ngx_pool_t             *pool;
    ngx_http_json_sel_t    *root;
    u_char                 *pos;
    u_char                 *last;
    ngx_uint_t              max_depth;
    const char             *error;
} ngx_http_json_sel_parser_t;


static ngx_int_t ngx_http_json_sel_list(ngx_http_json_sel_parser_t *sp,
    ngx_http_json_sel_t *node, ngx_uint_t depth);
static ngx_http_json_sel_t *ngx_http_json_sel_member(
    ngx_http_json_sel_parser_t *sp, ngx_http_json_sel_t *node,
    ngx_str_t *name);
static ngx_http_json_sel_t *ngx_http_json_sel_named(ngx_http_json_sel_t *sel,
    ngx_str_t *name);


ngx_http_json_sel_t   ngx_http_json_sel_whole;

static ngx_http_json_sel_t  *ngx_http_json_sel_whole_set[] = {
    &ngx_http_json_sel_whole
};


/* adds a selection to root, whose members must be an array */

ngx_int_t
ngx_http_json_sel_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_uint_t max_depth, ngx_http_json_sel_t *root, const char **error)
{
    ngx_http_json_sel_parser_t  sp;

    sp.pool = pool;
    sp.root = root;
    sp.pos = text->data;
    sp.last = text->data + text->len;
    sp.max_depth = max_depth;
    sp.error = NULL;

    if (ngx_http_json_sel_list(&sp, root, 1) != NGX_OK) {
        *error = sp.error ? sp.error : "no memory";
        return NGX_ERROR;
    }

    if (sp.pos != sp.last) {
        *error = (*sp.pos == ')')
                 ? "a closing parenthesis without its opening one"
                 : "unexpected character";
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_json_sel_list(ngx_http_json_sel_parser_t *sp,
    ngx_http_json_sel_t *node, ngx_uint_t depth)
{
    u_char               *start;
    ngx_str_t             name;
    ngx_uint_t            level;
    ngx_http_json_sel_t  *sel, scratch;

    for ( ;; ) {

        /* a path: name *( "/" name ) */

        sel = node;
        level = depth;

        for ( ;; ) {
            start = sp->pos;

            if (sp->pos < sp->last && *sp->pos == '*') {
                sp->pos++;

            } else {
                while (sp->pos < sp->last && *sp->pos > 0x20
                       && *sp->pos != 0x7f && *sp->pos != ','
                       && *sp->pos != '/' && *sp->pos != '('
                       && *sp->pos != ')' && *sp->pos != '*')
                {
                    sp->pos++;
                }
            }

            if (sp->pos == start) {
                sp->error = (sp->pos == sp->last) ? "a name expected at the end"
                                                  : "a name expected";
                return NGX_ERROR;
            }

            if (level > sp->max_depth) {
                sp->error = "nested too deep";
                return NGX_ERROR;
            }

            name.data = start;
            name.len = sp->pos - start;

            if (ngx_http_json_sel_is_whole(sel)) {

                /* a member already selected whole: still check the syntax */

                ngx_memzero(&scratch, sizeof(ngx_http_json_sel_t));
                scratch.members = ngx_array_create(sp->pool, 1,
                                                   sizeof(ngx_http_json_sel_t));
                if (scratch.members == NULL) {
                    return NGX_ERROR;
                }

                sel = &scratch;
            }

            sel = ngx_http_json_sel_member(sp, sel, &name);
            if (sel == NULL) {
                return NGX_ERROR;
            }

            if (sp->pos < sp->last && *sp->pos == '/') {
                sp->pos++;
                level++;
                continue;
            }

            break;
        }

        if (sp->pos < sp->last && *sp->pos == '(') {
            sp->pos++;

            if (ngx_http_json_sel_list(sp, sel, level + 1) != NGX_OK) {
                return NGX_ERROR;
            }

            if (sp->pos == sp->last || *sp->pos != ')') {
                sp->error = "an opening parenthesis without its closing one";
                return NGX_ERROR;
            }

            sp->pos++;

        } else {
            /* the whole value */
            sel->members = NULL;
            sel->wildcard = NULL;
        }

        if (sp->pos < sp->last && *sp->pos == ',') {
            sp->pos++;
            continue;
        }

        return NGX_OK;
    }
}


/*
 * The member of node with this name, made empty if it is new.  The root
 * counts the nodes made, for the stack of ngx_http_json_sel_set_init().
 */

static ngx_http_json_sel_t *
ngx_http_json_sel_member(ngx_http_json_sel_parser_t *sp,
    ngx_http_json_sel_t *node, ngx_str_t *name)
{
    ngx_http_json_sel_t  *sel;

    if (name->len == 1 && name->data[0] == '*') {
        if (node->wildcard) {
            return node->wildcard;
        }

        sel = ngx_pcalloc(sp->pool, sizeof(ngx_http_json_sel_t));
        if (sel == NULL) {
            return NULL;
        }

        node->wildcard = sel;

    } else {
        sel = ngx_http_json_sel_named(node, name);

        if (sel) {
            return sel;
        }

        sel = ngx_array_push(node->members);
        if (sel == NULL) {
            return NULL;
        }

        ngx_memzero(sel, sizeof(ngx_http_json_sel_t));
    }

    sp->root->nodes++;

    sel->name = *name;
    sel->members = ngx_array_create(sp->pool, 2, sizeof(ngx_http_json_sel_t));

    return sel->members ? sel : NULL;
}


/* a selection's root alone, on a stack for the sets below it */

ngx_int_t
ngx_http_json_sel_set_init(ngx_pool_t *pool, ngx_http_json_sel_t *root,
    ngx_http_json_sel_set_t *set)
{
    if (root == NULL) {
        set->node = NULL;
        set->n = 0;
        return NGX_OK;
    }

    if (ngx_http_json_sel_is_whole(root)) {
        set->node = ngx_http_json_sel_whole_set;
        set->n = 1;
        return NGX_OK;
    }

    set->node = ngx_palloc(pool,
                           (1 + root->nodes) * sizeof(ngx_http_json_sel_t *));
    if (set->node == NULL) {
        return NGX_ERROR;
    }

    set->node[0] = root;
    set->n = 1;

    return NGX_OK;
}


/*
 * What selects a member of the value that set selects: of each node, the
 * member of that name and "*" ("*(id),items(name)" keeps id and name of
 * items).  A NULL name, one too long to be told, is selected by "*" only.
 * The set found goes on the stack just above set, where that of an
 * earlier member of the same object was.
 */

void
ngx_http_json_sel_set_find(ngx_http_json_sel_set_t *set, ngx_str_t *name,
    ngx_http_json_sel_set_t *found)
{
    ngx_uint_t             i, n;
    ngx_http_json_sel_t   *sel, *member, **node;

    if (set->n == 0 || ngx_http_json_sel_set_is_whole(set)) {
        *found = *set;
        return;
    }

    node = set->node + set->n;
    n = 0;

    for (i = 0; i < set->n; i++) {
        sel = set->node[i];

        member = name ? ngx_http_json_sel_named(sel, name) : NULL;

        if (member) {
            if (ngx_http_json_sel_is_whole(member)) {
                goto whole;
            }

            node[n++] = member;
        }

        if (sel->wildcard) {
            if (ngx_http_json_sel_is_whole(sel->wildcard)) {
                goto whole;
            }

            node[n++] = sel->wildcard;
        }
    }

    found->node = node;
    found->n = n;

    return;

whole:

    found->node = ngx_http_json_sel_whole_set;
    found->n = 1;
}


static ngx_http_json_sel_t *
ngx_http_json_sel_named(ngx_http_json_sel_t *sel, ngx_str_t *name)
{
    ngx_uint_t            i;
    ngx_http_json_sel_t  *member;

    member = sel->members->elts;

    for (i = 0; i < sel->members->nelts; i++) {
        if (member[i].name.len == name->len
            && ngx_memcmp(member[i].name.data, name->data, name->len) == 0)
        {
            return &member[i];
        }
    }

    return NULL;
}
