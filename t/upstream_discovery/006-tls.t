# upstream_discovery with an etcd cluster of three members behind TLS
# that asks for client certificates (etcd's --client-cert-auth), with
# certificates the file makes with openssl (t/helpers/GwEtcd.pm): the
# member's certificate verified against the CA, the client certificate
# sent; no client certificate, another CA, a name the certificate does
# not hold: the list stays, one error line; ssl_verify=off; a member
# killed: another one over TLS.  Needs etcd-server, etcd-client and
# openssl.

use lib 't/helpers';
BEGIN { $GwEtcd::CLUSTER = 3 }
use GwEtcd ();
use GwHttp ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

GwEtcd::cluster(tls => 1, client_certs => 1);

@ENV{map { "TEST_NGINX_TLS_\U$_" } keys %GwEtcd::TLS} = values %GwEtcd::TLS;

add_block_preprocessor(sub {
    my $block = shift;

    GwEtcd::setup_block($block);

    $block->set_value('http_config', $block->http_config . GwEtcd::backends())
        if defined $block->http_config;

    $block->set_value('no_error_log',
                      [qr/\[error\] (?!.*no live upstreams while connecting)/,
                       '[warn]', '[crit]', '[alert]'])
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

=== TEST 1: https members, the CA and a client certificate: the list, and a change through the watch within 0.5s
--- http_config
    upstream u1 {
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/s1/ interval=10s
                  ssl_trusted_certificate=$TEST_NGINX_TLS_CA
                  ssl_certificate=$TEST_NGINX_TLS_CLIENT_CERT
                  ssl_certificate_key=$TEST_NGINX_TLS_CLIENT_KEY;
    }
--- etcd
/s1/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u1/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
GwEtcd::ctl('put', '/s1/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2', 0.5), 'a change: seen within 0.5s');
--- request
GET /d/
--- response_body_like: ^b[12]$



=== TEST 2: no client certificate: etcd refuses the handshake; the server line serves, one error line
--- http_config
    upstream u2 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/s2/ interval=100ms
                  ssl_trusted_certificate=$TEST_NGINX_TLS_CA;
    }
--- etcd
/s2/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u2/;
    }
--- init
my $failed = qr/discovery: upstream "u2": etcd at .* failed/;
Test::More::ok(GwEtcd::wait_log(qr/\[error\] .*$failed/, 3), 'every member refused');
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count(qr/\[error\] .*$failed/), 1, 'one error line');
--- request
GET /d/
--- response_body
b3
--- error_log eval
qr/\[error\] .*discovery: upstream "u2": etcd at 127\.0\.0\.1:\d+ failed: (TLS handshake failed|connection failed|the watch ended|an incomplete answer), keeping 1 instances/
--- no_error_log
[crit]
[alert]



=== TEST 3: a CA that did not sign the members' certificate: the server line serves, one error line naming the reason
--- http_config
    upstream u3 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/s3/ interval=100ms
                  ssl_trusted_certificate=$TEST_NGINX_TLS_OTHER_CA
                  ssl_certificate=$TEST_NGINX_TLS_CLIENT_CERT
                  ssl_certificate_key=$TEST_NGINX_TLS_CLIENT_KEY;
    }
--- etcd
/s3/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u3/;
    }
--- init
my $failed = qr/\[error\] .*discovery: upstream "u3": etcd at .* failed/;
Test::More::ok(GwEtcd::wait_log($failed, 3), 'every member failed');
Time::HiRes::sleep(0.5 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::log_count($failed), 1, 'one error line');
--- request
GET /d/
--- response_body
b3
--- error_log eval
qr/\[error\] .*discovery: upstream "u3": etcd at 127\.0\.0\.1:\d+ failed: unable to (get local issuer certificate|verify the first certificate), keeping 1 instances/
--- no_error_log
[crit]
[alert]



=== TEST 4: another CA with ssl_verify=off: the list from etcd
--- http_config
    upstream u4 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/s4/ interval=10s
                  ssl_verify=off ssl_trusted_certificate=$TEST_NGINX_TLS_OTHER_CA
                  ssl_certificate=$TEST_NGINX_TLS_CLIENT_CERT
                  ssl_certificate_key=$TEST_NGINX_TLS_CLIENT_KEY;
    }
--- etcd
/s4/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u4/;
    }
--- init
Test::More::ok(GwEtcd::wait_tally('/d/', 2, 'b1 2'), 'etcd has answered');
--- request
GET /d/
--- response_body
b1



=== TEST 5: ssl_name= a name the certificate holds, and one it does not
--- http_config
    upstream u5a {
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/s5/ interval=10s
                  ssl_name=localhost ssl_trusted_certificate=$TEST_NGINX_TLS_CA
                  ssl_certificate=$TEST_NGINX_TLS_CLIENT_CERT
                  ssl_certificate_key=$TEST_NGINX_TLS_CLIENT_KEY;
    }

    upstream u5b {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/s5/ interval=100ms
                  ssl_name=etcd.example ssl_trusted_certificate=$TEST_NGINX_TLS_CA
                  ssl_certificate=$TEST_NGINX_TLS_CLIENT_CERT
                  ssl_certificate_key=$TEST_NGINX_TLS_CLIENT_KEY;
    }
--- etcd
/s5/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /a/ {
        proxy_pass http://u5a/;
    }

    location /b/ {
        proxy_pass http://u5b/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/a/', 200), 'u5a: etcd has answered');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/a/', 2)), 'b1 2',
               'u5a: the list from etcd');
Test::More::ok(GwEtcd::wait_log(qr/\[error\] .*upstream "u5b": etcd at .* failed/, 3),
               'u5b: every member failed');
--- request
GET /b/
--- response_body
b3
--- error_log eval
qr/\[error\] .*discovery: upstream "u5b": etcd at 127\.0\.0\.1:\d+ failed: the certificate does not name the member, keeping 1 instances/
--- no_error_log
[crit]
[alert]



=== TEST 6: the member nginx asks is killed: another one, over TLS, and changes are followed
--- http_config
    upstream u6 {
        discovery etcd=$TEST_NGINX_ETCD_FOLLOWER_FIRST prefix=/s6/
                  interval=10s ssl_trusted_certificate=$TEST_NGINX_TLS_CA
                  ssl_certificate=$TEST_NGINX_TLS_CLIENT_CERT
                  ssl_certificate_key=$TEST_NGINX_TLS_CLIENT_KEY;
    }
--- etcd
/s6/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u6/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
# the requests that waited for the first answer may have found no server
my $unanswered = GwHttp::log_count(qr/no live upstreams/);
my ($first) = $ENV{TEST_NGINX_ETCD_FOLLOWER_FIRST} =~ /127\.0\.0\.1:(\d+)/;
my ($member) = grep { GwEtcd::port_of($_) == $first } 0 .. 2;
GwEtcd::kill_member($member);
Test::More::ok(GwEtcd::wait_log(qr/\[warn\] .*etcd at 127\.0\.0\.1:$first failed/),
               'the killed member is left');
GwEtcd::wait_until(sub { eval { GwEtcd::ctl('put', '/s6/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}"); 1 } }, 10);
Test::More::ok(main::sees('b2', 3), 'a change is seen');
Test::More::is(GwHttp::log_count(qr/no live upstreams/), $unanswered,
               'no request found the list empty once etcd had answered');
--- request
GET /d/
--- response_body_like: ^b[12]$
--- error_log eval
qr/\[warn\] .*discovery: upstream "u6": etcd at 127\.0\.0\.1:\d+ failed: .+, trying 127\.0\.0\.1:\d+/
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/, '[crit]', '[alert]']
