# upstream_discovery under a master process: two workers balance over one
# list and see a change together, one of them polls per interval, and a
# reload keeps the list unless the zone's size changes.  Needs etcd
# (etcd-server).
#
# Under valgrind the runner starts nginx without a master process, so
# these blocks are skipped there.

use lib 't/helpers';
use GwEtcd ();
use GwHttp ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
worker_connections(1024);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('skip_eval', '1: $ENV{TEST_NGINX_USE_VALGRIND}')
        unless defined $block->skip_eval;

    return if $ENV{TEST_NGINX_USE_VALGRIND};

    GwEtcd::setup_block($block);

    $block->set_value('http_config', $block->http_config . GwEtcd::backends())
        if defined $block->http_config;

    $block->set_value('no_error_log',
                      [qr/\[error\] (?!.*no live upstreams while connecting)/,
                       '[warn]', '[crit]', '[alert]'])
        unless defined $block->no_error_log || defined $block->error_log;
});

# GET uri n times at once: "b1 50, b2 50" and how many workers answered
sub parallel {
    my ($uri, $n) = @_;
    my (%bodies, %pids);
    for my $res (GwHttp::http_get_parallel(($uri) x $n)) {
        my ($status, $h, $body) = @$res;
        $bodies{$status == 200 ? $body : $status}++;
        $pids{$h->{'x-pid'} // '-'}++;
    }
    return (GwEtcd::tally(\%bodies), scalar keys %pids);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers, one list: requests on both split 1:1 exactly; a removal is seen by both
--- http_config
    upstream u1 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/w1/
                  interval=100ms;
    }
--- etcd
/w1/a 127.0.0.1:$TEST_NGINX_B1_PORT
/w1/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u1/;
        add_header X-Pid $pid always;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
my ($tally, $workers) = main::parallel('/d/', 100);
Test::More::is($tally, 'b1 50, b2 50', '100 at once: 50 to each');
Test::More::is($workers, 2, 'both workers answered');
GwEtcd::del('/w1/b');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b1 4'), 'b2 is gone');
($tally, $workers) = main::parallel('/d/', 100);
Test::More::is($tally, 'b1 100', '100 at once: all to b1');
Test::More::is($workers, 2, 'both workers answered');
--- request
GET /d/
--- response_body
b1



=== TEST 2: from two workers, one watch and one range per interval, not one from each
--- http_config
    upstream u2 {
        discovery etcd=127.0.0.1:$TEST_NGINX_FAKE_PORT prefix=/w2/
                  interval=100ms;
    }

    # etcd behind a proxy that logs each request; the watch streams
    # through it
    server {
        listen 127.0.0.1:$TEST_NGINX_FAKE_PORT;
        access_log logs/etcd.log;

        location / {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ETCD_PORT;
            proxy_buffering off;
        }
    }
--- etcd
/w2/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u2/;
    }
--- init
my $count = sub {
    my $re = shift;
    open my $in, '<', "$Test::Nginx::Util::ServRoot/logs/etcd.log" or return 0;
    my $n = grep { $_ =~ $re } <$in>;
    close $in;
    return $n;
};
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
my $before = $count->(qr{"POST /v3/kv/range HTTP/1\.0" 200 });
Time::HiRes::sleep(2);
my $n = $count->(qr{"POST /v3/kv/range HTTP/1\.0" 200 }) - $before;
Test::More::ok($n >= 10 && $n <= 25, "2s at 100ms: $n ranges");
GwEtcd::put('/w2/a', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(GwEtcd::wait_tally('/d/', 2, 'b2 2'), 'the change is seen');
Test::More::ok(GwEtcd::wait_until(sub { GwEtcd::watchers() == 1 }),
               'one watcher in etcd');
Test::More::is($count->(qr{"POST /v3/watch HTTP/1\.0" }), 0,
               'it runs on: the proxy logs it when it ends');
--- request
GET /d/
--- response_body
b2



=== TEST 3: a reload with etcd stopped keeps the discovered list, not the server line; one error line for the outage
--- http_config
    upstream u3 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/w3/
                  interval=100ms;
    }
--- etcd
/w3/a 127.0.0.1:$TEST_NGINX_B1_PORT
/w3/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u3/;
    }

    location = /gen {
        return 200 "gen-1";
    }
--- init
my $failed = qr/discovery: upstream "u3": etcd at 127\.0\.0\.1:\d+ failed/;
Test::More::ok(GwEtcd::wait_tally('/d/', 2, 'b1 1, b2 1'), 'etcd has answered');
GwEtcd::stop();
Test::More::ok(GwEtcd::wait_log($failed), 'the outage is logged');
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g }, '/gen', 'gen-2'),
               'the new configuration serves');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b1 10, b2 10',
               'the list from etcd serves on');
Time::HiRes::sleep(0.5);
Test::More::is(GwEtcd::log_count($failed), 1, 'still one error line');
GwEtcd::start();
Test::More::ok(GwEtcd::wait_log(qr/etcd at 127\.0\.0\.1:\d+ answers again/, 12),
               'etcd answers again');
GwEtcd::del('/w3/b');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b1 4'), 'the new workers see a change');
--- request
GET /d/
--- response_body
b1
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u3": etcd at 127\.0\.0\.1:$GwEtcd::PORT failed: .+, keeping 2 instances/,
qr/\[notice\] .*discovery: upstream "u3": etcd at 127\.0\.0\.1:$GwEtcd::PORT answers again/,
]
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 4: a reload that changes the zone's size starts the list afresh: the server line until etcd answers
--- http_config
    upstream u4 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/w4/
                  interval=100ms zone=w4:64k;
    }
--- etcd
/w4/a 127.0.0.1:$TEST_NGINX_B1_PORT
/w4/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u4/;
    }

    location = /gen {
        return 200 "gen-1";
    }
--- init
Test::More::ok(GwEtcd::wait_tally('/d/', 2, 'b1 1, b2 1'), 'etcd has answered');
GwEtcd::stop();
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g; s/w4:64k/w4:128k/ },
                                      '/gen', 'gen-2'),
               'the new configuration serves');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 6)), 'b3 6',
               'the server line serves');
GwEtcd::start();
Test::More::ok(GwEtcd::wait_tally('/d/', 2, 'b1 1, b2 1', 12),
               'the list from etcd again');
Test::More::ok(GwEtcd::wait_log(qr/etcd at 127\.0\.0\.1:\d+ answers again/, 12),
               'etcd answers again');
--- request
GET /d/
--- response_body_like: ^b[12]$
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u4": etcd at 127\.0\.0\.1:$GwEtcd::PORT failed: .+, keeping 1 instances/,
qr/\[notice\] .*discovery: upstream "u4": etcd at 127\.0\.0\.1:$GwEtcd::PORT answers again/,
]
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 5: the workers killed: the master starts others, worker 0 among them watches again; the list served meanwhile
--- http_config
    upstream u5 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/w5/
                  interval=10s;
    }
--- etcd
/w5/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u5/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
open my $pf, '<', $Test::Nginx::Util::PidFile or die "$!\n";
my ($master) = <$pf> =~ /(\d+)/;
close $pf;
my @old = GwHttp::children($master);
kill 'KILL', @old;
Test::More::ok(GwEtcd::wait_until(sub {
    my @now = GwHttp::children($master);
    @now == 2 && !grep { my $o = $_; grep { $_ == $o } @now } @old }, 5),
    'two new workers');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 4)), 'b1 4',
               'the list in the zone serves at once');
GwEtcd::put('/w5/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(GwEtcd::wait_until(sub { GwEtcd::bodies('/d/', 1)->{"b2\n"} }),
               'a change is seen: worker 0 watches again');
Test::More::ok(GwEtcd::wait_until(sub { GwEtcd::watchers() == 1 }),
               'one watcher in etcd');
--- request
GET /d/
--- response_body_like: ^b[12]$
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/, '[crit]']
