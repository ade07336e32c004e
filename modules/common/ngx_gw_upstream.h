
/*
 * Where the servers of an upstream block live, for modules that look at
 * another module's upstreams (health_check) without including it.
 *
 * Once the shared memory zones are set up (in the init of a zone added
 * after the upstream blocks were parsed, and in the workers), the
 * balancer's list is uscf->peer.data, a round robin list.  It is in
 * shared memory, with peers->shpool set, when nginx's "zone" holds it or
 * when a module keeps it in a zone of its own and points peer.data at it
 * (upstream_discovery).  Such a list is read under
 * ngx_http_upstream_rr_peers_rlock(), changed under the write lock, and
 * may change at any time: a peer's address is copied, never kept, by
 * whoever reads it.  Its peers marked down get no requests; backup peers
 * are on peers->next.
 */


#ifndef _NGX_GW_UPSTREAM_H_INCLUDED_
#define _NGX_GW_UPSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the upstream's list if it is in shared memory, else NULL */

static ngx_inline ngx_http_upstream_rr_peers_t *
ngx_gw_upstream_shared_peers(ngx_http_upstream_srv_conf_t *uscf)
{
#if (NGX_HTTP_UPSTREAM_ZONE)
    ngx_http_upstream_rr_peers_t  *peers;

    peers = uscf->peer.data;

    if (peers && peers->shpool) {
        return peers;
    }
#endif

    return NULL;
}


#endif /* _NGX_GW_UPSTREAM_H_INCLUDED_ */
