# aggregate: parts grouped and merged, bodies passed exactly, failures of
# required and optional parts, the deadline, the headers parts inherit.

use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('no_error_log', "[error]\n[warn]\n[crit]\n[alert]")
        unless defined $block->no_error_log || defined $block->error_log;

    # a backend that never answers, for slow parts: /hang waits for a
    # request body that /never announces and never sends

    $block->set_value('config', $block->config . <<'CONF')
    location = /never {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/hang;
        proxy_method POST;
        proxy_pass_request_body off;
        proxy_set_header Content-Length 10;
    }
    location = /hang {
        proxy_pass http://127.0.0.1:1/;
    }
CONF
        if defined $block->config;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: group: each part under its name, in config order, values as sent without the space around them
--- config
    location = /page {
        aggregate_part product /_svc/product;
        aggregate_part reviews /_svc/reviews;
    }
    location = /_svc/product {
        internal;
        default_type application/json;
        return 200 '{"id":9007199254740993,"price":1e400,"neg":-0.0,"s":"\u00e9\\"x"}';
    }
    location = /_svc/reviews {
        internal;
        default_type application/json;
        return 200 ' [ {"stars":5} ] ';
    }
--- request
GET /page
--- response_headers
Content-Type: application/json
X-Aggregate-Completed: true
X-Aggregate-Parts: product=200, reviews=200
!Cache-Control
--- response_body chomp
{"product":{"id":9007199254740993,"price":1e400,"neg":-0.0,"s":"\u00e9\"x"},"reviews":[ {"stars":5} ]}



=== TEST 2: merge: members of object parts at the top level, a later part wins
--- config
    location = /page {
        aggregate_merge on;
        aggregate_part a /_svc/a;
        aggregate_part b /_svc/b;
        aggregate_part c /_svc/c;
    }
    location /_svc/ {
        internal;
        default_type application/json;
        location = /_svc/a { return 200 '{"id":1,"name":"a","x\\"y":true}'; }
        location = /_svc/b { return 200 '{"name":"b","stock":3}'; }
        location = /_svc/c { return 200 '{"stock":0,"ok":null}'; }
    }
--- request
GET /page
--- response_headers
X-Aggregate-Completed: true
X-Aggregate-Parts: a=200, b=200, c=200
--- response_body chomp
{"id":1,"x\"y":true,"name":"b","stock":0,"ok":null}



=== TEST 3: merge: a part that is not an object fails
--- config
    location = /page {
        aggregate_merge on;
        aggregate_part a /_svc/a;
        aggregate_part list /_svc/list;
    }
    location /_svc/ {
        internal;
        default_type application/json;
        location = /_svc/a { return 200 '{"id":1}'; }
        location = /_svc/list { return 200 '[1,2]'; }
    }
--- request
GET /page
--- response_headers
X-Aggregate-Completed: false
X-Aggregate-Parts: a=200, list=502
Cache-Control: no-store
--- response_body chomp
{"id":1}
--- error_log
aggregate: optional part "list" failed with status 200: not an object



=== TEST 4: merge: a part with a duplicate member fails
--- config
    location = /page {
        aggregate_merge on;
        aggregate_part a /_svc/a;
    }
    location = /_svc/a {
        internal;
        return 200 '{"id":1,"id":2}';
    }
--- request
GET /page
--- response_headers
X-Aggregate-Parts: a=502
--- response_body chomp
{}
--- error_log eval
qr/aggregate: optional part "a" failed with status 200: duplicate/



=== TEST 5: an optional part answering 500 becomes null
--- config
    location = /page {
        aggregate_part product /_svc/product required;
        aggregate_part reviews /_svc/reviews;
    }
    location = /_svc/product { internal; return 200 '{"id":1}'; }
    location = /_svc/reviews { internal; return 500; }
--- request
GET /page
--- response_headers
X-Aggregate-Completed: false
X-Aggregate-Parts: product=200, reviews=500
Cache-Control: no-store
--- response_body chomp
{"product":{"id":1},"reviews":null}
--- error_log
aggregate: optional part "reviews" failed with status 500: answered with an error status
--- no_error_log
[error]



=== TEST 6: a required part answering 500: 502 with a JSON error naming it
--- config
    location = /page {
        aggregate_part product /_svc/product required;
        aggregate_part reviews /_svc/reviews;
    }
    location = /_svc/product { internal; return 500; }
    location = /_svc/reviews { internal; return 200 '[]'; }
--- request
GET /page
--- error_code: 502
--- response_headers
Content-Type: application/json
X-Aggregate-Completed: false
X-Aggregate-Parts: product=500, reviews=200
Cache-Control: no-store
--- response_body chomp
{"error":"a required part failed","part":"product","status":500}
--- error_log
aggregate: required part "product" failed with status 500: answered with an error status



=== TEST 7: invalid JSON from a part
--- config
    location = /page {
        aggregate_part a /_svc/a;
        aggregate_part b /_svc/b;
    }
    location = /_svc/a { internal; return 200 '{"id":01}'; }
    location = /_svc/b { internal; return 200 '{"id":1} x'; }
--- request
GET /page
--- response_headers
X-Aggregate-Parts: a=502, b=502
--- response_body chomp
{"a":null,"b":null}
--- error_log
optional part "a" failed with status 200: invalid number
optional part "b" failed with status 200: trailing characters



=== TEST 8: an empty body is not JSON
--- config
    location = /page {
        aggregate_part a /_svc/a required;
    }
    location = /_svc/a { internal; return 200 ''; }
--- request
GET /page
--- error_code: 502
--- response_body chomp
{"error":"a required part failed","part":"a","status":502}
--- error_log
required part "a" failed with status 200: answered an empty body



=== TEST 9: a part over aggregate_part_max_size fails
--- config
    location = /page {
        aggregate_part small /_svc/big.json;
        aggregate_part_max_size 100k;
    }
    location /_svc/ {
        internal;
        default_type application/json;
        alias html/;
    }
--- user_files eval
">>> big.json\n" . '{"pad":"' . ('x' x 200000) . '"}'
--- request
GET /page
--- response_headers
X-Aggregate-Parts: small=502
--- response_body chomp
{"small":null}
--- error_log
part "small" failed with status 200: is larger than aggregate_part_max_size



=== TEST 10: a 200 KB part fits the default size, whatever subrequest_output_buffer_size says
--- config
    location = /page {
        aggregate_part big /_svc/big.json;
    }
    location /_svc/ {
        internal;
        default_type application/json;
        alias html/;
    }
--- user_files eval
">>> big.json\n" . '{"pad":"' . ('x' x 200000) . '"}'
--- request
GET /page
--- response_headers
X-Aggregate-Parts: big=200
--- response_body eval
'{"big":{"pad":"' . ('x' x 200000) . '"}}'



=== TEST 11: a backend that is down: 502 from proxy_pass, the part is null
--- config
    location = /page {
        aggregate_part a /_svc/a;
        aggregate_part down /_svc/down;
    }
    location = /_svc/a { internal; return 200 '1'; }
    location = /_svc/down {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
--- request
GET /page
--- response_headers
X-Aggregate-Parts: a=200, down=502
--- response_body chomp
{"a":1,"down":null}
--- error_log
connect() failed (111: Connection refused)
optional part "down" failed with status 502



=== TEST 12: error_page in a part's location turns a failure into an answer
--- config
    location = /page {
        aggregate_part a /_svc/a;
    }
    location = /_svc/a {
        internal;
        proxy_pass http://127.0.0.1:1/;
        error_page 502 = @fallback;
    }
    location @fallback {
        default_type application/json;
        return 200 '{"fallback":true}';
    }
--- request
GET /page
--- response_headers
X-Aggregate-Completed: true
X-Aggregate-Parts: a=200
--- response_body chomp
{"a":{"fallback":true}}
--- error_log
connect() failed (111: Connection refused)
--- no_error_log
aggregate:



=== TEST 13: parts proxied to real backends, with their arguments
--- config
    location = /page {
        aggregate_part product /_svc/products/$arg_id;
        aggregate_part stock "/_svc/stock?item=$arg_id&x=1";
    }
    location /_svc/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }
    location /backend/ {
        default_type application/json;
        return 200 '{"uri":"$uri","args":"$args","method":"$request_method"}';
    }
--- request
POST /page?id=42
hello
--- response_body chomp
{"product":{"uri":"/backend/products/42","args":"","method":"GET"},"stock":{"uri":"/backend/stock","args":"item=42&x=1","method":"GET"}}



=== TEST 14: an unsafe part URI from a variable fails the part
--- config
    location = /page {
        aggregate_part p /_svc/$arg_id required;
    }
    location /_svc/ { internal; return 200 '{}'; }
--- request
GET /page?id=../secret
--- error_code: 502
--- response_headers
X-Aggregate-Parts: p=502
--- error_log
aggregate: part "p" has an unsafe URI "/_svc/../secret"



=== TEST 15: parts keep the client's headers but not those that break capture
--- config
    location = /page {
        aggregate_part h /_svc/h;
    }
    location = /_svc/h {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        default_type application/json;
        return 200 '{"auth":"$http_authorization","x":"$http_x_client","range":"$http_range","ae":"$http_accept_encoding","inm":"$http_if_none_match"}';
    }
--- request
GET /page
--- more_headers
Authorization: Bearer abc
X-Client: mobile
Range: bytes=0-3
Accept-Encoding: gzip
If-None-Match: "x"
--- error_code: 200
--- response_body chomp
{"h":{"auth":"Bearer abc","x":"mobile","range":"","ae":"","inm":""}}



=== TEST 16: the deadline: a slow optional part is null, the answer does not wait
--- config
    location = /page {
        aggregate_timeout 300ms;
        aggregate_part fast /_svc/fast;
        aggregate_part slow /_svc/slow;
        add_header X-Time $request_time always;
    }
    location = /_svc/fast { internal; return 200 '"ok"'; }
    location = /_svc/slow {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/never;
        proxy_read_timeout 2s;
    }
--- request
GET /page
--- response_headers
X-Aggregate-Completed: false
X-Aggregate-Parts: fast=200, slow=504
Cache-Control: no-store
--- response_headers_like
X-Time: 0\.(29\d|3\d\d|4\d\d)
--- response_body chomp
{"fast":"ok","slow":null}
--- error_log
optional part "slow" failed with status 504: no answer within aggregate_timeout



=== TEST 17: the deadline on a required part: 504
--- config
    location = /page {
        aggregate_timeout 200ms;
        aggregate_part slow /_svc/slow required;
    }
    location = /_svc/slow {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/never;
        proxy_read_timeout 1s;
    }
--- request
GET /page
--- error_code: 504
--- response_body chomp
{"error":"a required part failed","part":"slow","status":504}
--- error_log
required part "slow" failed with status 504: no answer within aggregate_timeout



=== TEST 18: parts run in parallel: three parts of 300 ms each take about 300 ms
--- config
    location = /page {
        aggregate_part a /_svc/slow;
        aggregate_part b /_svc/slow;
        aggregate_part c /_svc/slow;
        add_header X-Time $request_time always;
    }
    location = /_svc/slow {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/never;
        proxy_read_timeout 300ms;
        error_page 504 = @late;
    }
    location @late {
        default_type application/json;
        return 200 '{"late":true}';
    }
--- request
GET /page
--- response_headers
X-Aggregate-Completed: true
--- response_headers_like
X-Time: 0\.[3-5]\d\d
--- response_body chomp
{"a":{"late":true},"b":{"late":true},"c":{"late":true}}
--- error_log
upstream timed out



=== TEST 19: HEAD gets the headers of the aggregated answer
--- config
    location = /page {
        aggregate_part a /_svc/a;
    }
    location = /_svc/a { internal; return 200 '{"id":1}'; }
--- request
HEAD /page
--- response_headers
Content-Length: 14
X-Aggregate-Parts: a=200
--- response_body



=== TEST 20: the client's method and body go to parts when asked
--- config
    location = /page {
        aggregate_pass_request_body on;
        aggregate_part a /_svc/a;
    }
    location = /_svc/a {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo2;
        proxy_set_header X-Method $request_method;
        proxy_set_header X-Type $content_type;
        proxy_set_header X-Length $content_length;
    }
    location = /echo2 {
        default_type application/json;
        return 200 '{"method":"$http_x_method","type":"$http_x_type","length":"$http_x_length"}';
    }
--- request
POST /page
{"q":1}
--- more_headers
Content-Type: application/json
--- response_body chomp
{"a":{"method":"POST","type":"application/json","length":"7"}}



=== TEST 21: a client that leaves while parts run: nothing leaks or crashes
--- config
    location = /page {
        aggregate_timeout 2s;
        aggregate_part fast /_svc/fast;
        aggregate_part slow /_svc/slow;
    }
    location = /_svc/fast { internal; return 200 '1'; }
    location = /_svc/slow {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/never;
        proxy_read_timeout 1s;
    }
--- request
GET /page
--- timeout: 0.2
--- abort
--- ignore_response
--- no_error_log
[alert]
[crit]
aggregate:



=== TEST 22: the deadline fires while a part is still running; the part ends later on its own
--- config
    location = /page {
        aggregate_timeout 100ms;
        aggregate_part slow /_svc/slow;
    }
    location = /_svc/slow {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/never;
        proxy_read_timeout 200ms;
    }
    location = /after {
        return 200 'after\n';
    }
--- request eval
["GET /page", "GET /after"]
--- error_code eval
[200, 200]
--- response_body eval
['{"slow":null}', "after\n"]
--- wait: 0.3
--- no_error_log
[alert]
[crit]



=== TEST 23: a part URI without variables is checked as one with them: an unsafe one fails its part on each request, and one with arguments keeps them
--- config
    location = /page {
        aggregate_part bad /_svc/../secret;
        aggregate_part args /_svc/a?x=1&y=%32;
        aggregate_part plain /_svc/b?z=3;
    }
    location /_svc/ {
        internal;
        default_type application/json;
        return 200 '{"uri":"$uri","args":"$args"}';
    }
--- request
GET /page
--- error_code: 200
--- response_headers
X-Aggregate-Parts: bad=502, args=200, plain=200
--- response_body chomp
{"bad":null,"args":{"uri":"/_svc/a","args":"x=1&y=%32"},"plain":{"uri":"/_svc/b","args":"z=3"}}
--- error_log
aggregate: part "bad" has an unsafe URI "/_svc/../secret"
