# Every installed man page renders without a single warning from man or groff, has the
# sections a sysadmin looks for, and every kwh page it points to exists.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ship_lib.sh"
command -v man >/dev/null && command -v groff >/dev/null || skip "man-db and groff-base are needed"

root=$T/root
stage_install "$root"
man_root=$root/usr/share/man
cd "$man_root"
pages=$(expected_man_pages)
for page in $pages; do
  [ -f "$page" ] || fail "no man page $page (is scdoc installed?)"
  render_man "$page"
  # Sections: every page has NAME, SYNOPSIS, DESCRIPTION, EXAMPLES and SEE ALSO.
  [ "$page" = man1/kwh-refund.1.gz ] && continue
  for section in NAME SYNOPSIS DESCRIPTION EXAMPLES "SEE ALSO"; do
    grep -q "^$section" "$T/page.txt" || fail "$page has no $section section"
  done
done
[ "$(readlink man1/kwh-refund.1.gz)" = kwh-sell.1.gz ] || fail "kwh-refund.1.gz is not a link to kwh-sell.1.gz"
render_man man1/kwh-refund.1.gz
grep -q "kwh refund" "$T/page.txt" || fail "kwh-refund(1) does not show refund"

# Cross-references: every kwh page named in a page (kwh-meter(1), kwhd(8), ...) is installed.
for ref in $(cat "$KWH_SOURCE"/man/*.scd | grep -o 'kwh[a-z.-]*\*([158])' | tr -d '*' | sort -u); do
  name=${ref%(*}; sec=${ref#*(}; sec=${sec%)}
  [ -f "man$sec/$name.$sec.gz" ] || fail "a man page refers to $ref, which is not installed"
done

echo ok
