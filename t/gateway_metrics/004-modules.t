# gateway_metrics: the decisions of auth_jwt, rate_limit and aggregate,
# read from their variables. The metrics module is loaded first here, so
# the variables it reads belong to modules loaded after it.

BEGIN {
    my @so = split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    $ENV{TEST_NGINX_LOAD_MODULES} = join ' ',
        (grep { /gateway_metrics/ } @so), (grep { !/gateway_metrics/ } @so);
}

use lib 't/helpers';
use GwJwt;
use GwMetrics ();
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

my $now = time;

our %tok = (
    valid => jwt('HS256', { sub => 'alice', exp => $now + 3600 }),
    expired => jwt('HS256', { sub => 'alice', exp => $now - 60 }),
    later => jwt('HS256', { sub => 'alice', nbf => $now + 600 }),
    forged => do {
        my ($h, $p) = split /\./, jwt('HS256', { sub => 'alice' });
        my (undef, undef, $s) = split /\./, jwt('HS256', { sub => 'bob' });
        "$h.$p.$s";
    },
);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: JWT statuses by route, exact
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /api {
        gateway_metrics_route api;
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
    location = /keys {
        gateway_metrics_route keys;
        auth_jwt "keys";
        auth_jwt_key_request /_jwks;
        alias html/ok.txt;
    }
    location = /_jwks {
        internal;
        return 500;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
my %want = (valid => 200, '' => 401, expired => 401, later => 401,
            forged => 401, malformed => 401);
for my $t (qw(valid valid), '', qw(expired later forged malformed)) {
    my $token = $t eq '' ? undef : $t eq 'malformed' ? 'not.a.token' : $main::tok{$t};
    my @auth = defined $token ? ("Authorization: Bearer $token") : ();
    Test::More::is(scalar GwHttp::http_get('/api', headers => \@auth),
                   $want{$t}, "token '$t'");
}
Test::More::is(scalar GwHttp::http_get('/keys',
                   headers => ["Authorization: Bearer $main::tok{valid}"]),
               500, 'keys failed');
--- request
GET /metrics
--- response_body_filters eval
GwMetrics::families('gateway_jwt_requests_total')
--- response_body
gateway_jwt_requests_total{route="api",status="valid"} 2
gateway_jwt_requests_total{route="api",status="missing"} 1
gateway_jwt_requests_total{route="api",status="expired"} 1
gateway_jwt_requests_total{route="api",status="not_yet_valid"} 1
gateway_jwt_requests_total{route="api",status="bad_signature"} 1
gateway_jwt_requests_total{route="api",status="malformed"} 1
gateway_jwt_requests_total{route="keys",status="key_fetch_failed"} 1



=== TEST 2: rate limit decisions by zone, a dry run, and two zones on one request
--- http_config
    gateway_metrics_zone gw:1m;
    rate_limit_zone $arg_k zone=a:1m rate=1r/m;
    rate_limit_zone $arg_k zone=b:1m rate=2r/m burst=1;
    rate_limit_zone $arg_k zone=d:1m rate=1r/m;
--- config
    location = /a {
        gateway_metrics_route limited;
        rate_limit zone=a;
        rate_limit zone=b;
        alias html/ok.txt;
    }
    location = /d {
        gateway_metrics_route limited;
        rate_limit zone=d;
        rate_limit_dry_run on;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
Test::More::is(GwHttp::http_get('/a?k=x'), 200, 'a: first');
Test::More::is(GwHttp::http_get('/a?k=x'), 429, 'a: second');
Test::More::is(GwHttp::http_get('/a'), 200, 'no key: not limited');
Test::More::is(GwHttp::http_get('/d?k=x'), 200, 'd: first');
Test::More::is(GwHttp::http_get('/d?k=x'), 200, 'd: second, dry run');
--- request
GET /metrics
--- response_body_filters eval
GwMetrics::families('gateway_rate_limit_requests_total')
--- response_body
gateway_rate_limit_requests_total{zone="a",status="passed"} 1
gateway_rate_limit_requests_total{zone="b",status="passed"} 2
gateway_rate_limit_requests_total{zone="a",status="rejected"} 1
gateway_rate_limit_requests_total{zone="d",status="passed"} 1
gateway_rate_limit_requests_total{zone="d",status="rejected_dry_run"} 1



=== TEST 3: a full rate limit zone's evictions
--- http_config
    gateway_metrics_zone gw:1m;
    rate_limit_zone $arg_k zone=z:32k rate=1r/m;
--- config
    location = /t {
        gateway_metrics_route limited;
        rate_limit zone=z;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
my $bad = grep { GwHttp::http_get("/t?k=live$_") != 200 } 1 .. 400;
Test::More::is($bad, 0, 'each new key admitted');
--- request
GET /metrics
--- response_body_filters eval
sub { my ($n) = $_[0] =~ /^gateway_rate_limit_evictions_total\{zone="z"\} (\d+)$/m;
      defined $n && $n > 0 && $n < 400 ? "evictions counted\n" : "evictions: " . ($n // 'none') . "\n" }
--- response_body
evictions counted



=== TEST 4: Redis failures, failing open and closed
--- http_config
    gateway_metrics_zone gw:1m;
    rate_limit_zone $arg_k zone=open:1m rate=10r/m burst=5 redis=127.0.0.1:1;
    rate_limit_zone $arg_k zone=closed:1m rate=10r/m redis=127.0.0.1:1;
    rate_limit_redis_timeout 1s;
--- config
    location = /open {
        gateway_metrics_route limited;
        rate_limit zone=open;
        alias html/ok.txt;
    }
    location = /closed {
        gateway_metrics_route limited;
        rate_limit zone=closed;
        rate_limit_redis_fail closed;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
Test::More::is(GwHttp::http_get('/open?k=x'), 200, 'open: local bucket');
Test::More::is(GwHttp::http_get('/open?k=x'), 200, 'open: again');
Test::More::is(GwHttp::http_get('/closed?k=x'), 503, 'closed: 503');
--- request
GET /metrics
--- response_body_filters eval
GwMetrics::families('gateway_rate_limit_requests_total',
               'gateway_rate_limit_redis_failures_total')
--- response_body
gateway_rate_limit_requests_total{zone="open",status="passed"} 2
gateway_rate_limit_requests_total{zone="closed",status="unavailable"} 1
gateway_rate_limit_redis_failures_total{zone="open"} 2
gateway_rate_limit_redis_failures_total{zone="closed"} 1



=== TEST 5: aggregation parts by outcome
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /page {
        gateway_metrics_route page;
        aggregate_part good /_good;
        aggregate_part broken /_broken;
        aggregate_part garbage /_garbage;
        aggregate_part slow /_slow;
        aggregate_timeout 300ms;
    }
    location = /_good { internal; return 200 '{"a":1}'; }
    location = /_broken { internal; return 500; }
    location = /_garbage { internal; return 200 '{"a":'; }
    location = /_slow {
        internal;
        proxy_read_timeout 1s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_hang;
        proxy_method POST;
        proxy_pass_request_body off;
        proxy_set_header Content-Length 10;
    }
    location = /_hang {
        proxy_pass http://127.0.0.1:1/;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
Test::More::is(GwHttp::http_get('/page'), 200, 'first page');
Test::More::is(GwHttp::http_get('/page'), 200, 'second page');
--- request
GET /metrics
--- response_body_filters eval
GwMetrics::families('gateway_aggregate_parts_total')
--- response_body
gateway_aggregate_parts_total{route="page",part="good",outcome="ok"} 2
gateway_aggregate_parts_total{route="page",part="broken",outcome="status"} 2
gateway_aggregate_parts_total{route="page",part="garbage",outcome="invalid"} 2
gateway_aggregate_parts_total{route="page",part="slow",outcome="timeout"} 2



=== TEST 6: all of it on one route, and promtool accepts the text
--- http_config
    gateway_metrics_zone gw:1m;
    rate_limit_zone $jwt_claim_sub zone=per_user:1m rate=1r/m;
--- config
    location = /page {
        gateway_metrics_route "page \"v2\"";
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        rate_limit zone=per_user;
        aggregate_part good /_good;
        aggregate_part broken /_broken;
    }
    location = /_good { internal; return 200 '{"a":1}'; }
    location = /_broken { internal; return 500; }
    location = /metrics {
        gateway_metrics;
    }
--- init
Test::More::is(scalar GwHttp::http_get('/page',
                   headers => ["Authorization: Bearer $main::tok{valid}"]),
               200, 'page');
Test::More::is(scalar GwHttp::http_get('/page',
                   headers => ["Authorization: Bearer $main::tok{valid}"]),
               429, 'limited');
Test::More::is(scalar GwHttp::http_get('/page'), 401, 'no token');
--- request
GET /metrics
--- response_body_filters eval
sub { GwMetrics::promtool($_[0]) . GwMetrics::families('gateway_jwt_requests_total',
          'gateway_rate_limit_requests_total',
          'gateway_aggregate_parts_total')->($_[0]) }
--- response_body
promtool exit 0
gateway_jwt_requests_total{route="page \"v2\"",status="valid"} 2
gateway_jwt_requests_total{route="page \"v2\"",status="missing"} 1
gateway_rate_limit_requests_total{zone="per_user",status="passed"} 1
gateway_rate_limit_requests_total{zone="per_user",status="rejected"} 1
gateway_aggregate_parts_total{route="page \"v2\"",part="good",outcome="ok"} 1
gateway_aggregate_parts_total{route="page \"v2\"",part="broken",outcome="status"} 1
