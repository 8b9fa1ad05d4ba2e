#include "roudi_for_run.hpp"

#include <algorithm>

#include "ipcmatrix/pattern/topology.hpp"

namespace ipcmatrix::detail {

bool needs_roudi(const Cell& c) noexcept { return c.mechanism->name == kIceoryxMechanism; }

namespace {

/// Removes the iceoryx cells for which `drop` is true; returns how many.
template <class Pred>
std::size_t remove_cells(std::vector<Cell>& cells, Pred drop) {
  const auto before = cells.size();
  std::erase_if(cells, [&](const Cell& c) { return needs_roudi(c) && drop(c); });
  return before - cells.size();
}

}  // namespace

std::uint64_t roudi_pool_bytes(const Cell& c) {
  const std::uint64_t largest = largest_message_bytes(c.serializer, c.size_bytes);
  const std::size_t channels = make_topology(*c.pattern, c.procs).channels.size();
  return iceoryx::RoudiConfig::pool_size_for(largest) * iceoryx::kChunksPerChannel * channels;
}

iceoryx::RoudiConfig roudi_config_for(const std::vector<Cell>& cells) {
  iceoryx::RoudiConfig cfg;
  for (const Cell& c : cells)
    if (needs_roudi(c) && roudi_pool_bytes(c) <= iceoryx::kMaxPoolBytes)
      cfg.add_cell(largest_message_bytes(c.serializer, c.size_bytes),
                   make_topology(*c.pattern, c.procs).channels.size());
  return cfg;
}

std::unique_ptr<iceoryx::Roudi> start_run_roudi(std::vector<Cell>& cells, nlohmann::json& environment,
                                                std::vector<std::string>& warnings) {
  if (std::none_of(cells.begin(), cells.end(), needs_roudi)) return nullptr;
  if (const std::size_t n =
          remove_cells(cells, [](const Cell& c) { return roudi_pool_bytes(c) > iceoryx::kMaxPoolBytes; }))
    warnings.push_back("iceoryx: " + std::to_string(n) + " cell(s) not run: their channels would need more than " +
                       std::to_string(iceoryx::kMaxPoolBytes >> 20) + " MiB of RouDi mempool (" +
                       std::to_string(iceoryx::kChunksPerChannel) + " chunks of the largest message per channel)");
  const iceoryx::RoudiConfig cfg = roudi_config_for(cells);
  if (std::none_of(cells.begin(), cells.end(), needs_roudi)) return nullptr;
  std::string why;
  std::unique_ptr<iceoryx::Roudi> roudi;
  try {
    roudi = iceoryx::Roudi::start(cfg, &why);
  } catch (const std::exception& e) {
    why = std::string("its RouDi failed to start: ") + e.what();
  }
  if (!roudi) {
    const std::size_t n = remove_cells(cells, [](const Cell&) { return true; });
    warnings.push_back("iceoryx: " + std::to_string(n) + " cell(s) skipped: " + why);
    environment["iceoryx_roudi"] = {{"skipped", why}};
    return nullptr;
  }
  nlohmann::json pools = nlohmann::json::array();
  for (const auto& p : roudi->config().pools) pools.push_back({{"size", p.payload_bytes}, {"count", p.count}});
  environment["iceoryx_roudi"] = {{"pid", roudi->pid()},
                                  {"startup_ms", roudi->startup_ms()},
                                  {"pools", pools},
                                  {"pool_bytes", roudi->config().bytes()},
                                  {"queue_depth", iceoryx::kQueueDepth},
                                  {"lock", iceoryx::kLockPath}};
  return roudi;
}

}  // namespace ipcmatrix::detail
