
/*
 * The health of an upstream's servers, in the module's shared memory
 * zone, and how the balancer is kept from the unhealthy ones.
 *
 * Each server the upstream's live list has is a node; each check of the
 * upstream has a slot in it, with when the server is next due.  Every
 * worker ticks for every check, and takes under the zone's lock the
 * servers that are due: one worker checks a server once an interval.
 *
 * The balancer is not changed: the upstream's peer.init is wrapped, and
 * a peer the balancer picks that a check holds out is handed back, as
 * tried, and the balancer asked again.  So round robin, least_conn,
 * hash, random and keepalive keep their own choice, weights, max_fails
 * and backup servers, and "down" stays the configuration's and
 * upstream_discovery's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_health_check.h"
#include "ngx_gw_upstream.h"


/* servers a tick takes at most; more due are taken a millisecond later */
#define NGX_HTTP_HEALTH_CHECK_TAKE  64

/* picks handed back in one get at most: more than any list has peers */
#define NGX_HTTP_HEALTH_CHECK_MAX_PICKS  (2 * NGX_HTTP_HEALTH_CHECK_MAX_SERVERS)


typedef struct {
    ngx_http_health_check_upstream_t  *upstream;
    void                              *data;
    ngx_event_get_peer_pt              get;
    ngx_event_free_peer_pt             free;
    ngx_event_notify_peer_pt           notify;
#if (NGX_HTTP_SSL)
    ngx_event_set_peer_session_pt      set_session;
    ngx_event_save_peer_session_pt     save_session;
#endif
} ngx_http_health_check_peer_t;


typedef struct {
    ngx_http_health_check_node_t      *node;
    ngx_uint_t                         generation;
    ngx_sockaddr_t                     sockaddr;
    socklen_t                          socklen;
    ngx_str_t                          name;
    u_char                             text[NGX_SOCKADDR_STRLEN];
} ngx_http_health_check_take_t;


static ngx_http_health_check_main_conf_t *ngx_http_health_check_old(
    ngx_http_health_check_main_conf_t *hmcf);
static void ngx_http_health_check_keep(ngx_http_health_check_upstream_t *hcu,
    ngx_http_health_check_main_conf_t *ohmcf);
static ngx_uint_t ngx_http_health_check_sync(
    ngx_http_health_check_upstream_t *hcu);
static ngx_http_health_check_node_t *ngx_http_health_check_add(
    ngx_http_health_check_upstream_t *hcu, struct sockaddr *sockaddr,
    socklen_t socklen, ngx_str_t *name);
static ngx_http_health_check_node_t *ngx_http_health_check_find(
    ngx_http_health_check_shared_t *sh, struct sockaddr *sockaddr,
    socklen_t socklen);
static void ngx_http_health_check_set_state(
    ngx_http_health_check_upstream_t *hcu,
    ngx_http_health_check_node_t *node, ngx_uint_t state);
static ngx_uint_t ngx_http_health_check_node_state(
    ngx_http_health_check_upstream_t *hcu,
    ngx_http_health_check_node_t *node);
static ngx_uint_t ngx_http_health_check_held_out(
    ngx_http_health_check_upstream_t *hcu, struct sockaddr *sockaddr,
    socklen_t socklen);
static ngx_int_t ngx_http_health_check_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_health_check_hand_back(ngx_peer_connection_t *pc,
    ngx_http_health_check_peer_t *hp);
static void ngx_http_health_check_close_cached(ngx_connection_t *c);
static void ngx_http_health_check_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static void ngx_http_health_check_notify_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t type);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_health_check_set_session(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_health_check_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif


/*
 * Set up after the upstreams' zones, as it was added after them: their
 * live lists are in shared memory now, or the upstream has none.
 */

ngx_int_t
ngx_http_health_check_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    size_t                               len;
    ngx_uint_t                           i;
    ngx_slab_pool_t                     *shpool;
    ngx_http_health_check_t            **hc;
    ngx_http_upstream_rr_peers_t        *peers;
    ngx_http_health_check_upstream_t   **hcu;
    ngx_http_health_check_main_conf_t   *hmcf, *ohmcf;

    hmcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    hmcf->shpool = shpool;

    len = sizeof(" in health_check zone");

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in health_check zone%Z");

    /* the module tells once a full upstream, in its own words */

    shpool->log_nomem = 0;

    ohmcf = ngx_http_health_check_old(hmcf);

    hcu = hmcf->table.upstreams.elts;

    for (i = 0; i < hmcf->table.upstreams.nelts; i++) {

        peers = ngx_gw_upstream_shared_peers(hcu[i]->uscf);

        if (peers == NULL) {
            hc = hcu[i]->checks.elts;

            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "upstream \"%V\" has no shared memory zone: "
                          "\"health_check\" in %V:%ui needs \"zone\" in "
                          "the upstream block (or \"discovery\")",
                          &hcu[i]->uscf->host, &hc[0]->file, hc[0]->line);
            return NGX_ERROR;
        }

        hcu[i]->peers = peers;
        hcu[i]->shpool = shpool;

        hcu[i]->sh = ngx_slab_calloc(shpool,
                                     sizeof(ngx_http_health_check_shared_t));
        if (hcu[i]->sh == NULL) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "no memory in the health_check zone");
            return NGX_ERROR;
        }

        hcu[i]->pub.servers = &hcu[i]->sh->servers;

        if (ohmcf) {
            ngx_http_health_check_keep(hcu[i], ohmcf);
        }
    }

    return NGX_OK;
}


/* the configuration before this reload, whose zone is still mapped */

static ngx_http_health_check_main_conf_t *
ngx_http_health_check_old(ngx_http_health_check_main_conf_t *hmcf)
{
    ngx_uint_t        i;
    ngx_cycle_t      *old;
    ngx_shm_zone_t   *zone;
    ngx_list_part_t  *part;

    old = hmcf->cycle->old_cycle;

    if (old == NULL || old->shared_memory.part.elts == NULL) {
        return NULL;
    }

    part = &old->shared_memory.part;
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

        if (zone[i].tag == &ngx_http_health_check_module
            && zone[i].shm.name.len == hmcf->shm_zone->shm.name.len
            && ngx_strncmp(zone[i].shm.name.data,
                           hmcf->shm_zone->shm.name.data,
                           zone[i].shm.name.len)
               == 0)
        {
            return zone[i].data;
        }
    }
}


/*
 * "mandatory persistent": a server healthy before the reload starts up
 * for the persistent checks, and is checked at once like the others.
 */

static void
ngx_http_health_check_keep(ngx_http_health_check_upstream_t *hcu,
    ngx_http_health_check_main_conf_t *ohmcf)
{
    ngx_str_t                           name;
    ngx_uint_t                          i, persistent;
    ngx_http_health_check_t           **hc;
    ngx_http_health_check_node_t       *node, *onode;
    ngx_http_health_check_upstream_t  **ohcu, *old;

    hc = hcu->checks.elts;
    persistent = 0;

    for (i = 0; i < hcu->checks.nelts; i++) {
        persistent |= hc[i]->persistent;
    }

    if (!persistent || ohmcf->shpool == NULL) {
        return;
    }

    old = NULL;
    ohcu = ohmcf->table.upstreams.elts;

    for (i = 0; i < ohmcf->table.upstreams.nelts; i++) {
        if (ohcu[i]->sh
            && ohcu[i]->pub.name.len == hcu->pub.name.len
            && ngx_strncmp(ohcu[i]->pub.name.data, hcu->pub.name.data,
                           hcu->pub.name.len)
               == 0)
        {
            old = ohcu[i];
            break;
        }
    }

    if (old == NULL) {
        return;
    }

    /* the old workers may still write there: the old zone's lock */

    ngx_shmtx_lock(&ohmcf->shpool->mutex);
    ngx_shmtx_lock(&hcu->shpool->mutex);

    for (onode = (ngx_http_health_check_node_t *) old->sh->servers;
         onode;
         onode = (ngx_http_health_check_node_t *) onode->pub.next)
    {
        if (onode->pub.state != NGX_GW_HEALTH_UP) {
            continue;
        }

        name.len = onode->pub.name_len;
        name.data = onode->pub.name;

        node = ngx_http_health_check_add(hcu, &onode->sockaddr.sockaddr,
                                         onode->socklen, &name);
        if (node == NULL) {
            break;
        }

        for (i = 0; i < hcu->checks.nelts; i++) {
            if (hc[i]->persistent) {
                node->slots[i].state = NGX_HTTP_HEALTH_CHECK_UP;
            }
        }

        ngx_http_health_check_set_state(hcu, node,
                                 ngx_http_health_check_node_state(hcu, node));
    }

    ngx_shmtx_unlock(&hcu->shpool->mutex);
    ngx_shmtx_unlock(&ohmcf->shpool->mutex);
}


/*
 * The nodes follow the live list: a server added gets one, one removed
 * or marked down is gone.  Under the list's read lock and the zone's
 * lock; returns 1 if a server found no room.
 */

static ngx_uint_t
ngx_http_health_check_sync(ngx_http_health_check_upstream_t *hcu)
{
    ngx_uint_t                       round, full;
    ngx_http_health_check_node_t    *node, *cursor;
    ngx_http_upstream_rr_peer_t     *peer;
    ngx_http_upstream_rr_peers_t    *peers;
    ngx_http_health_check_shared_t  *sh;

    sh = hcu->sh;
    round = ++sh->round;
    full = 0;

    /* the list's order seldom changes: the next node is tried first */

    cursor = (ngx_http_health_check_node_t *) sh->servers;

    for (peers = hcu->peers; peers; peers = peers->next) {
        for (peer = peers->peer; peer; peer = peer->next) {

            if (peer->down) {
                continue;
            }

            if (cursor
                && cursor->pub.state != NGX_GW_HEALTH_GONE
                && ngx_cmp_sockaddr(&cursor->sockaddr.sockaddr,
                                    cursor->socklen, peer->sockaddr,
                                    peer->socklen, 1)
                   == NGX_OK)
            {
                node = cursor;

            } else {
                node = ngx_http_health_check_find(sh, peer->sockaddr,
                                                  peer->socklen);
            }

            if (node == NULL) {
                node = ngx_http_health_check_add(hcu, peer->sockaddr,
                                                 peer->socklen, &peer->name);
                if (node == NULL) {
                    full = 1;
                    continue;
                }
            }

            node->seen = round;
            node->peer = peer->sockaddr;

            cursor = (ngx_http_health_check_node_t *) node->pub.next;
        }
    }

    for (node = (ngx_http_health_check_node_t *) sh->servers;
         node;
         node = (ngx_http_health_check_node_t *) node->pub.next)
    {
        if (node->pub.state != NGX_GW_HEALTH_GONE && node->seen != round) {
            ngx_http_health_check_set_state(hcu, node, NGX_GW_HEALTH_GONE);
        }
    }

    return full;
}


/* a node for a new server: a gone one reused, or a new one; locked */

static ngx_http_health_check_node_t *
ngx_http_health_check_add(ngx_http_health_check_upstream_t *hcu,
    struct sockaddr *sockaddr, socklen_t socklen, ngx_str_t *name)
{
    ngx_uint_t                        i, fresh;
    ngx_http_health_check_t         **hc;
    ngx_http_health_check_node_t     *node;
    ngx_gw_health_server_t * volatile *last;
    ngx_http_health_check_shared_t   *sh;

    sh = hcu->sh;
    fresh = 0;

    for (last = &sh->servers; *last; last = &(*last)->next) {
        if ((*last)->state == NGX_GW_HEALTH_GONE) {
            break;
        }
    }

    node = (ngx_http_health_check_node_t *) *last;

    if (node == NULL) {
        if (sh->nservers == NGX_HTTP_HEALTH_CHECK_MAX_SERVERS) {
            return NULL;
        }

        node = ngx_slab_calloc_locked(hcu->shpool, hcu->node_size);
        if (node == NULL) {
            return NULL;
        }

        sh->nservers++;
        fresh = 1;
    }

    /* the readers skip it while gone, and see it whole once it is not */

    ngx_memcpy(&node->sockaddr, sockaddr,
               ngx_min(socklen, sizeof(ngx_sockaddr_t)));
    node->socklen = socklen;
    node->peer = NULL;
    node->generation = ++sh->generation;

    node->pub.checks = 0;
    node->pub.fails = 0;
    node->pub.unhealthy = 0;
    node->pub.last_passed = 0;
    node->pub.name_len = ngx_min(name->len, NGX_SOCKADDR_STRLEN);
    ngx_memcpy(node->pub.name, name->data, node->pub.name_len);

    hc = hcu->checks.elts;

    for (i = 0; i < hcu->checks.nelts; i++) {
        node->slots[i].state = hc[i]->mandatory
                               ? NGX_HTTP_HEALTH_CHECK_CHECKING
                               : NGX_HTTP_HEALTH_CHECK_UP;
        node->slots[i].fails = 0;
        node->slots[i].passes = 0;
        node->slots[i].next = 0;
        node->slots[i].busy = 0;
    }

    ngx_memory_barrier();

    ngx_http_health_check_set_state(hcu, node,
                                 ngx_http_health_check_node_state(hcu, node));

    if (fresh) {
        ngx_memory_barrier();
        *last = &node->pub;
    }

    return node;
}


/* a server in the list by its address, without the lock */

static ngx_http_health_check_node_t *
ngx_http_health_check_find(ngx_http_health_check_shared_t *sh,
    struct sockaddr *sockaddr, socklen_t socklen)
{
    ngx_http_health_check_node_t  *node;

    for (node = (ngx_http_health_check_node_t *) sh->servers;
         node;
         node = (ngx_http_health_check_node_t *) node->pub.next)
    {
        if (node->pub.state != NGX_GW_HEALTH_GONE
            && ngx_cmp_sockaddr(&node->sockaddr.sockaddr, node->socklen,
                                sockaddr, socklen, 1)
               == NGX_OK)
        {
            return node;
        }
    }

    return NULL;
}


/* locked; the count of held out servers follows */

static void
ngx_http_health_check_set_state(ngx_http_health_check_upstream_t *hcu,
    ngx_http_health_check_node_t *node, ngx_uint_t state)
{
    ngx_uint_t  was, held, holds;

    was = node->pub.state;

    held = (was == NGX_GW_HEALTH_UNHEALTHY || was == NGX_GW_HEALTH_CHECKING);
    holds = (state == NGX_GW_HEALTH_UNHEALTHY
             || state == NGX_GW_HEALTH_CHECKING);

    node->pub.state = state;

    if (held != holds) {
        if (holds) {
            hcu->sh->held_out++;

        } else {
            hcu->sh->held_out--;
        }
    }
}


/* any check that has it unhealthy takes it out; a new one waits */

static ngx_uint_t
ngx_http_health_check_node_state(ngx_http_health_check_upstream_t *hcu,
    ngx_http_health_check_node_t *node)
{
    ngx_uint_t  i, state;

    state = NGX_GW_HEALTH_UP;

    for (i = 0; i < hcu->checks.nelts; i++) {

        if (node->slots[i].state == NGX_HTTP_HEALTH_CHECK_UNHEALTHY) {
            return NGX_GW_HEALTH_UNHEALTHY;
        }

        if (node->slots[i].state == NGX_HTTP_HEALTH_CHECK_CHECKING) {
            state = NGX_GW_HEALTH_CHECKING;
        }
    }

    return state;
}


/* each worker's timer of a check: the servers due are taken and checked */

void
ngx_http_health_check_tick(ngx_event_t *ev)
{
    ngx_msec_t                        now, wait;
    ngx_uint_t                        n, i, full;
    ngx_msec_int_t                    d;
    ngx_http_health_check_t          *hc;
    ngx_http_health_check_take_t      take[NGX_HTTP_HEALTH_CHECK_TAKE];
    ngx_http_health_check_slot_t     *slot;
    ngx_http_health_check_node_t     *node;
    ngx_http_health_check_upstream_t *hcu;

    hc = ev->data;
    hcu = hc->upstream;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    now = ngx_current_msec;
    wait = hc->interval;
    n = 0;

    ngx_http_upstream_rr_peers_rlock(hcu->peers);
    ngx_shmtx_lock(&hcu->shpool->mutex);

    full = ngx_http_health_check_sync(hcu);

    for (node = (ngx_http_health_check_node_t *) hcu->sh->servers;
         node;
         node = (ngx_http_health_check_node_t *) node->pub.next)
    {
        if (node->pub.state == NGX_GW_HEALTH_GONE) {
            continue;
        }

        slot = &node->slots[hc->slot];

        /* a probe out; one whose worker died is given up after a while */

        if (slot->busy && (ngx_msec_int_t) (slot->busy - now) > 0) {
            continue;
        }

        d = (ngx_msec_int_t) (slot->next - now);

        if (d > 0) {
            wait = ngx_min(wait, (ngx_msec_t) d);
            continue;
        }

        if (n == NGX_HTTP_HEALTH_CHECK_TAKE) {
            wait = 1;
            break;
        }

        slot->busy = now + ngx_http_health_check_duration(hc);
        slot->next = now + hc->interval;

        take[n].node = node;
        take[n].generation = node->generation;
        ngx_memcpy(&take[n].sockaddr, &node->sockaddr, node->socklen);
        take[n].socklen = node->socklen;
        take[n].name.len = node->pub.name_len;
        take[n].name.data = take[n].text;
        ngx_memcpy(take[n].text, node->pub.name, node->pub.name_len);

        n++;
    }

    if (full && !hcu->sh->full) {
        hcu->sh->full = 1;

    } else {
        full = 0;
    }

    ngx_shmtx_unlock(&hcu->shpool->mutex);
    ngx_http_upstream_rr_peers_unlock(hcu->peers);

    if (full) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "health check: upstream \"%V\": no room for more "
                      "servers (%d at most): the others are not checked",
                      &hcu->pub.name, NGX_HTTP_HEALTH_CHECK_MAX_SERVERS);
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_health_check_probe(hc, take[i].node, take[i].generation,
                                        &take[i].sockaddr.sockaddr,
                                        take[i].socklen, &take[i].name)
            != NGX_OK)
        {
            /* no memory: the server is due again at once */

            ngx_shmtx_lock(&hcu->shpool->mutex);

            if (take[i].node->generation == take[i].generation) {
                take[i].node->slots[hc->slot].busy = 0;
                take[i].node->slots[hc->slot].next = now;
            }

            ngx_shmtx_unlock(&hcu->shpool->mutex);

            wait = ngx_min(wait, 1000);
        }
    }

    ngx_add_timer(ev, ngx_max(wait, 1));
}


/* a probe's end: reason NULL if the server passed */

void
ngx_http_health_check_result(ngx_http_health_check_t *hc,
    ngx_http_health_check_node_t *node, ngx_uint_t generation,
    ngx_str_t *name, u_char *reason, size_t len)
{
    ngx_uint_t                         changed;
    ngx_http_health_check_slot_t      *slot;
    ngx_http_health_check_upstream_t  *hcu;

    hcu = hc->upstream;
    slot = &node->slots[hc->slot];
    changed = 0;

    ngx_shmtx_lock(&hcu->shpool->mutex);

    if (node->generation != generation
        || node->pub.state == NGX_GW_HEALTH_GONE)
    {
        if (node->generation == generation) {
            slot->busy = 0;
        }

        ngx_shmtx_unlock(&hcu->shpool->mutex);
        return;
    }

    slot->busy = 0;
    node->pub.checks++;

    if (reason == NULL) {
        node->pub.last_passed = 1;
        slot->fails = 0;
        slot->passes++;

        if (slot->state == NGX_HTTP_HEALTH_CHECK_CHECKING
            || (slot->state == NGX_HTTP_HEALTH_CHECK_UNHEALTHY
                && slot->passes >= hc->passes))
        {
            slot->state = NGX_HTTP_HEALTH_CHECK_UP;
            changed = 1;
        }

    } else {
        node->pub.last_passed = 0;
        node->pub.fails++;
        slot->passes = 0;
        slot->fails++;

        if (slot->state == NGX_HTTP_HEALTH_CHECK_CHECKING
            || (slot->state == NGX_HTTP_HEALTH_CHECK_UP
                && slot->fails >= hc->fails))
        {
            slot->state = NGX_HTTP_HEALTH_CHECK_UNHEALTHY;
            node->pub.unhealthy++;
            changed = 1;
        }
    }

    if (changed) {
        ngx_http_health_check_set_state(hcu, node,
                                 ngx_http_health_check_node_state(hcu, node));
    }

    ngx_shmtx_unlock(&hcu->shpool->mutex);

    if (!changed) {
        return;
    }

    if (reason) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "health check of \"%V\": upstream \"%V\" server %V "
                      "is down: %*s",
                      &hc->uri, &hcu->pub.name, name, len, reason);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "health check of \"%V\": upstream \"%V\" server %V "
                      "is up", &hc->uri, &hcu->pub.name, name);
    }
}


/* a request's balancing: the balancer's, with our get and free around it */

ngx_int_t
ngx_http_health_check_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_t                *u;
    ngx_http_health_check_peer_t       *hp;
    ngx_http_health_check_upstream_t   *hcu;
    ngx_http_health_check_srv_conf_t   *hscf;

    hscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_health_check_module);
    hcu = hscf->upstream;

    if (hcu->init(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    hp = ngx_palloc(r->pool, sizeof(ngx_http_health_check_peer_t));
    if (hp == NULL) {
        return NGX_ERROR;
    }

    u = r->upstream;

    hp->upstream = hcu;
    hp->data = u->peer.data;
    hp->get = u->peer.get;
    hp->free = u->peer.free;
    hp->notify = u->peer.notify;

    u->peer.data = hp;
    u->peer.get = ngx_http_health_check_get_peer;
    u->peer.free = ngx_http_health_check_free_peer;

    if (u->peer.notify) {
        u->peer.notify = ngx_http_health_check_notify_peer;
    }

#if (NGX_HTTP_SSL)
    hp->set_session = u->peer.set_session;
    hp->save_session = u->peer.save_session;

    if (u->peer.set_session) {
        u->peer.set_session = ngx_http_health_check_set_session;
    }

    if (u->peer.save_session) {
        u->peer.save_session = ngx_http_health_check_save_session;
    }
#endif

    return NGX_OK;
}


/*
 * A held out peer is handed back to the balancer, which has marked it
 * tried, and the balancer picks again: another peer, a backup one, or
 * none (a single peer is picked again, and is the end).
 */

static ngx_int_t
ngx_http_health_check_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_check_peer_t *hp = data;

    ngx_int_t         rc;
    ngx_uint_t        n;
    struct sockaddr  *last;

    last = NULL;

    for (n = 0; n < NGX_HTTP_HEALTH_CHECK_MAX_PICKS; n++) {

        rc = hp->get(pc, hp->data);

        if (rc != NGX_OK && rc != NGX_DONE) {
            return rc;
        }

        if (!ngx_http_health_check_held_out(hp->upstream, pc->sockaddr,
                                            pc->socklen))
        {
            return rc;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "health check: %V held out", pc->name);

        if (pc->sockaddr == last) {
            ngx_http_health_check_hand_back(pc, hp);
            break;
        }

        last = pc->sockaddr;

        ngx_http_health_check_hand_back(pc, hp);
    }

    pc->name = &hp->upstream->uscf->host;

    return NGX_BUSY;
}


static ngx_uint_t
ngx_http_health_check_held_out(ngx_http_health_check_upstream_t *hcu,
    struct sockaddr *sockaddr, socklen_t socklen)
{
    ngx_uint_t                       state;
    ngx_http_health_check_node_t    *node;
    ngx_http_health_check_shared_t  *sh;

    sh = hcu->sh;

    if (sh->held_out == 0 && !hcu->mandatory) {
        return 0;
    }

    /* the peer the checks saw last, by its address in the list */

    for (node = (ngx_http_health_check_node_t *) sh->servers;
         node;
         node = (ngx_http_health_check_node_t *) node->pub.next)
    {
        if (node->peer == sockaddr
            && node->pub.state != NGX_GW_HEALTH_GONE
            && ngx_cmp_sockaddr(&node->sockaddr.sockaddr, node->socklen,
                                sockaddr, socklen, 1)
               == NGX_OK)
        {
            break;
        }
    }

    if (node == NULL) {
        node = ngx_http_health_check_find(sh, sockaddr, socklen);
    }

    /* a server not checked yet: mandatory checks hold it out */

    if (node == NULL) {
        return hcu->mandatory;
    }

    state = node->pub.state;

    return (state == NGX_GW_HEALTH_UNHEALTHY
            || state == NGX_GW_HEALTH_CHECKING);
}


/*
 * As a try that never started: the balancer's free with no failure,
 * and the tries left as they were.  A connection keepalive had for the
 * peer is closed as keepalive closes its own.
 */

static void
ngx_http_health_check_hand_back(ngx_peer_connection_t *pc,
    ngx_http_health_check_peer_t *hp)
{
    ngx_uint_t         tries;
    ngx_connection_t  *c;

    c = pc->connection;
    pc->connection = NULL;

    tries = pc->tries;
    hp->free(pc, hp->data, 0);
    pc->tries = tries;

    /* freed: nginx's upstream must not free it again */

    pc->sockaddr = NULL;
    pc->socklen = 0;

    if (c) {
        ngx_http_health_check_close_cached(c);
    }
}


static void
ngx_http_health_check_close_cached(ngx_connection_t *c)
{
#if (NGX_HTTP_SSL)

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_health_check_close_cached;
            return;
        }
    }

#endif

    if (c->pool) {
        ngx_destroy_pool(c->pool);
    }

    ngx_close_connection(c);
}


static void
ngx_http_health_check_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_health_check_peer_t *hp = data;

    hp->free(pc, hp->data, state);
}


static void
ngx_http_health_check_notify_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t type)
{
    ngx_http_health_check_peer_t *hp = data;

    hp->notify(pc, hp->data, type);
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_health_check_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_check_peer_t *hp = data;

    return hp->set_session(pc, hp->data);
}


static void
ngx_http_health_check_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_check_peer_t *hp = data;

    hp->save_session(pc, hp->data);
}

#endif
