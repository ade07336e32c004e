# health_check in gateway_metrics: a gauge and two counters for each
# checked server, read by the metrics module from health_check's zone at
# scrape time; none of them without health_check, nor for a server that
# left the list.

use lib 't/helpers';
use GwHealth ();
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    GwHealth::setup_block($block);

    $block->set_value('http_config',
                      $block->http_config . GwHealth::backends())
        if defined $block->http_config;
});

no_root_location();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: up, down, checks and failures of each server
--- http_config
    gateway_metrics_zone metrics:1m;

    upstream m1 {
        zone m1 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- sick
b2 500
--- config
    location / {
        proxy_pass http://m1;
        health_check interval=200ms uri=/health;
    }

    location = /metrics {
        gateway_metrics;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b2', qr{^GET /health }) >= 3 }, 2),
               'checked three times');
--- request
GET /metrics
--- response_body_like eval
my ($b1, $b2) = map { "127\\.0\\.0\\.1:$_" }
                @ENV{qw(TEST_NGINX_B1_PORT TEST_NGINX_B2_PORT)};
my $re = CORE::join "\n",
    '# HELP gateway_upstream_server_up [^\n]+',
    '# TYPE gateway_upstream_server_up gauge',
    "gateway_upstream_server_up\\{upstream=\"m1\",server=\"$b1\"\\} 1",
    "gateway_upstream_server_up\\{upstream=\"m1\",server=\"$b2\"\\} 0",
    '# HELP gateway_upstream_health_checks_total [^\n]+',
    '# TYPE gateway_upstream_health_checks_total counter',
    "gateway_upstream_health_checks_total\\{upstream=\"m1\",server=\"$b1\"\\} [1-9]\\d*",
    "gateway_upstream_health_checks_total\\{upstream=\"m1\",server=\"$b2\"\\} (?:[3-9]|\\d\\d+)",
    '# HELP gateway_upstream_health_check_fails_total [^\n]+',
    '# TYPE gateway_upstream_health_check_fails_total counter',
    "gateway_upstream_health_check_fails_total\\{upstream=\"m1\",server=\"$b1\"\\} 0",
    "gateway_upstream_health_check_fails_total\\{upstream=\"m1\",server=\"$b2\"\\} (?:[3-9]|\\d\\d+)",
    '# HELP gateway_metrics_dropped_total';
qr/$re/



=== TEST 2: without health_check, no series of it
--- http_config
    gateway_metrics_zone metrics:1m;
--- config
    location = /metrics {
        gateway_metrics;
    }
--- request
GET /metrics
--- response_body_unlike: gateway_upstream_
