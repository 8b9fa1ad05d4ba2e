#include "ipcmatrix/report/merge.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/util/json_file.hpp"

namespace ipcmatrix {

const std::vector<std::string>& machine_facts() {
  static const std::vector<std::string> facts = {"cpu_model", "logical_cpus",   "allowed_cpu_count",
                                                 "kernel",    "virtualization", "hostname"};
  return facts;
}

namespace {

const nlohmann::json* plan_of(const RunResult& r) {
  const auto it = r.environment.find("plan");
  if (it == r.environment.end() || !it->is_object() || !it->contains("hash") || !(*it)["hash"].is_string() ||
      !it->contains("cells") || !(*it)["cells"].is_array())
    return nullptr;
  return &*it;
}

std::string fact(const RunResult& r, const std::string& key) {
  const auto it = r.environment.find(key);
  return it == r.environment.end() ? std::string("(absent)") : it->dump();
}

std::vector<double> joined(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

FigureSpread spread_of(const std::vector<double>& v) {
  const Spread s = spread(v);
  return {s.median, s.min, s.max, s.rel_spread, static_cast<int>(s.n), v};
}

/// The cell's primary figure, the one its median repetition was chosen by
/// (runner/aggregate.hpp): msgs/s for closed-loop cells, p50 for the rest.
bool by_throughput(const CellResult& c) { return latency_meaning(c) == LatencyMeaning::saturated; }

/// `more`, a measurement of the same cell on the same machine, pooled into `into` (see the
/// file comment of merge.hpp).
void pool(CellResult& into, CellResult more, const std::string& from) {
  if (!more.ok()) {
    if (into.ok())
      into.warnings.push_back(
          fmt::format("failed in {} ({}); figures from the runs where it was ok", from, more.error));
    return;
  }
  if (!into.ok()) {
    const std::string error = into.error;
    into = std::move(more);
    into.warnings.push_back(fmt::format("failed in another file ({}); figures from the runs where it was ok", error));
    return;
  }
  const std::vector<double> p50 = joined(p50_values(into), p50_values(more));
  const std::vector<double> p99 = joined(p99_values(into), p99_values(more));
  const std::vector<double> tput = joined(throughput_values(into), throughput_values(more));
  const std::vector<double> cpu = joined(cpu_per_msg_values(into), cpu_per_msg_values(more));
  const bool tp = by_throughput(into);
  const double median = spread(tp ? tput : p50).median;
  const auto distance = [&](const CellResult& c) {
    return std::abs((tp ? c.throughput.msgs_per_s : static_cast<double>(c.latency_ns.p50.value_or(0))) - median);
  };
  Histogram histogram = into.histogram;
  histogram.merge(more.histogram);
  std::vector<std::string> warnings = into.warnings;
  for (std::string& w : more.warnings)
    if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) warnings.push_back(std::move(w));
  const std::uint64_t dropped = std::max(into.messages_dropped, more.messages_dropped);
  const int repetitions = into.repetitions + more.repetitions;
  if (distance(more) < distance(into)) into = std::move(more);
  into.histogram = histogram;
  into.latency_ns = summarize(into.histogram);
  into.warnings = std::move(warnings);
  into.messages_dropped = dropped;
  into.repetitions = repetitions;
  into.p50_spread = spread_of(p50);
  into.p99_spread = spread_of(p99);
  into.throughput_spread = spread_of(tput);
  into.cpu_per_msg_spread = spread_of(cpu);
  into.noisy = is_noisy(spread(p50)) || is_noisy(spread(p99)) || is_noisy(spread(tput));
}

}  // namespace

PartHeader header_of(const MergePart& p) {
  const nlohmann::json* plan = plan_of(p.result);
  if (plan == nullptr)
    throw BadInput(p.name + ": no plan recorded (written before `--shard` existed, or not by a run): cannot merge");
  PartHeader h;
  h.name = p.name;
  h.plan_hash = (*plan)["hash"].get<std::string>();
  if (plan->contains("shard") && (*plan)["shard"].is_object()) {
    h.shard_index = (*plan)["shard"].value("index", 0);
    h.shard_count = (*plan)["shard"].value("count", 1);
  }
  for (const std::string& f : machine_facts()) h.machine += f + "=" + fact(p.result, f) + "\n";
  h.started_at = p.result.started_at;
  if (const auto it = p.result.environment.find("hostname"); it != p.result.environment.end() && it->is_string())
    h.hostname = it->get<std::string>();
  return h;
}

std::vector<std::vector<std::size_t>> group_by_machine(const std::vector<PartHeader>& parts) {
  if (parts.empty()) throw BadInput("merge: no results files given");
  const PartHeader& first = parts.front();
  std::vector<std::vector<std::size_t>> groups;
  std::vector<std::string> machines;
  std::map<std::tuple<std::string, int, std::string>, std::string> seen;  // (machine, part, start) -> file
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const PartHeader& p = parts[i];
    if (p.plan_hash != first.plan_hash)
      throw BadInput(
          fmt::format("{}: a part of another plan (plan {} where {} has {}): merge joins the parts of "
                      "one plan; compare tells two plans apart",
                      p.name, p.plan_hash, first.name, first.plan_hash));
    if (p.shard_count != first.shard_count)
      throw BadInput(fmt::format("{}: split in {} parts where {} was split in {}", p.name, p.shard_count, first.name,
                                 first.shard_count));
    const auto [it, fresh] = seen.emplace(std::tuple(p.machine, p.shard_index, p.started_at), p.name);
    if (!fresh)
      throw BadInput(
          fmt::format("{}: part {}/{} is given twice (the same run as {}: pooling it with itself would "
                      "count its repetitions twice)",
                      p.name, p.shard_index, p.shard_count, it->second));
    const auto m = std::find(machines.begin(), machines.end(), p.machine);
    if (m == machines.end()) {
      machines.push_back(p.machine);
      groups.push_back({i});
    } else {
      groups[static_cast<std::size_t>(m - machines.begin())].push_back(i);
    }
  }
  return groups;
}

void MachineMerge::add(MergePart part) {
  const PartHeader h = header_of(part);
  RunResult& r = part.result;
  if (!started_) {
    started_ = true;
    count_ = h.shard_count;
    for (const auto& id : (*plan_of(r))["cells"])
      if (id.is_string()) plan_order_.emplace(id.get<std::string>(), plan_order_.size());
    out_.tool_version = r.tool_version;
    out_.started_at = r.started_at;
    out_.config = r.config;
    if (out_.config.is_object()) out_.config.erase("shard");
    out_.environment = r.environment;
    out_.environment["plan"].erase("shard");
    out_.environment["merged_from"] = nlohmann::json::array();
    out_.complete = true;
  }
  parts_seen_.push_back(h.shard_index);
  out_.environment["merged_from"].push_back({{"file", part.name},
                                             {"shard", fmt::format("{}/{}", h.shard_index, h.shard_count)},
                                             {"started_at", r.started_at},
                                             {"elapsed_s", r.elapsed_s}});
  out_.elapsed_s = std::max(out_.elapsed_s, r.elapsed_s);
  out_.complete = out_.complete && r.complete;
  for (std::string& w : r.warnings)
    if (std::find(out_.warnings.begin(), out_.warnings.end(), w) == out_.warnings.end())
      out_.warnings.push_back(std::move(w));
  for (CellResult& c : r.cells) {
    std::string id = cell_id(c);
    const auto it = cell_at_.find(id);
    if (it == cell_at_.end()) {
      cell_at_.emplace(std::move(id), out_.cells.size());
      out_.cells.push_back(std::move(c));
    } else {
      pool(out_.cells[it->second], std::move(c), part.name);
      ++pooled_;
    }
  }
  r.cells.clear();
}

RunResult MachineMerge::finish() && {
  const auto place = [&](const CellResult& c) {
    const auto it = plan_order_.find(cell_id(c));
    return it == plan_order_.end() ? plan_order_.size() : it->second;
  };
  std::stable_sort(out_.cells.begin(), out_.cells.end(),
                   [&](const CellResult& a, const CellResult& b) { return place(a) < place(b); });
  out_.environment["pooled_cells"] = pooled_;
  std::vector<int> missing;
  for (int i = 0; i < count_; ++i)
    if (std::find(parts_seen_.begin(), parts_seen_.end(), i) == parts_seen_.end()) missing.push_back(i);
  if (!missing.empty()) {
    out_.complete = false;
    out_.warnings.push_back(
        fmt::format("incomplete merge: part(s) {} of {} missing; {} of the plan's {} cells are here",
                    fmt::join(missing, ", "), count_, out_.cells.size(), plan_order_.size()));
  }
  return std::move(out_);
}

std::vector<RunResult> merge_parts(std::vector<MergePart> parts) {
  std::vector<PartHeader> headers;
  headers.reserve(parts.size());
  for (const MergePart& p : parts) headers.push_back(header_of(p));
  std::vector<RunResult> out;
  for (const auto& group : group_by_machine(headers)) {
    MachineMerge m;
    for (const std::size_t i : group) m.add(std::move(parts[i]));
    out.push_back(std::move(m).finish());
  }
  return out;
}

}  // namespace ipcmatrix
