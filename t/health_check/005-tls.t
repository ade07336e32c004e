# health_check over TLS: with proxy_pass https://, a check is made over
# TLS with the location's proxy_ssl_* settings: SNI from proxy_ssl_name,
# and with proxy_ssl_verify the certificate checked against
# proxy_ssl_trusted_certificate and the name.  A self-signed certificate
# for "backend.test" is made here with openssl.

use lib 't/helpers';
use GwHealth ();
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

my $dir = $GwHealth::DIR;

system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=backend.test"
       . " -addext subjectAltName=DNS:backend.test -days 2"
       . " -keyout $dir/tls.key -out $dir/tls.crt 2>/dev/null") == 0
    or die "openssl could not make a certificate\n";

# a TLS backend on its own port: /health answers its SNI name

($ENV{TEST_NGINX_TLS_PORT}) = GwHttp::free_ports(1);

my $tls_backend = <<'CONF';
    server {
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;
        ssl_certificate $TEST_NGINX_HC_DIR/tls.crt;
        ssl_certificate_key $TEST_NGINX_HC_DIR/tls.key;
        access_log $TEST_NGINX_HC_DIR/b3.log gw_hc;

        location / {
            return 200 "tls\n";
        }

        location = /health {
            return 200 "sni=$ssl_server_name\n";
        }
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;

    GwHealth::setup_block($block);

    $block->set_value('http_config',
                      $block->http_config . GwHealth::backends()
                      . $tls_backend)
        if defined $block->http_config;
});

no_root_location();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a TLS server passes its checks; SNI is the proxy_pass host
--- http_config
    upstream backend.test {
        zone tls1 64k;
        server 127.0.0.1:$TEST_NGINX_TLS_PORT;
    }

    match sni {
        body ~ "^sni=backend\.test$";
    }
--- config
    location / {
        proxy_pass https://backend.test;
        proxy_ssl_server_name on;
        health_check interval=200ms uri=/health match=sni;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b3', qr{^GET /health }) >= 2 }, 2),
               'checked over TLS');
--- request
GET /
--- response_body
tls
--- no_error_log
[warn]
[error]



=== TEST 2: proxy_ssl_verify: a certificate its trusted list lacks fails the check
--- http_config
    upstream tls2 {
        zone tls2 64k;
        server 127.0.0.1:$TEST_NGINX_TLS_PORT;
    }
--- config
    location / {
        proxy_pass https://tls2;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
        proxy_ssl_name backend.test;
        health_check interval=200ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'the check failed');
--- request
GET /
--- error_code: 502
--- error_log eval
qr/\[warn\] .*upstream "tls2" server 127\.0\.0\.1:$ENV{TEST_NGINX_TLS_PORT} is down: certificate verify error: \(18:self[- ]signed certificate\)$/



=== TEST 3: proxy_ssl_verify: a trusted certificate of another name fails the check
--- http_config
    upstream tls3 {
        zone tls3 64k;
        server 127.0.0.1:$TEST_NGINX_TLS_PORT;
    }
--- config
    location / {
        proxy_pass https://tls3;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate $TEST_NGINX_HC_DIR/tls.crt;
        proxy_ssl_name other.test;
        health_check interval=200ms uri=/health;
    }

    location /right/ {
        proxy_pass https://tls3;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate $TEST_NGINX_HC_DIR/tls.crt;
        proxy_ssl_name backend.test;
        proxy_ssl_server_name on;
        health_check interval=200ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'the check failed');
Time::HiRes::sleep(0.3);
--- request
GET /
--- error_code: 502
--- error_log eval
qr/\[warn\] .*health check of "\/health": upstream "tls3" server 127\.0\.0\.1:$ENV{TEST_NGINX_TLS_PORT} is down: certificate does not match "other\.test"$/
--- no_error_log eval
[qr/is down: (?!certificate does not match "other)/]



=== TEST 4: a TLS handshake with a server that does not speak TLS fails the check
--- http_config
    upstream tls4 {
        zone tls4 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass https://tls4;
        health_check interval=200ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'the check failed');
--- request
GET /
--- error_code: 502
--- error_log eval
qr/\[warn\] .*upstream "tls4" server 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT} is down: TLS handshake failed$/



=== TEST 5: keepalive_time over TLS: one handshake for several checks
--- http_config
    upstream tls5 {
        zone tls5 64k;
        server 127.0.0.1:$TEST_NGINX_TLS_PORT;
    }
--- config
    location / {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass https://tls5;
        health_check interval=100ms uri=/health keepalive_time=1m;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b3', qr{^GET /health .* requests=3 }) }, 2),
               'a third check on the same connection');
--- request
GET /
--- response_body
tls
--- no_error_log
[warn]
[error]
