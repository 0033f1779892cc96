# The configuration: an unknown key is 78 naming file:line and the key; KWH_CONFIG and
# --config are honoured; the database key is used when neither --db nor KWH_DB is set.
. "$(dirname "$0")/lib.sh"

cat > "$T/bad.toml" <<'TOML'
currency = "CNY"
[poll]
intervall = "30m"
TOML
expect_exit 78 kwh --config "$T/bad.toml" init
expect_one_line_error
contains "$ERR" "$T/bad.toml:3"
contains "$ERR" "poll.intervall"

KWH_CONFIG="$T/bad.toml" expect_exit 78 kwh init
contains "$ERR" "poll.intervall"
expect_exit 78 kwhd --config "$T/bad.toml" --check-config
contains "$ERR" "$T/bad.toml:3"

cat > "$T/badval.toml" <<'TOML'
minor_units = 12
TOML
expect_exit 78 kwh --config "$T/badval.toml" init
contains "$ERR" "minor_units"

expect_exit 78 kwh --config "$T/none.toml" init
contains "$ERR" "none.toml"

cat > "$T/good.toml" <<TOML
database = "$T/fromconfig/kwh.db"
timezone = "Asia/Shanghai"
[poll]
interval = "1s"
TOML
unset KWH_DB
expect_exit 0 kwh --config "$T/good.toml" init
[ -f "$T/fromconfig/kwh.db" ] || fail "the config's database key was not used"
expect_exit 0 kwhd --config "$T/good.toml" --check-config
contains "$OUT" "valid"

echo ok
