# health_check with upstream_discovery: the instances etcd lists are
# checked, one that etcd lists but that fails its checks gets no
# traffic, a new one waits for its first check when the check is
# mandatory, and one removed from etcd is no longer checked.  Needs etcd
# (etcd-server), started by t/helpers/GwEtcd.pm.
#
# The backends are GwHealth's b1, b2, b3, whose /health the tests make
# fail; etcd's keys point at them.

use lib 't/helpers';
use GwEtcd ();
use GwHealth ();
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    GwHealth::setup_block($block);
    GwEtcd::setup_block($block);

    $block->set_value('http_config',
                      $block->http_config . GwHealth::backends())
        if defined $block->http_config;

    # until etcd first answers, a block without server lines has no peers

    $block->set_value('no_error_log',
                      [qr/\[error\] (?!.*no live upstreams while connecting)/,
                       '[crit]', '[alert]'])
        unless defined $block->no_error_log;
});

no_root_location();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: an instance etcd lists but whose checks fail gets no traffic
--- http_config
    upstream d1 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/hc1/
                  interval=100ms;
    }
--- etcd
/hc1/a 127.0.0.1:$TEST_NGINX_B1_PORT
/hc1/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location / {
        proxy_pass http://d1;
        health_check interval=200ms uri=/health;
    }

    location = /status {
        health_check_status;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health })
                   && GwHealth::hits('b2', qr{^GET /health }) }, 3),
               'both instances checked');
Test::More::is(GwHealth::tally('/', 10), 'b1 5, b2 5', 'both serve');
GwHealth::sick('b2', '500');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 4) eq 'b1 4' }, 2),
               'b2 is out');
Test::More::is(GwHealth::tally('/', 10), 'b1 10', 'though etcd lists it');
GwHealth::well('b2');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 2) eq 'b1 1, b2 1' }, 2),
               'b2 is back');
--- request
GET /status
--- response_body_like eval
qr/^\{"d1":\{"peers":\[\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","state":"up",.*\},\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT}","state":"up","health_checks":\{"checks":\d+,"fails":[1-9]\d*,"unhealthy":1,"last_passed":true\}\}\]\}\}$/
--- error_log eval
[qr/\[warn\] .*upstream "d1" server 127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT} is down: status 500$/,
 qr/\[notice\] .*upstream "d1" server 127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT} is up$/]



=== TEST 2: mandatory: an instance registered while nginx runs waits for its first check
--- http_config
    upstream d2 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/hc2/
                  interval=100ms;
    }
--- etcd
/hc2/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- sick
b3 500
--- config
    location / {
        proxy_pass http://d2;
        health_check interval=200ms uri=/health mandatory;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 1) eq 'b1 1' }, 3),
               'b1 checked and up');
GwEtcd::put('/hc2/c', "127.0.0.1:$ENV{TEST_NGINX_B3_PORT}");
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b3', qr{^GET /health }) >= 2 }, 3),
               'b3 is checked');
Test::More::is(GwHealth::tally('/', 10), 'b1 10', 'and gets no traffic');
Test::More::is(GwHealth::hits('b3', qr{^GET / }), 0,
               'it never had a request');
GwHealth::well('b3');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 2) eq 'b1 1, b3 1' }, 2),
               'b3 is up');
--- request
GET /
--- response_body_like: ^b[13]$
--- error_log eval
qr/\[warn\] .*upstream "d2" server 127\.0\.0\.1:$ENV{TEST_NGINX_B3_PORT} is down: status 500$/



=== TEST 3: an instance removed from etcd is no longer checked
--- http_config
    upstream d3 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/hc3/
                  interval=100ms;
    }
--- etcd
/hc3/a 127.0.0.1:$TEST_NGINX_B1_PORT
/hc3/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location / {
        proxy_pass http://d3;
        health_check interval=100ms uri=/health;
    }

    location = /status {
        health_check_status;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b2', qr{^GET /health }) }, 3),
               'b2 checked');
GwEtcd::del('/hc3/b');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 4) eq 'b1 4' }, 2),
               'b2 is gone');
Time::HiRes::sleep(0.3);
my $checks = GwHealth::hits('b2', qr{^GET /health });
Time::HiRes::sleep(0.5 * $GwHealth::SLOW);
Test::More::is(GwHealth::hits('b2', qr{^GET /health }), $checks,
               'and no longer checked');
--- request
GET /status
--- response_body_like eval
qr/^\{"d3":\{"peers":\[\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","state":"up",[^\]]*\}\]\}\}$/
--- no_error_log
[warn]
