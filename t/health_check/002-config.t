# health_check: what nginx refuses at startup, each with its reason and
# where: a location without proxy_pass to an upstream with a zone, an
# unknown or empty match block, bad parameters and tests; and that the
# proxy module's directives, which the module sees first, are still the
# proxy module's, errors included.

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

=== TEST 1: in a server block: not allowed here
--- config
    health_check;
--- must_die
--- error_log eval
qr/\[emerg\] .*"health_check" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 2: an upstream without a zone
--- http_config
    upstream u2 {
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u2;
        health_check;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*upstream "u2" has no shared memory zone: "health_check" in \S+nginx\.conf:\d+ needs "zone" in the upstream block \(or "discovery"\)/



=== TEST 3: proxy_pass to an address, not an upstream block
--- http_config
--- config
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_B1_PORT;
        health_check;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"health_check" in \S+nginx\.conf:\d+ needs "proxy_pass" to an upstream block with a zone, not "http:\/\/127\.0\.0\.1:\d+"/



=== TEST 4: proxy_pass with variables
--- http_config
    upstream u4 {
        zone u4 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        set $to u4;
        proxy_pass http://$to;
        health_check;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"health_check" in \S+nginx\.conf:\d+ needs "proxy_pass" to an upstream block with a zone, not "http:\/\/\$to"/



=== TEST 5: no proxy_pass in the location
--- http_config
    upstream u5 {
        zone u5 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u5;

        location /inner/ {
            health_check;
        }
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"health_check" in \S+nginx\.conf:\d+ needs "proxy_pass" in its location/



=== TEST 6: an unknown match block
--- http_config
    upstream u6 {
        zone u6 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }

    match known {
        status 200;
    }
--- config
    location / {
        proxy_pass http://u6;
        health_check match=unknown;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"health_check" in \S+nginx\.conf:\d+: unknown match block "unknown"/



=== TEST 7: a match block without tests
--- http_config
    match empty {
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*match "empty" has no tests in \S+nginx\.conf:\d+/



=== TEST 8: a match block defined twice
--- http_config
    match m {
        status 200;
    }

    match m {
        status 204;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate match "m" in \S+nginx\.conf:\d+/



=== TEST 9: match tests that are not
--- http_config
    match m {
        status 200;
        cookie x;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown test "cookie" in match "m": "status", "header" or "body" expected in \S+nginx\.conf:\d+/



=== TEST 10: require is Plus's, about variables a check has not
--- http_config
    match m {
        require $upstream_status;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"require" is not supported in "match"/



=== TEST 11: bad status codes and ranges
--- http_config
    match m {
        status 200-99;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid status "200-99" in match "m": a code or a range from 100 to 599 expected in \S+nginx\.conf:\d+/



=== TEST 12: status twice
--- http_config
    match m {
        status 200;
        status ! 500;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*match "m" has "status" twice/



=== TEST 13: "status !" without codes
--- http_config
    match m {
        status !;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"status" in match "m" has no status codes/



=== TEST 14: a header test with an unknown operator
--- http_config
    match m {
        header Content-Type ~* json;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid operator "~\*" in match "m": "=", "!=", "~" or "!~" expected/



=== TEST 15: a header test of three words
--- http_config
    match m {
        header Content-Type json;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "header" test in match "m"/



=== TEST 16: a regex that does not compile
--- http_config
    match m {
        body ~ "(unclosed";
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*pcre2?_compile\(\) failed: .* in "\(unclosed"/



=== TEST 17: a body test without its operator
--- http_config
    match m {
        body "text";
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "body" test in match "m": "body ~ regex" or "body !~ regex" expected/



=== TEST 18: match in a server block
--- config
    match m {
        status 200;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"match" directive is not allowed here/



=== TEST 19: bad parameters, each named
--- http_config
    upstream u19 {
        zone u19 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u19;
        health_check interval=0;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "interval=0": a time above 0 expected in \S+nginx\.conf:\d+/



=== TEST 20: bad parameters: a time that is not one
--- http_config
    upstream u20 {
        zone u20 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u20;
        health_check jitter=soon;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "jitter=soon": a time expected/



=== TEST 21: bad parameters: fails=0
--- http_config
    upstream u21 {
        zone u21 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u21;
        health_check fails=0;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "fails=0": a number of checks, 1 or more, expected/



=== TEST 22: bad parameters: passes that is not a number
--- http_config
    upstream u22 {
        zone u22 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u22;
        health_check passes=two;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "passes=two": a number of checks, 1 or more, expected/



=== TEST 23: bad parameters: a uri without its slash
--- http_config
    upstream u23 {
        zone u23 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u23;
        health_check uri=health;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "uri=health": the uri must start with "\/"/



=== TEST 24: bad parameters: a uri with a space
--- http_config
    upstream u24 {
        zone u24 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u24;
        health_check "uri=/a b";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "uri=\/a b": the uri holds a space or a control character/



=== TEST 25: bad parameters: port=0
--- http_config
    upstream u25 {
        zone u25 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u25;
        health_check port=0;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "port=0": a port from 1 to 65535 expected/



=== TEST 26: bad parameters: persistent alone
--- http_config
    upstream u26 {
        zone u26 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u26;
        health_check persistent;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"persistent" must follow "mandatory"/



=== TEST 27: type=grpc is not supported
--- http_config
    upstream u27 {
        zone u27 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u27;
        health_check mandatory type=grpc grpc_status=12;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"type=grpc" is not supported: checks are HTTP requests; gRPC health checks are not/



=== TEST 28: an unknown parameter
--- http_config
    upstream u28 {
        zone u28 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    location / {
        proxy_pass http://u28;
        health_check timeout=1s;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "timeout=1s" in \S+nginx\.conf:\d+/



=== TEST 29: the proxy module's directives keep its errors
--- http_config
--- config
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_B1_PORT;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B2_PORT;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"proxy_pass" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 30: the proxy module's directives keep its errors: arguments
--- http_config
--- config
    proxy_set_header X-One;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "proxy_set_header" directive in \S+nginx\.conf:\d+/



=== TEST 31: the proxy module's directives keep its errors: a value
--- http_config
--- config
    proxy_http_version 2.0;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "2\.0" in \S+nginx\.conf:\d+/



=== TEST 32: without health_check the proxy module works as ever
--- http_config
    upstream u32 {
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }
--- config
    proxy_set_header X-Check "from the server";

    location / {
        proxy_pass http://u32;
    }

    location /b2/ {
        proxy_http_version 1.1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B2_PORT/;
        proxy_set_header X-Check "from the location";
    }
--- init
Test::More::is(GwHealth::tally('/', 1), 'b1 1', 'to the upstream');
Test::More::is(GwHealth::tally('/b2/x', 1), 'b2 1', 'to an address');
my ($b1) = GwHealth::log_lines('b1');
Test::More::like($b1, qr{^GET / HTTP/1\.0 host=u32 connection=close x_check=from the server }, 'b1 had the server\'s header');
my ($b2) = GwHealth::log_lines('b2');
Test::More::like($b2, qr{^GET /x HTTP/1\.1 host=127\.0\.0\.1:\d+ connection=close x_check=from the location }, 'b2 had the location\'s');
--- request
GET /
--- response_body
b1
--- no_error_log
[warn]
[error]



=== TEST 33: a check with every parameter starts
--- http_config
    upstream u33 {
        zone u33 64k;
        server 127.0.0.1:$TEST_NGINX_B1_PORT;
    }

    match all {
        status 200 204 301-303;
        header Content-Type = text/plain;
        header Content-Type != text/html;
        header Content-Type ~ ^text/;
        header Content-Type !~ html;
        header Content-Length;
        header ! X-Broken;
        body ~ "^b1 ok";
    }
--- config
    location / {
        proxy_pass http://u33;
        health_check interval=200ms jitter=100ms fails=1 passes=1
                     uri=/health mandatory persistent match=all
                     port=$TEST_NGINX_B1_PORT keepalive_time=1m;
    }
--- init
Test::More::ok(GwHealth::wait_until(sub {
                   GwHealth::tally('/', 1) eq 'b1 1' }, 2),
               'checked and up');
--- request
GET /
--- response_body
b1
--- no_error_log eval
['[warn]', qr/\[error\] (?!.*no live upstreams while connecting)/]
