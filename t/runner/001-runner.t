# Exercises the test runner on plain nginx features only.  Must pass both
# under openresty's Test::Nginx and under the project's stand-in in t/lib.

use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_long_string();

run_tests();

__DATA__

=== TEST 1: return text
--- config
    location = /t {
        return 200 "hello, world\n";
    }
--- request
GET /t
--- response_body
hello, world
--- no_error_log
[error]



=== TEST 2: chomp filter, HTTP/1.0 request line
--- config
    location = /t {
        return 200 "no newline";
    }
--- request
GET /t HTTP/1.0
--- response_body chomp
no newline



=== TEST 3: added headers, absent headers, headers like
--- config
    location = /t {
        add_header X-Foo "bar baz";
        add_header X-Num 42;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar baz
X-Num: 42
Content-Length: 3
!X-Absent
!Transfer-Encoding
--- response_headers_like
X-Num: \d+
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n
--- response_body
ok



=== TEST 4: static files from user_files
--- config
    location /files/ {
        alias $TEST_NGINX_SERVER_ROOT/html/sub/;
    }
--- user_files
>>> sub/a.txt 201901020304.05
file a
>>> sub/b.txt
file b
line 2
--- request
GET /files/a.txt
--- response_headers
Last-Modified: Wed, 02 Jan 2019 03:04:05 GMT
Content-Length: 7
--- response_body
file a



=== TEST 5: the default root location
--- config
--- request
GET /
--- response_body_like: It works!
--- response_headers
Content-Type: text/html



=== TEST 6: proxy_pass to another server block
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "upstream saw $request_uri\n";
        }
    }
--- config
    location /p/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/up/;
    }
--- request
GET /p/x?a=1
--- response_body
upstream saw /up/x?a=1



=== TEST 7: proxy_pass to the server itself, port in the expected body
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "port $server_port\n";
    }
--- request
GET /t
--- response_body
port $TEST_NGINX_SERVER_PORT



=== TEST 8: chunked response (sub_filter drops Content-Length)
--- config
    location = /t {
        sub_filter_types text/plain;
        sub_filter_once off;
        sub_filter foo bar;
        return 200 "foo 1\nfoo 2\nfoo 3\n";
    }
--- request
GET /t
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
bar 1
bar 2
bar 3



=== TEST 9: chunked upstream proxied with HTTP/1.1
--- config
    location = /t {
        proxy_http_version 1.1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/chunked;
    }
    location = /chunked {
        sub_filter_types text/plain;
        sub_filter_once off;
        sub_filter a A;
        return 200 "abc\nabc\n";
    }
--- request
GET /t
--- response_headers
Transfer-Encoding: chunked
--- response_body
Abc
Abc



=== TEST 10: request arrays, one connection each, with error_code arrays
--- config
    location = /a { return 200 "a:$http_connection\n"; }
    location = /b { return 404; }
    location = /c { return 201 "c\n"; }
--- request eval
["GET /a", "GET /b", "GET /c"]
--- error_code eval
[200, 404, 201]
--- response_body_like eval
["^a:close\$", "404 Not Found", "^c\$"]



=== TEST 11: pipelined requests on one keep-alive connection
--- config
    location = /a { return 200 "a:$http_connection\n"; }
    location = /b { return 200 "b:$http_connection:$connection_requests\n"; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- error_code eval
[200, 200]
--- response_body eval
["a:keep-alive\n", "b:close:2\n"]



=== TEST 12: raw_request, sent in two packets
--- config
    location = /raw {
        return 200 "raw $request_method $http_x_split\n";
    }
--- raw_request eval
["GET /raw HTTP/1.1\r\nHost: localhost\r\nX-Sp",
 "lit: yes\r\nConnection: close\r\n\r\n"]
--- response_body
raw GET yes



=== TEST 13: more_headers
--- config
    location = /t {
        return 200 "$http_x_a|$http_x_b|$http_user_agent|$host\n";
    }
--- more_headers
X-A: one
# a comment line
X-B: two words
--- request
GET /t
--- response_body
one|two words||localhost



=== TEST 14: POST body gets a Content-Length
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/empty;
        add_header X-Body $request_body;
        add_header X-Len $http_content_length;
    }
    location = /empty {
        return 204;
    }
--- request
POST /echo
hello body
--- error_code: 204
--- response_headers
X-Body: hello body
X-Len: 10
--- response_body



=== TEST 15: error_log with plain lines
--- config
    location = /t {
        deny all;
    }
--- request
GET /t
--- error_code: 403
--- error_log
access forbidden by rule
client: 127.0.0.1
--- no_error_log
[alert]
[crit]



=== TEST 16: error_log and no_error_log with eval qr arrays
--- config
    location = /t {
        deny all;
    }
--- request
GET /t
--- error_code: 403
--- error_log eval
[qr/\[error\] \d+#\d+: \*\d+ access forbidden by rule/, qr/request: "GET \/t HTTP\/1\.1"/]
--- no_error_log eval
qr/\[(?:alert|emerg)\]/



=== TEST 17: grep_error_log
--- config
    location = /t {
        deny all;
    }
--- request
GET /t
--- error_code: 403
--- grep_error_log: access forbidden
--- grep_error_log_out
access forbidden



=== TEST 18: must_die on an unknown directive
--- config
    location = /t {
        no_such_directive_xyz on;
    }
--- request
GET /t
--- must_die
--- error_log
unknown directive "no_such_directive_xyz"
--- no_error_log
[alert]



=== TEST 19: must_die with an exit code
--- config
    location = /t {
        return;
    }
--- request
GET /t
--- must_die: 1
--- error_log eval
qr/invalid number of arguments in "return" directive/



=== TEST 20: response_body_like and response_body_unlike
--- config
    location = /t {
        return 200 "alpha\nbeta\ngamma\n";
    }
--- request
GET /t
--- response_body_like
^alpha
beta
gamma$



=== TEST 21: response_body_unlike
--- config
    location = /t {
        return 200 "alpha beta\n";
    }
--- request
GET /t
--- response_body_unlike: delta



=== TEST 22: response_body eval
--- config
    location = /t {
        return 200 "tab\there\nmore\n";
    }
--- request
GET /t
--- response_body eval
"tab\there\n" . "more\n"



=== TEST 23: response_body eval qr
--- config
    location = /t {
        return 200 "id=12345\n";
    }
--- request
GET /t
--- response_body eval
qr/^id=\d{5}$/



=== TEST 24: error_code_like and HEAD
--- config
    location = /t {
        return 200 "body that HEAD does not get\n";
    }
--- request
HEAD /t
--- error_code_like: ^2\d\d$
--- response_headers
Content-Length: 28
--- response_body



=== TEST 25: main_config and log_level
--- main_config
    worker_rlimit_nofile 1024;
--- log_level: warn
--- config
    location = /t {
        return 200 "quiet\n";
    }
--- request
GET /t
--- response_body
quiet
--- no_error_log
[debug]
[info]



=== TEST 26: request with comments and leading blank lines
--- config
    location = /t {
        return 200 "args=$args\n";
    }
--- request

# the request line follows
GET /t?x=1&y=2
--- response_body
args=x=1&y=2



=== TEST 27: a skipped block
--- SKIP
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never



=== TEST 28: skip_nginx
--- skip_nginx: 2: > 0.1.0
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never



=== TEST 29: packets of one request and a request body
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/empty;
        add_header X-Body $request_body;
    }
    location = /empty {
        return 200 "done\n";
    }
--- request eval
[["POST /echo\nfirst ", "second"]]
--- response_headers
X-Body: first second
--- response_body
done
