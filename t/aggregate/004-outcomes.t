# aggregate: $aggregate_parts, how each part ended, in configuration order,
# in the headers of every response and in the log phase; empty where no
# aggregation answered.

use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('no_error_log', "[error]\n[warn]\n[crit]\n[alert]")
        unless defined $block->no_error_log || defined $block->error_log;

    $block->set_value('http_config', <<'CONF')
    log_format parts "$uri parts=$aggregate_parts";
CONF
        unless defined $block->http_config;

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

=== TEST 1: every part in the response: OK for each, in configuration order, in the log phase too
--- config
    location = /page {
        aggregate_part zeta /_svc/a;
        aggregate_part alpha /_svc/a;
        aggregate_part m-1.x_y /_svc/a;
        add_header X-Parts $aggregate_parts always;
        access_log logs/access.log parts;
    }
    location = /_svc/a { internal; return 200 '{}'; }
--- request
GET /page
--- response_headers
X-Aggregate-Parts: zeta=200, alpha=200, m-1.x_y=200
X-Parts: zeta:OK, alpha:OK, m-1.x_y:OK
--- response_body chomp
{"zeta":{},"alpha":{},"m-1.x_y":{}}
--- access_log
/page parts=zeta:OK, alpha:OK, m-1.x_y:OK



=== TEST 2: STATUS: an optional part answering 500, a backend that is down
--- config
    location = /page {
        aggregate_part err /_svc/err;
        aggregate_part ok /_svc/ok;
        aggregate_part down /_svc/down;
        add_header X-Parts $aggregate_parts always;
    }
    location = /_svc/ok { internal; return 200 '1'; }
    location = /_svc/err { internal; return 500; }
    location = /_svc/down {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
--- request
GET /page
--- response_headers
X-Aggregate-Parts: err=500, ok=200, down=502
X-Parts: err:STATUS, ok:OK, down:STATUS
--- response_body chomp
{"err":null,"ok":1,"down":null}
--- error_log
optional part "err" failed with status 500: answered with an error status
optional part "down" failed with status 502: answered with an error status



=== TEST 3: STATUS of a required part: the 502 carries the outcomes, so does the log
--- config
    location = /page {
        aggregate_part product /_svc/product required;
        aggregate_part reviews /_svc/reviews;
        add_header X-Parts $aggregate_parts always;
        access_log logs/access.log parts;
    }
    location = /_svc/product { internal; return 503; }
    location = /_svc/reviews { internal; return 200 '[]'; }
--- request
GET /page
--- error_code: 502
--- response_headers
X-Parts: product:STATUS, reviews:OK
--- response_body chomp
{"error":"a required part failed","part":"product","status":503}
--- access_log
/page parts=product:STATUS, reviews:OK
--- error_log
required part "product" failed with status 503: answered with an error status



=== TEST 4: TOO_BIG: a part larger than aggregate_part_max_size
--- config
    location = /page {
        aggregate_part_max_size 16;
        aggregate_part small /_svc/small;
        aggregate_part big /_svc/big;
        add_header X-Parts $aggregate_parts always;
    }
    location = /_svc/small { internal; return 200 '{"pad":"xxxxxx"}'; }
    location = /_svc/big { internal; return 200 '{"pad":"xxxxxxx"}'; }
--- request
GET /page
--- response_headers
X-Aggregate-Parts: small=200, big=502
X-Parts: small:OK, big:TOO_BIG
--- response_body chomp
{"small":{"pad":"xxxxxx"},"big":null}
--- error_log
optional part "big" failed with status 200: is larger than aggregate_part_max_size



=== TEST 5: INCOMPLETE: an empty body
--- config
    location = /page {
        aggregate_part empty /_svc/empty;
        aggregate_part ok /_svc/ok;
        add_header X-Parts $aggregate_parts always;
    }
    location = /_svc/empty { internal; return 200 ''; }
    location = /_svc/ok { internal; return 200 'true'; }
--- request
GET /page
--- response_headers
X-Parts: empty:INCOMPLETE, ok:OK
--- response_body chomp
{"empty":null,"ok":true}
--- error_log
optional part "empty" failed with status 200: answered an empty body



=== TEST 6: INVALID: a body that is not JSON
--- config
    location = /page {
        aggregate_part a /_svc/a;
        aggregate_part b /_svc/b;
        add_header X-Parts $aggregate_parts always;
    }
    location = /_svc/a { internal; return 200 '{"id":1} x'; }
    location = /_svc/b { internal; return 200 '[1]'; }
--- request
GET /page
--- response_headers
X-Parts: a:INVALID, b:OK
--- response_body chomp
{"a":null,"b":[1]}
--- error_log
optional part "a" failed with status 200: trailing characters



=== TEST 7: INVALID in merge mode: a part that is not an object, one with a duplicate member
--- config
    location = /page {
        aggregate_merge on;
        aggregate_part a /_svc/a;
        aggregate_part list /_svc/list;
        aggregate_part dup /_svc/dup;
        add_header X-Parts $aggregate_parts always;
    }
    location /_svc/ {
        internal;
        default_type application/json;
        location = /_svc/a { return 200 '{"id":1}'; }
        location = /_svc/list { return 200 '[1,2]'; }
        location = /_svc/dup { return 200 '{"id":1,"id":2}'; }
    }
--- request
GET /page
--- response_headers
X-Aggregate-Parts: a=200, list=502, dup=502
X-Parts: a:OK, list:INVALID, dup:INVALID
--- response_body chomp
{"id":1}
--- error_log
optional part "list" failed with status 200: not an object
optional part "dup" failed with status 200: duplicate



=== TEST 8: TIMEOUT: the log phase, after the part ended on its own, still says TIMEOUT
--- config
    location = /page {
        aggregate_timeout 100ms;
        aggregate_part fast /_svc/fast;
        aggregate_part slow /_svc/slow;
        add_header X-Parts $aggregate_parts always;
        access_log logs/access.log parts;
    }
    location = /_svc/fast { internal; return 200 '"ok"'; }
    location = /_svc/slow {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/never;
        proxy_read_timeout 300ms;
    }
--- request
GET /page
--- response_headers
X-Aggregate-Parts: fast=200, slow=504
X-Parts: fast:OK, slow:TIMEOUT
--- response_body chomp
{"fast":"ok","slow":null}
--- wait: 0.5
--- access_log
/page parts=fast:OK, slow:TIMEOUT
--- error_log
optional part "slow" failed with status 504: no answer within aggregate_timeout
upstream timed out



=== TEST 9: TIMEOUT of a required part: on the 504 too
--- config
    location = /page {
        aggregate_timeout 100ms;
        aggregate_part slow /_svc/slow required;
        add_header X-Parts $aggregate_parts always;
    }
    location = /_svc/slow {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/never;
        proxy_read_timeout 300ms;
    }
--- request
GET /page
--- error_code: 504
--- response_headers
X-Parts: slow:TIMEOUT
--- error_log
required part "slow" failed with status 504: no answer within aggregate_timeout



=== TEST 10: UNSAFE_URI: a part URI that a client's argument makes unsafe
--- config
    location = /page {
        aggregate_part ok /_svc/ok;
        aggregate_part p /x/$arg_p;
        add_header X-Parts $aggregate_parts always;
    }
    location = /_svc/ok { internal; return 200 '{}'; }
    location /x/ { internal; return 200 '{}'; }
--- request
GET /page?p=../..
--- response_headers
X-Aggregate-Parts: ok=200, p=502
X-Parts: ok:OK, p:UNSAFE_URI
--- response_body chomp
{"ok":{},"p":null}
--- error_log
aggregate: part "p" has an unsafe URI "/x/../.."



=== TEST 11: every outcome in one response, in configuration order
--- config
    location = /page {
        aggregate_timeout 100ms;
        aggregate_part_max_size 16;
        aggregate_part unsafe /x/$arg_p;
        aggregate_part slow /_svc/slow;
        aggregate_part bad /_svc/bad;
        aggregate_part empty /_svc/empty;
        aggregate_part big /_svc/big;
        aggregate_part err /_svc/err;
        aggregate_part ok /_svc/ok;
        add_header X-Parts $aggregate_parts always;
    }
    location /x/ { internal; return 200 '{}'; }
    location /_svc/ {
        internal;
        default_type application/json;
        location = /_svc/bad { return 200 '{'; }
        location = /_svc/empty { return 200 ''; }
        location = /_svc/big { return 200 '{"pad":"xxxxxxx"}'; }
        location = /_svc/err { return 500; }
        location = /_svc/ok { return 200 '0'; }
        location = /_svc/slow {
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/never;
            proxy_read_timeout 300ms;
        }
    }
--- request
GET /page?p=..
--- response_headers
X-Parts: unsafe:UNSAFE_URI, slow:TIMEOUT, bad:INVALID, empty:INCOMPLETE, big:TOO_BIG, err:STATUS, ok:OK
--- response_body chomp
{"unsafe":null,"slow":null,"bad":null,"empty":null,"big":null,"err":null,"ok":0}
--- wait: 0.5
--- error_log
has an unsafe URI "/x/.."



=== TEST 12: empty where nothing was aggregated
--- config
    location = /plain {
        add_header X-Parts $aggregate_parts always;
        access_log logs/access.log parts;
        return 200 '[$aggregate_parts]';
    }
--- request
GET /plain
--- response_headers
!X-Parts
--- response_body chomp
[]
--- access_log
/plain parts=-



=== TEST 13: empty in a part's own location, where the aggregation has not answered yet
--- config
    location = /page {
        aggregate_part a /_svc/a;
    }
    location = /_svc/a {
        internal;
        return 200 '"[$aggregate_parts]"';
    }
--- request
GET /page
--- response_body chomp
{"a":"[]"}
