# health_check under a master process with two workers: a server is
# checked once an interval, not once per worker, and a change is told
# once; a reload with mandatory checks, persistent or not, that adds a
# server; a server that flaps under load costs clients no 5xx while
# another is healthy.
#
# Under valgrind the runner starts nginx without a master process, so
# these blocks are skipped there.

use lib 't/helpers';
use GwHealth ();
use GwHttp ();
use POSIX ();
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

    GwHealth::setup_block($block);

    $block->set_value('http_config',
                      $block->http_config . GwHealth::backends())
        if defined $block->http_config;
});

# n requests at once, to uri: "b1 10, b2 10" and how many workers answered
sub parallel {
    my ($uri, $n) = @_;
    my (%bodies, %pids);
    for my $res (GwHttp::http_get_parallel(($uri) x $n)) {
        my ($status, $h, $body) = @$res;
        $body =~ s/\n\z//;
        $bodies{$status == 200 ? $body : $status}++;
        $pids{$h->{'x-pid'} // '-'}++;
    }
    return (join(', ', map { "$_ $bodies{$_}" } sort keys %bodies),
            scalar keys %pids);
}

no_root_location();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers: one check an interval per server, as one worker would
--- http_config
    upstream w1 {
        zone w1 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- config
    location / {
        proxy_pass http://w1;
        add_header X-Pid $pid always;
        health_check interval=500ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health }) }, 2),
               'checked');
my ($tally, $workers) = main::parallel('/', 40);
Test::More::is($tally, 'b1 20, b2 20', '40 at once: 20 to each');
Test::More::is($workers, 2, 'both workers answered');

my ($b1, $b2) = map { GwHealth::hits($_, qr{^GET /health }) } qw(b1 b2);
Time::HiRes::sleep(3);
my ($n1, $n2) = map { GwHealth::hits($_, qr{^GET /health }) } qw(b1 b2);
Test::More::ok($n1 - $b1 >= 5 && $n1 - $b1 <= 7,
               'b1: 6 checks in 3s, not 12 (' . ($n1 - $b1) . ')');
Test::More::ok($n2 - $b2 >= 5 && $n2 - $b2 <= 7,
               'b2: 6 checks in 3s, not 12 (' . ($n2 - $b2) . ')');
--- request
GET /
--- response_body_like: ^b[12]$
--- no_error_log
[warn]
[error]



=== TEST 2: a change is told once, by the worker that saw it
--- http_config
    upstream w2 {
        zone w2 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- config
    location / {
        proxy_pass http://w2;
        add_header X-Pid $pid always;
        health_check interval=100ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health }) }, 2),
               'checked');
GwHealth::sick('b1', '500');
Test::More::ok(GwHealth::wait_until(sub {
                   (main::parallel('/', 20))[0] eq 'b2 20' }, 2),
               'b1 is out for both workers');
Time::HiRes::sleep(0.5);
GwHealth::well('b1');
Test::More::ok(GwHealth::wait_until(sub {
                   (main::parallel('/', 20))[0] eq 'b1 10, b2 10' }, 2),
               'and back for both');
Time::HiRes::sleep(0.5);
Test::More::is(GwHealth::log_count(qr/is down/), 1, 'one line for down');
Test::More::is(GwHealth::log_count(qr/is up/), 1, 'one line for up');
--- request
GET /
--- response_body_like: ^b[12]$
--- no_error_log
[error]



=== TEST 3: mandatory persistent: a reload adds a server; the healthy one serves throughout, the new one waits for a check
--- http_config
    upstream w3 {
        zone w3 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        #server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- sick
b2 500
--- config
    location / {
        proxy_pass http://w3;
        health_check interval=200ms uri=/health mandatory persistent;
    }

    location = /gen {
        return 200 "gen-1";
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 1) eq 'b1 1' }, 2),
               'b1 passed its first check');

# requests all along the reload, from a child, each on its own connection

my $pid = fork // die "fork: $!\n";
if ($pid == 0) {
    my %seen;
    my $until = Time::HiRes::time() + 2;
    while (Time::HiRes::time() < $until) {
        my ($status, undef, $body) = GwHttp::http_get('/');
        $body =~ s/\n\z//;
        $seen{$status == 200 ? $body : $status}++;
    }
    open my $out, '>', "$ENV{TEST_NGINX_HC_DIR}/during" or die;
    print $out join(', ', map { "$_ $seen{$_}" } sort keys %seen);
    close $out;
    POSIX::_exit(0);
}

Time::HiRes::sleep(0.3);
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g; s/#server/server/ },
                                    '/gen', 'gen-2'),
               'reloaded');
waitpid $pid, 0;
open my $in, '<', "$ENV{TEST_NGINX_HC_DIR}/during" or die;
my $during = <$in>;
close $in;
Test::More::like($during, qr/^b1 \d+$/, "b1 alone served, without a 502 ($during)");
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b2', qr{^GET /health }) >= 2 }, 2),
               'b2 is checked');
Test::More::is(GwHealth::tally('/', 6), 'b1 6', 'b2 gets no traffic');
Test::More::is(GwHealth::hits('b2', qr{^GET / }), 0, 'it never had a request');
GwHealth::well('b2');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 2) eq 'b1 1, b2 1' }, 2),
               'b2 serves once it passes');
--- request
GET /
--- response_body_like: ^b[12]$
--- error_log eval
qr/\[warn\] .*upstream "w3" server 127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT} is down: status 500$/
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/]



=== TEST 4: mandatory, not persistent: after a reload every server waits for its first check again
--- http_config
    upstream w4 {
        zone w4 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        #server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- sick
b2 500
--- config
    location / {
        proxy_pass http://w4;
        health_check interval=200ms uri=/health mandatory;
    }

    location = /gen {
        return 200 "gen-1";
    }

    location = /status {
        health_check_status;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 1) eq 'b1 1' }, 2),
               'b1 passed its first check');
Time::HiRes::sleep(1);
Test::More::like((GwHttp::http_get('/status'))[2], qr/"checks":(?:[5-9]|\d\d)/,
                 'b1 checked several times');
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g; s/#server/server/ },
                                    '/gen', 'gen-2'),
               'reloaded');
Test::More::like((GwHttp::http_get('/status'))[2],
                 qr/^\{"w4":\{"peers":\[\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","state":"(?:checking|up)","health_checks":\{"checks":[0-2][,}]/,
                 'b1 starts again');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 1) eq 'b1 1' }, 2),
               'b1 serves after its check');
Test::More::is(GwHealth::tally('/', 6), 'b1 6', 'b2 gets no traffic');
Test::More::is(GwHealth::hits('b2', qr{^GET / }), 0, 'it never had a request');
--- request
GET /
--- response_body
b1
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/]



=== TEST 5: a server that flaps under load: no 5xx for clients while the other is healthy
--- http_config
    upstream w5 {
        zone w5 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }
--- config
    location / {
        proxy_pass http://w5;
        health_check interval=100ms;
    }
--- init
my $ok = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nraw\n";
my (%seen, $flips);
my $until = Time::HiRes::time() + 4;
my $next = 0;
my $up = 0;
while (Time::HiRes::time() < $until) {
    if (Time::HiRes::time() >= $next) {
        if ($up) {
            GwHealth::stop_servers();
        } else {
            GwHealth::serve($ENV{TEST_NGINX_RAW_PORT}, $ok);
        }
        $up = !$up;
        $flips++;
        $next = Time::HiRes::time() + 0.4;
    }
    for my $res (GwHttp::http_get_parallel(('/') x 20)) {
        my ($status, undef, $body) = @$res;
        $body =~ s/\n\z//;
        $seen{$status == 200 ? $body : $status}++;
    }
}
GwHealth::stop_servers();
my @bad = grep { !/^(?:b1|raw)$/ } keys %seen;
Test::More::is("@bad", '', "no other answer than b1's and raw's ("
               . join(', ', map { "$_ $seen{$_}" } sort keys %seen) . ')');
Test::More::ok($seen{raw} && $seen{b1}, 'both served');
Test::More::ok(GwHealth::log_count(qr/is down/) >= 2, 'taken out, more than once');
Test::More::ok(GwHealth::log_count(qr/is up/) >= 2, 'and back');
--- request
GET /
--- response_body
b1
--- timeout: 10



=== TEST 6: a worker that exits does not wait for a check in flight
--- http_config
    upstream w6 {
        zone w6 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }
--- serve
hang
--- config
    location / {
        proxy_pass http://w6;
        proxy_read_timeout 30s;
        health_check interval=200ms;
    }

    location = /gen {
        return 200 "gen-1";
    }
--- init
Time::HiRes::sleep(0.5);
my $start = Time::HiRes::time();
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g }, '/gen', 'gen-2'),
               'reloaded');
my $took = Time::HiRes::time() - $start;
Test::More::ok($took < 5, "the old workers exited at once (${took}s)");
--- request
GET /gen
--- response_body: gen-2
--- no_error_log
[alert]
