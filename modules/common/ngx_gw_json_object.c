
/*
 * JSON held in memory: an object validated and split into its top-level
 * members, what those members hold, and the elements of an array.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gw_json.h"


static ngx_int_t ngx_gw_json_names_unique(ngx_array_t *names);
static int ngx_libc_cdecl ngx_gw_json_name_cmp(const void *one,
    const void *two);


ngx_int_t
ngx_gw_json_object_members(ngx_pool_t *pool, ngx_str_t *doc,
    ngx_uint_t max_depth, ngx_array_t *members, const char **error)
{
    u_char                *pos, *last, *name_buf;
    ngx_int_t              rc;
    ngx_str_t             *name, top_name[16];
    ngx_uint_t             top;
    ngx_gw_json_t          j;
    ngx_array_t           *names[NGX_GW_JSON_MAX_DEPTH + 1], top_names;
    ngx_gw_json_member_t  *member;

    /*
     * names[n] lists the names of the object open at depth n, for n up to
     * top; the names themselves stay where the tokenizer unescaped them,
     * one after another in name_buf, which the whole document fits
     */

    name_buf = ngx_pnalloc(pool, doc->len);
    if (name_buf == NULL) {
        return NGX_ABORT;
    }

    ngx_gw_json_init(&j, max_depth, name_buf, doc->len);

    top = 0;
    names[0] = NULL;
    member = NULL;
    pos = doc->data;
    last = doc->data + doc->len;

    for ( ;; ) {
        rc = ngx_gw_json_next(&j, &pos, last);

        if (rc == NGX_ERROR) {
            *error = j.error;
            return NGX_ERROR;
        }

        if (rc == NGX_DONE) {
            if (pos == last) {
                return NGX_OK;
            }

            continue;
        }

        if (rc == NGX_AGAIN) {
            (void) ngx_gw_json_finish(&j);
            *error = j.error;
            return NGX_ERROR;
        }

        switch (j.event) {

        case NGX_GW_JSON_MEMBER_NAME:

            while (top < j.depth) {
                names[++top] = NULL;
            }

            if (names[j.depth] == NULL) {
                if (j.depth == 1) {

                    /* the top level's names, usually few, on the stack */

                    top_names.elts = top_name;
                    top_names.nelts = 0;
                    top_names.size = sizeof(ngx_str_t);
                    top_names.nalloc = 16;
                    top_names.pool = pool;
                    names[1] = &top_names;

                } else {
                    names[j.depth] = ngx_array_create(pool, 8,
                                                      sizeof(ngx_str_t));
                    if (names[j.depth] == NULL) {
                        return NGX_ABORT;
                    }
                }
            }

            name = ngx_array_push(names[j.depth]);
            if (name == NULL) {
                return NGX_ABORT;
            }

            *name = j.name;

            j.name.data += j.name.len;
            j.name_cap -= j.name.len;

            if (j.depth == 1) {
                member = ngx_array_push(members);
                if (member == NULL) {
                    return NGX_ABORT;
                }

                member->name = *name;
            }

            break;

        case NGX_GW_JSON_VALUE_START:

            if (j.level == 0 && j.type != NGX_GW_JSON_OBJECT) {
                *error = "not an object";
                return NGX_ERROR;
            }

            if (j.level == 1) {
                member->type = j.type;
                member->value.data = j.mark;
            }

            break;

        case NGX_GW_JSON_VALUE_END:

            if (j.type == NGX_GW_JSON_OBJECT && j.depth < top
                && names[j.depth + 1] != NULL)
            {
                if (ngx_gw_json_names_unique(names[j.depth + 1]) != NGX_OK) {
                    *error = "duplicate member name";
                    return NGX_ERROR;
                }

                names[j.depth + 1]->nelts = 0;
            }

            if (j.level == 1) {
                member->value.len = j.mark - member->value.data;
            }

            break;
        }
    }
}


static ngx_int_t
ngx_gw_json_names_unique(ngx_array_t *names)
{
    ngx_str_t   *name;
    ngx_uint_t   i, n;

    if (names->nelts < 2) {
        return NGX_OK;
    }

    name = names->elts;

    if (names->nelts <= 8) {
        for (i = 1; i < names->nelts; i++) {
            for (n = 0; n < i; n++) {
                if (ngx_gw_json_name_cmp(&name[n], &name[i]) == 0) {
                    return NGX_DECLINED;
                }
            }
        }

        return NGX_OK;
    }

    ngx_qsort(name, names->nelts, sizeof(ngx_str_t), ngx_gw_json_name_cmp);

    for (i = 1; i < names->nelts; i++) {
        if (ngx_gw_json_name_cmp(&name[i - 1], &name[i]) == 0) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_gw_json_name_cmp(const void *one, const void *two)
{
    ngx_str_t  *a = (ngx_str_t *) one;
    ngx_str_t  *b = (ngx_str_t *) two;

    if (a->len != b->len) {
        return (a->len < b->len) ? -1 : 1;
    }

    return ngx_memcmp(a->data, b->data, a->len);
}


ngx_gw_json_member_t *
ngx_gw_json_member(ngx_array_t *members, u_char *name, size_t len)
{
    ngx_uint_t             i;
    ngx_gw_json_member_t  *member;

    member = members->elts;

    for (i = 0; i < members->nelts; i++) {
        if (member[i].name.len == len
            && ngx_memcmp(member[i].name.data, name, len) == 0)
        {
            return &member[i];
        }
    }

    return NULL;
}


ngx_int_t
ngx_gw_json_member_text(ngx_pool_t *pool, ngx_gw_json_member_t *member,
    ngx_str_t *text)
{
    u_char  *p;

    switch (member->type) {

    case NGX_GW_JSON_STRING:

        /* without escapes, the text inside the quotes is the value */

        if (ngx_strlchr(member->value.data, member->value.data
                                            + member->value.len, '\\')
            == NULL)
        {
            text->data = member->value.data + 1;
            text->len = member->value.len - 2;
            return NGX_OK;
        }

        text->data = ngx_pnalloc(pool, member->value.len);
        if (text->data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_gw_json_unescape(text->data, member->value.data + 1,
                                 member->value.len - 2);
        text->len = p - text->data;
        return NGX_OK;

    case NGX_GW_JSON_NULL:
        ngx_str_null(text);
        return NGX_OK;

    default:
        *text = member->value;
        return NGX_OK;
    }
}


void
ngx_gw_json_elements_init(ngx_gw_json_elements_t *elements, ngx_str_t *array,
    ngx_uint_t max_depth)
{
    ngx_gw_json_init(&elements->json, max_depth, NULL, 0);

    elements->pos = array->data;
    elements->last = array->data + array->len;
}


ngx_int_t
ngx_gw_json_element(ngx_gw_json_elements_t *elements,
    ngx_gw_json_member_t *element)
{
    ngx_int_t       rc;
    ngx_gw_json_t  *j;

    j = &elements->json;

    for ( ;; ) {
        rc = ngx_gw_json_next(j, &elements->pos, elements->last);

        if (rc == NGX_AGAIN) {
            /* the array is cut short */
            (void) ngx_gw_json_finish(j);
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        if (j->level == 0) {

            if (j->event == NGX_GW_JSON_VALUE_END) {
                return NGX_DONE;
            }

            if (j->type != NGX_GW_JSON_ARRAY) {
                j->error = "not an array";
                return NGX_ERROR;
            }

            continue;
        }

        if (j->event == NGX_GW_JSON_VALUE_START) {
            ngx_str_null(&element->name);
            element->type = j->type;
            element->value.data = j->mark;

            /* the tokenizer checks what is inside, and tells its end only */

            j->quiet = 1;
            j->quiet_level = 1;
            continue;
        }

        element->value.len = j->mark - element->value.data;

        return NGX_OK;
    }
}
