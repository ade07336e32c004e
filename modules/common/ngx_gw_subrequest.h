
/*
 * Subrequests whose response is read by a module rather than sent to the
 * client.
 */


#ifndef _NGX_GW_SUBREQUEST_H_INCLUDED_
#define _NGX_GW_SUBREQUEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gw_hidden.h"


NGX_GW_HIDDEN_BEGIN

/*
 * A subrequest starts with its parent's request headers.  This gives it
 * its own list without the headers that would make the answer unreadable
 * to a module (Range, conditionals, Accept-Encoding) or that describe the
 * parent's body, which the subrequest does not send; and without the
 * client's credentials (Authorization, Cookie) unless asked to keep them.
 */
ngx_int_t ngx_gw_subrequest_own_headers(ngx_http_request_t *sr,
    ngx_uint_t credentials);


/*
 * A subrequest's response body, captured by the module's body filter
 * instead of nginx's in-memory subrequests: those are capped by
 * subrequest_output_buffer_size, and overflowing it terminates the client
 * request.  Here the cap is the module's, and a body over it is only
 * marked too big.
 */
typedef struct {
    ngx_buf_t                 *buf;
    size_t                     max;
    unsigned                   too_big:1;
    unsigned                   failed:1;
    unsigned                   done:1;
} ngx_gw_capture_t;


/* consumes in, as a body filter that sends nothing on */
ngx_int_t ngx_gw_capture_body(ngx_http_request_t *sr, ngx_gw_capture_t *cap,
    ngx_chain_t *in);


NGX_GW_HIDDEN_END


#endif /* _NGX_GW_SUBREQUEST_H_INCLUDED_ */
