#include "ipcmatrix/runner/plan.hpp"

#include <algorithm>

#include "ipcmatrix/error.hpp"

namespace ipcmatrix {

std::string Cell::wait_name() const { return wait ? std::string(to_string(*wait)) : std::string(kKernelWait); }

std::vector<Cell> plan_cells(const RunConfig& cfg, int cpus) {
  std::vector<WaitStrategy> waits;
  for (const auto& w : cfg.waits) {
    WaitStrategy ws{};
    if (!parse_wait_strategy(w, ws)) throw Error("plan", w, "unknown wait strategy");
    waits.push_back(ws);
  }
  std::vector<Placement> placements;
  for (const auto& p : cfg.placements) {
    const auto pl = parse_placement(p);
    if (!pl) throw Error("plan", p, "unknown placement");
    placements.push_back(*pl);
  }

  std::vector<Cell> out;
  for (const auto& pattern_name : cfg.patterns) {
    const PatternSpec& pattern = find_pattern(pattern_name);
    const int procs = participants_for(pattern, cfg.procs, cpus);
    const std::vector<int> batches = pattern.batches ? cfg.batches : std::vector<int>{1};
    for (const auto& mech_name : cfg.mechanisms) {
      const TransportSpec& mech = find_transport(mech_name);
      std::vector<std::optional<WaitStrategy>> cell_waits;
      if (mech.caps.spin_wait) cell_waits.assign(waits.begin(), waits.end());
      else cell_waits.emplace_back(std::nullopt);
      for (const auto& ser : cfg.serializers)
        for (const auto size : cfg.sizes)
          for (const auto& wait : cell_waits)
            for (const Placement placement : placements)
              for (const int batch : batches)
                out.push_back({&pattern, &mech, ser, wait, placement, size, procs, batch});
    }
  }
  return out;
}

std::vector<std::string> cell_warnings(const Cell& c, const RunConfig& cfg, std::size_t ncpus) {
  std::vector<std::string> w;
  if (c.wait == WaitStrategy::spin) {
    const Topology topo = make_topology(*c.pattern, c.procs);
    std::size_t spinners = 0;
    for (const auto& p : topo.participants) spinners += p.threads();
    if (c.placement == Placement::same_core)
      w.push_back("spinning participants share one CPU: each waits for the scheduler to run the other (milliseconds)");
    else if (spinners > ncpus)
      w.push_back(std::to_string(spinners) + " spinning participants on " + std::to_string(ncpus) +
                  " CPUs: spinners steal each other's time; latency reflects scheduling, not the mechanism");
  }
  const std::string name(c.pattern->name);
  if (c.pattern->loop == LoopKind::closed && cfg.rate > 0) w.push_back(name + " is closed loop: --rate ignored");
  const bool asked_to_batch = std::any_of(cfg.batches.begin(), cfg.batches.end(), [](int b) { return b > 1; });
  if (!c.pattern->batches && asked_to_batch)
    w.push_back(name + " sends one message per round trip: --batch ignored");
  return w;
}

}  // namespace ipcmatrix
