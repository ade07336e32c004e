# rate_limit: configuration errors are reported at startup (as by
# nginx -t), naming the directive and the reason.

use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    # the real Test::Nginx starts no nginx for a block without a config
    $block->set_value('config', "location = /t { alias html/ok.txt; }\n")
        unless defined $block->config;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every directive at every level it allows
--- http_config
    rate_limit_zone $binary_remote_addr zone=ip:1m rate=10r/s burst=20;
    rate_limit_zone $arg_k zone=per_key:10m rate=100r/m;
    rate_limit_zone $http_x_key zone=hourly:1m rate=1000r/h burst=0;
    rate_limit_zone "$arg_a:$arg_b" zone=daily:1m rate=10000r/d;
    rate_limit zone=ip;
    rate_limit_status 503;
    rate_limit_log_level notice;
    rate_limit_dry_run off;
    rate_limit_headers legacy;
--- config
    rate_limit zone=per_key rate=$arg_r burst=$arg_b cost=$arg_c;
    rate_limit_status 429;
    rate_limit_log_level warn;
    rate_limit_dry_run on;
    rate_limit_headers draft;

    location = /t {
        rate_limit zone=hourly rate=5r/s burst=3 cost=2 dry_run;
        rate_limit zone=daily;
        rate_limit_status 599;
        rate_limit_log_level info;
        rate_limit_dry_run off;
        rate_limit_headers off;
        alias html/ok.txt;
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]
[error]



=== TEST 2: rate_limit with an unknown zone
--- config
    location = /t {
        rate_limit zone=nope;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"rate_limit" uses unknown zone "nope"/



=== TEST 3: rate_limit without zone=
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- config
    location = /t {
        rate_limit burst=3;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"rate_limit" directive needs "zone=name"/



=== TEST 4: rate_limit_zone without zone=
--- http_config
    rate_limit_zone $arg_k rate=1r/s burst=1;
--- must_die
--- error_log eval
qr/\[emerg\] .*"rate_limit_zone" directive needs "zone=name:size"/



=== TEST 5: rate_limit_zone without rate=
--- http_config
    rate_limit_zone $arg_k zone=z:1m burst=1;
--- must_die
--- error_log eval
qr/\[emerg\] .*"rate_limit_zone" directive needs "rate="/



=== TEST 6: an unknown unit of rate
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=10r/x;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid rate "(?:rate=)?10r\/x"/



=== TEST 7: a rate of zero
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=0r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid rate "(?:rate=)?0r\/s"/



=== TEST 8: a rate without "r/"
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=10;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid rate "(?:rate=)?10"/



=== TEST 9: a bad rate in rate_limit
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- config
    location = /t {
        rate_limit zone=z rate=fast;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid rate "(?:rate=)?fast"/



=== TEST 10: a burst that is not a number
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s burst=many;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid burst "(?:burst=)?many"/



=== TEST 11: a negative burst in rate_limit
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- config
    location = /t {
        rate_limit zone=z burst=-1;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "burst=-1"/



=== TEST 12: a cost that is not a number
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- config
    location = /t {
        rate_limit zone=z cost=x;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "cost=x"/



=== TEST 13: an unknown parameter of rate_limit
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- config
    location = /t {
        rate_limit zone=z nodelay;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "nodelay"/



=== TEST 14: an unknown parameter of rate_limit_zone
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s sync;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "sync"/



=== TEST 15: a zone name declared twice with different keys
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
    rate_limit_zone $arg_j zone=z:1m rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*"z".*(?:duplicate|already)/



=== TEST 16: a zone name declared twice with different sizes
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
    rate_limit_zone $arg_k zone=z:2m rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*"z"/



=== TEST 17: a zone smaller than 8 pages
--- http_config
    rate_limit_zone $arg_k zone=z:1k rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "zone=z:1k" is too small: \d+ bytes or more expected/



=== TEST 18: a zone without a size
--- http_config
    rate_limit_zone $arg_k zone=z rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone "zone=z": "zone=name:size" expected/



=== TEST 18b: a zone name that $rate_limit_zones could not list
--- http_config
    rate_limit_zone $arg_k "zone=a,b:1m" rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone name "a,b": no "," or spaces in \S+nginx\.conf:\d+/



=== TEST 18a: a zone size that is not a size
--- http_config
    rate_limit_zone $arg_k zone=z:big rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone size "zone=z:big" in \S+nginx\.conf:\d+/



=== TEST 19: rate_limit_status outside 400 to 599
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit_status 200;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid status "200": "rate_limit_status" must be between 400 and 599/



=== TEST 20: rate_limit_headers with an unknown mode
--- config
    rate_limit_headers foo;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "foo"/



=== TEST 21: rate_limit_log_level debug is not a level it allows
--- config
    rate_limit_log_level debug;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "debug"/



=== TEST 22: rate_limit_dry_run takes on or off
--- config
    rate_limit_dry_run maybe;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "maybe" in "rate_limit_dry_run"/



=== TEST 23: rate_limit_zone is for the http level only
--- config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*"rate_limit_zone" directive is not allowed here/



=== TEST 24: rate_limit_zone without a key
--- http_config
    rate_limit_zone zone=z:1m rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*rate_limit_zone/



=== TEST 25: one zone twice in the same location
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit zone=z burst=5;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "z" is already limited here/



=== TEST 26: rate_limit may name a zone declared further down
--- http_config
    rate_limit zone=late;
    rate_limit_zone $server_name zone=late:1m rate=1r/m;
--- config
    location = /t {
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
