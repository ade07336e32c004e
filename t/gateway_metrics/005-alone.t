# gateway_metrics loaded alone, without the modules whose decisions it
# counts: it starts, counts routes, and has no decisions to tell.

BEGIN {
    $ENV{TEST_NGINX_LOAD_MODULES} = join ' ', grep { /gateway_metrics/ }
        split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
}

use lib 't/helpers';
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: routes are counted; no family of another module appears
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /a {
        gateway_metrics_route files;
        return 200 "ok\n";
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::http_get('/a') for 1 .. 2;
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', grep { /^# TYPE / } split /^/m, shift }
--- response_body
# TYPE gateway_http_requests_total counter
# TYPE gateway_http_request_duration_seconds histogram
# TYPE gateway_http_received_bytes_total counter
# TYPE gateway_http_sent_bytes_total counter
# TYPE gateway_metrics_dropped_total counter
--- no_error_log
[error]
[emerg]



=== TEST 2: a variable another module would define is unknown here
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /a {
        gateway_metrics_route $jwt_status;
        return 200 "ok\n";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown "jwt_status" variable/
