# aggregate with the rest of the gateway: JWT checked once on the client
# request with claims reaching the parts, one rate-limit charge, the result
# trimmed by json_fields, parts cached with proxy_cache, many clients.

use lib 't/helpers';
use GwJwt;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

worker_connections(1024);

our $TOKEN = jwt('HS256', { sub => 'alice', plan => 'premium',
                            exp => time + 3600 });

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('no_error_log', "[error]\n[warn]\n[crit]\n[alert]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a JWT is checked once, on the client request; its claims reach the parts
--- config
    location = /page {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        aggregate_part me /_svc/me;
        aggregate_part orders /_svc/orders;
    }
    location /_svc/ {
        internal;
        proxy_set_header X-User $jwt_claim_sub;
        proxy_set_header X-Plan $jwt_claim_plan;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }
    location /backend/ {
        default_type application/json;
        return 200 '{"user":"$http_x_user","plan":"$http_x_plan","auth":"$http_authorization"}';
    }
--- request eval
["GET /page", "GET /page"]
--- more_headers eval
["", "Authorization: Bearer $::TOKEN"]
--- error_code eval
[401, 200]
--- response_body_like eval
[qr/401 Authorization Required/,
 qr/^\{"me":\{"user":"alice","plan":"premium","auth":"Bearer [^"]+"\},"orders":\{"user":"alice","plan":"premium","auth":"Bearer [^"]+"\}\}$/]
--- no_error_log
[error]



=== TEST 2: a rate limit charges the client request once, not each part
--- http_config
    rate_limit_zone $binary_remote_addr zone=page:1m rate=2r/m burst=1;
--- config
    location = /page {
        rate_limit zone=page;
        aggregate_part a /_svc/a;
        aggregate_part b /_svc/b;
        aggregate_part c /_svc/c;
    }
    location /_svc/ {
        internal;
        rate_limit zone=page;
        return 200 '1';
    }
--- init
my @r = map { [GwHttp::http_get('/page')] } 1 .. 2;
Test::More::is(join(' ', map { $_->[0] } @r), '200 200', 'two pages pass');
Test::More::is(join(' ', map { $_->[1]{'ratelimit-remaining'} } @r), '1 0',
               'each charged one token');
--- request
GET /page
--- error_code: 429
--- response_headers
RateLimit-Remaining: 0
!X-Aggregate-Completed
--- error_log
rate_limit: rejected by zone "page"



=== TEST 3: json_fields trims the aggregated body (a mobile profile)
--- http_config
    map $http_x_client $page_profile {
        mobile   "product(id,name),reviews(stars)";
        default  "";
    }
--- config
    location = /page {
        json_fields $page_profile;
        aggregate_part product /_svc/product;
        aggregate_part reviews /_svc/reviews;
    }
    location = /_svc/product {
        internal;
        return 200 '{"id":7,"name":"Lamp","description":"A lamp","price":19.5}';
    }
    location = /_svc/reviews {
        internal;
        return 200 '[{"stars":5,"text":"good"},{"stars":3,"text":"ok"}]';
    }
--- request eval
["GET /page", "GET /page"]
--- more_headers eval
["X-Client: mobile", ""]
--- response_body eval
['{"product":{"id":7,"name":"Lamp"},"reviews":[{"stars":5},{"stars":3}]}',
 '{"product":{"id":7,"name":"Lamp","description":"A lamp","price":19.5},"reviews":[{"stars":5,"text":"good"},{"stars":3,"text":"ok"}]}']



=== TEST 4: a part cached with proxy_cache answers when its backend is gone
--- http_config
    proxy_cache_path cache levels=1 keys_zone=parts:1m;
--- config
    location = /page {
        aggregate_part product /_svc/product?port=$arg_port required;
    }
    location = /_svc/product {
        internal;
        proxy_cache parts;
        proxy_cache_key product;
        proxy_cache_valid 200 1m;
        proxy_pass http://127.0.0.1:$arg_port/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"id":7}';
    }
--- request eval
["GET /page?port=$ENV{TEST_NGINX_SERVER_PORT}", "GET /page?port=1"]
--- error_code eval
[200, 200]
--- response_body eval
['{"product":{"id":7}}', '{"product":{"id":7}}']



=== TEST 5: the client's conditional request does not reach a cached part
--- http_config
    proxy_cache_path cache levels=1 keys_zone=parts:1m;
--- config
    location = /page {
        aggregate_part product /_svc/product required;
    }
    location = /_svc/product {
        internal;
        proxy_cache parts;
        proxy_cache_valid 200 1m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        add_header ETag '"v1"';
        return 200 '{"id":7}';
    }
--- request eval
["GET /page", "GET /page"]
--- more_headers eval
["", "If-None-Match: \"v1\"\nRange: bytes=0-1"]
--- error_code eval
[200, 200]
--- response_body eval
['{"product":{"id":7}}', '{"product":{"id":7}}']



=== TEST 6: 100 clients at once all get the whole answer
--- config
    location = /page {
        aggregate_part a /_svc/a;
        aggregate_part b /_svc/b;
        aggregate_part c /_svc/c;
    }
    location /_svc/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }
    location /backend/ {
        default_type application/json;
        return 200 '{"uri":"$uri"}';
    }
--- init
my @r = GwHttp::http_get_parallel(('/page') x 100);
Test::More::is(scalar(grep { $_->[0] == 200 } @r), 100, '100 answers 200');
Test::More::is(scalar(grep { ($_->[1]{'x-aggregate-completed'} // '') eq 'true' } @r),
               100, '100 complete');
--- request
GET /page
--- response_body chomp
{"a":{"uri":"/backend/a"},"b":{"uri":"/backend/b"},"c":{"uri":"/backend/c"}}
