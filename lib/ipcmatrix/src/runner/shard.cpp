#include "ipcmatrix/runner/shard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <numeric>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/pattern/topology.hpp"
#include "usage_errors.hpp"

namespace ipcmatrix {

namespace {

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int> env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return to_int(v);
}

Shard checked(int index, int count, std::string source, std::string_view from) {
  if (count < 1 || count > kMaxShards || index < 0 || index >= count)
    detail::fail_usage("--shard",
                       fmt::format("{}: part {} of {} is not one (0 <= i < N <= {})", from, index, count, kMaxShards));
  return Shard{index, count, std::move(source)};
}

}  // namespace

void check_shard_text(std::string_view text) {
  if (text.empty() || text == "auto") return;
  const std::size_t slash = text.find('/');
  const auto i = slash == std::string_view::npos ? std::nullopt : to_int(text.substr(0, slash));
  const auto n = slash == std::string_view::npos ? std::nullopt : to_int(text.substr(slash + 1));
  if (!i || !n) detail::fail_usage("--shard", fmt::format("'{}' is not i/N (e.g. 0/4) or auto", text));
  (void)checked(*i, *n, "--shard", text);
}

std::optional<Shard> resolve_shard(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text != "auto") {
    check_shard_text(text);
    const std::size_t slash = text.find('/');
    return checked(*to_int(text.substr(0, slash)), *to_int(text.substr(slash + 1)), "--shard", text);
  }
  // A Slurm array: the task id counts from the array's minimum (--array=1-4 gives 1..4).
  if (const auto id = env_int("SLURM_ARRAY_TASK_ID")) {
    const auto count = env_int("SLURM_ARRAY_TASK_COUNT");
    if (!count) detail::fail_usage("--shard", "auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
    const int min = env_int("SLURM_ARRAY_TASK_MIN").value_or(0);
    return checked(*id - min, *count, "slurm", "auto (Slurm array)");
  }
  // A Kubernetes Indexed Job: the index from the Job, the count from the manifest.
  if (const auto index = env_int("JOB_COMPLETION_INDEX")) {
    const auto count = env_int(kShardCountEnv);
    if (!count)
      detail::fail_usage("--shard", fmt::format("auto: JOB_COMPLETION_INDEX is set but {} is not (set it to the Job's "
                                                "completions in the manifest)",
                                                kShardCountEnv));
    return checked(*index, *count, "kubernetes", "auto (Kubernetes Indexed Job)");
  }
  detail::fail_usage("--shard",
                     "auto: neither a Slurm array (SLURM_ARRAY_TASK_ID) nor a Kubernetes Indexed Job "
                     "(JOB_COMPLETION_INDEX) set this process's part; give it as i/N");
}

double expected_cost_s(const Cell& c, const RunConfig& cfg) {
  constexpr double kSetUpS = 0.05;         // spawn, channels, leak check
  constexpr double kBytesPerS = 2e9;       // a copy and a check of every byte
  constexpr double kCodecBytesPerS = 1e8;  // a text or compressing serializer's rate
  double window = cfg.duration_s > 0 ? cfg.duration_s : 0.2;
  if (c.load && c.load->kind == LoadPoint::Kind::sporadic) window = kSporadicWindowS;
  const bool codec = c.serializer != "raw" && c.serializer != "binary";
  const double per_byte = 1.0 / (codec ? kCodecBytesPerS : kBytesPerS);
  // A slow cell measures at least min_messages; its warm-up is capped in time.
  const double floor_messages = static_cast<double>(std::max<std::uint64_t>(min_messages_for(c, cfg), 1));
  const double floor_s = floor_messages * static_cast<double>(c.size_bytes) * per_byte;
  const double measured =
      std::max(window, closed_loop_throughput(c, cfg) ? floor_s : std::min(min_messages_max_s(window), floor_s));
  return kSetUpS + warmup_cap_s(cfg.duration_s) * std::min(1.0, static_cast<double>(c.size_bytes) / 65536.0) +
         measured * static_cast<double>(c.procs > 2 ? 1.2 : 1.0);
}

std::vector<std::size_t> shard_cells(const std::vector<Cell>& cells, const RunConfig& cfg, const Shard& s) {
  const std::vector<std::vector<std::size_t>> units = plan_units(cells);
  std::vector<double> cost(units.size(), 0);
  for (std::size_t u = 0; u < units.size(); ++u)
    for (const std::size_t i : units[u]) cost[u] += expected_cost_s(cells[i], cfg);
  std::vector<std::size_t> order(units.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  // Most expensive first, ties by plan order: the same on every machine.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
  std::vector<double> load(static_cast<std::size_t>(s.count), 0);
  std::vector<std::size_t> mine;
  for (const std::size_t u : order) {
    const auto part = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[part] += cost[u];
    if (part == static_cast<std::size_t>(s.index)) mine.insert(mine.end(), units[u].begin(), units[u].end());
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

std::string plan_hash(const std::vector<std::string>& cell_ids) {
  std::uint64_t h = 1469598103934665603ULL;
  const auto mix = [&](unsigned char ch) {
    h ^= ch;
    h *= 1099511628211ULL;
  };
  for (const std::string& id : cell_ids) {
    for (const char ch : id) mix(static_cast<unsigned char>(ch));
    mix('\n');
  }
  return fmt::format("{:016x}", h);
}

}  // namespace ipcmatrix
