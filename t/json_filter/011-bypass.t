# json_filter: under json_deny or json_allow a response is trimmed or
# refused, never passed raw, whichever way it comes:
#
# - Range and If-Range, on a static file, from proxy_cache or through
#   proxy_pass: the whole trimmed 200, and the upstream is not asked for a
#   range (TEST 1-8); what is not trimmed still gets ranges (TEST 3-4);
# - a 206, from an upstream that sends it on its own, from the cache, or
#   asked for by proxy_set_header Range, and a compressed body that nginx
#   does not inflate (gzip, gzip_static, deflate, br): 502 and one error
#   line (TEST 9-20, 27), or the location's error_page (TEST 28-29); the
#   connection stays open (TEST 31);
# - JSON bodies of every status: 404, 500 and 201 are trimmed too, by
#   json_deny and json_allow, not by json_fields (TEST 21-24); 204 and 304
#   have no body, HEAD gets the headers GET would (TEST 25-27); with
#   json_filter_types *, nginx's own error pages count as malformed
#   (TEST 30).
#
# The client's json_fields alone keeps its behaviour: 200 only, ranges
# and compressed bodies pass (TEST 32-34).

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



=== TEST 9: an upstream that answers 206 on its own, under json_deny and json_allow: 502, one error line each
--- request eval
["GET /proxied/partial", "GET /allow-proxied/partial"]
--- error_code eval
[502, 502]
--- response_headers eval
["Content-Type: text/html\n!Content-Range\n!X-Asked",
 "Content-Type: text/html\n!Content-Range"]
--- response_body eval
[$::BAD_GATEWAY, $::BAD_GATEWAY]
--- grep_error_log_out eval
::lines($::PARTIAL)



=== TEST 10: a 206 with proxy_cache under json_deny: refused, and not cached (the next request is a MISS again)
--- request eval
["GET /cached/partial", "GET /cached/partial"]
--- error_code eval
[502, 502]
--- response_headers eval
["X-Cache: MISS\n!Content-Range", "X-Cache: MISS\n!Content-Range"]
--- response_body eval
[$::BAD_GATEWAY, $::BAD_GATEWAY]
--- grep_error_log_out eval
::lines($::PARTIAL)



=== TEST 11: a 206 in the cache (stored by a location without json_filter, asked first by auth_request) is refused on a HIT under json_deny
--- request
GET /fill-then-hit/partial
--- error_code: 502
--- response_headers
X-Cache: HIT
!Content-Range
--- response_body eval
$::BAD_GATEWAY
--- grep_error_log_out eval
::lines($::PARTIAL)



=== TEST 12: proxy_set_header Range under json_deny: the upstream's 206 is refused
--- request
GET /asks-range/p.json
--- error_code: 502
--- response_headers
!Content-Range
--- response_body eval
$::BAD_GATEWAY
--- grep_error_log_out eval
::lines($::PARTIAL)



=== TEST 13: a multipart/byteranges 206, whose parts are JSON, is refused under json_deny
--- request
GET /proxied/multipart
--- error_code: 502
--- response_body eval
$::BAD_GATEWAY
--- grep_error_log_out eval
::lines($::PARTIAL)



=== TEST 14: a gzip'd upstream body (the client's Accept-Encoding passed on) under json_deny and json_allow: 502
--- request eval
["GET /proxied/gz/p.json", "GET /allow-proxied/gz/p.json"]
--- more_headers eval
["Accept-Encoding: gzip", "Accept-Encoding: gzip"]
--- error_code eval
[502, 502]
--- response_headers eval
["!Content-Encoding\nContent-Type: text/html", "!Content-Encoding"]
--- response_body eval
[$::BAD_GATEWAY, $::BAD_GATEWAY]
--- grep_error_log_out eval
::lines(::compressed('gzip'))



=== TEST 15: gunzip on under json_deny: a client without gzip gets the inflated body trimmed
--- request
GET /gunzip/p.json
--- error_code: 200
--- response_headers
!Content-Encoding
--- response_body eval
$::TRIMMED
--- grep_error_log_out



=== TEST 16: gunzip on under json_deny: a client that accepts gzip gets a 502 (nginx does not inflate for it)
--- request
GET /gunzip/p.json
--- more_headers
Accept-Encoding: gzip
--- error_code: 502
--- response_headers
!Content-Encoding
--- response_body eval
$::BAD_GATEWAY
--- grep_error_log_out eval
::lines(::compressed('gzip'))



=== TEST 17: gzip_static under json_deny: the .gz file is refused for a client that accepts gzip
--- request
GET /gzip-static/p.json
--- more_headers
Accept-Encoding: gzip
--- error_code: 502
--- response_headers
!Content-Encoding
--- response_body eval
$::BAD_GATEWAY
--- grep_error_log_out eval
::lines(::compressed('gzip'))



=== TEST 18: gzip_static under json_deny: a client without gzip gets the plain file trimmed
--- request
GET /gzip-static/p.json
--- error_code: 200
--- response_body eval
$::TRIMMED
--- grep_error_log_out



=== TEST 19: a deflate body (just the header) under json_deny: 502
--- request
GET /proxied/deflate
--- error_code: 502
--- response_headers
!Content-Encoding
--- response_body eval
$::BAD_GATEWAY
--- grep_error_log_out eval
::lines(::compressed('deflate'))



=== TEST 20: a br body (just the header) under json_allow: 502
--- request
GET /allow-proxied/br
--- error_code: 502
--- response_headers
!Content-Encoding
--- response_body eval
$::BAD_GATEWAY
--- grep_error_log_out eval
::lines(::compressed('br'))



=== TEST 21: 404 and 500 JSON bodies under json_deny: trimmed, the status kept
--- request eval
["GET /proxied/404", "GET /proxied/500"]
--- error_code eval
[404, 500]
--- response_body eval
['{"error":"not found"}', '{"error":"boom","id":7}']
--- grep_error_log_out



=== TEST 22: json_allow applies to error bodies too: members not allowed are removed, listed ones kept
--- request eval
["GET /allow-proxied/404", "GET /allow-proxied/500", "GET /allow-errors/404"]
--- error_code eval
[404, 500, 404]
--- response_body eval
['{}', '{"id":7}', '{"error":"not found"}']
--- grep_error_log_out



=== TEST 23: a 201 under json_deny: trimmed
--- request
GET /proxied/201
--- error_code: 201
--- response_body: {"id":8,"name":"New"}
--- grep_error_log_out



=== TEST 24: json_fields shapes only 200s, json_deny every status: a 201 and a 404 keep what json_fields did not ask for
--- request eval
["GET /both/p.json?fields=id", "GET /both/201?fields=id", "GET /both/404?fields=id"]
--- error_code eval
[200, 201, 404]
--- response_body eval
[qq({"id":7}\n), '{"id":8,"name":"New"}', '{"error":"not found"}']
--- grep_error_log_out



=== TEST 25: 204 and 304 under json_deny: no body, passed as they are
--- request eval
["GET /proxied/204", "GET /static/p.json", "GET /static/p.json"]
--- more_headers eval
["", "If-None-Match: W/$::ETAG", "If-Modified-Since: $::LM"]
--- error_code eval
[204, 304, 304]
--- response_body eval
["", "", ""]
--- grep_error_log_out



=== TEST 26: HEAD under json_deny: the headers GET would get (no Content-Length, a weak ETag, no ranges), no body
--- request eval
["HEAD /static/p.json", "HEAD /proxied/p.json"]
--- error_code eval
[200, 200]
--- response_headers eval
[("!Content-Length\n!Accept-Ranges\nETag: W/$::ETAG") x 2]
--- response_body eval
["", ""]
--- grep_error_log_out



=== TEST 27: HEAD of a gzip'd body under json_deny: 502, as GET
--- request
HEAD /proxied/gz/p.json
--- more_headers
Accept-Encoding: gzip
--- error_code: 502
--- response_headers
!Content-Encoding
--- response_body
--- grep_error_log_out eval
::lines(::compressed('gzip'))



=== TEST 28: error_page 502 takes over a refusal: a 206
--- request
GET /oops/partial
--- error_code: 502
--- response_body
{"error":"bad gateway"}
--- grep_error_log_out eval
::lines($::PARTIAL)



=== TEST 29: error_page 502 takes over a refusal: a br body
--- request
GET /oops/br
--- error_code: 502
--- response_body
{"error":"bad gateway"}
--- grep_error_log_out eval
::lines(::compressed('br'))



=== TEST 30: json_filter_types * under json_deny: nginx's own HTML 404 is read as JSON, and cut short as malformed
--- request
GET /any-type/missing.json HTTP/1.0
--- error_code: 404
--- response_body
--- grep_error_log_out eval
::lines('error: malformed JSON from upstream: value expected at byte 0; the response is cut short there')



=== TEST 31: a refusal keeps the connection: four requests on one, two of them refused
--- pipelined_requests eval
["GET /proxied/partial", "GET /proxied/p.json", "GET /proxied/br",
 "GET /static/p.json"]
--- error_code eval
[502, 200, 502, 200]
--- response_body eval
[$::BAD_GATEWAY, $::TRIMMED, $::BAD_GATEWAY, $::TRIMMED]



=== TEST 32: json_fields alone: Range reaches the upstream, whose 206 passes
--- request
GET /fields/p.json?fields=id
--- more_headers
Range: bytes=10-40
--- error_code: 206
--- response_headers
X-Asked: bytes=10-40
Content-Range: bytes 10-40/43
--- response_body: nternal":"SECRET","name":"Lamp"
--- grep_error_log_out



=== TEST 33: json_fields alone: a gzip'd body passes untrimmed with one warning
--- request
GET /fields/gz/p.json?fields=id
--- more_headers
Accept-Encoding: gzip
--- error_code: 200
--- response_headers
Content-Encoding: gzip
--- response_body_filters eval
\&::ungzip
--- response_body eval
$::D
--- grep_error_log_out eval
::lines('warn: a compressed response passes untrimmed; send the upstream "Accept-Encoding" ""')



=== TEST 34: json_fields alone: statuses other than 200 pass untouched
--- request eval
["GET /fields/404?fields=id", "GET /fields/201?fields=id"]
--- error_code eval
[404, 201]
--- response_body eval
['{"error":"not found","internal":"SECRET"}', '{"id":8,"internal":"SECRET","name":"New"}']
--- grep_error_log_out
