#!/bin/sh
# The prefix `make run` starts the example gateway with, printed: build/run/
# of the checkout given, where the logs go.
#
#   conf.examples/prefix.sh CHECKOUT
#
# nginx started as root runs its workers as nobody, which must reach the
# prefix's tmp/ (temporary files and the cache).  A checkout under a
# directory only root may enter (in /root, mode 0700 as Debian makes it)
# gets a directory of its own in /tmp instead, made by mktemp, owned by
# root, and build/run becomes a link to it, so the logs are still found
# in build/run/logs.  A later run reuses that directory.

set -e

root=$1
run=$root/build/run

mkdir -p "$root/build"

if [ "$(id -u)" != 0 ] || runuser -u nobody -- test -x "$root/build"; then
    [ -L "$run" ] && rm "$run"
    prefix=$run

else
    prefix=
    old=$(readlink "$run" 2>/dev/null || true)

    case $old in
    /tmp/gateway-run.*)
        if [ -d "$old" ] && [ ! -L "$old" ] && [ "$(stat -c %u "$old")" = 0 ]
        then
            prefix=$old
        fi
        ;;
    esac

    if [ -z "$prefix" ]; then
        prefix=$(mktemp -d /tmp/gateway-run.XXXXXX)
        chmod 0755 "$prefix"
        rm -rf "$run"
        ln -s "$prefix" "$run"
    fi
fi

mkdir -p "$prefix/logs" "$prefix/tmp"

echo "$prefix"
