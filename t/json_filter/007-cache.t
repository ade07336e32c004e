# json_filter with proxy_cache: the cache keeps the full response and each
# request, a HIT included, gets its own trimming.

use File::Spec;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_JF_DATA} = File::Spec->rel2abs('t/data/json_filter');

our %F;
for my $f (qw(product.json many.json many.fields.json)) {
    open my $fh, '<:raw', "$ENV{TEST_NGINX_JF_DATA}/$f" or die "$f: $!";
    local $/;
    $F{$f} = <$fh>;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
                      'proxy_cache_path cache levels=1 keys_zone=jf:1m;')
        unless defined $block->http_config;

    $block->set_value('no_error_log', "[error]\n[crit]\n[alert]\n[emerg]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: one cache entry for every ?fields=: a MISS, then HITs each trimmed their own way
--- config
    location /t {
        json_fields $arg_fields;
        proxy_cache jf;
        proxy_cache_key $uri;
        proxy_cache_valid 200 10m;
        add_header X-Cache $upstream_cache_status;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/product.json;
    }
    location /backend/ {
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t?fields=id", "GET /t?fields=name", "GET /t",
 "GET /t?fields=items(id)", "GET /t?fields=address/city"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT", "X-Cache: HIT", "X-Cache: HIT"]
--- response_body eval
[qq({"id":7}\n), qq({"name":"Lamp"}\n), $::F{'product.json'},
 qq({"items":[{"id":1},{"id":2}]}\n), qq({"address":{"city":"Oslo"}}\n)]
--- error_code eval
[200, 200, 200, 200, 200]



=== TEST 2: a 10 KB body through small proxy buffers into the cache, then from the cache file
--- config
    location /t {
        json_fields $arg_fields;
        proxy_cache jf;
        proxy_cache_key $uri;
        proxy_cache_valid 200 10m;
        proxy_buffer_size 1k;
        proxy_buffers 2 1k;
        proxy_busy_buffers_size 1k;
        add_header X-Cache $upstream_cache_status;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/many.json;
    }
    location /backend/ {
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t?fields=items(id,name,nested/deep),trailer",
 "GET /t?fields=items(id,name,nested/deep),trailer", "GET /t"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT"]
--- response_body eval
[$::F{'many.fields.json'}, $::F{'many.fields.json'}, $::F{'many.json'}]
--- error_code eval
[200, 200, 200]



=== TEST 3: the cache is filled by an untrimmed request and serves trimmed HITs
--- config
    location /t {
        json_fields $arg_fields;
        proxy_cache jf;
        proxy_cache_key $uri;
        proxy_cache_valid 200 10m;
        add_header X-Cache $upstream_cache_status;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/product.json;
    }
    location /backend/ {
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t", "GET /t?fields=price", "GET /t"]
--- response_headers eval
["X-Cache: MISS\nContent-Length: " . length $::F{'product.json'},
 "X-Cache: HIT\n!Content-Length", "X-Cache: HIT"]
--- response_body eval
[$::F{'product.json'}, qq({"price":19.5}\n), $::F{'product.json'}]
--- error_code eval
[200, 200, 200]
