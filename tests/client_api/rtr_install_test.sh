#!/bin/sh
# rtr_install_test.sh BUILD_DIR CC [SANITIZERS] - install librtr (component librtr) into a temp
# prefix, then build a tiny client against the INSTALLED rtr.h and rtr.pc with
# `cc $(pkg-config --cflags --libs rtr)` and against the CMake package (find_package(rtr) ->
# rtr::rtr), and run both.
set -eu
build=$1
cc=$2
san=${3:-}
tmp=$(mktemp -d /tmp/rtr-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" --component librtr >"$tmp/install.log"
test -f "$tmp/prefix/include/rtr.h"
test -f "$tmp/prefix/include/rtr_status.h"
libdir=$(dirname "$(find "$tmp/prefix" -name rtr.pc | head -n 1)")/..
libdir=$(cd "$libdir" && pwd)
extra=""
[ -n "$san" ] && extra="-fsanitize=$san"

cat >"$tmp/client.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <rtr.h>
int
main(void)
{
    rtr_channel_t ch = 0;
    /* no facility file: opening fails with a clear status, never a crash */
    rtr_status_t sts = rtr_open_channel(&ch, RTR_F_OPE_CLIENT | RTR_F_OPE_SERVER, NULL, NULL,
                                        NULL, NULL, 0, NULL);
    if (sts != RTR_STS_INVFLAGS)
        return 1;
    printf("%s\n", rtr_error_text(sts));
    return strcmp(rtr_error_text(RTR_STS_OK), "normal successful completion") != 0;
}
C
PKG_CONFIG_PATH="$libdir/pkgconfig"
export PKG_CONFIG_PATH
libs=$(pkg-config --libs rtr)
case " $libs " in *" -lrtr "*) ;; *) echo "pkg-config --libs rtr: $libs" >&2; exit 1 ;; esac
ldir=$(echo "$libs" | sed -n 's/^-L\([^ ]*\) .*/\1/p')
test "$(cd "$ldir" && pwd)" = "$libdir"
# shellcheck disable=SC2046
"$cc" $extra -o "$tmp/client" "$tmp/client.c" $(pkg-config --cflags --libs rtr)
LD_LIBRARY_PATH="$libdir" "$tmp/client" | grep -q "invalid flags argument"
echo "pkg-config client: ok"

mkdir -p "$tmp/cm"
cat >"$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(rtrclient C)
find_package(rtr REQUIRED)
add_executable(client $tmp/client.c)
target_link_libraries(client PRIVATE rtr::rtr)
if(RTR_EXTRA)
  target_compile_options(client PRIVATE \${RTR_EXTRA})
  target_link_options(client PRIVATE \${RTR_EXTRA})
endif()
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_C_COMPILER="$cc" -DRTR_EXTRA="$extra" >"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; exit 1; }
cmake --build "$tmp/cm/build" >>"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; exit 1; }
LD_LIBRARY_PATH="$libdir" "$tmp/cm/build/client" | grep -q "invalid flags argument"
echo "find_package client: ok"
