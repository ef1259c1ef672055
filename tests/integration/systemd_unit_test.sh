#!/bin/bash
# systemd-analyze verify accepts systemd/ckptfs@.service (with ExecStart
# pointed at the built binary, as `cmake --install` would place it).
source "$(dirname "$0")/lib.sh"
command -v systemd-analyze > /dev/null || fail "systemd-analyze not installed (scripts/install-deps.sh installs systemd)"
unit_src="$(dirname "$0")/../../systemd/ckptfs@.service"
mkdir -p "$WORK/units"
sed "s|/usr/local/bin/ckptfs|$CKPTFS|g" "$unit_src" > "$WORK/units/ckptfs@.service"
grep -q '^Type=notify' "$WORK/units/ckptfs@.service" || fail "unit is not Type=notify"
out=$(systemd-analyze verify "$WORK/units/ckptfs@test.service" 2>&1) || fail "systemd-analyze verify failed: $out"
if echo "$out" | grep -i "ckptfs@" | grep -v -i "no such file.*/etc/ckptfs" ; then
  fail "systemd-analyze verify reported problems in the unit"
fi
echo PASS
