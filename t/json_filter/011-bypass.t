# json_filter: under json_deny or json_allow a response is trimmed, never
# passed raw: Range and If-Range, on a static file, from proxy_cache or
# through proxy_pass, get the whole trimmed 200, and the upstream is not
# asked for a range (TEST 1-8); what is not trimmed still gets ranges
# (TEST 3-4).

use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Test::Nginx::Socket 'no_plan';

# p.json: last modified 2019-01-01 00:00:00 GMT (0x5c2aad80)
our $D = qq({"id":7,"internal":"SECRET","name":"Lamp"}\n);
our $TRIMMED = qq({"id":7,"name":"Lamp"}\n);
our $ETAG = sprintf '"%x-%x"', 1546300800, length $D;
our $LM = 'Tue, 01 Jan 2019 00:00:00 GMT';

# p.json.gz, for gzip_static
our $GZ;
gzip(\$D => \$GZ) or die $GzipError;

# nginx's own 502 page (server_tokens off)
our $BAD_GATEWAY = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    . "<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    . "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

# json_filter's lines in the error log, with their level, up to the
# context nginx adds; lines('error: <text>', ...): exactly those lines
our $CONTEXT = qr/(?: while [^,]*)?, client: /;
our $LINE = qr/\[\w+\] \d+#\d+: \*\d+ json_filter: .*?(?=$CONTEXT)/;

sub lines {
    my $want = join '', map { my ($level, $text) = /^(\w+): (.*)/s;
                              "\\[$level\\] \\d+#\\d+: \\*\\d+ json_filter: "
                              . quotemeta($text) . "\\n" } @_;
    return qr/\A$want\z/;
}

our $PARTIAL = 'error: a partial response (206) cannot be trimmed: 502 instead';

sub compressed {
    return "error: a response compressed with \"$_[0]\" cannot be trimmed: "
           . '502 instead; send the upstream "Accept-Encoding" ""';
}

# the body, gunzipped (or why not)
sub ungzip {
    my $in = shift;
    my $out;
    gunzip(\$in => \$out) or return "not gzip: $GunzipError";
    return $out;
}

# /raw/ is the upstream: the files as they are, saying which range it was
# asked for (X-Asked), and answers an upstream might send
our $CONFIG = <<'_EOC_';
    default_type application/json;
    server_tokens off;

    location /static/ {
        json_deny internal;
        alias html/;
    }
    location /static-text/ {
        json_deny internal;
        default_type text/plain;
        alias html/;
    }
    location /any-type/ {
        json_deny internal;
        json_filter_types *;
        alias html/;
    }
    location /gzip-static/ {
        json_deny internal;
        gzip_static on;
        alias html/;
    }
    location /allow-static/ {
        json_allow "id,name";
        alias html/;
    }
    location /proxied/ {
        json_deny internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /allow-proxied/ {
        json_allow "id,name";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /allow-errors/ {
        json_allow "id,name,error";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /asks-range/ {
        json_deny internal;
        proxy_set_header Range "bytes=0-3";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /both/ {
        json_fields $arg_fields;
        json_deny internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /gunzip/ {
        json_deny internal;
        gunzip on;
        proxy_set_header Accept-Encoding gzip;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/gz/;
    }
    location /cached/ {
        json_deny internal;
        proxy_cache jf;
        proxy_cache_key $uri;
        proxy_cache_valid 200 206 10m;
        add_header X-Cache $upstream_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /fill-then-hit/ {
        auth_request /fill/partial;
        json_deny internal;
        proxy_cache jf;
        proxy_cache_key /fill/partial;
        proxy_cache_valid 200 206 10m;
        add_header X-Cache $upstream_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /fill/ {
        proxy_cache jf;
        proxy_cache_key $uri;
        proxy_cache_valid 200 206 10m;
        add_header X-Cache $upstream_cache_status;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /oops/ {
        json_deny internal;
        error_page 502 /oops.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location = /oops.json {
        root html;
    }
    location /forced-text/ {
        json_deny internal;
        proxy_force_ranges on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/text/;
    }
    location /fields/ {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }

    location /raw/ {
        add_header X-Asked "$http_range$http_if_range";
        alias html/;

        location /raw/text/ {
            default_type text/plain;
            add_header X-Asked "$http_range$http_if_range";
            alias html/;
        }
        location /raw/gz/ {
            gzip on;
            gzip_types application/json;
            gzip_min_length 1;
            gzip_http_version 1.0;
            alias html/;
        }
        location = /raw/partial {
            add_header Content-Range "bytes 0-13/43";
            return 206 '{"id":7,"inte';
        }
        location = /raw/multipart {
            default_type "multipart/byteranges; boundary=01";
            return 206 "\r\n--01\r\nContent-Type: application/json\r\nContent-Range: bytes 8-27/43\r\n\r\n\"internal\":\"SECRET\"\r\n--01--\r\n";
        }
        location = /raw/deflate {
            add_header Content-Encoding deflate;
            return 200 '{"id":7,"internal":"SECRET"}';
        }
        location = /raw/br {
            add_header Content-Encoding br;
            return 200 '{"id":7,"internal":"SECRET"}';
        }
        location = /raw/201 {
            return 201 '{"id":8,"internal":"SECRET","name":"New"}';
        }
        location = /raw/204 {
            return 204;
        }
        location = /raw/404 {
            return 404 '{"error":"not found","internal":"SECRET"}';
        }
        location = /raw/500 {
            return 500 '{"error":"boom","internal":"SECRET","id":7}';
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
                      'proxy_cache_path cache levels=1 keys_zone=jf:1m;')
        unless defined $block->http_config;

    $block->set_value('config', $CONFIG) unless defined $block->config;

    $block->set_value('user_files',
                      [['p.json', $D, '201901010000'], ['p.json.gz', $GZ],
                       ['oops.json', qq({"error":"bad gateway"}\n)]])
        unless defined $block->user_files;

    # the log of pipelined requests is read once for all of them
    $block->set_value('grep_error_log', $LINE)
        unless defined $block->grep_error_log
               || defined $block->pipelined_requests;

    $block->set_value('no_error_log', "[crit]\n[alert]\n[emerg]")
        unless defined $block->no_error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: Range on a static file under json_deny: the whole trimmed 200
--- request
GET /static/p.json
--- more_headers
Range: bytes=10-40
--- error_code: 200
--- response_headers
!Content-Range
!Accept-Ranges
!Content-Length
--- response_body eval
$::TRIMMED
--- grep_error_log_out



=== TEST 2: If-Range (the ETag, then the date) and Range on a static file under json_allow: the whole trimmed 200
--- request eval
["GET /allow-static/p.json", "GET /allow-static/p.json"]
--- more_headers eval
["If-Range: $::ETAG\nRange: bytes=10-40", "If-Range: $::LM\nRange: bytes=10-40"]
--- error_code eval
[200, 200]
--- response_headers eval
["!Content-Range", "!Content-Range"]
--- response_body eval
[$::TRIMMED, $::TRIMMED]
--- grep_error_log_out



=== TEST 3: Range on a static file of a type not listed, under json_deny: nginx's range filter still slices it
--- request
GET /static-text/p.json
--- more_headers
Range: bytes=10-40
--- error_code: 206
--- response_headers
Content-Type: text/plain
Content-Range: bytes 10-40/43
--- response_body: nternal":"SECRET","name":"Lamp"
--- grep_error_log_out



=== TEST 4: ... and a proxied one with proxy_force_ranges on: sliced by nginx, the upstream not asked for a range
--- request
GET /forced-text/p.json
--- more_headers
Range: bytes=10-40
--- error_code: 206
--- response_headers
Content-Type: text/plain
Content-Range: bytes 10-40/43
!X-Asked
--- response_body: nternal":"SECRET","name":"Lamp"
--- grep_error_log_out



=== TEST 5: Range through proxy_pass under json_deny: the upstream is not asked for a range, the client gets the whole trimmed 200
--- request
GET /proxied/p.json
--- more_headers
Range: bytes=10-40
--- error_code: 200
--- response_headers
!Content-Range
!X-Asked
--- response_body eval
$::TRIMMED
--- grep_error_log_out



=== TEST 6: If-Range and Range through proxy_pass under json_allow: neither reaches the upstream
--- request
GET /allow-proxied/p.json
--- more_headers eval
"If-Range: $::ETAG\nRange: bytes=10-40"
--- error_code: 200
--- response_headers
!Content-Range
!X-Asked
--- response_body eval
$::TRIMMED
--- grep_error_log_out



=== TEST 7: If-Range alone through proxy_pass under json_deny does not reach the upstream either
--- request
GET /proxied/p.json
--- more_headers eval
"If-Range: $::ETAG"
--- error_code: 200
--- response_headers
!X-Asked
--- response_body eval
$::TRIMMED
--- grep_error_log_out



=== TEST 8: Range with proxy_cache under json_deny: the MISS and the HIT are whole trimmed 200s
--- request eval
["GET /cached/p.json", "GET /cached/p.json"]
--- more_headers
Range: bytes=10-40
--- error_code eval
[200, 200]
--- response_headers eval
["X-Cache: MISS\n!Content-Range\n!X-Asked", "X-Cache: HIT\n!Content-Range"]
--- response_body eval
[$::TRIMMED, $::TRIMMED]
--- grep_error_log_out
