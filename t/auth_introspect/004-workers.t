# auth_introspect under a master process: two workers share the zone, so
# a new token seen by both at once is asked about once (one worker asks,
# the other finds its mark and waits for the answer in the zone), and a
# reload keeps the answers. GwPeer's endpoint counts its calls.
#
# Under valgrind the runner starts nginx without a master process, so
# these blocks are skipped there.

use lib 't/helpers';
use GwHttp ();
use GwPeer qw($CLIENT);
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
worker_connections(1024);

GwPeer::start();

$ENV{TEST_NGINX_CLIENT} = $CLIENT;

# The protected location sits behind a "reuseport" listener, so that the
# kernel spreads the connections over both workers; the token comes from
# ?t=, for GwHttp's parallel GETs.
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', ($block->http_config // '') . <<'HTTP');
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;
        server_name backend;

        location /t {
            auth_introspect "api" token=$arg_t;
            auth_introspect_request /introspect;
            add_header X-Sub $introspect_claim_sub always;
            add_header X-Pid $pid always;
            alias html/ok.txt;
        }
        location = /introspect {
            internal;
            proxy_set_header Authorization "$TEST_NGINX_CLIENT";
            proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/$tag;
        }
    }
HTTP

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
    $block->set_value('skip_eval', '1: $ENV{TEST_NGINX_USE_VALGRIND}')
        unless defined $block->skip_eval;
});

# GETs at once until both workers answered some of them (the kernel
# spreads connections as it likes): the statuses, and the workers seen
sub spread {
    my ($uri) = @_;
    my (@status, %pids);

    for (1 .. 20) {
        for my $res (GwHttp::http_get_parallel(($uri) x 20)) {
            push @status, $res->[0];
            $pids{$res->[1]{'x-pid'}}++ if $res->[1]{'x-pid'};
        }
        last if keys %pids > 1;
    }

    return (\@status, scalar keys %pids);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers, one zone: a new token asked about once however
many requests carry it in either worker (the endpoint answers 300 ms late)
--- http_config
    map $uri $tag { default "t1?delay=0.3"; }
    auth_introspect_cache zone=tokens:1m valid=1h;
--- init
my ($status, $workers) = main::spread('/t?t=alice');
Test::More::is($workers, 2, 'both workers answered');
Test::More::is(scalar(grep { $_ != 200 } @$status), 0, 'all let in');
--- request
GET /hits/t1
--- response_body
1



=== TEST 2: without a zone, each worker asks once for its own requests
--- http_config
    map $uri $tag { default "t2?delay=0.3"; }
--- init
my ($status, $workers) = main::spread('/t?t=bob');
Test::More::is($workers, 2, 'both workers answered');
Test::More::is(scalar(grep { $_ != 200 } @$status), 0, 'all let in');
--- request
GET /hits/t2
--- response_body_like
^[2-9]\d*$



=== TEST 3: a reload keeps the answers: the token is not asked about
again by the new workers
--- http_config
    map $uri $tag { default t3; }
    auth_introspect_cache zone=tokens:1m valid=1h;
--- config
    location /t {
        auth_introspect "api" token=$arg_t;
        auth_introspect_request /introspect;
        add_header X-Sub $introspect_claim_sub always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/$tag;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
    location = /version {
        return 200 "one";
    }
--- init
my @res = GwHttp::http_get_parallel(('/t?t=alice') x 10);
Test::More::is(scalar(grep { $_->[0] == 200 } @res), 10, 'let in');
Test::More::is(GwPeer::hits('t3'), 1, 'asked once');
Test::More::ok(GwHttp::reload_nginx(sub { s/return 200 "one"/return 200 "two"/ },
                                    '/version', 'two'),
               'reloaded');
@res = GwHttp::http_get_parallel(('/t?t=alice') x 10);
Test::More::is(scalar(grep { $_->[0] == 200
                             && $_->[1]{'x-sub'} eq 'alice' } @res),
               10, 'let in by the new workers, with the claims');
--- request
GET /hits/t3
--- response_body
1



=== TEST 4: an endpoint slower than the 5 seconds a mark holds: the other
worker waits that long for the answer, then asks too; all are let in
--- http_config
    map $uri $tag { default "t4?delay=6"; }
    auth_introspect_cache zone=tokens:1m valid=1h;
--- init
my (@status, %pids);
for my $res (GwHttp::http_get_parallel(('/t?t=bob') x 20)) {
    push @status, $res->[0];
    $pids{$res->[1]{'x-pid'}}++ if $res->[1]{'x-pid'};
}
Test::More::is(scalar keys %pids, 2, 'both workers answered');
Test::More::is(scalar(grep { $_ != 200 } @status), 0, 'all let in');
--- request
GET /hits/t4
--- response_body
2
--- timeout: 30
