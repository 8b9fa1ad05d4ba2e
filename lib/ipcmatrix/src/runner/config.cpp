#include "ipcmatrix/runner/config.hpp"

#include <algorithm>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/runner/settings.hpp"
#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "ipcmatrix/util/text.hpp"
#include "usage_errors.hpp"

namespace ipcmatrix {

std::vector<std::string> mechanism_names() {
  std::vector<std::string> names;
  for (const auto* t : all_transports()) names.emplace_back(t->name);
  return names;
}

nlohmann::json RunConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const Setting& setting : run_settings()) j[std::string(setting.key)] = setting.to_json(*this);
  j["preset"] = preset;
  return j;
}

void validate(const RunConfig& cfg) {
  for (const Setting& setting : run_settings())
    if (setting.check) setting.check(cfg, setting.primary_flag());
  if (cfg.duration_s == 0 && cfg.messages < 1) {
    detail::fail_usage("--messages", "must be at least 1 when no --duration is given");
  }
  if (!cfg.loads.empty() && cfg.rate > 0) {
    detail::fail_usage("--load", "sweeps open-loop rates after each closed-loop cell: leave --rate at 0");
  }
  // Otherwise every cell would be killed by its own watchdog.
  if (cfg.duration_s >= cfg.cell_timeout_s) {
    detail::fail_usage("--cell-timeout", format_number(cfg.cell_timeout_s) + " s must exceed --duration (" +
                               format_number(cfg.duration_s) + " s)");
  }
  // What the kernel would refuse is refused here, once, instead of failing every cell.
  ChannelOptions opts;
  opts.pipe_bytes = cfg.pipe_bytes;
  opts.queue_messages = cfg.queue_messages;
  opts.io_threads = cfg.io_threads;
  for (const auto& name : cfg.mechanisms) {
    const TransportSpec* t = nullptr;
    for (const auto* spec : all_transports())
      if (spec->name == name) t = spec;
    if (!t || !t->preflight) continue;
    if (const std::string problem = t->preflight(opts); !problem.empty()) detail::fail_usage(name, problem);
  }
}

}  // namespace ipcmatrix
