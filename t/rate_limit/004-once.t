# rate_limit: a client request is counted once, in the preaccess phase,
# not again by its subrequests or after an internal redirect.
#
# Every zone holds 2 tokens (1r/m burst=1): a request counted once lets
# 2 through, then 429; counted twice, the second would already be
# rejected (or fail).

use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    $block->set_value('http_config',
                      'rate_limit_zone $server_name zone=z:1m'
                      . ' rate=1r/m burst=1;')
        unless defined $block->http_config;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: error_page to a named location limited by the same zone
--- config
    location = /t {
        rate_limit zone=z;
        error_page 404 = @fallback;
        alias html/missing.txt;
    }
    location @fallback {
        rate_limit zone=z;
        root html;
        try_files /ok.txt =404;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Remaining: 1", "RateLimit-Remaining: 0", "Retry-After: 60"]
--- response_body eval
["ok\n", "ok\n", qr/429 Too Many Requests/]



=== TEST 2: try_files falling back to another limited location
--- config
    location = /t {
        rate_limit zone=z;
        root html;
        try_files /missing.txt /fallback;
    }
    location = /fallback {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Remaining: 1", "RateLimit-Remaining: 0", "Retry-After: 60"]



=== TEST 3: index: the redirect to the index file is not counted again
--- config
    location /dir/ {
        rate_limit zone=z;
        root html;
    }
--- user_files
>>> dir/index.html
index
--- request eval
["GET /dir/", "GET /dir/", "GET /dir/"]
--- error_code eval
[200, 200, 429]
--- response_body eval
["index\n", "index\n", qr/429 Too Many Requests/]



=== TEST 4: an auth_request subrequest to a limited location is not charged
# /auth has a bucket of its own with 1 token: charged, the second
# request's subrequest would be rejected and auth_request would fail
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=1;
    rate_limit_zone $server_name zone=auth:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z;
        auth_request /auth;
        alias html/ok.txt;
    }
    location = /auth {
        internal;
        rate_limit zone=auth;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- no_error_log
auth request unexpected status



=== TEST 5: an auth_request subrequest limited by the client request's own zone
--- config
    location = /t {
        rate_limit zone=z;
        auth_request /auth;
        alias html/ok.txt;
    }
    location = /auth {
        internal;
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Remaining: 1", "RateLimit-Remaining: 0", "Retry-After: 60"]



=== TEST 6: SSI includes of a limited location are subrequests: not counted
--- config
    location = /page.html {
        ssi on;
        rate_limit zone=z;
        root html;
    }
    location = /fragment {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- user_files
>>> page.html
[<!--# include virtual="/fragment" -->|<!--# include virtual="/fragment" -->]
>>> ok.txt
ok
--- request eval
["GET /page.html", "GET /page.html", "GET /page.html"]
--- error_code eval
[200, 200, 429]
--- response_body eval
["[ok\n|ok\n]\n", "[ok\n|ok\n]\n", qr/429 Too Many Requests/]



=== TEST 7: the limited location itself, requested directly, is counted
--- config
    location = /t {
        rate_limit zone=z;
        auth_request /auth;
        alias html/ok.txt;
    }
    location = /auth {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request eval
["GET /auth", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
