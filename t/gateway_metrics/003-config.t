# gateway_metrics: configuration errors found at startup, and the
# directives at every level where they are allowed.

use lib 't/helpers';
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a route at http and server level is inherited, a location's wins
--- http_config
    gateway_metrics_zone gw:1m buckets=5ms,1s,1m;
    gateway_metrics_route http-level;
--- config
    gateway_metrics_route server-level;

    location = /a {
        return 204;
    }
    location = /b {
        gateway_metrics_route b;
        return 204;
    }
    location = /metrics {
        gateway_metrics_route off;
        gateway_metrics;
    }
--- init
GwHttp::http_get('/a');
GwHttp::http_get('/b');
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_http_requests_total|le="60"/ } split /^/m, shift }
--- response_body
gateway_http_requests_total{route="server-level",method="GET",status="2xx"} 1
gateway_http_requests_total{route="b",method="GET",status="2xx"} 1
gateway_http_request_duration_seconds_bucket{route="server-level",le="60"} 1
gateway_http_request_duration_seconds_bucket{route="b",le="60"} 1
--- no_error_log
[error]
[emerg]



=== TEST 2: a route without a zone
--- config
    location = /a {
        gateway_metrics_route a;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gateway_metrics_route" needs a "gateway_metrics_zone" in the http block/



=== TEST 3: the metrics location without a zone
--- config
    location = /metrics {
        gateway_metrics;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gateway_metrics" needs a "gateway_metrics_zone" in the http block/



=== TEST 4: a zone without a size
--- http_config
    gateway_metrics_zone gw;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone "gw": "name:size" expected in \S+nginx\.conf:\d+/



=== TEST 5: a zone too small
--- http_config
    gateway_metrics_zone gw:4k;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "gw:4k" is too small: \d+ bytes or more expected in \S+nginx\.conf:\d+/



=== TEST 5a: a zone size that is not a size
--- http_config
    gateway_metrics_zone gw:big;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone size "gw:big" in \S+nginx\.conf:\d+/



=== TEST 6: two zones
--- http_config
    gateway_metrics_zone gw:1m;
    gateway_metrics_zone other:1m;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"gateway_metrics_zone" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 7: buckets that do not increase
--- http_config
    gateway_metrics_zone gw:1m buckets=100ms,10ms;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*buckets in "buckets=100ms,10ms" must increase in \S+nginx\.conf:\d+/



=== TEST 8: a bucket that is not a time
--- http_config
    gateway_metrics_zone gw:1m buckets=5ms,fast;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid bucket "fast" in "buckets=5ms,fast" in \S+nginx\.conf:\d+/



=== TEST 9: an empty bucket list, and a trailing comma
--- http_config
    gateway_metrics_zone gw:1m buckets=5ms,;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "buckets=5ms," in \S+nginx\.conf:\d+/



=== TEST 10: too many buckets
--- http_config
    gateway_metrics_zone gw:1m buckets=1ms,2ms,3ms,4ms,5ms,6ms,7ms,8ms,9ms,10ms,11ms,12ms,13ms,14ms,15ms,16ms,17ms,18ms,19ms,20ms,21ms,22ms,23ms,24ms,25ms,26ms,27ms,28ms,29ms,30ms,31ms,32ms,33ms;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*too many buckets in "buckets=1ms,.*,33ms": 32 at most in \S+nginx\.conf:\d+/



=== TEST 11: an unknown parameter
--- http_config
    gateway_metrics_zone gw:1m bucket=5ms;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "bucket=5ms" in \S+nginx\.conf:\d+/



=== TEST 12: a route twice in one place
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /a {
        gateway_metrics_route a;
        gateway_metrics_route b;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gateway_metrics_route" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 13: an empty route
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /a {
        gateway_metrics_route "";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gateway_metrics_route" directive takes a route name, a variable, or "off" in \S+nginx\.conf:\d+/



=== TEST 14: the zone outside the http block's top level
--- config
    location = /a {
        gateway_metrics_zone gw:1m;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gateway_metrics_zone" directive is not allowed here in \S+nginx\.conf:\d+/
