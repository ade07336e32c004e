# json_filter and compression: a gzip'd upstream body passes untouched with
# one warning; asking the upstream for identity or `gunzip on` gets it
# trimmed; client-facing `gzip on` compresses the trimmed body.

use File::Spec;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_JF_DATA} = File::Spec->rel2abs('t/data/json_filter');

our $PRODUCT = do {
    open my $fh, '<:raw', "$ENV{TEST_NGINX_JF_DATA}/product.json" or die $!;
    local $/;
    <$fh>;
};

# the body, gunzipped (or why not)
sub ungzip {
    my $in = shift;
    my $out;
    gunzip(\$in => \$out) or return "not gzip: $GunzipError";
    return $out;
}

# the backend compresses JSON for whoever accepts gzip (proxy_pass speaks
# HTTP/1.0 and forwards the client's Accept-Encoding)
our $BACKEND = <<'_EOC_';
    location /backend/ {
        default_type application/json;
        gzip on;
        gzip_types application/json;
        gzip_min_length 1;
        gzip_http_version 1.0;
        alias $TEST_NGINX_JF_DATA/;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', $block->config . $BACKEND)
        if defined $block->config && $block->config =~ m{/backend/};
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a gzip'd upstream body passes untouched (still gzip'd, whole), one warning line
--- config
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/product.json;
    }
--- request
GET /t?fields=id
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
--- response_body_filters eval
\&::ungzip
--- response_body eval
$::PRODUCT
--- grep_error_log eval
qr/\[warn\](?=.*json_filter: .*compressed)/
--- grep_error_log_out
[warn]
--- no_error_log
[error]



=== TEST 2: proxy_set_header Accept-Encoding "": the upstream sends identity, the body is trimmed, no warning
--- config
    location /t {
        json_fields $arg_fields;
        proxy_set_header Accept-Encoding "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/product.json;
    }
--- request
GET /t?fields=id
--- more_headers
Accept-Encoding: gzip
--- response_headers
!Content-Encoding
--- response_body
{"id":7}
--- no_error_log eval
[qr/json_filter: .*compressed/, "[error]"]



=== TEST 3: gunzip on: the filter runs after nginx's gunzip, so a client without gzip gets the trimmed body
--- config
    location /t {
        json_fields $arg_fields;
        gunzip on;
        proxy_set_header Accept-Encoding gzip;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/product.json;
    }
--- request
GET /t?fields=name,tags
--- response_headers
!Content-Encoding
--- response_body
{"name":"Lamp","tags":["new","sale"]}
--- no_error_log eval
[qr/json_filter: .*compressed/, "[error]"]



=== TEST 4: gunzip on, but the client accepts gzip: nginx does not inflate, so the body passes untouched
--- config
    location /t {
        json_fields $arg_fields;
        gunzip on;
        proxy_set_header Accept-Encoding gzip;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/product.json;
    }
--- request
GET /t?fields=name
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
--- response_body_filters eval
\&::ungzip
--- response_body eval
$::PRODUCT
--- error_log eval
qr/\[warn\] .*json_filter: .*compressed/



=== TEST 5: client-facing gzip on compresses the trimmed body
--- config
    location /t/ {
        json_fields $arg_fields;
        gzip on;
        gzip_types application/json;
        gzip_min_length 1;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/product.json?fields=items(id),email
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
!Content-Length
--- response_body_filters eval
\&::ungzip
--- response_body
{"items":[{"id":1},{"id":2}],"email":"l@example.com"}
--- no_error_log eval
[qr/json_filter: .*compressed/, "[error]"]



=== TEST 6: client-facing gzip on a proxied, trimmed body, the upstream asked for identity
--- config
    location /t {
        json_fields $arg_fields;
        gzip on;
        gzip_types application/json;
        gzip_min_length 1;
        proxy_set_header Accept-Encoding "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/many.json;
    }
--- request
GET /t?fields=trailer
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
--- response_body_filters eval
\&::ungzip
--- response_body
{"trailer":"end"}
--- no_error_log eval
[qr/json_filter: .*compressed/, "[error]"]
