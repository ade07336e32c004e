# upstream_discovery: the discovery directive's parameters, its errors at
# startup (each with its message, file and line), and the zones it names.
# Needs etcd (etcd-server) for the blocks that start.

use lib 't/helpers';
use GwEtcd ();
use GwHttp ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    return if defined $block->must_die;

    GwEtcd::setup_block($block);

    $block->set_value('http_config', $block->http_config . GwEtcd::backends())
        if defined $block->http_config;

    $block->set_value('no_error_log',
                      [qr/\[error\] (?!.*no live upstreams while connecting)/,
                       '[warn]', '[crit]', '[alert]'])
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: in http{}: not allowed here
--- http_config
    discovery etcd=127.0.0.1:2379 prefix=/x/;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 2: in server{}: not allowed here
--- config
    discovery etcd=127.0.0.1:2379 prefix=/x/;
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 3: in a location: not allowed here
--- config
    location / {
        discovery etcd=127.0.0.1:2379 prefix=/x/;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 4: no parameters
--- http_config
    upstream u {
        discovery;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "discovery" directive in \S+nginx\.conf:\d+/



=== TEST 5: no etcd=
--- http_config
    upstream u {
        discovery prefix=/x/ interval=1s;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" needs etcd= and prefix= in \S+nginx\.conf:\d+/



=== TEST 6: no prefix=
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" needs etcd= and prefix= in \S+nginx\.conf:\d+/



=== TEST 7: an etcd address without a port
--- http_config
    upstream u {
        discovery etcd=127.0.0.1 prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid etcd address "127\.0\.0\.1" in \S+nginx\.conf:\d+/



=== TEST 8: an etcd address with port 0
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:0 prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid etcd address "127\.0\.0\.1:0": invalid port in \S+nginx\.conf:\d+/



=== TEST 9: an etcd address with a port too big
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:65536 prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid etcd address "127\.0\.0\.1:65536": invalid port in \S+nginx\.conf:\d+/



=== TEST 10: an IPv6 etcd address without a port
--- http_config
    upstream u {
        discovery etcd=[::1] prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid etcd address "\[::1\]" in \S+nginx\.conf:\d+/



=== TEST 11: an etcd address that does not resolve
--- http_config
    upstream u {
        discovery etcd=etcd.invalid:2379 prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid etcd address "etcd\.invalid:2379": host not found in \S+nginx\.conf:\d+/



=== TEST 12: an empty etcd address
--- http_config
    upstream u {
        discovery etcd= prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid etcd address "": no host in \S+nginx\.conf:\d+/



=== TEST 13: a prefix not starting with "/"
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=services/users/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid prefix "services\/users\/": it must start with "\/" in \S+nginx\.conf:\d+/



=== TEST 14: an empty prefix
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid prefix "": it must start with "\/" in \S+nginx\.conf:\d+/



=== TEST 15: an interval under 10ms
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ interval=9ms;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid interval "9ms": 10ms or more expected in \S+nginx\.conf:\d+/



=== TEST 16: an interval of 0
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ interval=0;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid interval "0": 10ms or more expected in \S+nginx\.conf:\d+/



=== TEST 17: an interval that is not a time
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ interval=often;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid interval "often": 10ms or more expected in \S+nginx\.conf:\d+/



=== TEST 18: a zone without a size
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ zone=disc;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone "zone=disc": "zone=name:size" expected in \S+nginx\.conf:\d+/



=== TEST 19: a zone without a name
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ zone=:64k;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone "zone=:64k": "zone=name:size" expected in \S+nginx\.conf:\d+/



=== TEST 20: a zone size that is not a size
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ zone=disc:big;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone size "zone=disc:big" in \S+nginx\.conf:\d+/



=== TEST 21: a zone too small for a slab pool
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ zone=disc:8k;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "zone=disc:8k" is too small: \d+ bytes or more expected in \S+nginx\.conf:\d+/



=== TEST 22: discovery twice in a block
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/;
        discovery etcd=127.0.0.1:2379 prefix=/y/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 23: an unknown parameter
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ ttl=10s;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "ttl=10s" in \S+nginx\.conf:\d+/



=== TEST 24: one zone named for two upstreams
--- http_config
    upstream a {
        discovery etcd=127.0.0.1:2379 prefix=/a/ zone=disc:64k;
    }

    upstream b {
        discovery etcd=127.0.0.1:2379 prefix=/b/ zone=disc:64k;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "disc" is already used in \S+nginx\.conf:\d+/



=== TEST 25: a zone named as another upstream's default zone, "discovery_<upstream>" of 128k
--- http_config
    upstream a {
        discovery etcd=127.0.0.1:2379 prefix=/a/;
    }

    upstream b {
        discovery etcd=127.0.0.1:2379 prefix=/b/ zone=discovery_a:128k;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "discovery_a" is already used in \S+nginx\.conf:\d+/



=== TEST 26: parameters in any order, the smallest interval and zone, server lines before and after
--- http_config
    upstream u {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery interval=10ms zone=disc:32k prefix=/c24/
                  etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT;
        server 127.0.0.1:$TEST_NGINX_B3_PORT weight=2;
    }
--- etcd
/c24/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'nginx answers');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b1 4'), 'etcd has answered');
--- request
GET /d/
--- response_body
b1



=== TEST 27: no server lines, etcd unreachable: 502, one error line for the outage
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:$TEST_NGINX_DOWN_PORT prefix=/c25/
                  interval=100ms;
    }
--- config
    location /d/ {
        proxy_pass http://u/;
    }
--- init
Test::More::ok(GwEtcd::wait_log(qr/discovery: upstream "u": etcd at/),
               'the first poll failed');
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count(qr/discovery: upstream "u": etcd at/), 1,
               'one error line');
--- request
GET /d/
--- error_code: 502
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u": etcd at 127\.0\.0\.1:$ENV{TEST_NGINX_DOWN_PORT} failed: .+, keeping 0 instances/,
qr/\[error\] .*no live upstreams while connecting to upstream/,
]
--- no_error_log
[warn]
[crit]
[alert]



=== TEST 28: the default interval, 1s: a change is seen within 2s
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:$TEST_NGINX_ETCD_PORT prefix=/c26/;
    }
--- etcd
/c26/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
GwEtcd::put('/c26/a', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
my $t = Time::HiRes::time();
Test::More::ok(GwEtcd::wait_tally('/d/', 1, 'b2 1', 3), 'the change is seen');
$t = Time::HiRes::time() - $t;
Test::More::cmp_ok($t, '<', 2 * $GwEtcd::SLOW, "within 2s ($t)");
--- request
GET /d/
--- response_body
b2



=== TEST 29: a list of members with one that has no port
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379,127.0.0.1 prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid etcd address "127\.0\.0\.1" in \S+nginx\.conf:\d+/



=== TEST 30: a member with a path
--- http_config
    upstream u {
        discovery etcd=http://127.0.0.1:2379/v3 prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid etcd address "http:\/\/127\.0\.0\.1:2379\/v3": invalid host in \S+nginx\.conf:\d+/



=== TEST 31: members that mix http and https
--- http_config
    upstream u {
        discovery etcd=https://127.0.0.1:2379 etcd=127.0.0.1:2380 prefix=/x/
                  ssl_verify=off;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*etcd members "127\.0\.0\.1:2380" mix http and https in \S+nginx\.conf:\d+/



=== TEST 32: https members without a CA to verify them
--- http_config
    upstream u {
        discovery etcd=https://127.0.0.1:2379 prefix=/x/;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive needs ssl_trusted_certificate= with https:\/\/ members, or ssl_verify=off in \S+nginx\.conf:\d+/



=== TEST 33: ssl_ parameters with http members
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ ssl_verify=off;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive takes ssl_ parameters with https:\/\/ members only in \S+nginx\.conf:\d+/



=== TEST 34: a client certificate without its key
--- http_config
    upstream u {
        discovery etcd=https://127.0.0.1:2379 prefix=/x/ ssl_verify=off
                  ssl_certificate=/etc/ssl/certs/x.pem;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive needs both ssl_certificate= and ssl_certificate_key= in \S+nginx\.conf:\d+/



=== TEST 35: a CA file that is not there
--- http_config
    upstream u {
        discovery etcd=https://127.0.0.1:2379 prefix=/x/
                  ssl_trusted_certificate=/nonexistent/ca.pem;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*SSL_CTX_load_verify_locations\("\/nonexistent\/ca\.pem"\) failed/



=== TEST 36: ssl_verify neither on nor off
--- http_config
    upstream u {
        discovery etcd=https://127.0.0.1:2379 prefix=/x/ ssl_verify=maybe;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "ssl_verify=maybe" in \S+nginx\.conf:\d+/



=== TEST 37: user= without a password, which is never quoted
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ user=nginx;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive needs password= or password_file= with user= in \S+nginx\.conf:\d+/



=== TEST 38: a password without user=: the password is not in the line
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ password=s3cr3t-x;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive needs user= with a password in \S+nginx\.conf:\d+/
--- no_error_log
s3cr3t-x



=== TEST 39: password= and password_file= both
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ user=nginx password=a
                  password_file=/etc/hostname;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"discovery" directive takes password= or password_file=, not both in \S+nginx\.conf:\d+/



=== TEST 40: a password file that is not there
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ user=nginx
                  password_file=/nonexistent/etcd.password;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\/nonexistent\/etcd\.password" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 41: an empty password file
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:2379 prefix=/x/ user=nginx
                  password_file=/dev/null;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*no password in "\/dev\/null" in \S+nginx\.conf:\d+/



=== TEST 42: two etcd= and a member that is down: a warning, and the other one answers
--- http_config
    upstream u {
        discovery etcd=127.0.0.1:$TEST_NGINX_DOWN_PORT
                  etcd=localhost:$TEST_NGINX_ETCD_PORT prefix=/c42/
                  interval=100ms;
    }
--- etcd
/c42/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
--- request
GET /d/
--- response_body
b1
--- error_log eval
qr/\[warn\] .*discovery: upstream "u": etcd at 127\.0\.0\.1:$ENV{TEST_NGINX_DOWN_PORT} failed: (cannot connect|connection failed), trying 127\.0\.0\.1:$GwEtcd::PORT/
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/, '[crit]', '[alert]']
