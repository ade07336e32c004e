# rate_limit_zone: a full zone. A 32k zone holds a couple of hundred
# buckets; the --- init sections send 400 keys through it (each key
# admitted), then the block's request checks what was kept and logged.

use lib 't/helpers';
use GwHttp ();   # for the --- init sections
use Test::Nginx::Socket 'no_plan';

# GET /t?k=<prefix>1 .. <prefix>n (and &<extra>): how many were not 200
sub fill {
    my ($prefix, $n, $extra) = @_;
    $extra //= '';
    my @bad = grep { GwHttp::http_get("/t?k=$prefix$_$extra") != 200 } 1 .. $n;
    return scalar @bad;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    $block->set_value('http_config',
                      'rate_limit_zone $arg_k zone=z:32k rate=1r/m;')
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /t {
        rate_limit zone=z rate=$arg_r;
        alias html/ok.txt;
    }
_EOC_
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a zone full of buckets in use: a new key still gets in, the drop is logged
--- init
Test::More::is(main::fill('live', 400), 0, 'each new key admitted');
Test::More::is(GwHttp::http_get('/t?k=live400'), 429,
               'the newest bucket kept');
--- request
GET /t?k=new
--- error_code: 200
--- error_log
rate_limit: zone "z" is full, dropped a bucket in use



=== TEST 2: a zone of idle buckets takes new keys silently
# at 1000r/s a bucket is full again 1 ms after its request
--- init
Test::More::is(main::fill('idle', 400, '&r=1000r/s'), 0,
               'each new key admitted');
--- request
GET /t?k=new
--- error_code: 200
--- no_error_log
is full
[error]
[crit]



=== TEST 3: idle buckets go before a bucket in use, wherever they are
# the oldest bucket is the one in use; 400 idle ones come after it
# (filling them may take seconds under valgrind: Retry-After counts down)
--- init
Test::More::is(GwHttp::http_get('/t?k=busy'), 200, 'the busy key admitted');
Test::More::is(main::fill('idle', 400, '&r=1000r/s'), 0,
               'each new key admitted');
--- request
GET /t?k=busy
--- error_code: 429
--- response_headers_like
Retry-After: (?:60|5\d)
--- no_error_log
is full



=== TEST 4: buckets of other keys are untouched by one key's requests
--- request eval
["GET /t?k=a", "GET /t?k=b", "GET /t?k=a", "GET /t?k=c", "GET /t?k=b"]
--- error_code eval
[200, 200, 429, 200, 429]



=== TEST 5: keys are compared whole: a prefix of a key is another key
--- request eval
["GET /t?k=abc", "GET /t?k=ab", "GET /t?k=abcd", "GET /t?k=abc"]
--- error_code eval
[200, 200, 200, 429]



=== TEST 6: a long key (1000 bytes) has its bucket too
--- request eval
["GET /t?k=" . ("x" x 1000), "GET /t?k=" . ("x" x 1000),
 "GET /t?k=" . ("x" x 999)]
--- error_code eval
[200, 429, 200]
