#!/usr/bin/env bash
# api_doc_test.sh SRCDIR - docs/api.md shows the complete programs it names exactly as they are
# in the tree: every "<!-- file: PATH -->" marker must be followed by a ```c block identical
# to PATH (which the build compiles, examples/CMakeLists.txt). Exit 1 on any difference.
set -u
SRC=${1:?usage: api_doc_test.sh SRCDIR}
DOC="$SRC/docs/api.md"
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
n=0
while IFS= read -r path; do
    n=$((n + 1))
    awk -v want="<!-- file: $path -->" '
        $0 == want { found = 1; next }
        found == 1 && /^```c$/ { found = 2; next }
        found == 2 && /^```$/ { exit }
        found == 2 { print }' "$DOC" >"$T/block.c"
    if ! diff -u "$SRC/$path" "$T/block.c" >"$T/diff"; then
        echo "FAIL - docs/api.md: the block for $path differs from the file:"
        head -n 40 "$T/diff"
        exit 1
    fi
    echo "ok - docs/api.md shows $path as is"
done < <(sed -n 's/^<!-- file: \(.*\) -->$/\1/p' "$DOC")
[ "$n" -ge 2 ] || { echo "FAIL - docs/api.md names $n programs, expected 2"; exit 1; }
echo "all $n blocks match"
