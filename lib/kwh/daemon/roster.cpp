#include <kwh/daemon/roster.hpp>

#include <kwh/site/gateway.hpp>
#include <kwh/site/meter.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace kwh::daemon {

std::size_t Roster::meter_count() const {
  std::size_t n = 0;
  for (const auto& g : gateways) n += g.meters.size();
  return n;
}

Roster load_roster(storage::Database& db, const config::Config& cfg) {
  Roster roster;
  std::map<std::int64_t, std::size_t> index;
  for (const auto& g : site::list_gateways(db)) {
    if (g.retired) continue; // kwh gateway retire: history only
    GatewayTarget t;
    t.id = g.id;
    t.name = g.name;
    t.spec = g.spec(cfg.poll.timeout);
    if (g.password) t.password = *g.password;
    if (g.operator_code) t.operator_code = *g.operator_code;
    t.status = parse_status(g.status);
    index[g.id] = roster.gateways.size();
    roster.gateways.push_back(std::move(t));
  }
  // Meters of one profile share its parsed form and plan.
  std::map<std::string, std::shared_ptr<const Model>> models;
  for (const auto& m : site::list_meters(db)) {
    auto it = index.find(m.gateway_id);
    if (it == index.end() || !m.in_service()) continue;
    std::shared_ptr<const Model> model;
    if (auto found = models.find(m.profile); found != models.end()) {
      model = found->second;
    } else {
      try {
        auto built = std::make_shared<Model>();
        built->profile = site::meter_profile(db, m, cfg.profiles);
        built->plan = modbus::plan_reads(built->profile);
        model = built;
        models.emplace(m.profile, model);
      } catch (const Error& e) {
        roster.problems.push_back(fmt::format("meter {} skipped: {}", m.name, e.what()));
        continue;
      }
    }
    if (!model->profile.total()) {
      roster.problems.push_back(fmt::format("meter {} skipped: profile {} has no energy_total or volume_total",
                                            m.name, model->profile.name));
      continue;
    }
    const bool dlt645 = roster.gateways[it->second].spec.protocol == transport::Protocol::dlt645;
    if (dlt645 != (model->profile.protocol == "dlt645") || dlt645 != m.address.has_value()) {
      roster.problems.push_back(fmt::format("meter {} skipped: profile {} does not speak its gateway's protocol",
                                            m.name, model->profile.name));
      continue;
    }
    MeterTarget t;
    t.id = m.id;
    if (m.address) t.address = *m.address;
    if (m.device) t.device = *m.device;
    t.name = m.name;
    t.gateway_id = m.gateway_id;
    t.unit = static_cast<std::uint8_t>(m.unit);
    t.model = std::move(model);
    t.status = parse_status(m.status);
    t.failed_polls = m.failed_polls;
    roster.gateways[it->second].meters.push_back(std::move(t));
  }
  for (auto& g : roster.gateways)
    std::sort(g.meters.begin(), g.meters.end(), [](const auto& a, const auto& b) { return a.unit < b.unit; });
  return roster;
}

} // namespace kwh::daemon
