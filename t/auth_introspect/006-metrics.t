# auth_introspect counted by gateway_metrics: $introspect_status by route,
# beside $jwt_status, and a text promtool accepts. The metrics module is
# loaded first here, so the variable it reads belongs to a module loaded
# after it.

BEGIN {
    my @so = split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    $ENV{TEST_NGINX_LOAD_MODULES} = join ' ',
        (grep { /gateway_metrics/ } @so), (grep { !/gateway_metrics/ } @so);
}

use lib 't/helpers';
use GwJwt;
use GwHttp ();
use GwMetrics ();
use GwPeer qw($CLIENT);
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

$ENV{TEST_NGINX_CLIENT} = $CLIENT;

our %tok = (valid => jwt('HS256', { sub => 'dave', exp => time + 3600 }));

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: statuses by route, exact; a route with auth_jwt beside it
--- http_config
    gateway_metrics_zone gw:1m;
    map $request_uri $fail {
        ~down    "?status=503";
        default  "";
    }
--- config
    location /api {
        gateway_metrics_route api;
        auth_introspect "api";
        auth_introspect_request /introspect;
        alias html/ok.txt;
    }
    location /both {
        gateway_metrics_route both;
        satisfy any;
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        auth_introspect "api";
        auth_introspect_request /introspect;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t1$fail;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
my @cases = (['/api', 'alice', 200], ['/api', 'alice', 200],
             ['/api', undef, 401], ['/api', 'revoked', 401],
             ['/api', 'expired', 401], ['/api', 'malformed', 401],
             ['/api?down', 'bob', 500], ['/both', $main::tok{valid}, 200],
             ['/both', 'bob', 200]);
for my $c (@cases) {
    my ($uri, $token, $want) = @$c;
    my @auth = defined $token ? ("Authorization: Bearer $token") : ();
    Test::More::is(scalar GwHttp::http_get($uri, headers => \@auth), $want,
                   "$uri with " . ($token // 'no token'));
}
--- request
GET /metrics
--- response_body_filters eval
GwMetrics::families('gateway_introspect_requests_total',
                    'gateway_jwt_requests_total')
--- response_body
gateway_jwt_requests_total{route="both",status="valid"} 1
gateway_jwt_requests_total{route="both",status="malformed"} 1
gateway_introspect_requests_total{route="api",status="valid"} 2
gateway_introspect_requests_total{route="api",status="missing"} 1
gateway_introspect_requests_total{route="api",status="inactive"} 1
gateway_introspect_requests_total{route="api",status="expired"} 1
gateway_introspect_requests_total{route="api",status="invalid_answer"} 1
gateway_introspect_requests_total{route="api",status="unavailable"} 1
gateway_introspect_requests_total{route="both",status="valid"} 1



=== TEST 2: promtool accepts the whole text
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location /api {
        gateway_metrics_route api;
        auth_introspect "api";
        auth_introspect_request /introspect;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t2;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::http_get('/api', headers => ['Authorization: Bearer alice']);
--- request
GET /metrics
--- response_body_filters eval
\&GwMetrics::promtool
--- response_body
promtool exit 0



=== TEST 3: HELP and TYPE of the family
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location /api {
        gateway_metrics_route api;
        auth_introspect "api";
        auth_introspect_request /introspect;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t3;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
GwHttp::http_get('/api', headers => ['Authorization: Bearer alice']);
--- request
GET /metrics
--- response_body_like
# HELP gateway_introspect_requests_total Requests checked by auth_introspect, by \$introspect_status\.
# TYPE gateway_introspect_requests_total counter
gateway_introspect_requests_total\{route="api",status="valid"\} 1
