
/*
 * Upstream servers from etcd, followed while nginx runs.  The list is a
 * round robin peer list in shared memory, locked as nginx's upstream zone
 * module locks its own, so nginx's round robin, with weights, max_fails
 * and proxy_next_upstream, balances over it unchanged; the module only
 * adds, removes and reweighs peers when etcd's answer changes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_upstream_discovery.h"
#include "ngx_gw_conf.h"


/* a removed peer's place is reused this long after, once unused */
#define NGX_HTTP_UPSTREAM_DISCOVERY_LINGER  60

#define NGX_HTTP_UPSTREAM_DISCOVERY_MAX_BACKOFF  10000


typedef struct {
    ngx_array_t                         upstreams;   /* conf_t * */
} ngx_http_upstream_discovery_main_conf_t;


static ngx_int_t ngx_http_upstream_discovery_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_upstream_discovery_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_upstream_discovery_copy(
    ngx_http_upstream_discovery_conf_t *dcf);
static ngx_http_upstream_discovery_peer_t *ngx_http_upstream_discovery_alloc(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_addr_t *addr,
    ngx_str_t *server);
static ngx_int_t ngx_http_upstream_discovery_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static void ngx_http_upstream_discovery_answered(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_array_t *instances,
    const char *error);
static void ngx_http_upstream_discovery_apply(
    ngx_http_upstream_discovery_conf_t *dcf, ngx_array_t *instances);
static ngx_http_upstream_discovery_peer_t *ngx_http_upstream_discovery_place(
    ngx_http_upstream_discovery_conf_t *dcf,
    ngx_http_upstream_discovery_instance_t *instance, time_t now);
static void ngx_http_upstream_discovery_count(
    ngx_http_upstream_rr_peers_t *peers);
static void ngx_http_upstream_discovery_timer(ngx_event_t *ev);
static ngx_int_t ngx_http_upstream_discovery_init_process(ngx_cycle_t *cycle);
static void ngx_http_upstream_discovery_exit_process(ngx_cycle_t *cycle);
static void *ngx_http_upstream_discovery_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_upstream_discovery_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_upstream_discovery(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_upstream_discovery_members(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *list,
    ngx_uint_t *ssl);
static char *ngx_http_upstream_discovery_credentials(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *file);
#if (NGX_HTTP_SSL)
static char *ngx_http_upstream_discovery_tls(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf, ngx_uint_t https);
#endif


static ngx_command_t  ngx_http_upstream_discovery_commands[] = {

    { ngx_string("discovery"),
      NGX_HTTP_UPS_CONF|NGX_CONF_1MORE,
      ngx_http_upstream_discovery,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upstream_discovery_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_upstream_discovery_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_upstream_discovery_create_srv_conf,
                                           /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_upstream_discovery_module = {
    NGX_MODULE_V1,
    &ngx_http_upstream_discovery_module_ctx, /* module context */
    ngx_http_upstream_discovery_commands,  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_upstream_discovery_init_process, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_upstream_discovery_exit_process, /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the server lines, if any, as round robin would balance them */

static ngx_int_t
ngx_http_upstream_discovery_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                           i;
    ngx_http_upstream_server_t          *server;
    ngx_http_upstream_discovery_conf_t  *dcf;

    dcf = ngx_http_conf_upstream_srv_conf(us,
                                          ngx_http_upstream_discovery_module);

    /* the directive's stand-in server goes before round robin sees them */

    server = us->servers->elts;

    for (i = 0; i < us->servers->nelts; i++) {
        if (server[i].naddrs == 0) {
            ngx_memmove(&server[i], &server[i + 1],
                        (us->servers->nelts - i - 1)
                        * sizeof(ngx_http_upstream_server_t));
            us->servers->nelts--;
            break;
        }
    }

    if (us->servers->nelts) {
        if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
            return NGX_ERROR;
        }

        dcf->conf_peers = us->peer.data;
    }

    us->peer.init = ngx_http_upstream_discovery_init_peer;

    return NGX_OK;
}


/*
 * A zone kept across a reload keeps its list; a new one starts with the
 * server lines, until etcd first answers.  The upstream's peer.data is
 * the list, for other modules (ngx_gw_upstream.h).
 */

static ngx_int_t
ngx_http_upstream_discovery_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_upstream_discovery_conf_t  *odcf = data;

    size_t                                len;
    uint32_t                              prefix;
    ngx_http_upstream_discovery_conf_t   *dcf;
    ngx_http_upstream_discovery_shctx_t  *sh;

    dcf = shm_zone->data;

    prefix = ngx_crc32_long(dcf->prefix.data, dcf->prefix.len);

    if (odcf) {
        dcf->sh = odcf->sh;
        dcf->shpool = odcf->shpool;
        dcf->upstream->peer.data = &dcf->sh->peers;

        /* another prefix: its list is read even if etcd did not change */

        if (dcf->sh->prefix != prefix) {
            ngx_shmtx_lock(&dcf->shpool->mutex);
            dcf->sh->prefix = prefix;
            dcf->sh->answered = 0;
            ngx_shmtx_unlock(&dcf->shpool->mutex);
        }

        return NGX_OK;
    }

    dcf->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        dcf->sh = dcf->shpool->data;
        dcf->upstream->peer.data = &dcf->sh->peers;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(dcf->shpool,
                         sizeof(ngx_http_upstream_discovery_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    dcf->sh = sh;
    dcf->shpool->data = sh;
    dcf->upstream->peer.data = &sh->peers;

    sh->peers.shpool = dcf->shpool;
    sh->peers.name = &sh->name;
    sh->backoff = dcf->interval;
    sh->prefix = prefix;

    sh->name.data = ngx_slab_alloc(dcf->shpool, dcf->upstream->host.len);
    if (sh->name.data == NULL) {
        return NGX_ERROR;
    }

    sh->name.len = dcf->upstream->host.len;
    ngx_memcpy(sh->name.data, dcf->upstream->host.data, sh->name.len);

    len = sizeof(" in discovery zone \"\"") + shm_zone->shm.name.len;

    dcf->shpool->log_ctx = ngx_slab_alloc(dcf->shpool, len);
    if (dcf->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(dcf->shpool->log_ctx, " in discovery zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is told once a change, by the module */

    dcf->shpool->log_nomem = 0;

    return ngx_http_upstream_discovery_copy(dcf);
}


static ngx_int_t
ngx_http_upstream_discovery_copy(ngx_http_upstream_discovery_conf_t *dcf)
{
    ngx_addr_t                           addr;
    ngx_http_upstream_rr_peer_t         *peer, **last;
    ngx_http_upstream_discovery_peer_t  *dp;

    if (dcf->conf_peers == NULL) {
        return NGX_OK;
    }

    last = &dcf->sh->peers.peer;

    for (peer = dcf->conf_peers->peer; peer; peer = peer->next) {
        addr.sockaddr = peer->sockaddr;
        addr.socklen = peer->socklen;
        addr.name = peer->name;

        dp = ngx_http_upstream_discovery_alloc(dcf, &addr, &peer->server);
        if (dp == NULL) {
            return NGX_ERROR;
        }

        dp->peer.weight = peer->weight;
        dp->peer.effective_weight = peer->weight;
        dp->peer.max_fails = peer->max_fails;
        dp->peer.fail_timeout = peer->fail_timeout;
        dp->peer.max_conns = peer->max_conns;
        dp->peer.down = peer->down;
        dp->from_conf = 1;

        *last = &dp->peer;
        last = &dp->peer.next;
    }

    ngx_http_upstream_discovery_count(&dcf->sh->peers);

    return NGX_OK;
}


/* a peer in the zone, with the defaults of a server line */

static ngx_http_upstream_discovery_peer_t *
ngx_http_upstream_discovery_alloc(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_addr_t *addr, ngx_str_t *server)
{
    u_char                              *p;
    ngx_http_upstream_discovery_peer_t  *dp;

    dp = ngx_slab_calloc_locked(dcf->shpool,
                                sizeof(ngx_http_upstream_discovery_peer_t));
    if (dp == NULL) {
        return NULL;
    }

    p = ngx_slab_alloc_locked(dcf->shpool,
                              addr->socklen + addr->name.len + server->len);
    if (p == NULL) {
        ngx_slab_free_locked(dcf->shpool, dp);
        return NULL;
    }

    dp->peer.sockaddr = (struct sockaddr *) p;
    dp->peer.socklen = addr->socklen;
    p = ngx_cpymem(p, addr->sockaddr, addr->socklen);

    dp->peer.name.data = p;
    dp->peer.name.len = addr->name.len;
    p = ngx_cpymem(p, addr->name.data, addr->name.len);

    dp->peer.server.data = p;
    dp->peer.server.len = server->len;
    ngx_memcpy(p, server->data, server->len);

    dp->peer.weight = 1;
    dp->peer.effective_weight = 1;
    dp->peer.max_fails = 1;
    dp->peer.fail_timeout = 10;

    return dp;
}


/*
 * As round robin's own, but over the zone's list, and with room in the
 * tried bitmap for every peer the list may hold: it may grow while the
 * request is served.
 */

static ngx_int_t
ngx_http_upstream_discovery_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_rr_peers_t        *peers;
    ngx_http_upstream_rr_peer_data_t    *rrp;
    ngx_http_upstream_discovery_conf_t  *dcf;

    dcf = ngx_http_conf_upstream_srv_conf(us,
                                          ngx_http_upstream_discovery_module);

    rrp = ngx_pcalloc(r->pool, sizeof(ngx_http_upstream_rr_peer_data_t));
    if (rrp == NULL) {
        return NGX_ERROR;
    }

    rrp->tried = ngx_pcalloc(r->pool,
                             NGX_HTTP_UPSTREAM_DISCOVERY_MAX_PEERS / 8);
    if (rrp->tried == NULL) {
        return NGX_ERROR;
    }

    peers = &dcf->sh->peers;

    /*
     * nginx 1.27.3 gave a zone's list a "config" counter, which tells a
     * request that the list was rebuilt under it, and peers that are freed
     * as "zombies" once their "refs" drop to zero.  This list is changed in
     * place: peers.config stays NULL and no peer is made a zombie, so
     * round robin balances over the list as it is now, as in 1.22.
     */

    rrp->peers = peers;
    rrp->current = NULL;
    rrp->config = 0;

    r->upstream->peer.data = rrp;
    r->upstream->peer.get = ngx_http_upstream_get_round_robin_peer;
    r->upstream->peer.free = ngx_http_upstream_free_round_robin_peer;

    ngx_http_upstream_rr_peers_rlock(peers);

    /* with no live peer, one try: round robin answers "no live upstreams" */

    r->upstream->peer.tries = ngx_max(peers->tries, 1);

    ngx_http_upstream_rr_peers_unlock(peers);

#if (NGX_HTTP_SSL)
    r->upstream->peer.set_session =
                               ngx_http_upstream_set_round_robin_peer_session;
    r->upstream->peer.save_session =
                               ngx_http_upstream_save_round_robin_peer_session;
#endif

    return NGX_OK;
}


/*
 * What etcd said.  A member that failed leaves its place to the next at
 * once, told by a warning; once every member has failed in a row, one
 * error line tells the outage, and the members are asked again after a
 * backoff that doubles up to 10s.  The first answer after a sync starts
 * the watch.
 */

static void
ngx_http_upstream_discovery_answered(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_array_t *instances, const char *error)
{
    ngx_uint_t                             live, n;
    ngx_msec_t                             delay;
    ngx_http_upstream_discovery_shctx_t   *sh;
    ngx_http_upstream_discovery_member_t  *member;

    sh = dcf->sh;
    member = dcf->members.elts;
    n = dcf->members.nelts;

    if (instances == NULL && error) {

        /* the last list stays */

        ngx_shmtx_lock(&dcf->shpool->mutex);

        live = sh->peers.tries;
        delay = 1;

        if (dcf->tried % n == 0) {
            sh->backoff = ngx_min(sh->backoff * 2,
                                  NGX_HTTP_UPSTREAM_DISCOVERY_MAX_BACKOFF);
            delay = sh->backoff;
        }

        if (sh->failing) {
            ngx_shmtx_unlock(&dcf->shpool->mutex);

        } else if (dcf->tried < n) {
            ngx_shmtx_unlock(&dcf->shpool->mutex);

            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "discovery: upstream \"%V\": etcd at %V failed: "
                          "%s, trying %V", &dcf->upstream->host, dcf->failed,
                          error, &member[dcf->member].addr.name);

        } else {
            sh->failing = 1;

            ngx_shmtx_unlock(&dcf->shpool->mutex);

            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "discovery: upstream \"%V\": etcd at %V failed: "
                          "%s, keeping %ui instances",
                          &dcf->upstream->host, dcf->failed, error, live);
        }

        /* nginx would keep a timer less than 300ms away as it is */

        if (dcf->timer.timer_set) {
            ngx_del_timer(&dcf->timer);
        }

        ngx_add_timer(&dcf->timer, delay);

        return;
    }

    /*
     * An outage ends once a read succeeds while the watch runs: a member
     * that answers reads but fails every watch keeps the list in step
     * with its reads, and the outage is told once.
     */

    ngx_shmtx_lock(&dcf->shpool->mutex);

    sh->member = dcf->member;
    sh->backoff = dcf->interval;

    if (sh->failing && dcf->tried == 0) {
        sh->failing = 0;

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "discovery: upstream \"%V\": etcd at %V answers again",
                      &dcf->upstream->host, &member[dcf->member].addr.name);
    }

    ngx_shmtx_unlock(&dcf->shpool->mutex);

    if (instances) {
        ngx_http_upstream_discovery_apply(dcf, instances);
    }

    if (!dcf->watching && !ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_http_upstream_discovery_etcd_watch(dcf);
    }
}


/*
 * The list becomes etcd's: listed peers take their weights, others are
 * marked down, new instances are added.  Peers are never freed while
 * listed or in use, so a request in flight keeps its peer.
 */

static void
ngx_http_upstream_discovery_apply(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_array_t *instances)
{
    time_t                                   now;
    ngx_uint_t                               i, found, full;
    ngx_http_upstream_rr_peer_t             *peer, **last;
    ngx_http_upstream_rr_peers_t            *peers;
    ngx_http_upstream_discovery_peer_t      *dp;
    ngx_http_upstream_discovery_instance_t  *instance;

    now = ngx_time();
    peers = &dcf->sh->peers;
    instance = instances->elts;
    full = 0;

    ngx_http_upstream_rr_peers_wlock(peers);
    ngx_shmtx_lock(&dcf->shpool->mutex);

    for (peer = peers->peer; peer; peer = peer->next) {
        dp = (ngx_http_upstream_discovery_peer_t *) peer;

        found = 0;

        for (i = 0; i < instances->nelts; i++) {

            /* two keys may name one address: a peer each */

            if (instance[i].weight == 0) {
                continue;
            }

            if (ngx_cmp_sockaddr(peer->sockaddr, peer->socklen,
                                 instance[i].addr.sockaddr,
                                 instance[i].addr.socklen, 1)
                == NGX_OK)
            {
                found = 1;
                break;
            }
        }

        if (found) {

            /*
             * a server line that etcd lists too is etcd's from now on,
             * "down" or not
             */

            if (dp->removed || dp->from_conf) {
                dp->removed = 0;
                dp->from_conf = 0;
                peer->down = 0;
                peer->fails = 0;
            }

            if ((ngx_uint_t) peer->weight != instance[i].weight) {
                peer->weight = instance[i].weight;
                peer->effective_weight = instance[i].weight;
                peer->current_weight = 0;
            }

            /* matched: not to be added again */

            instance[i].weight = 0;
            continue;
        }

        if (!dp->removed) {
            dp->removed = now;
            peer->down = 1;
        }
    }

    last = &peers->peer;

    while (*last) {
        last = &(*last)->next;
    }

    for (i = 0; i < instances->nelts; i++) {
        if (instance[i].weight == 0) {
            continue;
        }

        dp = ngx_http_upstream_discovery_place(dcf, &instance[i], now);

        if (dp == NULL) {
            if (peers->number < NGX_HTTP_UPSTREAM_DISCOVERY_MAX_PEERS) {
                dp = ngx_http_upstream_discovery_alloc(dcf, &instance[i].addr,
                                                       &instance[i].addr.name);
            }

            if (dp == NULL) {
                full = 1;
                continue;
            }

            *last = &dp->peer;
            last = &dp->peer.next;

            /* counted as added: the tried bitmap holds no more */

            peers->number++;
        }

        dp->peer.weight = instance[i].weight;
        dp->peer.effective_weight = instance[i].weight;
    }

    ngx_http_upstream_discovery_count(peers);

    dcf->sh->digest = dcf->digest;
    dcf->sh->answered = 1;

    if (peers->tries == 0 && !dcf->sh->empty) {
        dcf->sh->empty = 1;

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "discovery: upstream \"%V\": no instances under "
                      "\"%V\" in etcd", &dcf->upstream->host, &dcf->prefix);

    } else if (peers->tries) {
        dcf->sh->empty = 0;
    }

    ngx_shmtx_unlock(&dcf->shpool->mutex);
    ngx_http_upstream_rr_peers_unlock(peers);

    if (full) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "discovery: upstream \"%V\": no room for all the "
                      "instances in etcd: %ui peers at most, or a bigger "
                      "zone", &dcf->upstream->host,
                      (ngx_uint_t) NGX_HTTP_UPSTREAM_DISCOVERY_MAX_PEERS);
    }
}


/*
 * A peer removed long enough ago and used by no request takes the new
 * instance in its place.  Its old address stays allocated until then:
 * a request's log may still name it just after it finished.
 */

static ngx_http_upstream_discovery_peer_t *
ngx_http_upstream_discovery_place(ngx_http_upstream_discovery_conf_t *dcf,
    ngx_http_upstream_discovery_instance_t *instance, time_t now)
{
    u_char                              *p, *old;
    ngx_http_upstream_rr_peer_t         *peer;
    ngx_http_upstream_discovery_peer_t  *dp;

    for (peer = dcf->sh->peers.peer; peer; peer = peer->next) {
        dp = (ngx_http_upstream_discovery_peer_t *) peer;

        if (!dp->removed
            || now - dp->removed < NGX_HTTP_UPSTREAM_DISCOVERY_LINGER
            || peer->conns)
        {
            continue;
        }

        p = ngx_slab_alloc_locked(dcf->shpool,
                                  instance->addr.socklen
                                  + 2 * instance->addr.name.len);
        if (p == NULL) {
            return NULL;
        }

        old = (u_char *) peer->sockaddr;

        peer->sockaddr = (struct sockaddr *) p;
        peer->socklen = instance->addr.socklen;
        p = ngx_cpymem(p, instance->addr.sockaddr, instance->addr.socklen);

        peer->name.data = p;
        peer->name.len = instance->addr.name.len;
        p = ngx_cpymem(p, instance->addr.name.data, instance->addr.name.len);

        peer->server.data = p;
        peer->server.len = instance->addr.name.len;
        ngx_memcpy(p, instance->addr.name.data, instance->addr.name.len);

        ngx_slab_free_locked(dcf->shpool, old);

        peer->down = 0;
        peer->fails = 0;
        peer->current_weight = 0;
        dp->removed = 0;
        dp->from_conf = 0;

        return dp;
    }

    return NULL;
}


static void
ngx_http_upstream_discovery_count(ngx_http_upstream_rr_peers_t *peers)
{
    ngx_uint_t                    n, t, w;
    ngx_http_upstream_rr_peer_t  *peer;

    n = 0;
    t = 0;
    w = 0;

    for (peer = peers->peer; peer; peer = peer->next) {
        n++;

        if (!peer->down) {
            t++;
            w += peer->weight;
        }
    }

    peers->number = n;
    peers->tries = t;
    peers->total_weight = w;
    peers->single = (n == 1);
    peers->weighted = (w != t);
}


/*
 * Worker 0's timer: a sync every interval, which re-reads the whole list
 * beside the watch, and sooner after a failure.
 */

static void
ngx_http_upstream_discovery_timer(ngx_event_t *ev)
{
    ngx_http_upstream_discovery_conf_t  *dcf;

    dcf = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_http_upstream_discovery_etcd_sync(dcf);

    if (!ev->timer_set) {
        ngx_add_timer(ev, dcf->interval);
    }
}


/*
 * Worker 0 talks to etcd, and the others balance over the list it keeps
 * in the zone.  When it exits, the master starts another worker 0, which
 * reads the list and watches again; after a reload, the new worker 0
 * does, and the old one stops when it is told to quit.
 */

static ngx_int_t
ngx_http_upstream_discovery_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                                i;
    ngx_http_upstream_discovery_conf_t      **dcfs;
    ngx_http_upstream_discovery_main_conf_t  *dmcf;

    if ((ngx_process != NGX_PROCESS_WORKER || ngx_worker != 0)
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    dmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                            ngx_http_upstream_discovery_module);
    if (dmcf == NULL) {
        return NGX_OK;
    }

    dcfs = dmcf->upstreams.elts;

    for (i = 0; i < dmcf->upstreams.nelts; i++) {
        dcfs[i]->timer.handler = ngx_http_upstream_discovery_timer;
        dcfs[i]->timer.data = dcfs[i];
        dcfs[i]->timer.log = cycle->log;
        dcfs[i]->timer.cancelable = 1;

        /* the member that answered last, as the worker before knew it */

        ngx_shmtx_lock(&dcfs[i]->shpool->mutex);
        dcfs[i]->member = dcfs[i]->sh->member % dcfs[i]->members.nelts;
        ngx_shmtx_unlock(&dcfs[i]->shpool->mutex);

        /* a new worker, after a reload too, asks at once */

        ngx_add_timer(&dcfs[i]->timer, 1);
    }

    return NGX_OK;
}


static void
ngx_http_upstream_discovery_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                                i;
    ngx_http_upstream_discovery_conf_t      **dcfs;
    ngx_http_upstream_discovery_main_conf_t  *dmcf;

    dmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                            ngx_http_upstream_discovery_module);
    if (dmcf == NULL) {
        return;
    }

    dcfs = dmcf->upstreams.elts;

    for (i = 0; i < dmcf->upstreams.nelts; i++) {
        ngx_http_upstream_discovery_etcd_close(dcfs[i]);
    }
}


static void *
ngx_http_upstream_discovery_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_discovery_main_conf_t  *dmcf;

    dmcf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_upstream_discovery_main_conf_t));
    if (dmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&dmcf->upstreams, cf->pool, 4,
                       sizeof(ngx_http_upstream_discovery_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return dmcf;
}


static void *
ngx_http_upstream_discovery_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_discovery_conf_t  *dcf;

    dcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_discovery_conf_t));
    if (dcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     dcf->upstream = NULL;
     *     dcf->shm_zone = NULL;
     *     ...
     */

    return dcf;
}


/*
 * discovery etcd=[https://]host:port[,...] prefix=/path/ [interval=1s]
 *           [zone=name:size] [user=name password=text|password_file=path]
 *           [ssl_trusted_certificate=file] [ssl_verify=on|off]
 *           [ssl_name=name] [ssl_certificate=file ssl_certificate_key=file]
 */

static char *
ngx_http_upstream_discovery(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upstream_discovery_conf_t *dcf = conf;

    char                                      *rv;
    ssize_t                                    size;
    ngx_str_t                                 *value, s, zone, file;
    ngx_uint_t                                 i, ssl;
    ngx_http_upstream_server_t                *us;
    ngx_http_upstream_srv_conf_t              *uscf;
    ngx_http_upstream_discovery_conf_t       **d;
    ngx_http_upstream_discovery_main_conf_t   *dmcf;

    if (dcf->upstream) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined");
    }

    value = cf->args->elts;

    ngx_str_null(&zone);
    ngx_str_null(&file);
    size = 128 * 1024;
    dcf->interval = 1000;
    ssl = NGX_CONF_UNSET_UINT;

#if (NGX_HTTP_SSL)
    dcf->ssl_verify = NGX_CONF_UNSET;
#endif

    if (ngx_array_init(&dcf->members, cf->pool, 3,
                       sizeof(ngx_http_upstream_discovery_member_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "etcd=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (ngx_http_upstream_discovery_members(cf, dcf, &s, &ssl)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            dcf->prefix.data = value[i].data + 7;
            dcf->prefix.len = value[i].len - 7;

            if (dcf->prefix.len == 0 || dcf->prefix.data[0] != '/') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid prefix \"%V\": it must start "
                                   "with \"/\"", &dcf->prefix);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            dcf->interval = ngx_parse_time(&s, 0);

            if (dcf->interval == (ngx_msec_t) NGX_ERROR
                || dcf->interval < 10)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid interval \"%V\": 10ms or more "
                                   "expected", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            if (ngx_gw_conf_zone(cf, &value[i], "zone=", &zone, &size)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            dcf->user.data = value[i].data + 5;
            dcf->user.len = value[i].len - 5;
            continue;
        }

        /* never quoted in an error: it may be the password itself */

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            dcf->password.data = value[i].data + 9;
            dcf->password.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            file.data = value[i].data + 14;
            file.len = value[i].len - 14;
            continue;
        }

#if (NGX_HTTP_SSL)

        if (ngx_strncmp(value[i].data, "ssl_certificate=", 16) == 0) {
            dcf->ssl_certificate.data = value[i].data + 16;
            dcf->ssl_certificate.len = value[i].len - 16;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ssl_certificate_key=", 20) == 0) {
            dcf->ssl_certificate_key.data = value[i].data + 20;
            dcf->ssl_certificate_key.len = value[i].len - 20;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ssl_trusted_certificate=", 24) == 0)
        {
            dcf->ssl_trusted_certificate.data = value[i].data + 24;
            dcf->ssl_trusted_certificate.len = value[i].len - 24;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ssl_name=", 9) == 0) {
            dcf->ssl_name.data = value[i].data + 9;
            dcf->ssl_name.len = value[i].len - 9;
            continue;
        }

        if (ngx_strcmp(value[i].data, "ssl_verify=on") == 0) {
            dcf->ssl_verify = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "ssl_verify=off") == 0) {
            dcf->ssl_verify = 0;
            continue;
        }

#endif

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (dcf->members.nelts == 0 || dcf->prefix.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"discovery\" needs etcd= and prefix=");
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_upstream_discovery_credentials(cf, dcf, &file);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

#if (NGX_HTTP_SSL)

    rv = ngx_http_upstream_discovery_tls(cf, dcf, ssl == 1);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

#else

    if (ssl == 1) {
        return "needs nginx built with ngx_http_ssl_module for https:// "
               "members";
    }

#endif

    if (ngx_http_upstream_discovery_etcd_init(cf, dcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the zone is named after the upstream unless named here */

    if (zone.len == 0) {
        zone.len = sizeof("discovery_") - 1 + uscf->host.len;
        zone.data = ngx_pnalloc(cf->pool, zone.len);
        if (zone.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(zone.data, "discovery_%V", &uscf->host);
    }

    dcf->shm_zone = ngx_shared_memory_add(cf, &zone, size,
                                          &ngx_http_upstream_discovery_module);
    if (dcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (dcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &zone);
        return NGX_CONF_ERROR;
    }

    dcf->shm_zone->init = ngx_http_upstream_discovery_init_zone;
    dcf->shm_zone->data = dcf;
    dcf->upstream = uscf;
    dcf->answered = ngx_http_upstream_discovery_answered;

    dmcf = ngx_http_conf_get_module_main_conf(cf,
                                            ngx_http_upstream_discovery_module);

    d = ngx_array_push(&dmcf->upstreams);
    if (d == NULL) {
        return NGX_CONF_ERROR;
    }

    *d = dcf;

    /*
     * nginx refuses an upstream block without servers once it is parsed:
     * a server without addresses stands in for the instances from etcd
     */

    us = ngx_array_push(uscf->servers);
    if (us == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(us, sizeof(ngx_http_upstream_server_t));

    uscf->peer.init_upstream = ngx_http_upstream_discovery_init_upstream;

    uscf->flags = NGX_HTTP_UPSTREAM_CREATE
                  |NGX_HTTP_UPSTREAM_WEIGHT
                  |NGX_HTTP_UPSTREAM_MAX_CONNS
                  |NGX_HTTP_UPSTREAM_MAX_FAILS
                  |NGX_HTTP_UPSTREAM_FAIL_TIMEOUT
                  |NGX_HTTP_UPSTREAM_DOWN;

    return NGX_CONF_OK;
}


/*
 * etcd=: members as etcdctl's --endpoints lists them, "host:port" or
 * "https://host:port", comma-separated; a name stands for each address
 * it resolves to.  All speak TLS or none does.
 */

static ngx_int_t
ngx_http_upstream_discovery_members(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *list, ngx_uint_t *ssl)
{
    u_char                                *p, *last, *comma;
    ngx_url_t                              u;
    ngx_uint_t                             i, https;
    ngx_http_upstream_discovery_member_t  *member;

    p = list->data;
    last = list->data + list->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        https = 0;

        if (u.url.len > 8 && ngx_strncasecmp(p, (u_char *) "https://", 8)
                             == 0)
        {
            u.url.data += 8;
            u.url.len -= 8;
            https = 1;

        } else if (u.url.len > 7
                   && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0)
        {
            u.url.data += 7;
            u.url.len -= 7;
        }

        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0
            || u.no_port || u.uri.len)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid etcd address \"%*s\"%s%s",
                               comma - p, p, u.err ? ": " : "",
                               u.err ? u.err : "");
            return NGX_ERROR;
        }

        if (*ssl != NGX_CONF_UNSET_UINT && *ssl != https) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "etcd members \"%V\" mix http and https",
                               list);
            return NGX_ERROR;
        }

        *ssl = https;

        for (i = 0; i < u.naddrs; i++) {
            member = ngx_array_push(&dcf->members);
            if (member == NULL) {
                return NGX_ERROR;
            }

            member->addr = u.addrs[i];

            /* NUL-terminated, as OpenSSL takes names */

            member->host.len = u.host.len;
            member->host.data = ngx_pnalloc(cf->pool, u.host.len + 1);
            if (member->host.data == NULL) {
                return NGX_ERROR;
            }

            ngx_cpystrn(member->host.data, u.host.data, u.host.len + 1);
        }

        if (comma == last) {
            return NGX_OK;
        }

        p = comma + 1;
    }
}


/*
 * user= with password=, or with password_file=, whose first line is the
 * password: it is read once, by the master, as the other files of the
 * configuration are.  Neither is ever quoted in the log.
 */

static char *
ngx_http_upstream_discovery_credentials(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf, ngx_str_t *file)
{
    u_char      *p;
    ssize_t      n;
    ngx_uint_t   i;
    ngx_file_t   f;
    ngx_str_t   *s[2];
    u_char       buf[1024];

    if (file->data && dcf->password.data) {
        return "takes password= or password_file=, not both";
    }

    if (file->data) {
        if (file->len == 0) {
            return "has an empty password_file=";
        }

        if (ngx_conf_full_name(cf->cycle, file, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&f, sizeof(ngx_file_t));
        f.name = *file;
        f.log = cf->log;

        f.fd = ngx_open_file(file->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

        if (f.fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               ngx_open_file_n " \"%V\" failed", file);
            return NGX_CONF_ERROR;
        }

        n = ngx_read_file(&f, buf, sizeof(buf), 0);

        if (ngx_close_file(f.fd) == NGX_FILE_ERROR) {
            ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                               ngx_close_file_n " \"%V\" failed", file);
        }

        if (n == NGX_ERROR) {
            ngx_explicit_memzero(buf, sizeof(buf));
            return NGX_CONF_ERROR;
        }

        p = ngx_strlchr(buf, buf + n, LF);

        if (p == NULL && n == sizeof(buf)) {
            ngx_explicit_memzero(buf, sizeof(buf));
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the password in \"%V\" is too long", file);
            return NGX_CONF_ERROR;
        }

        n = (p ? p : buf + n) - buf;

        if (n && buf[n - 1] == CR) {
            n--;
        }

        dcf->password.len = n;
        dcf->password.data = ngx_pnalloc(cf->pool, n + 1);
        if (dcf->password.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(dcf->password.data, buf, n);
        ngx_explicit_memzero(buf, sizeof(buf));

        if (n == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "no password in \"%V\"", file);
            return NGX_CONF_ERROR;
        }
    }

    if (dcf->user.data == NULL && dcf->password.data == NULL) {
        return NGX_CONF_OK;
    }

    if (dcf->user.len == 0) {
        return "needs user= with a password";
    }

    if (dcf->password.data == NULL || dcf->password.len == 0) {
        return "needs password= or password_file= with user=";
    }

    /* both go in a JSON string as they are */

    s[0] = &dcf->user;
    s[1] = &dcf->password;

    for (i = 0; i < 2; i++) {
        for (p = s[i]->data; p < s[i]->data + s[i]->len; p++) {
            if (*p < 0x20 || *p == 0x7f) {
                return i ? "has a control character in the password"
                         : "has a control character in user=";
            }
        }
    }

    return NGX_CONF_OK;
}


#if (NGX_HTTP_SSL)

/* TLS parameters for https members, verified against a CA by default */

static char *
ngx_http_upstream_discovery_tls(ngx_conf_t *cf,
    ngx_http_upstream_discovery_conf_t *dcf, ngx_uint_t https)
{
    if (!https) {
        if (dcf->ssl_certificate.data || dcf->ssl_certificate_key.data
            || dcf->ssl_trusted_certificate.data || dcf->ssl_name.data
            || dcf->ssl_verify != NGX_CONF_UNSET)
        {
            return "takes ssl_ parameters with https:// members only";
        }

        return NGX_CONF_OK;
    }

    if (dcf->ssl_verify == NGX_CONF_UNSET) {
        dcf->ssl_verify = 1;
    }

    if (dcf->ssl_verify && dcf->ssl_trusted_certificate.len == 0) {
        return "needs ssl_trusted_certificate= with https:// members, "
               "or ssl_verify=off";
    }

    if ((dcf->ssl_certificate.len == 0) != (dcf->ssl_certificate_key.len == 0))
    {
        return "needs both ssl_certificate= and ssl_certificate_key=";
    }

    /* the tail of a parameter, and so NUL-terminated, as OpenSSL wants */

    if (dcf->ssl_name.data && dcf->ssl_name.len == 0) {
        return "has an empty ssl_name=";
    }

    return ngx_http_upstream_discovery_ssl_init(cf, dcf);
}

#endif
