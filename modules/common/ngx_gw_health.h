
/*
 * The state of actively checked upstream servers, as health_check keeps
 * it and gateway_metrics reads it at scrape time, neither module
 * including the other.
 *
 * health_check owns a shared memory zone named NGX_GW_HEALTH_ZONE, tagged
 * with its module.  In each cycle, that zone's ngx_shm_zone_t data is the
 * cycle's table: one entry per checked upstream, whose servers are a list
 * in shared memory.  Entries are added at the end and never freed while
 * the cycle lives, and each field is a machine word written whole:
 * readers walk the list without a lock.  A server no longer in the
 * upstream stays in the list, NGX_GW_HEALTH_GONE, and may be reused for
 * another one, its counters starting again from 0.
 */


#ifndef _NGX_GW_HEALTH_H_INCLUDED_
#define _NGX_GW_HEALTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_GW_HEALTH_ZONE         "ngx_http_health_check"
#define NGX_GW_HEALTH_MODULE       "ngx_http_health_check_module"

#define NGX_GW_HEALTH_GONE         0
#define NGX_GW_HEALTH_UP           1
#define NGX_GW_HEALTH_UNHEALTHY    2      /* failed its checks */
#define NGX_GW_HEALTH_CHECKING     3      /* mandatory, not checked yet */


typedef struct ngx_gw_health_server_s  ngx_gw_health_server_t;

struct ngx_gw_health_server_s {
    ngx_gw_health_server_t * volatile  next;
    ngx_atomic_t                       state;
    ngx_atomic_t                       checks;       /* done */
    ngx_atomic_t                       fails;        /* checks failed */
    ngx_atomic_t                       unhealthy;    /* times taken out */
    ngx_atomic_t                       last_passed;  /* 1 or 0 */
    size_t                             name_len;
    u_char                             name[NGX_SOCKADDR_STRLEN];
};


typedef struct {
    ngx_str_t                          name;         /* the upstream's */
    ngx_gw_health_server_t * volatile *servers;
} ngx_gw_health_upstream_t;


typedef struct {
    ngx_array_t                        upstreams;    /* of pointers */
} ngx_gw_health_table_t;


/* the table of the cycle, or NULL without health_check */

static ngx_inline ngx_gw_health_table_t *
ngx_gw_health_table(ngx_cycle_t *cycle)
{
    ngx_uint_t        i;
    ngx_module_t     *module;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    part = &cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].shm.name.len != sizeof(NGX_GW_HEALTH_ZONE) - 1
            || ngx_strncmp(zone[i].shm.name.data, NGX_GW_HEALTH_ZONE,
                           sizeof(NGX_GW_HEALTH_ZONE) - 1)
               != 0)
        {
            continue;
        }

        /* nginx's own zones are tagged with modules, as this one is */

        module = zone[i].tag;

        if (module == NULL
            || ngx_strcmp(module->name, NGX_GW_HEALTH_MODULE) != 0)
        {
            return NULL;
        }

        return zone[i].data;
    }
}


#endif /* _NGX_GW_HEALTH_H_INCLUDED_ */
