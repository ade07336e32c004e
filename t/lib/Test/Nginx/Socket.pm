package Test::Nginx::Socket;

# The project's stand-in for openresty's Test::Nginx::Socket: reads the
# same .t format (through Debian's Test::Base), starts nginx per block
# (Test::Nginx::Util) and talks HTTP/1.1 to it over a plain socket.
# Only used where the real module is missing; t/runner/001-runner.t passes under
# both, t/runner/002-meta.t proves this one fails when it should.
#
# Block sections: main_config http_config config post_main_config
#   server_name log_level user_files init post_setup_server_root
#   request (string, eval, arrays of requests or of packets) raw_request
#   pipelined_requests more_headers raw_request_middle_delay timeout abort
#   shutdown wait ignore_response error_code error_code_like
#   response_headers (!Name: absent) response_headers_like
#   raw_response_headers_like/_unlike response_body (eval: string or qr)
#   response_body_like/_unlike response_body_filters response_body_json_sort
#   error_log no_error_log grep_error_log grep_error_log_out access_log
#   no_access_log shutdown_error_log no_shutdown_error_log must_die
#   skip_nginx skip_eval todo no_valgrind (ours: no valgrind for the block)
#   ONLY SKIP LAST (Test::Base).
# Environment: TEST_NGINX_BINARY PORT SERVER_PORT CLIENT_PORT SERVROOT
#   LOAD_MODULES USE_VALGRIND TIMEOUT LOG_LEVEL MASTER_PROCESS NO_SHUFFLE
#   FAST_SHUTDOWN VERBOSE (each with the TEST_NGINX_ prefix), and
#   $TEST_NGINX_* (RAND_PORT_N too) expands in the config sections.

use Test::Base -base;

use strict;
use warnings;

use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(sleep time);
use Digest::MD5 ();
use Digest::SHA ();

use Test::Nginx::Util;

our $VERSION = '0.33';

our @EXPORT = qw(env_to_nginx is_str plan run_tests run_test repeat_each
    config_preamble worker_connections master_process_enabled no_long_string
    workers master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check);

our @ResponseBodyChecks;
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

$Test::Nginx::Util::RunTestHelper = \&run_test_helper;
$Test::Nginx::Util::CheckErrorLog = \&check_error_log;
$Test::Nginx::Util::CheckShutdownErrorLog = \&check_shutdown_error_log;

# ------------------------------------------------------------- requests

# "--- more_headers" text to "Key: value\r\n" lines; also tells whether
# the request body is sent chunked.
sub more_headers_text ($) {
    my ($out, $chunked) = ('', 0);
    for my $h (split /\n+/, shift // '') {
        next if $h =~ /^\s*#/;
        my ($k, $v) = split /:\s*/, $h, 2;
        $v //= '';
        $chunked = 1 if lc $k eq 'transfer-encoding' && $v eq 'chunked';
        $out .= "$k: $v\r\n";
    }
    return ($out, $chunked);
}

# A request given as "METHOD [URI [VERSION]]\nbody" (possibly split into
# packets) becomes a full HTTP request: request line, Host, Connection, the
# extra headers and Content-Length.  Packet boundaries inside the body are
# kept.
sub build_request ($$$$) {
    my ($name, $packets, $more, $conn) = @_;
    my $whole = join '', @$packets;
    my ($line, $body) = $whole =~ /\A([^\n]*\n?)(.*)\z/s;
    $line =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$line\".");
    my ($meth, $uri, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');
    my ($hdrs, $chunked) = more_headers_text($more);

    my ($from, $len) = (length $line, length $body);
    my $clen = '';
    if (!$chunked && $body ne '' && $hdrs !~ /(?:^|\n)Content-Length:/) {
        $body =~ /\A(\s*)(.*?)\s*\z/s;
        ($from, $len) = ($from + length $1, length $2);
        $clen = "Content-Length: $len\r\n";
    }
    my $head = "$meth $uri $ver\r\n";
    $head .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/i;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/i;
    $head .= "$hdrs$clen\r\n";

    # Cut the kept part of the body back into the original packets.
    my ($pos, @out) = (0);
    for my $p (@$packets) {
        my ($lo, $hi) = ($pos, $pos + length $p);
        $pos = $hi;
        $lo = $from if $lo < $from;
        $hi = $from + $len if $hi > $from + $len;
        push @out, $hi > $lo ? substr($whole, $lo, $hi - $lo) : '';
    }
    $out[0] = $head . $out[0];
    return \@out;
}

# All connections of a block: a list of [ {value, delay_before}, ... ].
sub requests_of ($) {
    my $block = shift;
    my $name = $block->name;
    my $more = $block->more_headers // '';
    my $more_for = sub {
        my $i = shift;
        return $more unless ref $more eq 'ARRAY';
        return $more->[$i] // bail_out("$name - --- more_headers lacks data "
                                       . "for request $i");
    };

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { { value => $_ } } ref $raw eq 'ARRAY' ? @$raw : $raw ]];
    }
    if (defined(my $reqs = $block->pipelined_requests)) {
        ref $reqs eq 'ARRAY'
            or bail_out("$name - invalid entries in --- pipelined_requests");
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $r = expand_env_in_text($reqs->[$i], $name,
                                       $Test::Nginx::Util::RandPorts);
            $all .= build_request($name, [$r], $more_for->($i),
                                  $i == $#$reqs ? 'close' : 'keep-alive')->[0];
        }
        return [[{ value => $all }]];
    }

    my $req = $block->request;
    if (defined(my $code = $block->request_eval)) {
        $req = eval $code;
        warn $@ if $@;
    }
    bail_out("$name - request empty") unless defined $req;
    my @list = ref $req eq 'ARRAY' ? @$req : ($req);
    bail_out("$name - invalid --- request: MUST be string or array of requests")
        if ref $req && ref $req ne 'ARRAY';
    my @conns;
    for my $i (0 .. $#list) {
        my $one = $list[$i];
        if (!ref $one) {
            1 while $one =~ s/^\s*#[^\n]*\n|^\s+//;
            $one = [$one];
        }
        ref $one eq 'ARRAY' or bail_out("$name - Invalid syntax. $one should "
                                        . "be a string or an array of packets.");
        my @vals = map { ref $_ eq 'HASH' ? $_->{value} : $_ } @$one;
        my $built = build_request($name, \@vals, $more_for->($i), 'close');
        push @conns, [ map { { %{ ref $one->[$_] eq 'HASH' ? $one->[$_] : {} },
                               value => $built->[$_] } } 0 .. $#$built ];
    }
    return \@conns;
}

# ----------------------------------------------------------- the client

# Sends the packets on a new connection and reads until the server closes
# it (or the timeout passes between two I/O events, as in the real one).
sub send_request ($$$) {
    my ($block, $packets, $timeout) = @_;
    my $name = $block->name;
    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock;
    for my $try (1 .. 20) {
        $sock = IO::Socket::INET->new(PeerAddr => $addr,
            PeerPort => $ServerPortForClient, Proto => 'tcp',
            Timeout => $timeout) and last;
        my $err = $!;
        my $alive = Test::Nginx::Util::child_alive();
        if ($try == 20 || !$alive) {
            Test::More::fail("$name - Can't connect to $addr:"
                . "$ServerPortForClient: $err (aborted"
                . ($alive ? '' : ', nginx is not running') . ")");
            return '';
        }
        sleep 0.01 * $try;
    }
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @todo = @$packets;
    my ($buf, $off, $resp, $writing) = ('', 0, '', 1);
    my $rsel = IO::Select->new($sock);
    my $wsel = IO::Select->new($sock);
    while (1) {
        if ($writing && $off >= length $buf) {
            if (my $next = shift @todo) {
                my $delay = $next->{delay_before}
                            // $block->raw_request_middle_delay;
                sleep $delay if $delay && $next != $packets->[0];
                ($buf, $off) = ($next->{value} // '', 0);
                next;
            }
            $writing = 0;
            if (defined(my $how = $block->shutdown)) {
                shutdown($sock, $how =~ /^\s*$/ ? 1 : $how);
            }
        }
        my ($r, $w) = IO::Select->select($rsel, $writing ? $wsel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            next if $! == EINTR;
            if (!defined $block->abort) {
                Test::More::fail("ERROR: client socket timed out - $name\n");
            }
            last;
        }
        if ($w && @$w) {
            my $n = syswrite($sock, $buf, length($buf) - $off, $off);
            if (defined $n) {
                $off += $n;
            } elsif ($! != EAGAIN && $! != EWOULDBLOCK) {
                warn "WARNING: $name - write failed: $!\n" unless $resp ne '';
                $writing = 0;
            }
        }
        if ($r && @$r) {
            my $n = sysread($sock, my $chunk, 65536);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }
    close $sock;
    return $resp;
}

# Parses one response off the front of $raw.  Returns a hash: code,
# headers (list of [name, value]), raw_headers, body, and left (what
# follows the response, for pipelined requests).
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my $res = { headers => [], raw_headers => '', body => '' };
    my ($head, $rest) = split /\r?\n\r?\n/, $raw, 2;
    $res->{raw_headers} = "$1\r\n" if $raw =~ /\A(.*?\r\n)\r\n/s;
    $rest //= '';
    my @lines = split /\r?\n/, $head // '';
    my $status = shift @lines // '';
    $res->{code} = $1 if $status =~ m{^HTTP/\d+\.\d+\s+(\d+)};
    for (@lines) {
        if (/^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            push @{ $res->{headers} }, [$1, $2];
        } elsif (/^\s+(.*?)\s*$/ && @{ $res->{headers} }) {
            $res->{headers}[-1][1] .= " $1";
        }
    }
    my $code = $res->{code} // 0;
    if ($code == 304 || $code == 101 || $code == 204 && $rest eq '') {
        $res->{body} = $rest;
        return $res;
    }
    if ($head_req) {
        $res->{left} = $rest if $rest ne '';
        return $res;
    }
    my $te = header_value($res, 'Transfer-Encoding');
    my $len = header_value($res, 'Content-Length');
    if (defined $te && $te eq 'chunked') {
        my $body = '';
        while (1) {
            if ($rest =~ s/\A[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n//) {
                my $size = hex $1;
                if ($size == 0) {
                    $rest =~ s/\A(?:[^\r\n]+\r\n)*\r\n//
                        or $res->{error} = "invalid chunked data received "
                                           . "(bad trailer or last CRLF).";
                    last;
                }
                if (length $rest < $size + 2
                    || substr($rest, $size, 2) ne "\r\n") {
                    $res->{error} = "invalid chunked data received (not "
                        . "enough octets for the data section or no CRLF)";
                    $body .= substr($rest, 0, $size);
                    $rest = '';
                    last;
                }
                $body .= substr($rest, 0, $size);
                substr($rest, 0, $size + 2) = '';
            } else {
                $res->{error} = $rest eq '' ? "no last chunk found"
                    : "invalid chunked body received: " . substr($rest, 0, 60);
                $rest = '';
                last;
            }
        }
        $res->{body} = $body;
        $res->{left} = $rest if $rest ne '';
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $rest < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($rest) . "\n";
            $res->{body} = $rest;
        } else {
            $res->{body} = substr $rest, 0, $len;
            $res->{left} = substr $rest, $len if length $rest > $len;
        }
    } else {
        $res->{body} = $rest;
    }
    return $res;
}

# Like HTTP::Headers in scalar context: all values joined with ", ".
sub header_value ($$) {
    my ($res, $key) = @_;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $key } @{ $res->{headers} };
    return @v ? join(', ', @v) : undef;
}

# --------------------------------------------------------------- checks

sub run_test_helper ($$$) {
    my ($block, $dry_run, $rep) = @_;
    my $name = $block->name;
    my $conns = requests_of($block);
    my $timeout = parse_time($block->timeout) // timeout();
    my $pipelined = $block->pipelined_requests ? @{ $block->pipelined_requests } : 0;
    my $need_array = $pipelined ? 1 : @$conns > 1;
    my $total = $pipelined || @$conns;
    my $idx = 0;

    for my $conn (@$conns) {
        my $head_req = $conn->[0]{value} =~ /^\s*HEAD\s/;
        my $raw = send_request($block, $conn, $timeout);
        for my $n (1 .. ($pipelined || 1)) {
            my $res;
            if (!defined $block->ignore_response) {
                $res = parse_response($name, $raw, $head_req);
                if ($res->{error}) {
                    Test::More::fail("$name - $res->{error}");
                    undef $res;
                }
                $raw = $res ? $res->{left} // '' : '';
                if (!$pipelined && $raw ne '') {
                    (my $l = $raw) =~ s/([\0-\037\200-\377])/sprintf '\x{%02x}', ord $1/ge;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$l\"\n";
                }
                check_error_code($block, $res, $idx, $need_array);
                check_raw_response_headers($block, $res, $idx, $need_array);
                check_response_headers($block, $res, $idx, $need_array);
                check_response_body($block, $res, $idx, $rep, $need_array);
            }
            if (++$idx < $total) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $dry_run, $rep, $need_array);
                check_log($block, 'access_log', $rep) unless defined $block->ignore_response;
            }
        }
    }
    sleep $block->wait if $block->wait;
    check_error_log($block, undef, $dry_run, $rep, $need_array);
    check_log($block, 'access_log', $rep) unless defined $block->ignore_response;
}

sub indexed ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    return $value->[$need_array ? $idx : 0] if ref $value eq 'ARRAY';
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.") if $need_array;
    return $value;
}

sub check_error_code {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->{code}) || '';
    if (defined $block->error_code_like) {
        my $pat = indexed($name, $block->error_code_like, $idx, $need_array);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        Test::More::is($code, indexed($name, $block->error_code, $idx, $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($code, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $raw = $res ? $res->{raw_headers} : '';
    for my $kind (qw(like unlike)) {
        my $pat = $block->${\"raw_response_headers_$kind"};
        next unless defined $pat;
        $pat = indexed($name, $pat, $idx, $need_array);
        no strict 'refs';
        &{"Test::More::$kind"}($raw, qr/$pat/s, "$name - raw resp headers $kind");
    }
}

sub subst_port ($) {
    my $s = shift;
    return $s if !defined $s || ref $s;
    $s =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
    $s =~ s/\$ServerPort\b/$ServerPort/g;
    return $s;
}

sub check_response_headers {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my ($spec, $like) = (scalar $block->response_headers, 0);
    ($spec, $like) = (scalar $block->response_headers_like, 1) unless defined $spec;
    return unless defined $spec;
    $spec = indexed($name, $spec, $idx, $need_array);
    my @order = map { /^\s*!?\s*([^:]+?)\s*(?::|$)/ ? $1 : () } split /\n/, $spec;
    my $want = parse_headers($spec);
    my $raw = $res ? $res->{raw_headers} : '';
    for my $key (grep { exists $want->{$_} } @order) {
        my $val = $want->{$key};
        my $got = $res ? header_value($res, $key) // '' : '';
        if ($like) {
            $val //= '';
            Test::More::like($got, qr/^$val$/, "$name - header $key like ok");
        } elsif (!defined $val) {
            Test::More::unlike($raw, qr/^\s*\Q$key\E\s*:/ms,
                               "$name - header $key not present in the raw headers");
        } else {
            Test::More::is($got, subst_port($val), "$name - header $key ok");
        }
        delete $want->{$key};
    }
}

my %BodyFilters = (
    md5_hex => \&Digest::MD5::md5_hex, sha1_hex => \&Digest::SHA::sha1_hex,
    uc => sub { uc $_[0] }, lc => sub { lc $_[0] }, length => sub { length $_[0] },
    ucfirst => sub { ucfirst $_[0] }, lcfirst => sub { lcfirst $_[0] },
);

sub filter_body {
    my ($block, $body, $idx) = @_;
    my $filters = $block->response_body_filters;
    return $body unless defined $filters && defined $body;
    $filters = [split ' ', $filters] unless ref $filters;
    $filters = [$filters] if ref $filters ne 'ARRAY';
    $filters = $filters->[$idx] // [] if ref $filters->[0] eq 'ARRAY';
    for my $f (@$filters) {
        my $code = ref $f eq 'CODE' ? $f : $BodyFilters{$f}
            or bail_out($block->name . " - unknown filter \"$f\" in "
                        . "--- response_body_filters");
        $body = $code->($body);
    }
    return $body;
}

sub check_response_body {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $body = $res ? filter_body($block, $res->{body}, $idx) : undef;
    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if (defined $block->response_body_eval) {
            $expected = eval indexed($name, $block->response_body_eval, $idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = indexed($name, $block->response_body, $idx, $need_array);
        }
        if (defined $block->response_body_json_sort && defined $body) {
            require JSON::PP;
            my $js = JSON::PP->new->canonical(1);
            my $obj = eval { $js->loose(1)->decode($body) };
            $body = $js->encode($obj) . "\n" if defined $obj;
        }
        $expected = expand_env_in_text(subst_port($expected), $name,
                                       $Test::Nginx::Util::RandPorts)
            if defined $expected && !ref $expected;
        my $what = "(repeated req $rep, req $idx)";
        if (ref $expected) {
            Test::More::like($body, $expected, "$name - response_body - like $what");
        } else {
            is_with_diff($body, $expected,
                         "$name - response_body - response is expected $what");
        }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = subst_port(indexed($name, $block->${\"response_body_$type"},
                                     $idx, $need_array));
        my $summary = trim($body) // '';
        no strict 'refs';
        &{"Test::More::$type"}($body, qr/$pat/s,
            "$name - response_body_$type - response is expected ($summary)");
    }
    $_->($block, $body, $idx, $rep, 0) for @ResponseBodyChecks;
}

# is() plus a line diff of the two strings when they differ.
sub is_with_diff ($$$) {
    my ($got, $exp, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::is($got, $exp, $desc);
    if (!$ok && defined $got && defined $exp && "$got$exp" =~ /\n./) {
        Test::More::diag("diff (- expected, + got):\n" . line_diff($exp, $got));
    }
    return $ok;
}

sub line_diff ($$) {
    my @a = split /^/, shift;
    my @b = split /^/, shift;
    return "(too long to diff)\n" if @a * @b > 4_000_000;
    my @lcs;   # $lcs[$i][$j]: LCS length of @a[$i..] and @b[$j..]
    for my $i (reverse 0 .. @a) {
        for my $j (reverse 0 .. @b) {
            $lcs[$i][$j] = $i == @a || $j == @b ? 0
                : $a[$i] eq $b[$j] ? $lcs[$i + 1][$j + 1] + 1
                : $lcs[$i + 1][$j] >= $lcs[$i][$j + 1] ? $lcs[$i + 1][$j]
                : $lcs[$i][$j + 1];
        }
    }
    my $show = sub {
        my ($mark, $l) = @_;
        my $nl = $l =~ s/\n\z//;
        $l =~ s/\r/\\r/g;
        $l =~ s/\t/\\t/g;
        return "$mark$l" . ($nl ? "\n" : "\n\\ No newline at end\n");
    };
    my ($i, $j, $out) = (0, 0, '');
    while ($i < @a || $j < @b) {
        if ($i < @a && $j < @b && $a[$i] eq $b[$j]) {
            $out .= $show->(' ', $a[$i]); $i++; $j++;
        } elsif ($i < @a && ($j == @b || $lcs[$i + 1][$j] >= $lcs[$i][$j + 1])) {
            $out .= $show->('-', $a[$i++]);
        } else {
            $out .= $show->('+', $b[$j++]);
        }
    }
    return $out;
}

sub patterns ($) {
    my $p = shift;
    return [@$p] if ref $p eq 'ARRAY';
    return [$p] if ref $p;
    chomp $p;
    return [split /\n+/, $p];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# error_log / no_error_log / access_log / no_access_log against @$lines.
sub match_patterns {
    my ($name, $pats, $negate, $file, $lines, $suffix) = @_;
    for my $pat (@{ patterns($pats) }) {
        next unless defined $pat;
        my ($hit) = grep { line_matches($_, $pat) } @$lines;
        my $p = fmt_str("$pat");
        if ($negate) {
            if (defined $hit) {
                Test::More::fail("$name - pattern \"$p\" should not match any line in "
                                 . "$file but matches line \"" . fmt_str($hit) . "\"$suffix");
            } else {
                Test::More::pass("$name - pattern \"$p\" does not match a line in $file$suffix");
            }
        } elsif (defined $hit) {
            Test::More::pass("$name - pattern \"$pat\" matches a line in $file$suffix");
        } else {
            Test::More::fail("$name - pattern \"$pat\" should match a line in $file$suffix");
            my @tail = @$lines > 15 ? @$lines[-15 .. -1] : @$lines;
            Test::More::diag(@tail ? "last lines of $file:\n" . join('', @tail)
                                   : "$file has no new lines");
        }
    }
}

sub check_error_log {
    my ($block, $res, $dry_run, $rep, $need_array) = @_;
    my $name = $block->name;
    my ($pats, $nopats, $grep) = (scalar $block->error_log,
        scalar $block->no_error_log, scalar $block->grep_error_log);
    return unless defined $pats || defined $nopats || defined $grep;
    my $lines = $Test::Nginx::Util::MustDieLines // error_log_data();
    my $suffix = " (req $rep)";
    if (defined $grep) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $want = $block->grep_error_log_out
            // bail_out("$name - No --- grep_error_log_out defined but "
                        . "--- grep_error_log is defined");
        $want = $want->[$rep] if ref $want eq 'ARRAY';
        $want = expand_env_in_text($want, $name, $Test::Nginx::Util::RandPorts);
        my $got = '';
        for (@$lines) {
            $got .= "$&\n" if (ref $grep ? $_ =~ $grep : $_ =~ /\Q$grep\E/)
                              && $& !~ /\n/;
        }
        if (ref $want eq 'Regexp') {
            Test::More::like($got, $want, "$name - grep_error_log_out$suffix");
        } else {
            is_with_diff($got, $want, "$name - grep_error_log_out$suffix");
        }
    }
    match_patterns($name, $pats, 0, 'error.log', $lines, $suffix) if defined $pats;
    match_patterns($name, $nopats, 1, 'error.log', $lines, $suffix) if defined $nopats;
}

sub check_log {
    my ($block, $which, $rep) = @_;
    my ($pats, $nopats) = (scalar $block->$which, scalar $block->${\"no_$which"});
    return unless defined $pats || defined $nopats;
    my $lines = access_log_data();
    match_patterns($block->name, $pats, 0, 'access.log', $lines, " (req $rep)")
        if defined $pats;
    match_patterns($block->name, $nopats, 1, 'access.log', $lines, " (req $rep)")
        if defined $nopats;
}

sub check_shutdown_error_log {
    my ($block, $lines) = @_;
    for my $neg (0, 1) {
        my $pats = $neg ? $block->no_shutdown_error_log : $block->shutdown_error_log;
        match_patterns($block->name, $pats, $neg, 'error.log', $lines, '')
            if defined $pats;
    }
}

1;
