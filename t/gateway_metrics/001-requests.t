# gateway_metrics: requests, times and bytes by route, as Prometheus text.
# Each block starts a fresh nginx and zone, so counters begin at zero; the
# traffic counted is sent from "--- init" (t/helpers/GwHttp.pm).

use lib 't/helpers';
use GwMetrics ();
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
    $block->set_value('http_config', "    gateway_metrics_zone gw:1m;\n")
        unless defined $block->http_config;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: requests by route, method and status class, exact
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /b {
        gateway_metrics_route other;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
    location /missing {
        gateway_metrics_route files;
        log_not_found off;
    }
--- init
GwHttp::http_get('/a') for 1 .. 3;
GwHttp::http_get('/missing') for 1 .. 2;
GwHttp::http_get('/b');
--- request
GET /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body_filters eval
GwMetrics::families('gateway_http_requests_total')
--- response_body
gateway_http_requests_total{route="files",method="GET",status="2xx"} 3
gateway_http_requests_total{route="files",method="GET",status="4xx"} 2
gateway_http_requests_total{route="other",method="GET",status="2xx"} 1
--- no_error_log
[error]
[warn]



=== TEST 2: methods, a HEAD request, a 5xx, and the route of the location a request ended in
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /post {
        gateway_metrics_route api;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_ok;
    }
    location = /fail {
        gateway_metrics_route api;
        proxy_pass http://127.0.0.1:1/;
    }
    location = /moved {
        gateway_metrics_route not-this-one;
        rewrite ^ /a last;
    }
    location = /_ok {
        gateway_metrics_route off;
        return 200 "ok\n";
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::raw("HEAD /a HTTP/1.0\r\nHost: localhost\r\n\r\n");
GwHttp::raw("POST /post HTTP/1.0\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi");
GwHttp::raw("PROPFIND /a HTTP/1.0\r\nHost: localhost\r\n\r\n");
GwHttp::http_get('/fail');
GwHttp::http_get('/moved');
--- request
GET /metrics
--- response_body_filters eval
GwMetrics::families('gateway_http_requests_total')
--- response_body
gateway_http_requests_total{route="files",method="GET",status="2xx"} 1
gateway_http_requests_total{route="files",method="HEAD",status="2xx"} 1
gateway_http_requests_total{route="files",method="OTHER",status="4xx"} 1
gateway_http_requests_total{route="api",method="GET",status="5xx"} 1
gateway_http_requests_total{route="api",method="POST",status="2xx"} 1



=== TEST 3: bytes in and out, exactly what went over the wire
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
my ($in, $out) = (0, 0);
for my $uri ('/a', '/a?longer=query', '/a') {
    my $req = "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";
    $in += length $req;
    $out += length GwHttp::raw($req);
}
my (undef, undef, $body) = GwHttp::http_get('/metrics');
my %got = $body =~ /^gateway_http_(received|sent)_bytes_total\{route="files"\} (\d+)$/mg;
Test::More::is($got{received}, $in, "received bytes: $in");
Test::More::is($got{sent}, $out, "sent bytes: $out");
--- request
GET /metrics
--- response_body_like
^gateway_http_received_bytes_total\{route="files"\} \d+$
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_http_received_bytes_total/ } split /^/m, shift }
--- no_error_log
[error]



=== TEST 4: the request time histogram: a request sent slowly lands in a later bucket
--- http_config
    gateway_metrics_zone gw:1m buckets=250ms,2s,10s;
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
use IO::Socket::INET;
use Time::HiRes ();
GwHttp::http_get('/a') for 1 .. 2;
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $Test::Nginx::Util::ServerPortForClient)
    or die "connect: $!";
$s->autoflush(1);
print $s "GET /a HTTP/1.0\r\nHo";
Time::HiRes::sleep(0.6);
print $s "st: localhost\r\n\r\n";
my $resp = do { local $/; <$s> };
close $s;
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', map { s/_sum\{route="files"\} 0\.[6-9]\d\d$/_sum{route="files"} 0.6xx/r }
               grep { /^gateway_http_request_duration_seconds/ } split /^/m, shift }
--- response_body
gateway_http_request_duration_seconds_bucket{route="files",le="0.25"} 2
gateway_http_request_duration_seconds_bucket{route="files",le="2"} 3
gateway_http_request_duration_seconds_bucket{route="files",le="10"} 3
gateway_http_request_duration_seconds_bucket{route="files",le="+Inf"} 3
gateway_http_request_duration_seconds_sum{route="files"} 0.6xx
gateway_http_request_duration_seconds_count{route="files"} 3
--- no_error_log
[error]



=== TEST 5: upstream response time only for routes that went upstream
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /up {
        gateway_metrics_route proxied;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/a;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::http_get('/a');
GwHttp::http_get('/up') for 1 .. 2;
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_upstream_response_duration_seconds_(count|bucket\{[^}]*le="\+Inf")/ } split /^/m, shift }
--- response_body
gateway_upstream_response_duration_seconds_bucket{route="proxied",le="+Inf"} 2
gateway_upstream_response_duration_seconds_count{route="proxied"} 2
--- no_error_log
[error]



=== TEST 6: label values escaped as the exposition format says; invalid UTF-8 replaced
--- config
    location = /quoted {
        gateway_metrics_route "q\"uote\\back\nline";
        alias html/ok.txt;
    }
    location /raw/ {
        set $route $uri;
        gateway_metrics_route $route;
        try_files /ok.txt =404;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::http_get('/quoted');
GwHttp::http_get('/raw/%FF%22%C3%A9');
--- request
GET /metrics
--- response_body_filters eval
GwMetrics::families('gateway_http_requests_total')
--- response_body
gateway_http_requests_total{route="q\"uote\\back\nline",method="GET",status="2xx"} 1
gateway_http_requests_total{route="/raw/�\"é",method="GET",status="2xx"} 1
--- no_error_log
[error]



=== TEST 7: promtool accepts the whole text
--- config
    location = /a {
        gateway_metrics_route "files \"x\"";
        alias html/ok.txt;
    }
    location = /up {
        gateway_metrics_route proxied;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/a;
    }
    location /raw/ {
        set $route $uri;
        gateway_metrics_route $route;
        try_files /ok.txt =404;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::http_get('/a');
GwHttp::http_get('/up');
GwHttp::http_get('/raw/%FF%0A');
--- request
GET /metrics
--- response_body_filters eval
\&GwMetrics::promtool
--- response_body
promtool exit 0
--- no_error_log
[error]



=== TEST 8: an empty route is not counted, nor is a location with "off"
--- config
    gateway_metrics_route $arg_route;

    location = /a {
        alias html/ok.txt;
    }
    location = /b {
        gateway_metrics_route off;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics_route off;
        gateway_metrics;
    }
--- init
GwHttp::http_get('/a');
GwHttp::http_get('/a?route=');
GwHttp::http_get('/a?route=x');
GwHttp::http_get('/b?route=y');
--- request
GET /metrics
--- response_body_filters eval
GwMetrics::families('gateway_http_requests_total')
--- response_body
gateway_http_requests_total{route="x",method="GET",status="2xx"} 1
--- no_error_log
[error]



=== TEST 9: a full zone drops new series, says so once, and counts what it dropped
--- http_config
    gateway_metrics_zone gw:32k;
--- config
    location /r/ {
        set $route $uri;
        gateway_metrics_route $route;
        try_files /ok.txt =404;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::http_get("/r/$_") for 1 .. 200;
--- request
GET /metrics
--- response_body_filters eval
sub { my ($d) = $_[0] =~ /^gateway_metrics_dropped_total (\d+)$/m;
      my $n = () = $_[0] =~ /^gateway_http_requests_total\{/mg;
      ($n > 0 && $d > 0 && $n + $d == 200) ? "counted + dropped = 200\n"
                                           : "counted $n, dropped $d\n" }
--- response_body
counted + dropped = 200
--- error_log eval
qr/\[warn\] .*gateway_metrics_zone "gw" is full, new series are not counted/



=== TEST 10: a route too long for a key is dropped, not truncated
--- config
    location /r/ {
        set $route $uri;
        gateway_metrics_route $route;
        try_files /ok.txt =404;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::http_get('/r/' . ('x' x 600));
GwHttp::http_get('/r/short');
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_(metrics_dropped|http_requests)_total/ } split /^/m, shift }
--- response_body
gateway_http_requests_total{route="/r/short",method="GET",status="2xx"} 1
gateway_metrics_dropped_total 1



=== TEST 11: only GET and HEAD at the metrics location
--- config
    location = /metrics {
        gateway_metrics;
    }
--- request
POST /metrics
--- error_code: 405
