# health_check: servers whose checks fail get no requests and come back
# when they pass again; what fails a check (a status, a match block's
# tests, a refused connection, a read past proxy_read_timeout, a broken
# response) and the line that tells it; the request a check sends.
#
# Backends b1, b2, b3 (t/helpers/GwHealth.pm) answer "b1\n" ..., and their
# /health is made to fail by the tests; a raw server on
# $TEST_NGINX_RAW_PORT answers as a block's "--- serve" says.

use lib 't/helpers';
use GwHealth ();
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    GwHealth::setup_block($block);

    $block->set_value('http_config',
                      $block->http_config . GwHealth::backends())
        if defined $block->http_config;
});

no_root_location();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: both healthy: requests split 1:1, the status page shows them up
--- http_config
    upstream u1 {
        zone u1 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- config
    location / {
        proxy_pass http://u1;
        health_check interval=200ms uri=/health;
    }

    location = /status {
        health_check_status;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health })
                   && GwHealth::hits('b2', qr{^GET /health }) }, 2),
               'both checked');
Test::More::is(GwHealth::tally('/', 10), 'b1 5, b2 5', '5 to each');
--- request
GET /status
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/^\{"u1":\{"peers":\[\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","state":"up","health_checks":\{"checks":\d+,"fails":0,"unhealthy":0,"last_passed":true\}\},\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT}","state":"up","health_checks":\{"checks":\d+,"fails":0,"unhealthy":0,"last_passed":true\}\}\]\}\}\n\z/
--- no_error_log
[warn]
[error]



=== TEST 2: /health turns 500: out after fails=2 failed checks, back after passes=3
--- http_config
    upstream u2 {
        zone u2 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- config
    location / {
        proxy_pass http://u2;
        health_check interval=200ms fails=2 passes=3 uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health }) }, 2),
               'checked');
Test::More::is(GwHealth::tally('/', 10), 'b1 5, b2 5', 'both serve');

GwHealth::sick('b1', '500');
my $out = GwHealth::time_until(sub { GwHealth::tally('/', 4) eq 'b2 4' }, 3);
Test::More::ok(defined $out && $out <= 0.2 * 3 + 0.5 * $GwHealth::SLOW,
               "out within fails x interval (${\ ($out // 'never')}s)");
my $failed = GwHealth::hits('b1', qr{^GET /health .* status=500});
Test::More::ok($failed >= 2 && $failed <= 3,
               "after 2 failed checks ($failed when it went)");
Test::More::is(GwHealth::tally('/', 10), 'b2 10', 'b2 alone serves');

GwHealth::well('b1');
my $passed = GwHealth::hits('b1', qr{^GET /health .* status=200});
my $back = GwHealth::time_until(sub {
                                    GwHealth::tally('/', 2) eq 'b1 1, b2 1' },
                                4);
Test::More::ok(defined $back && $back <= 0.2 * 4 + 0.5 * $GwHealth::SLOW,
               "back within passes x interval (${\ ($back // 'never')}s)");
my $passes = GwHealth::hits('b1', qr{^GET /health .* status=200}) - $passed;
Test::More::ok($passes >= 3 && $passes <= 4,
               "after 3 passed checks ($passes when it came back)");
Test::More::is(GwHealth::tally('/', 10), 'b1 5, b2 5', 'both serve again');
--- request
GET /
--- response_body_like: ^b[12]$
--- grep_error_log eval
qr/\[(?:warn|notice)\] .*health check of .*/
--- grep_error_log_out eval
qr/^\[warn\] \d+#\d+: health check of "\/health": upstream "u2" server 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT} is down: status 500
\[notice\] \d+#\d+: health check of "\/health": upstream "u2" server 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT} is up
\z/
--- no_error_log
[error]



=== TEST 3: a body that fails the match block's test
--- http_config
    upstream u3 {
        zone u3 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }

    match healthy {
        status 200;
        body !~ "maintenance";
    }
--- config
    location / {
        proxy_pass http://u3;
        health_check interval=200ms uri=/health match=healthy;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b2', qr{^GET /health }) }, 2),
               'checked');
Test::More::is(GwHealth::tally('/', 10), 'b1 5, b2 5', 'both serve');
GwHealth::sick('b2', 'body');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 4) eq 'b1 4' }, 2),
               'b2 is out');
Test::More::is(GwHealth::tally('/', 10), 'b1 10', 'b1 alone serves');
--- request
GET /
--- response_body
b1
--- error_log eval
qr/\[warn\] .*health check of "\/health": upstream "u3" server 127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT} is down: body does not pass match "healthy"/
--- no_error_log
[error]



=== TEST 4: a refused connection: the server never gets a request
--- http_config
    upstream u4 {
        zone u4 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_DOWN_PORT;
    }
--- config
    location / {
        proxy_pass http://u4;
        health_check interval=200ms;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down: connect\(\) failed/) }, 2),
               'the check failed');
--- request
GET /
--- response_body
b1
--- error_log eval
qr/\[warn\] .*health check of "\/": upstream "u4" server 127\.0\.0\.1:$ENV{TEST_NGINX_DOWN_PORT} is down: connect\(\) failed \(111: Connection refused\)$/
--- no_error_log
[error]
while connecting to upstream



=== TEST 5: a server that never answers: down after proxy_read_timeout
--- http_config
    upstream u5 {
        zone u5 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }
--- serve
hang
--- config
    location / {
        proxy_pass http://u5;
        proxy_read_timeout 300ms;
        health_check interval=1s;
    }
--- init
my $t = GwHealth::time_until(sub {
            GwHealth::log_count(qr/is down: read timed out/) }, 3);
Test::More::ok(defined $t && $t >= 0.2 && $t <= 1.5 * $GwHealth::SLOW,
               "timed out after 300ms (${\ ($t // 'never')}s)");
Test::More::is(GwHealth::tally('/', 4), 'b1 4', 'b1 alone serves');
--- request
GET /
--- response_body
b1
--- error_log eval
qr/\[warn\] .*upstream "u5" server 127\.0\.0\.1:$ENV{TEST_NGINX_RAW_PORT} is down: read timed out$/
--- no_error_log
[error]



=== TEST 6: what a check sends: GET uri, Host $proxy_host, Connection: close
--- http_config
    upstream u6 {
        zone u6 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u6;
        health_check interval=200ms uri=/health?from=check;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health}) }, 2),
               'checked');
my ($line) = GwHealth::log_lines('b1');
Test::More::like($line, qr{^GET /health\?from=check HTTP/1\.0 host=u6 connection=close x_check=- requests=1 status=200$},
                 'the request');
--- request
GET /
--- response_body
b1
--- no_error_log
[warn]
[error]



=== TEST 7: the location's proxy_set_header and proxy_http_version apply; variables of a request are mostly empty
--- http_config
    upstream u7 {
        zone u7 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    proxy_set_header X-Check "server level";

    location / {
        proxy_http_version 1.1;
        proxy_set_header Host api.example.com;
        proxy_set_header X-Check "$host|$remote_addr|$request_uri|$http_x_client";
        proxy_set_header X-Empty $http_x_client;
        proxy_pass http://u7;
        health_check interval=200ms uri=/health;
    }

    location /inherits/ {
        proxy_pass http://u7;
        health_check interval=200ms uri=/inherited;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /inherited})
                   && GwHealth::hits('b1', qr{^GET /health}) }, 2),
               'checked');
my ($check) = grep { m{^GET /health } } GwHealth::log_lines('b1');
Test::More::like($check, qr{^GET /health HTTP/1\.1 host=api\.example\.com connection=close x_check=localhost\|\|/health\| requests=1 status=200$},
                 'headers set in the location');
my ($inherited) = grep { m{^GET /inherited } } GwHealth::log_lines('b1');
Test::More::like($inherited, qr{^GET /inherited HTTP/1\.0 host=u7 connection=close x_check=server level requests=1 status=200$},
                 'headers set in the server');
--- request
GET /
--- response_body
b1
--- no_error_log
[error]



=== TEST 8: match tests of status and headers: each failing test is named
--- http_config
    upstream u8 {
        zone u8 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }

    match text {
        status 200-299 304;
        header Content-Type ~ "^text/plain";
        header ! X-Broken;
        header Content-Type != text/html;
    }
--- serve eval
"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Broken: yes\r\nContent-Length: 3\r\n\r\nraw"
--- config
    location / {
        proxy_pass http://u8;
        health_check interval=200ms uri=/health match=text;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'a check failed');
Test::More::is(GwHealth::tally('/', 6), 'b1 6', 'b1 alone serves');
--- request
GET /
--- response_body
b1
--- error_log eval
qr/\[warn\] .*upstream "u8" server 127\.0\.0\.1:$ENV{TEST_NGINX_RAW_PORT} is down: header "x-broken" does not pass match "text"$/
--- no_error_log eval
[qr/server 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT} is down/, '[error]']



=== TEST 9: a status out of the match block's ranges; "!" negates them
--- http_config
    upstream u9 {
        zone u9 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }

    match not_500 {
        status ! 500-599;
    }

    match only_201 {
        status 201;
    }
--- sick
b2 500
--- config
    location / {
        proxy_pass http://u9;
        health_check interval=200ms uri=/health match=not_500;
    }

    location /other/ {
        proxy_pass http://u9;
        health_check interval=200ms uri=/ match=only_201;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) >= 3 }, 2),
               'the checks failed');
--- request
GET /
--- error_code: 502
--- error_log eval
[qr/\[warn\] .*health check of "\/health": upstream "u9" server 127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT} is down: status 500 does not pass match "not_500"$/,
 qr/\[warn\] .*health check of "\/": upstream "u9" server 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT} is down: status 200 does not pass match "only_201"$/,
 qr/\[error\] .*no live upstreams while connecting to upstream/]
--- no_error_log eval
[qr/health check of "\/health": upstream "u9" server 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT} is down/]



=== TEST 10: no match block: a 3xx passes
--- http_config
    upstream u10 {
        zone u10 64k;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }
--- serve eval
"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
--- config
    location / {
        proxy_pass http://u10;
        health_check interval=200ms uri=/health;
    }

    location = /status {
        health_check_status;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   (GwHttp::http_get('/status'))[2] =~ /"checks":[1-9]/ }, 2),
               'checked');
--- request
GET /
--- error_code: 302
--- no_error_log
[warn]
[error]



=== TEST 11: no match block: a 4xx does not pass
--- http_config
    upstream u11 {
        zone u11 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- config
    location / {
        proxy_pass http://u11;
        health_check interval=200ms uri=/health;
    }

    location /missing/ {
        proxy_pass http://u11;
        health_check interval=200ms uri=/missing;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) >= 2 }, 2),
               'the checks failed');
--- request
GET /
--- error_code: 502
--- error_log eval
[qr/\[warn\] .*health check of "\/missing": upstream "u11" server 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT} is down: status 404$/,
 qr/\[warn\] .*health check of "\/missing": upstream "u11" server 127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT} is down: status 404$/]
--- no_error_log eval
[qr/health check of "\/health": .* is down/]



=== TEST 12: port=: the checks go to another port than the requests
--- http_config
    upstream u11 {
        zone u11 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u11;
        health_check interval=200ms uri=/health port=$TEST_NGINX_B2_PORT;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b2', qr{^GET /health }) }, 2),
               'b2 checked for b1');
Test::More::is(GwHealth::tally('/', 2), 'b1 2', 'b1 serves');
Test::More::is(GwHealth::hits('b1', qr{^GET /health }), 0, 'b1 not checked');
GwHealth::sick('b2', '500');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 1) eq '502 1' }, 2),
               'b1 is out');
--- request
GET /
--- error_code: 502
--- error_log eval
qr/\[warn\] .*upstream "u11" server 127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT} is down: status 500$/



=== TEST 13: mandatory: a server is not used before its first check passes
--- http_config
    upstream u12 {
        zone u12 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- sick
b2 500
--- config
    location / {
        proxy_pass http://u12;
        health_check interval=200ms uri=/health mandatory;
    }

    location = /status {
        health_check_status;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 1) eq 'b1 1' }, 2),
               'b1 passed its first check');
Test::More::is(GwHealth::tally('/', 10), 'b1 10', 'b1 alone serves');
Test::More::is(GwHealth::hits('b2', qr{^GET / }), 0, 'b2 never had a request');
--- request
GET /status
--- response_body_like eval
qr/^\{"u12":\{"peers":\[\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","state":"up",.*\},\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT}","state":"unhealthy","health_checks":\{"checks":\d+,"fails":\d+,"unhealthy":1,"last_passed":false\}\}\]\}\}$/
--- error_log eval
qr/\[warn\] .*upstream "u12" server 127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT} is down: status 500$/



=== TEST 14: mandatory: until the first check ends, a server is "checking"
--- http_config
    upstream u13 {
        zone u13 64k;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }
--- serve
hang
--- config
    location / {
        proxy_pass http://u13;
        proxy_read_timeout 5s;
        health_check uri=/health mandatory;
    }

    location = /status {
        health_check_status;
    }
--- init
Time::HiRes::sleep(0.2);
Test::More::is(GwHealth::tally('/', 1), '502 1', 'no request goes to it');
--- request
GET /status
--- response_body_like eval
qr/^\{"u13":\{"peers":\[\{"server":"127\.0\.0\.1:$ENV{TEST_NGINX_RAW_PORT}","state":"checking","health_checks":\{"checks":0,"fails":0,"unhealthy":0\}\}\]\}\}$/
--- error_log
no live upstreams while connecting to upstream
--- no_error_log
[warn]



=== TEST 15: keepalive_time: the checks of a server share a connection
--- http_config
    upstream u14 {
        zone u14 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://u14;
        health_check interval=100ms uri=/health keepalive_time=1m;
    }

    location /closed/ {
        proxy_pass http://u14;
        health_check interval=100ms uri=/closed;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health HTTP/1\.1 host=u14 connection=- .* requests=3 }) }, 2),
               'a third check on the same connection');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /closed }) >= 3 }, 2),
               'the other location checked three times');
my @kept = grep { m{^GET /closed .* requests=(?!1 )} } GwHealth::log_lines('b1');
Test::More::is(scalar @kept, 0, 'without keepalive_time, a connection each');
--- request
GET /
--- response_body
b1
--- no_error_log
[error]
[warn]



=== TEST 15: a chunked body is read through for a "body" test
--- http_config
    upstream u15 {
        zone u15 64k;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }

    match greeting {
        body ~ "hello, world";
    }
--- serve eval
"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
. "4\r\nhell\r\n3;ext=1\r\no, \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n"
--- config
    location / {
        proxy_http_version 1.1;
        proxy_pass http://u15;
        health_check interval=200ms match=greeting;
    }

    location = /status {
        health_check_status;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   (GwHttp::http_get('/status'))[2] =~ /"checks":[2-9]/ }, 2),
               'checked');
--- request
GET /status
--- response_body_like: "state":"up".*"fails":0
--- no_error_log
[warn]
[error]



=== TEST 16: broken responses: each says what is wrong
--- http_config
    upstream u16 {
        zone u16 64k;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }

    match any {
        status 200-599;
        body ~ "";
    }
--- serve eval
"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"
--- config
    location / {
        proxy_pass http://u16;
        health_check interval=200ms match=any;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'the check failed');
--- request
GET /
--- error_code: 502
--- error_log eval
qr/\[warn\] .*upstream "u16" server 127\.0\.0\.1:$ENV{TEST_NGINX_RAW_PORT} is down: connection closed early$/



=== TEST 17: broken responses: not HTTP
--- http_config
    upstream u17 {
        zone u17 64k;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }
--- serve eval
"SSH-2.0-OpenSSH_9.2\r\n"
--- config
    location / {
        proxy_pass http://u17;
        health_check interval=200ms;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'the check failed');
--- request
GET /
--- error_code: 502
--- error_log eval
qr/\[warn\] .*upstream "u17" server 127\.0\.0\.1:$ENV{TEST_NGINX_RAW_PORT} is down: invalid status line$/



=== TEST 18: broken responses: a head longer than proxy_buffer_size
--- http_config
    upstream u18 {
        zone u18 64k;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }
--- serve eval
"HTTP/1.1 200 OK\r\nX-Long: " . ("x" x 5000) . "\r\nContent-Length: 0\r\n\r\n"
--- config
    location / {
        proxy_buffer_size 4k;
        proxy_pass http://u18;
        health_check interval=200ms;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'the check failed');
--- request
GET /
--- error_code: 502
--- error_log eval
qr/\[warn\] .*upstream "u18" server 127\.0\.0\.1:$ENV{TEST_NGINX_RAW_PORT} is down: response header too big$/



=== TEST 19: broken responses: a header line that is not one
--- http_config
    upstream u19 {
        zone u19 64k;
        server 127.0.0.1:$TEST_NGINX_RAW_PORT;
    }
--- serve eval
"HTTP/1.1 200 OK\r\nX-Bad\x00: 1\r\n\r\n"
--- config
    location / {
        proxy_pass http://u19;
        health_check interval=200ms;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'the check failed');
--- request
GET /
--- error_code: 502
--- error_log eval
qr/\[warn\] .*upstream "u19" server 127\.0\.0\.1:$ENV{TEST_NGINX_RAW_PORT} is down: invalid header$/



=== TEST 20: two checks of one upstream: a server failing either is out
--- http_config
    upstream u20 {
        zone u20 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }

    match healthy {
        body !~ "maintenance";
    }
--- config
    location / {
        proxy_pass http://u20;
        health_check interval=200ms uri=/health;
    }

    location /api/ {
        proxy_pass http://u20;
        health_check interval=200ms uri=/health match=healthy;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b2', qr{^GET /health }) >= 2 }, 2),
               'both checks ran');
GwHealth::sick('b2', 'body');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 4) eq 'b1 4' }, 2),
               'b2 is out, for the other location too');
Test::More::is(GwHealth::tally('/api/', 4), 'b1 4', 'and in its own');
--- request
GET /
--- response_body
b1
--- error_log eval
qr/\[warn\] .*upstream "u20" server 127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT} is down: body does not pass match "healthy"$/
--- no_error_log eval
[qr/health check of "\/health": upstream "u20" server \S+ is down: (?!body)/, '[error]']



=== TEST 21: passive checks go on: max_fails takes out a server whose checks pass
--- http_config
    upstream u21 {
        zone u21 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_B2_PORT max_fails=0;
    }
--- config
    location / {
        proxy_pass http://u21;
        proxy_next_upstream http_500;
        health_check interval=200ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health }) }, 2),
               'checked');

# the first try fails (b1's 500), the last one's answer is the client's

Test::More::is(GwHealth::tally('/error', 1), '500 1', 'both answer 500');
my $checks = GwHealth::hits('b1', qr{^GET /health .* status=200});
Test::More::is(GwHealth::tally('/', 6), 'b2 6', 'b1 out for fail_timeout');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health .* status=200})
                   > $checks }, 2),
               'b1 still checked, and passing');
Test::More::is(GwHealth::tally('/', 6), 'b2 6', 'and still out');
--- request
GET /
--- response_body
b2
--- error_log
upstream server temporarily disabled
--- no_error_log
health check of



=== TEST 22: one server, unhealthy: 502, nginx's "no live upstreams", no passive failure
--- http_config
    upstream u22 {
        zone u22 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- sick
b1 500
--- config
    location / {
        proxy_pass http://u22;
        health_check interval=200ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'the check failed');
Test::More::is(GwHealth::tally('/', 3), '502 3', 'no request goes to it');
GwHealth::well('b1');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 1) eq 'b1 1' }, 2),
               'back');
--- request
GET /
--- response_body
b1
--- error_log
no live upstreams while connecting to upstream
--- no_error_log
temporarily disabled



=== TEST 23: backup servers serve when the primary ones are out
--- http_config
    upstream u23 {
        zone u23 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
        server 127.0.0.1:$TEST_NGINX_B3_PORT backup;
    }
--- config
    location / {
        proxy_pass http://u23;
        health_check interval=200ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b3', qr{^GET /health }) }, 2),
               'the backup is checked too');
Test::More::is(GwHealth::tally('/', 4), 'b1 2, b2 2', 'the primary ones serve');
GwHealth::sick('b1', '500');
GwHealth::sick('b2', '500');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 4) eq 'b3 4' }, 2),
               'the backup serves');
GwHealth::sick('b3', '500');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 2) eq '502 2' }, 2),
               'then none');
GwHealth::well('b2');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 2) eq 'b2 2' }, 2),
               'b2 is back');
--- request
GET /
--- response_body
b2



=== TEST 24: hash: the keys of a server that is out go to the others
--- http_config
    upstream u24 {
        zone u24 64k;
        hash $arg_k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- config
    location / {
        proxy_pass http://u24;
        health_check interval=200ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health }) }, 2),
               'checked');
my %by = map { $_ => GwHealth::tally("/?k=$_", 1) } 1 .. 20;
Test::More::ok((grep { $_ eq 'b1 1' } values %by) && (grep { $_ eq 'b2 1' } values %by),
               'keys on both');
GwHealth::sick('b1', '500');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'b1 is out');
my @moved = grep { GwHealth::tally("/?k=$_", 1) ne 'b2 1' } 1 .. 20;
Test::More::is("@moved", '', 'all keys to b2');
my @kept = grep { $by{$_} eq 'b2 1' && GwHealth::tally("/?k=$_", 1) ne 'b2 1' } 1 .. 20;
Test::More::is("@kept", '', "b2's keys stay");
--- request
GET /?k=1
--- response_body
b2



=== TEST 25: least_conn with keepalive: no request to a server that is out
--- http_config
    upstream u25 {
        zone u25 64k;
        least_conn;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
        server 127.0.0.1:$TEST_NGINX_B2_PORT;
        keepalive 8;
    }
--- config
    location / {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://u25;
        health_check interval=200ms uri=/health;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::hits('b1', qr{^GET /health }) }, 2),
               'checked');
Test::More::is(GwHealth::tally('/', 10), 'b1 5, b2 5', 'both serve');
my $before = GwHealth::hits('b1', qr{^GET / });
GwHealth::sick('b1', '500');
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::log_count(qr/is down/) }, 2),
               'b1 is out');
Test::More::is(GwHealth::tally('/', 10), 'b2 10', 'b2 alone serves');
Test::More::is(GwHealth::hits('b1', qr{^GET / }), $before, 'b1 had no request');
--- request
GET /
--- response_body
b2
--- no_error_log
[error]
