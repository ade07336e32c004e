# upstream_discovery: instances under a prefix in the file's own etcd
# (t/helpers/GwEtcd.pm) get requests by nginx's weighted round robin;
# instances come, go and change weight; requests in flight finish; the
# server lines serve until etcd first answers; an empty prefix, etcd
# stopped, slow or answering garbage, values that are not instances;
# passive health checks; $upstream_addr.  Needs etcd (etcd-server).
#
# Every block has its own upstream and prefix in the one etcd, whose
# keys its "--- etcd" section puts before nginx starts.  Backends b1, b2,
# b3 answer "b1\n" ... on ports of their own.

use lib 't/helpers';
use GwEtcd ();
use IO::Select ();
use IO::Socket::INET ();
use GwHttp ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    GwEtcd::setup_block($block);

    $block->set_value('http_config', $block->http_config . GwEtcd::backends())
        if defined $block->http_config;

    # until etcd first answers, an upstream without server lines has no
    # peers: the waits for that answer see 502 and its error line

    $block->set_value('no_error_log',
                      [qr/\[error\] (?!.*no live upstreams while connecting)/,
                       '[warn]', '[crit]', '[alert]'])
        unless defined $block->no_error_log || defined $block->error_log;
});

# what a fake etcd in nginx answers: /t21/a, b1's address, at revision 5
$ENV{TEST_NGINX_FAKE_KVS} =
    '{"header":{"revision":"5"},"kvs":[{"key":"' . GwEtcd::b64('/t21/a')
    . '","mod_revision":"5","value":"'
    . GwEtcd::b64("127.0.0.1:$ENV{TEST_NGINX_B1_PORT}") . '"}],"count":"1"}';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two instances: 20 requests, 10 to each
--- http_config
    upstream u1 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t1/
                  interval=100ms;
    }
--- etcd
/t1/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t1/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u1/;
        add_header X-Upstream $upstream_addr always;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b1 10, b2 10',
               '10 requests to each');
--- request
GET /d/
--- response_body_like: ^b[12]$
--- response_headers_like
X-Upstream: 127\.0\.0\.1:\d+



=== TEST 2: weights from JSON values: 3:1 over 40 requests, exactly
--- http_config
    upstream u2 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t2/
                  interval=100ms;
    }
--- etcd
/t2/a {"host": "127.0.0.1", "port": $TEST_NGINX_B1_PORT, "weight": 3}
/t2/b {"host":"127.0.0.1","port":$TEST_NGINX_B2_PORT}
--- config
    location /d/ {
        proxy_pass http://u2/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 40)), 'b1 30, b2 10',
               '30 to weight 3, 10 to weight 1');
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 3: a deregistered instance gets no new requests
--- http_config
    upstream u3 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t3/
                  interval=100ms;
    }
--- etcd
/t3/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t3/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u3/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b1 10, b2 10',
               'both serve');
GwEtcd::del('/t3/b');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b1 4'), 'b2 is gone');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b1 20',
               'b1 alone serves');
--- request
GET /d/
--- response_body
b1



=== TEST 4: a request in flight to a removed instance finishes; a new instance takes its place
--- http_config
    upstream u4 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t4/
                  interval=100ms;
    }
--- etcd
/t4/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u4/;
        add_header X-Upstream $upstream_addr always;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');

my $slow = IO::Socket::INET->new(
    PeerAddr => '127.0.0.1',
    PeerPort => $Test::Nginx::Util::ServerPortForClient) or die "$!\n";
print $slow "GET /d/slow HTTP/1.0\r\nHost: localhost\r\n\r\n";
Time::HiRes::sleep(0.3);

GwEtcd::put('/t4/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
GwEtcd::del('/t4/a');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b2 4'), 'b2 replaces b1');
Test::More::ok(!IO::Select->new($slow)->can_read(0),
               'the request to b1 is still in flight');
my $resp = do { local $/; <$slow> };
Test::More::like($resp, qr{^HTTP/1\.1 200 .*\r\n\r\nb1 slow\n\z}s,
                 'and it finishes');
Test::More::like($resp, qr{\r\nX-Upstream: 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}\r\n},
                 'from b1');

GwEtcd::put('/t4/c', "127.0.0.1:$ENV{TEST_NGINX_B3_PORT}");
Test::More::ok(GwEtcd::wait_until(sub { GwEtcd::bodies('/d/', 1)->{"b3\n"} }),
               'b3 added');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b2 10, b3 10',
               'b2 and b3 serve, b1 does not');
--- request
GET /d/
--- response_body_like: ^b[23]$



=== TEST 5: a changed weight applies at once
--- http_config
    upstream u5 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t5/
                  interval=100ms;
    }
--- etcd
/t5/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t5/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u5/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b1 10, b2 10',
               '1:1');

# the round robin goes on from where it was: a window of n requests may
# be one off the exact split

GwEtcd::put('/t5/a', GwEtcd::instance('127.0.0.1', $ENV{TEST_NGINX_B1_PORT}, 3));
Test::More::ok(GwEtcd::wait_until(sub {
                   (GwEtcd::bodies('/d/', 8)->{"b1\n"} // 0) >= 6 }),
               'b1 has weight 3');
my $b1 = GwEtcd::bodies('/d/', 40)->{"b1\n"} // 0;
Test::More::ok($b1 >= 29 && $b1 <= 31, "3:1 over 40 requests ($b1 to b1)");

GwEtcd::put('/t5/a', GwEtcd::instance('127.0.0.1', $ENV{TEST_NGINX_B1_PORT}, 1));
GwEtcd::put('/t5/b', GwEtcd::instance('127.0.0.1', $ENV{TEST_NGINX_B2_PORT}, 4));
Test::More::ok(GwEtcd::wait_until(sub {
                   (GwEtcd::bodies('/d/', 10)->{"b2\n"} // 0) >= 7 }),
               'b2 has weight 4');
my $b2 = GwEtcd::bodies('/d/', 50)->{"b2\n"} // 0;
Test::More::ok($b2 >= 39 && $b2 <= 41, "1:4 over 50 requests ($b2 to b2)");
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 6: the server lines serve until etcd first answers
--- http_config
    upstream u6 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t6/
                  interval=100ms;
    }
--- etcd
/t6/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t6/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- post_setup_server_root
GwEtcd::stop();
--- config
    location /d/ {
        proxy_pass http://u6/;
    }
--- init
Test::More::ok(GwEtcd::wait_log(qr/discovery: upstream "u6": etcd at .* failed/),
               'the first poll failed');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 5)), 'b3 5',
               'the server line serves');
GwEtcd::start();
# polls back off while etcd fails, up to 10s
Test::More::ok(GwEtcd::wait_tally('/d/', 2, 'b1 1, b2 1', 12),
               'the instances in etcd replace it');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 10)), 'b1 5, b2 5',
               'b3 is not among them');
Test::More::ok(GwEtcd::wait_log(qr/answers again/), 'the outage is over');
--- request
GET /d/
--- response_body_like: ^b[12]$
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u6": etcd at 127\.0\.0\.1:$GwEtcd::PORT failed: .+, keeping 1 instances/,
qr/\[notice\] .*discovery: upstream "u6": etcd at 127\.0\.0\.1:$GwEtcd::PORT answers again/,
]
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 7: an empty prefix: 502, one "no live upstreams" line a request, the warning once
--- http_config
    upstream u7 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t7/
                  interval=100ms;
    }
--- etcd
/t7a/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u7/;
    }
--- init
my $warn = qr/\[warn\] .*discovery: upstream "u7": no instances under "\/t7\/" in etcd/;
Test::More::ok(GwEtcd::wait_log($warn), 'etcd has answered');
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count($warn), 1, 'the warning once over 5 polls');
--- request eval
["GET /d/", "GET /d/", "GET /d/"]
--- error_code eval
[502, 502, 502]
--- grep_error_log: no live upstreams while connecting to upstream
--- grep_error_log_out
no live upstreams while connecting to upstream
--- no_error_log
[crit]
[alert]



=== TEST 8: the last instance removed: 502 and the warning once; a new one serves
--- http_config
    upstream u8 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t8/
                  interval=100ms;
    }
--- etcd
/t8/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u8/;
    }
--- init
my $warn = qr/\[warn\] .*discovery: upstream "u8": no instances under "\/t8\/" in etcd/;
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
GwEtcd::del('/t8/a');
Test::More::ok(GwEtcd::wait_log($warn), 'the list is empty');
Test::More::ok(GwEtcd::wait_status('/d/', 502), 'requests get 502');
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count($warn), 1, 'the warning once over 5 polls');
GwEtcd::put('/t8/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'b2 registered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 10)), 'b2 10', 'b2 serves');
--- request
GET /d/
--- response_body
b2
--- error_log eval
qr/\[error\] .*no live upstreams while connecting to upstream/
--- no_error_log
[crit]
[alert]



=== TEST 9: etcd stopped: the last list serves on, one error line; its recovery noticed, changes seen again
--- http_config
    upstream u9 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t9/
                  interval=100ms;
    }
--- etcd
/t9/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t9/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u9/;
    }
--- init
my $failed = qr/discovery: upstream "u9": etcd at 127\.0\.0\.1:\d+ failed/;
Test::More::ok(GwEtcd::wait_tally('/d/', 2, 'b1 1, b2 1'), 'etcd has answered');
GwEtcd::stop();
Test::More::ok(GwEtcd::wait_log($failed), 'the outage is logged');
Time::HiRes::sleep(1 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b1 10, b2 10',
               'the last list serves, not the server line');
Test::More::is(GwEtcd::log_count($failed), 1, 'one error line for the outage');
GwEtcd::start();
Test::More::ok(GwEtcd::wait_log(qr/etcd at 127\.0\.0\.1:\d+ answers again/, 12),
               'etcd answers again');
GwEtcd::del('/t9/b');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b1 4'), 'a change is seen');
Test::More::is(GwEtcd::log_count($failed), 1, 'still one error line');
--- request
GET /d/
--- response_body
b1
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u9": etcd at 127\.0\.0\.1:$GwEtcd::PORT failed: .+, keeping 2 instances/,
qr/\[notice\] .*discovery: upstream "u9": etcd at 127\.0\.0\.1:$GwEtcd::PORT answers again/,
]
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 10: etcd accepts and never answers: the server line serves, one error line
--- http_config
    upstream u10 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=127.0.0.1:$TEST_NGINX_FAKE_PORT prefix=/t10/
                  interval=100ms;
    }

    # /hang waits for a request body that the etcd location announces
    # and never sends
    server {
        listen 127.0.0.1:$TEST_NGINX_FAKE_PORT;

        location = /v3/kv/range {
            proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/hang;
            proxy_pass_request_body off;
            proxy_set_header Content-Length 10;
        }

        location = /hang {
            proxy_pass http://127.0.0.1:1/;
        }
    }
--- config
    location /d/ {
        proxy_pass http://u10/;
    }
--- init
my $failed = qr/discovery: upstream "u10": etcd at 127\.0\.0\.1:\d+ failed/;
Test::More::ok(GwEtcd::wait_log($failed, 3), 'the poll timed out');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 5)), 'b3 5',
               'the server line serves');
Time::HiRes::sleep(2.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count($failed), 1, 'one error line');
--- request
GET /d/
--- response_body
b3
--- error_log eval
qr/\[error\] .*discovery: upstream "u10": etcd at 127\.0\.0\.1:$ENV{TEST_NGINX_FAKE_PORT} failed: timed out, keeping 1 instances/
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 11: etcd answering garbage: not 200, not JSON, no "header": the server line serves
--- http_config
    upstream u11a {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=127.0.0.1:$TEST_NGINX_FAKE_PORT prefix=/t11/
                  interval=100ms;
    }

    upstream u11b {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=127.0.0.1:$TEST_NGINX_RAND_PORT_1 prefix=/t11/
                  interval=100ms;
    }

    upstream u11c {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=127.0.0.1:$TEST_NGINX_RAND_PORT_2 prefix=/t11/
                  interval=100ms;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_FAKE_PORT;

        location = /v3/kv/range {
            return 503 '{"error": "etcdserver: leader changed"}';
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location = /v3/kv/range {
            return 200 'OK\n';
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;

        location = /v3/kv/range {
            return 200 '{"kvs": [{"key": "L3QxMS9h", "value": "MTI3LjAuMC4xOjE="}]}';
        }
    }
--- etcd
/t11/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /a/ {
        proxy_pass http://u11a/;
    }

    location /b/ {
        proxy_pass http://u11b/;
    }

    location /c/ {
        proxy_pass http://u11c/;
    }
--- init
for my $u (qw(u11a u11b u11c)) {
    Test::More::ok(GwEtcd::wait_log(qr/discovery: upstream "$u": etcd at .* failed/),
                   "$u: the answer is not taken");
}
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
for my $u (qw(a b c)) {
    Test::More::is(GwEtcd::log_count(qr/discovery: upstream "u11$u": etcd at .* failed/),
                   1, "u11$u: one error line");
    Test::More::is(GwEtcd::tally(GwEtcd::bodies("/$u/", 5)), 'b3 5',
                   "u11$u: the server line serves");
}
--- request
GET /c/
--- response_body
b3
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u11a": etcd at 127\.0\.0\.1:\d+ failed: not a 200 answer, keeping 1 instances/,
qr/\[error\] .*discovery: upstream "u11b": etcd at 127\.0\.0\.1:\d+ failed: value expected, keeping 1 instances/,
qr/\[error\] .*discovery: upstream "u11c": etcd at 127\.0\.0\.1:\d+ failed: no revision in the answer, keeping 1 instances/,
]
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 12: values that are not instances are skipped with a warning each, once; good ones serve
--- http_config
    upstream u12 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t12/
                  interval=100ms;
    }
--- etcd
/t12/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t12/b localhost:$TEST_NGINX_B2_PORT
/t12/c not an address
/t12/d {"host": "127.0.0.1", "port":
/t12/e {"host": "127.0.0.1", "port": $TEST_NGINX_B3_PORT, "weight": 0}
/t12/f {"host": "127.0.0.1", "port": $TEST_NGINX_B3_PORT, "weight": 1001}
/t12/g {"host": "127.0.0.1", "port": $TEST_NGINX_B3_PORT, "weight": 99999999999999999999}
/t12/h example.com:$TEST_NGINX_B3_PORT
/t12/i {"host": "example.com", "port": $TEST_NGINX_B3_PORT}
/t12/j 127.0.0.1
/t12/k 127.0.0.1:0
/t12/l 127.0.0.1:65536
/t12/m {"host": "127.0.0.1"}
/t12/n {"host": "127.0.0.1", "port": "$TEST_NGINX_B3_PORT"}
/t12/o [127.0.0.1, $TEST_NGINX_B3_PORT]
/t12/p
--- config
    location /d/ {
        proxy_pass http://u12/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b1 10, b2 10',
               'the two good instances serve');
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
for my $k ('c' .. 'p') {
    Test::More::is(GwEtcd::log_count(qr/\[warn\] .*discovery: upstream "u12": etcd key "\/t12\/$k" has an invalid value, skipped/),
                   1, "/t12/$k: one warning over 5 polls");
}
for my $k ('a', 'b') {
    Test::More::is(GwEtcd::log_count(qr/etcd key "\/t12\/$k"/), 0,
                   "/t12/$k: no warning");
}

# etcd's revision moves with every write, elsewhere too: no new warnings

GwEtcd::put('/t12x/a', 'not an address either');
GwEtcd::put('/t12x/a', "127.0.0.1:$ENV{TEST_NGINX_B3_PORT}");
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count(qr/discovery: upstream "u12": etcd key/), 14,
               'writes outside the prefix: no warning again');

# another bad value for a key: a warning again; a good one: it serves

GwEtcd::put('/t12/c', 'still not an address');
Test::More::ok(GwEtcd::wait_log(qr/etcd key "\/t12\/c" has an invalid value/,
                                2, 2),
               'a warning for the new value');
GwEtcd::put('/t12/d', GwEtcd::instance('127.0.0.1', $ENV{TEST_NGINX_B3_PORT}));
Test::More::ok(GwEtcd::wait_until(sub { GwEtcd::bodies('/d/', 1)->{"b3\n"} }),
               'the fixed value serves');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 30)), 'b1 10, b2 10, b3 10',
               'three instances');
--- request
GET /d/
--- response_body_like: ^b[123]$
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/, '[crit]', '[alert]']



=== TEST 13: passive checks: a discovered instance that is down fails once, then rests fail_timeout=10s; the next one answers
--- http_config
    upstream u13 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t13/
                  interval=100ms;
    }
--- etcd
/t13/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t13/b 127.0.0.1:$TEST_NGINX_DOWN_PORT
--- config
    location /d/ {
        proxy_pass http://u13/;
        add_header X-Upstream $upstream_addr always;
    }
--- init
my ($b1, $down) = @ENV{qw(TEST_NGINX_B1_PORT TEST_NGINX_DOWN_PORT)};
my %addrs;
Test::More::ok(GwEtcd::wait_until(sub {
    my ($status, $h) = GwHttp::http_get('/d/');
    $addrs{$h->{'x-upstream'}}++ if $status == 200;
    return $h->{'x-upstream'} && $h->{'x-upstream'} =~ /:$down\b/;
}), 'a request went to the instance that is down');
for (1 .. 20) {
    my ($status, $h, $body) = GwHttp::http_get('/d/');
    $addrs{$status == 200 && $body eq "b1\n" ? $h->{'x-upstream'} : $status}++;
}
Test::More::is($addrs{"127.0.0.1:$down, 127.0.0.1:$b1"}, 1,
               'one request tried the instance that is down, then b1');
Test::More::is(join(' | ', sort keys %addrs),
               join(' | ', sort "127.0.0.1:$b1",
                                "127.0.0.1:$down, 127.0.0.1:$b1"),
               'all others went to b1 alone');
Test::More::is(GwEtcd::log_count(qr/connect\(\) failed \(111: Connection refused\) while connecting to upstream.*"http:\/\/127\.0\.0\.1:$down\//),
               1, 'one connection refused');
--- request
GET /d/
--- response_body
b1
--- response_headers eval
"X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_B1_PORT}"
--- error_log eval
[
qr/\[error\] .*connect\(\) failed \(111: Connection refused\) while connecting to upstream/,
qr/\[warn\] .*upstream server temporarily disabled while connecting to upstream/,
]
--- no_error_log
[crit]
[alert]



=== TEST 14: $upstream_addr: "localhost", IPv6 in a JSON value and in brackets; a zone named
--- http_config
    upstream u14a {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t14a/
                  interval=100ms zone=d14:64k;
    }

    upstream u14b {
        discovery etcd=localhost:$TEST_NGINX_ETCD_PORT prefix=/t14b/
                  interval=100ms;
    }

    upstream u14c {
        discovery prefix=/t14c/ etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT
                  interval=100ms;
    }
--- etcd
/t14a/a localhost:$TEST_NGINX_B1_PORT
/t14b/a {"host": "::1", "port": $TEST_NGINX_B3_PORT}
/t14c/a [::1]:$TEST_NGINX_B3_PORT
--- config
    location /a/ {
        proxy_pass http://u14a/;
        add_header X-Upstream $upstream_addr always;
    }

    location /b/ {
        proxy_pass http://u14b/;
        add_header X-Upstream $upstream_addr always;
    }

    location /c/ {
        proxy_pass http://u14c/;
        add_header X-Upstream $upstream_addr always;
    }
--- init
Test::More::ok(GwEtcd::wait_status("/$_/", 200), "u14$_: etcd has answered")
    for qw(a b c);
--- request eval
["GET /a/", "GET /b/", "GET /c/"]
--- response_body eval
["b1\n", "b3\n", "b3\n"]
--- response_headers eval
[
"X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_B1_PORT}",
"X-Upstream: [::1]:$ENV{TEST_NGINX_B3_PORT}",
"X-Upstream: [::1]:$ENV{TEST_NGINX_B3_PORT}",
]



=== TEST 15: two keys with one address are two peers, through changes of other keys
--- http_config
    upstream u15 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t15/
                  interval=100ms;
    }
--- etcd
/t15/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t15/b 127.0.0.1:$TEST_NGINX_B1_PORT
/t15/c 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u15/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 30)), 'b1 20, b2 10',
               'b1 twice, b2 once');
for my $i (1 .. 3) {
    GwEtcd::put('/t15/d', "127.0.0.1:$ENV{TEST_NGINX_B3_PORT}");
    Test::More::ok(GwEtcd::wait_until(sub { GwEtcd::bodies('/d/', 1)->{"b3\n"} }),
                   "$i: b3 added");
    Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 40)),
                   'b1 20, b2 10, b3 10', "$i: b1 twice, b2 and b3 once");
    GwEtcd::del('/t15/d');
    Test::More::ok(GwEtcd::wait_tally('/d/', 6, 'b1 4, b2 2'), "$i: b3 removed");
    Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 30)), 'b1 20, b2 10',
                   "$i: b1 twice, b2 once");
}
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 16: two keys with one address, 300 changes of another key: no peer left behind each time
--- http_config
    upstream u16 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t16/
                  interval=10ms zone=d16:32k;
    }
--- etcd
/t16/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t16/b 127.0.0.1:$TEST_NGINX_B1_PORT
/t16/c 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u16/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
for my $i (1 .. ($GwEtcd::SLOW > 1 ? 30 : 300)) {
    GwEtcd::put('/t16/c', GwEtcd::instance('127.0.0.1', $ENV{TEST_NGINX_B2_PORT},
                                           1 + $i % 2));
    Time::HiRes::sleep(0.02 * $GwEtcd::SLOW);
}
GwEtcd::put('/t16/c', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(GwEtcd::wait_tally('/d/', 3, 'b1 2, b2 1'), 'the last change is seen');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 30)), 'b1 20, b2 10',
               'b1 twice, b2 once');
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 17: keepalive after discovery: connections to the instances are kept and reused
--- http_config
    upstream u17 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t17/
                  interval=100ms;
        keepalive 4;
    }
--- etcd
/t17/a 127.0.0.1:$TEST_NGINX_B1_PORT
/t17/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u17/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
my (%n, %max);
for (1 .. 20) {
    my (undef, undef, $body) = GwHttp::http_get('/d/conn');
    my ($b, $requests) = split ' ', $body;
    $n{$b}++;
    $max{$b} = $requests if $requests > ($max{$b} // 0);
}
Test::More::is("b1 $n{b1}, b2 $n{b2}", 'b1 10, b2 10', '10 requests to each');
Test::More::ok($max{b1} >= 10 && $max{b2} >= 10,
               "one connection to each for all 10 ($max{b1}, $max{b2})");
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 18: 300 instances, an answer of 60k: each gets a request in turn
--- http_config
    upstream u18 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t18/
                  interval=100ms zone=d18:512k;
    }
--- config
    location /d/ {
        proxy_pass http://u18/;
    }
--- post_setup_server_root
GwEtcd::put_many(map { sprintf('/t18/%03d', $_)
                       => '127.0.0.1:' . $ENV{'TEST_NGINX_B' . (1 + $_ % 2) . '_PORT'} }
                     1 .. 300);
--- init
Test::More::ok(GwEtcd::wait_tally('/d/', 300, 'b1 150, b2 150', 5),
               '150 requests to each address');
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 19: 600 instances: 512 are listed, and an error line says so
--- http_config
    upstream u19 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t19/
                  interval=100ms zone=d19:1m;
    }
--- config
    location /d/ {
        proxy_pass http://u19/;
    }
--- post_setup_server_root
GwEtcd::put_many(map { sprintf('/t19/%03d', $_)
                       => '127.0.0.1:' . $ENV{'TEST_NGINX_B' . (1 + $_ % 2) . '_PORT'} }
                     1 .. 600);
--- init
Test::More::ok(GwEtcd::wait_log(qr/no room for all the instances/, 5),
               'etcd has answered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 512)), 'b1 256, b2 256',
               '512 instances');
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count(qr/no room for all the instances/), 1,
               'one error line');
--- request
GET /d/
--- response_body_like: ^b[12]$
--- error_log eval
qr/\[error\] .*discovery: upstream "u19": no room for all the instances in etcd: 512 peers at most, or a bigger zone/
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 20: a key that holds CR, LF or NUL is logged escaped, as are " " and "%": its warning cannot forge a line
--- http_config
    upstream u20 {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/t20/
                  interval=100ms;
    }
--- etcd
/t20/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u20/;
    }
--- post_setup_server_root
GwEtcd::put("/t20/b\r\n1999/01/01 00:00:00 [info] 1#1: forged\0 100%",
            'not an address');
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
Test::More::ok(GwEtcd::wait_log(qr{\[warn\] .*discovery: upstream "u20": etcd key "/t20/b%0D%0A1999/01/01%2000:00:00%20\[info\]%201#1:%20forged%00%20100%25" has an invalid value, skipped}),
               'the key is logged escaped');
--- request
GET /d/
--- response_body
b1
--- no_error_log eval
[qr/^1999\/01\/01/, qr/\[error\] (?!.*no live upstreams while connecting)/,
 '[crit]', '[alert]']



=== TEST 21: a watch told its revision is compacted reads the list again at once, then watches again; compacted again, it fails
--- http_config
    upstream u21 {
        discovery etcd=127.0.0.1:$TEST_NGINX_FAKE_PORT prefix=/t21/
                  interval=10s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_FAKE_PORT;
        access_log logs/etcd.log;

        location = /v3/kv/range {
            return 200 '$TEST_NGINX_FAKE_KVS';
        }

        location = /v3/watch {
            return 200 '{"result":{"header":{"revision":"9"},"created":true}}
{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"7"}}
';
        }
    }
--- config
    location /d/ {
        proxy_pass http://u21/;
    }
--- init
my $count = sub {
    my $re = shift;
    open my $in, '<', "$Test::Nginx::Util::ServRoot/logs/etcd.log" or return 0;
    my $n = grep { $_ =~ $re } <$in>;
    close $in;
    return $n;
};
Test::More::ok(GwEtcd::wait_log(qr/etcd at .* failed/, 1), 'it failed');
Test::More::is($count->(qr{"POST /v3/kv/range HTTP/1\.0" 200 }), 2,
               'two ranges, within a second at interval=10s');
Test::More::is($count->(qr{"POST /v3/watch HTTP/1\.0" 200 }), 2,
               'two watches');
--- request
GET /d/
--- response_body
b1
--- error_log eval
qr/\[error\] .*discovery: upstream "u21": etcd at 127\.0\.0\.1:\d+ failed: compacted again, keeping 1 instances/
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 22: a watch that ends at once, or that the gateway fails: the list stays, one error line each, though reads succeed
--- http_config
    upstream u22a {
        discovery etcd=127.0.0.1:$TEST_NGINX_FAKE_PORT prefix=/t21/
                  interval=100ms;
    }

    upstream u22b {
        discovery etcd=127.0.0.1:$TEST_NGINX_RAND_PORT_1 prefix=/t21/
                  interval=100ms;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_FAKE_PORT;

        location = /v3/kv/range {
            return 200 '$TEST_NGINX_FAKE_KVS';
        }

        location = /v3/watch {
            return 200 '{"result":{"header":{"revision":"9"},"created":true}}
';
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location = /v3/kv/range {
            return 200 '$TEST_NGINX_FAKE_KVS';
        }

        location = /v3/watch {
            return 200 '{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}
';
        }
    }
--- config
    location /a/ {
        proxy_pass http://u22a/;
    }

    location /b/ {
        proxy_pass http://u22b/;
    }
--- init
for my $u (qw(u22a u22b)) {
    Test::More::ok(GwEtcd::wait_log(qr/discovery: upstream "$u": etcd at .* failed/),
                   "$u: the watch failed");
}
# the reads go on, every backoff, each followed by a watch that fails
Time::HiRes::sleep(2 * $GwEtcd::SLOW);
for my $u (qw(u22a u22b)) {
    Test::More::is(GwEtcd::log_count(qr/discovery: upstream "$u": etcd at .* failed/),
                   1, "$u: one error line");
    Test::More::is(GwEtcd::log_count(qr/discovery: upstream "$u": .* answers again/),
                   0, "$u: no notice: its watches fail");
}
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/b/', 3)), 'b1 3',
               'u22b: the list from the range serves');
--- request
GET /a/
--- response_body
b1
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u22a": etcd at 127\.0\.0\.1:\d+ failed: the watch ended, keeping 1 instances/,
qr/\[error\] .*discovery: upstream "u22b": etcd at 127\.0\.0\.1:\d+ failed: the watch failed, keeping 1 instances/,
]
--- no_error_log
[warn]
[crit]
[alert]
