#include "ipcmatrix/runner/plan.hpp"

#include <algorithm>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/runner/settings.hpp"
#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

bool sweeps_load(const PatternSpec& p) noexcept {
  return p.loop == LoopKind::rate_driven && p.latency == LatencyKind::one_way;
}

std::uint64_t largest_message_bytes(std::string_view serializer, std::uint64_t size_bytes) noexcept {
  const bool raw = serializer_is_body_only(serializer);
  return kEnvelopeBytes + (raw ? size_bytes : size_bytes + size_bytes / 3 + 4096);
}

std::vector<std::vector<std::size_t>> plan_units(const std::vector<Cell>& cells) {
  std::vector<std::vector<std::size_t>> units;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!cells[i].load || units.empty()) units.emplace_back();
    units.back().push_back(i);
  }
  return units;
}

namespace {
// Whether `t` can carry `topo`'s endpoints: a shared one needs several senders on one
// sending end, a fan-out one several receivers of every message.
bool offers_topology(const TransportSpec& t, const Topology& topo) noexcept {
  if (topo.shares_endpoints() && !t.caps.shared_sender) return false;
  return !topo.fans_out() || t.caps.fan_out_endpoint;
}

// The APIs of `mech`'s cells of `size` bytes with serializer `ser`: --api's, and loan from
// --loan-from up where the mechanism lends memory and the serializer puts the body on the
// wire as it is (raw). There the copy a loan saves is half the cell's work (a 1 MiB raw
// stream: loan 2-3x copy's msgs/s for shm, memfd and iceoryx); behind an encoder and a
// decoder it is a small share, and the headline's 1 MiB json, msgpack, cbor and zstd cells
// read loan/copy 0.7-1.3 either way (one repetition each), while doubling those groups'
// contenders left the race 39 of its 49 summary rows decided (43-49 without). --api loan
// runs them all.
std::vector<Api> apis_for(const RunConfig& cfg, const TransportSpec& mech, std::string_view ser,
                          std::uint64_t size) {
  std::vector<Api> apis = cfg.apis;
  const bool more = cfg.loan_from_bytes != 0 && size >= cfg.loan_from_bytes && mech.caps.loan &&
                    serializer_is_body_only(ser);
  if (more && std::find(apis.begin(), apis.end(), Api::loan) == apis.end()) apis.push_back(Api::loan);
  return apis;
}
}  // namespace

std::vector<Cell> plan_cells(const RunConfig& cfg, int cpus) {
  std::vector<Cell> out;
  for (const auto& pattern_name : cfg.patterns) {
    const PatternSpec& pattern = find_pattern(pattern_name);
    const int procs = participants_for(pattern, cfg.procs, cpus);
    const std::vector<int> batches = pattern.batches ? cfg.batches : std::vector<int>{1};
    const Topology topo = make_topology(pattern, procs);
    for (const auto& mech_name : cfg.mechanisms) {
      const TransportSpec& mech = find_transport(mech_name);
      if (!offers_topology(mech, topo)) continue;  // see plan_warnings()
      // A mechanism that cannot spin has one wait, the kernel's: one cell, not one per --wait.
      const std::vector<Wait> cell_waits = mech.caps.spin_wait ? cfg.waits : std::vector<Wait>{Wait::kernel};
      const std::size_t limit = message_limit_of(mech).bytes;
      for (const auto& ser : cfg.serializers)
        for (const auto size : cfg.sizes) {
          if (largest_message_bytes(ser, size) > limit) continue;  // see plan_warnings()
          for (const auto& wait : cell_waits)
            for (const Placement placement : cfg.placements)
              for (const int batch : batches)
                for (const Api api : apis_for(cfg, mech, ser, size)) {
                  if (api == Api::loan && !mech.caps.loan) continue;  // see plan_warnings()
                  out.push_back({&pattern, &mech, ser, wait, placement, size, procs, batch, api, std::nullopt});
                  if (!sweeps_load(pattern)) continue;
                  for (const LoadPoint& load : cfg.loads) {
                    out.push_back(out.back());
                    out.back().load = load;
                  }
                }
        }
    }
  }
  return out;
}

namespace {

/// The sizes (with the serializers, where only some are refused) of `mech` over its message
/// limit, and why, as one sentence; empty when every size fits.
std::string refused_sizes_warning(const TransportSpec& mech, const RunConfig& cfg) {
  std::uint64_t largest = 0;
  for (const auto& ser : cfg.serializers)
    for (const auto size : cfg.sizes) largest = std::max(largest, largest_message_bytes(ser, size));
  const MessageLimit limit = message_limit_of(mech, static_cast<std::size_t>(largest));
  if (largest <= limit.bytes) return {};
  std::vector<std::string> refused;
  for (const auto size : cfg.sizes) {
    std::vector<std::string> sers;
    for (const auto& ser : cfg.serializers)
      if (largest_message_bytes(ser, size) > limit.bytes) sers.push_back(ser);
    if (sers.empty()) continue;
    refused.push_back(sers.size() == cfg.serializers.size() ? format_size(size)
                                                            : format_size(size) + " (" + join(sers) + ")");
  }
  std::string w = std::string(mech.name) + " carries at most " + format_bytes(limit.bytes) + " per message here";
  if (!limit.source.empty()) w += " (" + limit.source + ")";
  w += "; its " + join(refused) + " cells were not run";
  if (!limit.remedy.empty()) w += ": " + limit.remedy;
  return w;
}

}  // namespace

std::vector<std::string> plan_warnings(const RunConfig& cfg) {
  std::vector<std::string> w;
  if (std::find(cfg.apis.begin(), cfg.apis.end(), Api::loan) != cfg.apis.end()) {
    std::vector<std::string> copy_only;
    for (const auto& m : cfg.mechanisms)
      if (!find_transport(m).caps.loan) copy_only.push_back(m);
    if (!copy_only.empty())
      w.push_back("--api loan is not applicable to " + join(copy_only) +
                  " (they copy through the kernel or a queue): only their copy cells ran");
  }
  for (const auto& m : cfg.mechanisms)
    if (std::string refused = refused_sizes_warning(find_transport(m), cfg); !refused.empty())
      w.push_back(std::move(refused));
  for (const auto& name : cfg.patterns) {
    const PatternSpec& pattern = find_pattern(name);
    const Topology topo = make_topology(pattern, std::max(cfg.procs, pattern.participants.min));
    const char* needs = topo.fans_out()           ? "one sending end whose every message several processes receive"
                        : topo.shares_endpoints() ? "one sending end that several processes share"
                                                  : nullptr;
    if (!needs) continue;
    std::vector<std::string> lacking, offer;
    for (const auto& m : cfg.mechanisms) (offers_topology(find_transport(m), topo) ? offer : lacking).push_back(m);
    for (const TransportSpec* t : all_transports())
      if (offers_topology(*t, topo) && std::find(offer.begin(), offer.end(), t->name) == offer.end())
        offer.emplace_back(std::string(t->name) + " (not asked for)");
    if (!lacking.empty())
      w.push_back(name + " needs " + needs + ", which " + join(lacking) + (lacking.size() == 1 ? " does" : " do") +
                  " not offer: their " + name + " cells were not run (mechanisms that offer it: " + join(offer) + ")");
  }
  return w;
}

bool closed_loop_throughput(const Cell& c, const RunConfig& cfg) noexcept {
  return sweeps_load(*c.pattern) && cfg.rate == 0 && !c.load;
}

std::uint64_t min_messages_for(const Cell& c, const RunConfig& cfg) {
  if (cfg.messages != 0) return 0;
  if (!closed_loop_throughput(c, cfg)) return cfg.min_messages;
  // A rate counts the arrivals at every receiver of the cell together (runner/aggregate.cpp),
  // so its producers share the minimum: three 1 MiB zstd+json producers of a fan-in sent 20
  // each, 60 arrivals in 1.4 s of window where 20 make the rate.
  const auto producers = static_cast<std::uint64_t>(std::max(1, make_topology(*c.pattern, c.procs).originators()));
  return (cfg.rate_min_messages + producers - 1) / producers;
}

std::uint64_t latency_sample_for(const Cell& c, const RunConfig& cfg) noexcept {
  if (!closed_loop_throughput(c, cfg)) return 1;
  const std::uint64_t every = cfg.latency_sample == 0 ? kAutoLatencySample : cfg.latency_sample;
  // What the senders use (roles.hpp sample_interval_over()): over round-robin lanes, the next
  // interval coprime with their number.
  std::uint64_t lanes = 1;
  try {
    const Topology topo = make_topology(*c.pattern, c.procs);
    if (topo.distribution == Distribution::round_robin)
      for (const Participant& p : topo.participants) lanes = std::max<std::uint64_t>(lanes, p.outs.size());
  } catch (const std::exception&) {
    // A topology the plan cannot build never runs; its record keeps the interval asked for.
  }
  return sample_interval_over(every, lanes);
}

std::size_t ring_bytes_for(const Cell& c, const RunConfig& cfg, std::size_t channels,
                           std::uint64_t shm_free_bytes) noexcept {
  if (!c.mechanism->caps.sized_per_cell) return cfg.ring_bytes;  // e.g. bipc-mq keeps its own default
  if (cfg.ring_bytes != 0) return cfg.ring_bytes;
  // A frame: ring header word, then the largest message.
  const std::uint64_t two = 2 * (8 + largest_message_bytes(c.serializer, c.size_bytes));
  std::uint64_t ring = kDefaultRingBytes;
  while (ring < two && ring < cfg.ring_max_bytes) ring <<= 1;
  const std::uint64_t budget = shm_free_bytes / 2 / std::max<std::size_t>(channels, 1);
  while (ring > kDefaultRingBytes && ring > budget) ring >>= 1;
  return static_cast<std::size_t>(std::min<std::uint64_t>(ring, cfg.ring_max_bytes));
}

std::vector<std::string> cell_warnings(const Cell& c, const RunConfig& cfg, std::size_t ncpus) {
  std::vector<std::string> w;
  if (c.wait == Wait::spin) {
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
