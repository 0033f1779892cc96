# lintian, Debian's package checker, finds no error (E:) and no warning (W:) in the .deb that
# `cpack -G DEB` makes from the build; its whole report is shown. The package holds what
# Debian asks of every package: the copyright file, in the machine-readable format, with the
# text of LICENSE, and the changelog, whose latest entry is the package's version, signed by
# its maintainer (a real address: KWH_MAINTAINER).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ship_lib.sh"
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v $tool >/dev/null || skip "$tool is not installed (dpkg-dev)"
done
command -v lintian >/dev/null || skip "lintian is not installed"
[ -f "$KWH_BUILD/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $KWH_BUILD"

cd "$T"
cpack -G DEB --config "$KWH_BUILD/CPackConfig.cmake" -B "$T/pkg" >"$T/cpack.log" 2>&1 ||
  { cat "$T/cpack.log" >&2; fail "cpack -G DEB failed"; }
deb=$(ls "$T"/pkg/kwh_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$T/cpack.log" >&2; fail "cpack made no kwh_*.deb"; }

# Errors, warnings and the informational tags, with the overridden ones and why. As root (CI)
# lintian says that running with root privileges is not recommended, and checks all the same.
rc=0
lintian --display-info --show-overrides "$deb" >"$T/lintian.txt" 2>&1 || rc=$?
echo "lintian $(lintian --print-version) on ${deb##*/}:"
cat "$T/lintian.txt"
errors=$(grep '^E: ' "$T/lintian.txt") || true
[ -z "$errors" ] || fail "lintian found errors: $errors"
[ $rc = 0 ] || fail "lintian exited $rc"
# The package has no warning either: one that is not a mistake gets an override with its
# reason (daemon/systemd/deb/lintian-overrides).
warnings=$(grep '^W: ' "$T/lintian.txt") || true
[ -z "$warnings" ] || fail "lintian found warnings: $warnings"
# The binaries are stripped of the sections that only name the compiler (cmake/DebStaging.cmake).
not_contains "$(cat "$T/lintian.txt")" "binary-has-unneeded-section"

dpkg -x "$deb" "$T/root"
doc=$T/root/usr/share/doc/kwh
[ -f "$T/root/usr/share/lintian/overrides/kwh" ] || fail "the package has no lintian overrides"

# The maintainer is the one the build was configured with, and has a real address.
maintainer=$(sed -n 's/^KWH_MAINTAINER:[A-Z]*=//p' "$KWH_BUILD/CMakeCache.txt")
[ -n "$maintainer" ] || fail "no KWH_MAINTAINER in $KWH_BUILD/CMakeCache.txt"
equals "$(dpkg-deb -f "$deb" Maintainer)" "$maintainer"
case $maintainer in
  *@localhost* | *@*.localdomain* | *"<>"*) fail "the package's maintainer has no real address: $maintainer" ;;
  *" <"*@*.*">") ;;
  *) fail "the package's maintainer is not \"Name <address>\": $maintainer" ;;
esac

# The changelog: gzip -9n (no name, no time stamp), its latest entry is this version, and it
# is signed by the maintainer.
[ -f "$doc/changelog.gz" ] || fail "the package has no /usr/share/doc/kwh/changelog.gz"
[ ! -e "$doc/changelog.Debian.gz" ] || fail "a native package's changelog is changelog.gz, not changelog.Debian.gz"
gzip -t "$doc/changelog.gz" || fail "changelog.gz is not gzip"
[ "$(od -An -tu1 -j3 -N5 "$doc/changelog.gz" | tr -s ' ')" = " 0 0 0 0 0" ] ||
  fail "changelog.gz holds a file name or a time stamp (not gzip -n)"
version=$(dpkg-deb -f "$deb" Version)
equals "$version" "$(kwh --version | sed 's/^kwh //')"
zcat "$doc/changelog.gz" >"$T/changelog"
top=$(head -1 "$T/changelog")
equals "$top" "kwh ($version) unstable; urgency=medium"
trailer=$(grep -m1 '^ -- ' "$T/changelog")
contains "$trailer" " -- $maintainer  "
not_contains "$(cat "$T/changelog")" "@KWH_MAINTAINER@"

# The copyright file: machine-readable (DEP-5), every file under the Expat (MIT) license,
# whose text is LICENSE's.
copyright=$doc/copyright
[ -f "$copyright" ] || fail "the package has no /usr/share/doc/kwh/copyright"
equals "$(head -1 "$copyright")" "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
grep -qx 'Upstream-Name: kwh' "$copyright" || fail "copyright: no Upstream-Name: kwh"
grep -q '^Source: .' "$copyright" || fail "copyright: no Source"
grep -qx 'Files: \*' "$copyright" || fail "copyright: no Files: *"
holder=$(sed -n 's/^Copyright (c) //p' "$KWH_SOURCE/LICENSE")
grep -qxF "Copyright: $holder" "$copyright" || fail "copyright: no 'Copyright: $holder' (as in LICENSE)"
grep -qx 'License: Expat' "$copyright" || fail "copyright: no License: Expat"
diff <(sed -n '/^License: Expat$/,$p' "$copyright" | sed '1d; s/^ //; s/^\.$//') \
     <(sed -n '/^Permission is hereby granted/,$p' "$KWH_SOURCE/LICENSE") >&2 ||
  fail "the license text in copyright is not LICENSE's"

echo ok
