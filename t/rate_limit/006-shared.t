# rate_limit: buckets in shared memory: seen by every worker, and kept
# across a reload (HUP). The --- init sections send the requests that
# need a master process: several workers at once, a reload in between.
#
# The limited locations sit behind a "reuseport" listener so that the
# kernel spreads the connections over both workers.
#
# Under valgrind the runner starts nginx without a master process: one
# worker, and no reload tests (a single process reloads badly).

use lib 't/helpers';
use GwHttp ();   # for the --- init sections
use Test::Nginx::Socket 'no_plan';

master_on();
workers($ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 2);
worker_connections(1024);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers share a bucket: exactly 10 of 20 requests at once get in
--- http_config
    rate_limit_zone $server_name zone=shared:1m rate=1r/m burst=9;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;
        server_name backend;

        location = /t {
            rate_limit zone=shared;
            add_header X-Pid $pid always;
            alias html/ok.txt;
        }
    }
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- init
my @res = GwHttp::http_get_parallel(('/t') x 20);
my %count;
$count{$_->[0]}++ for @res;
Test::More::is($count{200}, 10, '10 admitted');
Test::More::is($count{429}, 10, '10 rejected');
my %pid = map { $_->[1]{'x-pid'} => 1 } @res;
Test::More::cmp_ok(scalar keys %pid, '>=', 2, 'both workers answered')
    unless $ENV{TEST_NGINX_USE_VALGRIND};
--- request
GET /t
--- error_code: 429
--- response_headers
RateLimit-Limit: 10
RateLimit-Remaining: 0
Retry-After: 60



=== TEST 2: one request after another, over both workers: exactly 10 admitted
--- http_config
    rate_limit_zone $server_name zone=shared:1m rate=1r/m burst=9;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;
        server_name backend;

        location = /t {
            rate_limit zone=shared;
            add_header X-Pid $pid always;
            alias html/ok.txt;
        }
    }
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- init
my (@codes, %pid);
for (1 .. 20) {
    my ($code, $h) = GwHttp::http_get('/t');
    push @codes, $code;
    $pid{$h->{'x-pid'} // ''} = 1;
}
Test::More::is("@codes", join(' ', (200) x 10, (429) x 10),
               'the first 10 admitted');
Test::More::cmp_ok(scalar keys %pid, '>=', 2, 'both workers answered')
    unless $ENV{TEST_NGINX_USE_VALGRIND};
--- request
GET /t
--- error_code: 429



=== TEST 3: a reload keeps the buckets of a zone declared again alike
# init: use up the bucket, then reload a config that differs (gen-2)
--- skip_eval: 9: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=1;
--- config
    location = /t {
        rate_limit zone=z;
        add_header X-Gen gen-1 always;
        alias html/ok.txt;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- init
Test::More::is(GwHttp::http_get('/t'), 200, 'first token');
Test::More::is(GwHttp::http_get('/t'), 200, 'second token');
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g }, '/gen',
                                      'gen-2'),
               'the new configuration serves');
--- request
GET /t
--- error_code: 429
--- response_headers
X-Gen: gen-2
RateLimit-Remaining: 0
Retry-After: 60
--- no_error_log
[alert]
[emerg]



=== TEST 4: a reload that gives the zone another size starts it afresh
--- skip_eval: 6: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=1;
--- config
    location = /t {
        rate_limit zone=z;
        add_header X-Gen gen-1 always;
        alias html/ok.txt;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- init
Test::More::is(GwHttp::http_get('/t'), 200, 'first token');
Test::More::is(GwHttp::http_get('/t'), 200, 'second token');
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g;
                                            s/zone=z:1m/zone=z:2m/ },
                                      '/gen', 'gen-2'),
               'the new configuration serves');
--- request
GET /t
--- error_code: 200
--- response_headers
X-Gen: gen-2
RateLimit-Remaining: 1



=== TEST 5: a reload keeps the buckets of a zone used with other rates
# the zone's own rate and burst change; the buckets' state carries over
--- skip_eval: 10: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=1;
--- config
    location = /t {
        rate_limit zone=z;
        add_header X-Gen gen-1 always;
        alias html/ok.txt;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- init
Test::More::is(GwHttp::http_get('/t'), 200, 'first token');
Test::More::is(GwHttp::http_get('/t'), 200, 'second token');
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g;
                                            s/burst=1;/burst=2;/ },
                                      '/gen', 'gen-2'),
               'the new configuration serves');
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Gen: gen-2\nRateLimit-Limit: 3\nRateLimit-Remaining: 0",
 "X-Gen: gen-2\nRetry-After: 60"]
