#include <kwh/hub/intent.hpp>

namespace kwh::hub {

namespace {

constexpr const char* k_columns =
    "id, site_id, ref, account, amount, method, operator, to_char(created AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), state, receipt, balance, error";

Intent read_intent(const PgResult& r, int row) {
  Intent i;
  i.id = r.integer(row, 0);
  i.site_id = r.text(row, 1);
  i.ref = r.text(row, 2);
  i.account = r.text(row, 3);
  i.amount = r.integer(row, 4);
  i.method = r.text(row, 5);
  i.operator_name = r.text(row, 6);
  i.created = r.text(row, 7);
  i.state = r.text(row, 8);
  i.receipt = r.opt_integer(row, 9);
  i.balance = r.opt_integer(row, 10);
  i.error = r.opt_text(row, 11);
  return i;
}

} // namespace

std::string ledger_ref(const std::string& ref) { return "hub:" + ref; }

std::optional<Intent> find_intent(PgConnection& conn, const std::string& site_id, const std::string& ref) {
  auto r = conn.exec(std::string("SELECT ") + k_columns + " FROM intents WHERE site_id = $1 AND ref = $2",
                     {site_id, ref});
  if (r.rows() == 0) return std::nullopt;
  return read_intent(r, 0);
}

Placed place_intent(PgConnection& conn, const Intent& intent) {
  auto site = conn.exec("SELECT 1 FROM sites WHERE site_id = $1", {intent.site_id});
  if (site.rows() == 0)
    fail(Exit::no_input, "the hub knows no site {} (a site is known once its kwhd has pushed)", intent.site_id);
  auto r = conn.exec(std::string("INSERT INTO intents(site_id, ref, account, amount, method, operator) "
                                 "VALUES ($1, $2, $3, $4::bigint, $5, $6) ON CONFLICT (site_id, ref) DO NOTHING "
                                 "RETURNING ") +
                         k_columns,
                     {intent.site_id, intent.ref, intent.account, std::to_string(intent.amount), intent.method,
                      intent.operator_name});
  if (r.rows() == 1) return {read_intent(r, 0), false};
  auto found = find_intent(conn, intent.site_id, intent.ref);
  if (!found) fail(Exit::temporary, "hub: intent {} of site {} vanished; try again", intent.ref, intent.site_id);
  if (found->account != intent.account || found->amount != intent.amount || found->method != intent.method)
    fail(Exit::data, "--ref {} was used at site {} for another sale ({} {} by {})", intent.ref, intent.site_id,
         found->account, found->amount, found->method);
  return {*found, true};
}

std::vector<Intent> pending_intents(PgConnection& conn, const std::string& site_id, int limit) {
  auto r = conn.exec(std::string("SELECT ") + k_columns +
                         " FROM intents WHERE site_id = $1 AND state = 'pending' ORDER BY id LIMIT $2::integer",
                     {site_id, std::to_string(limit)});
  std::vector<Intent> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_intent(r, i));
  return out;
}

void intent_done(PgConnection& conn, std::int64_t id, std::int64_t receipt, std::int64_t balance) {
  conn.exec("UPDATE intents SET state = 'done', receipt = $2::bigint, balance = $3::bigint, error = NULL, "
            "applied = now() WHERE id = $1::bigint AND state = 'pending'",
            {std::to_string(id), std::to_string(receipt), std::to_string(balance)});
}

void intent_refused(PgConnection& conn, std::int64_t id, const std::string& error) {
  conn.exec("UPDATE intents SET state = 'refused', error = $2, applied = now() WHERE id = $1::bigint AND "
            "state = 'pending'",
            {std::to_string(id), error});
}

} // namespace kwh::hub
