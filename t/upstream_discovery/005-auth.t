# upstream_discovery with etcd's authentication on (enabled with etcdctl,
# t/helpers/GwEtcd.pm): user= with password= or password_file=; a token
# that expires (etcd's --auth-token-ttl of 2s) is renewed; a wrong
# password, no user, a user that may not read the prefix: the list
# stays, one error line.  The password is never in the log.  Needs
# etcd-server and etcd-client.

use lib 't/helpers';
BEGIN { $GwEtcd::CLUSTER = 1 }
use GwEtcd ();
use GwHttp ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

GwEtcd::cluster(token_ttl => 2);
GwEtcd::enable_auth('gw-nginx', 'n-secret"\\', '/a');

# the password in a file, as an operator would keep it
$ENV{TEST_NGINX_PASSWORD_FILE} = "$GwEtcd::DIR/etcd.password";
open my $pw, '>', $ENV{TEST_NGINX_PASSWORD_FILE} or die "$!\n";
print $pw "n-secret\"\\\n";
close $pw;

add_block_preprocessor(sub {
    my $block = shift;

    GwEtcd::setup_block($block);

    $block->set_value('http_config', $block->http_config . GwEtcd::backends())
        if defined $block->http_config;

    # until etcd first answers, an upstream without server lines has no
    # peers: the waits for that answer see 502 and its error line.  The
    # password, even in part, is never logged.
    $block->set_value('no_error_log',
                      [qr/\[error\] (?!.*no live upstreams while connecting)/,
                       '[warn]', '[crit]', '[alert]', 'n-secret'])
        unless defined $block->no_error_log || defined $block->error_log;
});

sub sees {
    my ($body, $timeout) = @_;
    return GwEtcd::wait_until(sub { GwEtcd::bodies('/d/', 1)->{"$body\n"} },
                              $timeout);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: user= and password= (with a quote and a backslash): the list, and a change through the watch within 0.5s
--- http_config
    upstream u1 {
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/a1/ interval=10s
                  user=gw-nginx 'password=n-secret"\\';
    }
--- etcd
/a1/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u1/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
GwEtcd::ctl('put', '/a1/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2', 0.5), 'a change: seen within 0.5s');
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 2: password_file=: its first line
--- http_config
    upstream u2 {
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/a2/ interval=10s
                  user=gw-nginx password_file=$TEST_NGINX_PASSWORD_FILE;
    }
--- etcd
/a2/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u2/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
--- request
GET /d/
--- response_body
b1



=== TEST 3: a token that expired between two syncs (TTL 2s, interval=3s) is renewed: no error, changes seen
--- http_config
    upstream u3 {
        discovery etcd=127.0.0.1:$TEST_NGINX_FAKE_PORT prefix=/a3/
                  interval=3s user=gw-nginx 'password=n-secret"\\';
    }

    # etcd behind a proxy that logs each request
    server {
        listen 127.0.0.1:$TEST_NGINX_FAKE_PORT;
        access_log logs/etcd.log;

        location / {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ETCD_PORT;
            proxy_buffering off;
        }
    }
--- etcd
/a3/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u3/;
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
Test::More::ok(GwEtcd::wait_until(sub {
                   $count->(qr{"POST /v3/kv/range HTTP/1\.0" 401 }) >= 1
                   && $count->(qr{"POST /v3/auth/authenticate HTTP/1\.0" 200 }) >= 2
               }, 8),
               'the expired token was refused, and another asked for');
Test::More::ok(GwEtcd::wait_until(sub {
                   $count->(qr{"POST /v3/kv/range HTTP/1\.0" 200 }) >= 2 }, 2),
               'the sync went on with it');
GwEtcd::ctl('put', '/a3/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2', 4), 'a change is seen');
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 4: a wrong password: the server line serves, one error line
--- http_config
    upstream u4 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/a4/ interval=100ms
                  user=gw-nginx password=n-secret-not;
    }
--- etcd
/a4/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u4/;
    }
--- init
my $failed = qr/discovery: upstream "u4": etcd at .* failed/;
Test::More::ok(GwEtcd::wait_log($failed), 'the authentication failed');
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count($failed), 1, 'one error line');
--- request
GET /d/
--- response_body
b3
--- error_log eval
qr/\[error\] .*discovery: upstream "u4": etcd at 127\.0\.0\.1:\d+ failed: user or password rejected, keeping 1 instances/
--- no_error_log
[warn]
[crit]
[alert]
n-secret



=== TEST 5: no user= with authentication on, and a user who may not read the prefix: the server line serves, one error line each
--- http_config
    upstream u5a {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/a5/ interval=100ms;
    }

    upstream u5b {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/a5/ interval=100ms
                  user=gw-nobody password=gw-nobody-pw;
    }
--- etcd
/a5/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /a/ {
        proxy_pass http://u5a/;
    }

    location /b/ {
        proxy_pass http://u5b/;
    }
--- init
for my $u ('u5a', 'u5b') {
    Test::More::ok(GwEtcd::wait_log(qr/discovery: upstream "$u": etcd at .* failed/),
                   "$u: etcd refused");
}
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
for my $u ('u5a', 'u5b') {
    Test::More::is(GwEtcd::log_count(qr/discovery: upstream "$u": etcd at .* failed/),
                   1, "$u: one error line");
}
Test::More::is(GwEtcd::tally(GwEtcd::bodies("/b/", 4)), 'b3 4',
               'u5b: the server line serves');
--- request
GET /a/
--- response_body
b3
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u5a": etcd at 127\.0\.0\.1:\d+ failed: etcd asks for a user and password, keeping 1 instances/,
qr/\[error\] .*discovery: upstream "u5b": etcd at 127\.0\.0\.1:\d+ failed: permission denied, keeping 1 instances/,
]
--- no_error_log
[warn]
[crit]
[alert]
