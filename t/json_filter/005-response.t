# json_filter: what a trimmed response looks like (no Content-Length, a
# weak ETag, no ranges), and the responses left untouched: no projection,
# HEAD, 204, 304, statuses other than 200, types not listed; which types
# are listed (json_filter_types, `+json`, parameters).

use Test::Nginx::Socket 'no_plan';

# p.json: 36 bytes, last modified 2019-01-01 00:00:00 GMT (0x5c2aad80)
our $D = qq({"id":7,"name":"Lamp","price":19.5}\n);
our $ETAG = sprintf '"%x-%x"', 1546300800, length $D;
our $LM = 'Tue, 01 Jan 2019 00:00:00 GMT';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', [['p.json', $D, '201901010000']])
        unless defined $block->user_files;

    $block->set_value('no_error_log', "[error]\n[crit]\n[alert]\n[emerg]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a trimmed static file: no Content-Length, the ETag made weak, no Accept-Ranges
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
--- request
GET /t/p.json?fields=id
--- response_headers eval
"Content-Type: application/json\n!Content-Length\n!Accept-Ranges\n"
. "ETag: W/$::ETAG\nTransfer-Encoding: chunked\n"
--- response_body
{"id":7}



=== TEST 2: no projection: the same file with its headers untouched
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
--- request
GET /t/p.json
--- response_headers eval
"Content-Length: " . length($::D) . "\nAccept-Ranges: bytes\nETag: $::ETAG\n"
--- response_body eval
$::D



=== TEST 3: ranges are disabled for trimmed responses: 200 and the whole trimmed body; untrimmed, 206
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
--- request eval
["GET /t/p.json?fields=name", "GET /t/p.json"]
--- more_headers
Range: bytes=0-3
--- error_code eval
[200, 206]
--- response_headers eval
["!Content-Range", "Content-Range: bytes 0-3/" . length $::D]
--- response_body eval
[qq({"name":"Lamp"}\n), '{"id']



=== TEST 4: conditional requests still get 304, with the weak ETag and with If-Modified-Since
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
--- request eval
[("GET /t/p.json?fields=id") x 3]
--- more_headers eval
["If-None-Match: W/$::ETAG", "If-Modified-Since: $::LM",
 "If-None-Match: W/\"0-0\""]
--- error_code eval
[304, 304, 200]
--- response_body eval
["", "", qq({"id":7}\n)]



=== TEST 5: HEAD passes untouched: the full length and the strong ETag
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
--- request
HEAD /t/p.json?fields=id
--- response_headers eval
"Content-Length: " . length($::D) . "\nETag: $::ETAG\n!Transfer-Encoding\n"
--- response_body eval
""



=== TEST 6: 204 from the upstream passes untouched
--- config
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 204;
    }
--- request
GET /t?fields=id
--- error_code: 204
--- response_body eval
""



=== TEST 7: statuses other than 200 pass untouched: 201, 404, 500
--- config
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/$arg_s;
    }
    location /backend/ {
        default_type application/json;
        location = /backend/201 { return 201 '{"id":1,"x":2}'; }
        location = /backend/404 { return 404 '{"id":1,"error":"not found"}'; }
        location = /backend/500 { return 500 '{"id":1,"error":"boom"}'; }
    }
--- request eval
["GET /t?s=201&fields=id", "GET /t?s=404&fields=id", "GET /t?s=500&fields=id"]
--- error_code eval
[201, 404, 500]
--- response_body eval
['{"id":1,"x":2}', '{"id":1,"error":"not found"}', '{"id":1,"error":"boom"}']



=== TEST 8: types not listed pass untouched (text/plain, application/javascript)
--- config
    location /text/ {
        json_fields $arg_fields;
        default_type text/plain;
        alias html/;
    }
    location /js/ {
        json_fields $arg_fields;
        default_type application/javascript;
        alias html/;
    }
--- request eval
["GET /text/p.json?fields=id", "GET /js/p.json?fields=id"]
--- response_headers eval
[("Content-Length: " . length $::D) x 2]
--- response_body eval
[$::D, $::D]



=== TEST 9: json_filter_types adds to application/json, like gzip_types to text/html
--- config
    json_filter_types text/plain;

    location /text/ {
        json_fields $arg_fields;
        default_type text/plain;
        alias html/;
    }
    location /json/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
    location /html/ {
        json_fields $arg_fields;
        default_type text/html;
        alias html/;
    }
--- request eval
["GET /text/p.json?fields=id", "GET /json/p.json?fields=id",
 "GET /html/p.json?fields=id"]
--- response_body eval
[qq({"id":7}\n), qq({"id":7}\n), $::D]



=== TEST 10: json_filter_types * acts on any type
--- config
    location /t/ {
        json_fields $arg_fields;
        json_filter_types *;
        default_type text/html;
        alias html/;
    }
--- request
GET /t/p.json?fields=name
--- response_body
{"name":"Lamp"}



=== TEST 11: `+json` types match when application/json is listed (the default)
--- config
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/$arg_t;
    }
    location /backend/ {
        location = /backend/problem {
            default_type application/problem+json;
            return 200 '{"type":"about:blank","title":"x","status":200}';
        }
        location = /backend/vnd {
            default_type application/vnd.api+json;
            return 200 '{"data":{"id":"1","type":"t"},"meta":{}}';
        }
    }
--- request eval
["GET /t?t=problem&fields=title", "GET /t?t=vnd&fields=data/id"]
--- response_headers eval
["Content-Type: application/problem+json", "Content-Type: application/vnd.api+json"]
--- response_body eval
['{"title":"x"}', '{"data":{"id":"1"}}']



=== TEST 12: `+json` types still match with json_filter_types text/plain (application/json is always listed)
--- config
    location /t {
        json_fields $arg_fields;
        json_filter_types text/plain;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/problem+json;
        return 200 '{"type":"about:blank","title":"x"}';
    }
--- request
GET /t?fields=title
--- response_body chop
{"title":"x"}



=== TEST 13: a type with parameters (charset) is matched on the type alone
--- config
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p.json;
    }
    location /backend/ {
        default_type application/json;
        charset utf-8;
        charset_types application/json;
        alias html/;
    }
--- request
GET /t?fields=price
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body
{"price":19.5}



=== TEST 14: a proxied 200 loses its Content-Length once trimmed
--- config
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p.json;
    }
    location /backend/ {
        default_type application/json;
        alias html/;
    }
--- request
GET /t?fields=name
--- response_headers eval
"!Content-Length\n!Accept-Ranges\nETag: W/$::ETAG\n"
--- response_body
{"name":"Lamp"}



=== TEST 15: an HTTP/1.0 client gets the trimmed body without chunking, up to the close
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
--- request
GET /t/p.json?fields=id,price HTTP/1.0
--- response_headers
!Content-Length
!Transfer-Encoding
--- response_body
{"id":7,"price":19.5}
