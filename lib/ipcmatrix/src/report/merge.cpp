#include "ipcmatrix/report/merge.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/runner/shard.hpp"
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

/// The cell's primary figure, the one its median repetition was chosen by
/// (runner/aggregate.hpp): msgs/s for closed-loop cells, p50 for the rest.
bool by_throughput(const CellResult& c) { return latency_meaning(c) == LatencyMeaning::saturated; }

/// The figure a cell's median repetition was chosen by, as its file recorded it.
double primary_of(const CellResult& c) {
  return by_throughput(c) ? c.throughput.msgs_per_s : static_cast<double>(c.latency_ns.p50.value_or(0));
}

/// How a cell whose spreads cover fewer repetitions than it ran says so.
constexpr std::string_view kPartialWarning = "pooled: the spreads cover";

/// `more`, a measurement of the same cell on the same machine, pooled into `into` (see the
/// file comment of merge.hpp). `primary` is the primary figure of the file whose scalar
/// figures `into` holds (its p50 is the merged histogram's, which no file measured); it
/// becomes more's when more's is nearer the pooled median.
void pool(CellResult& into, CellResult more, const std::string& from, double& primary) {
  if (!more.ok()) {
    if (into.ok())
      into.warnings.push_back(
          fmt::format("failed in {} ({}); figures from the runs where it was ok", from, more.error));
    return;
  }
  if (!into.ok()) {
    const std::string error = into.error;
    primary = primary_of(more);
    into = std::move(more);
    into.warnings.push_back(fmt::format("failed in another file ({}); figures from the runs where it was ok", error));
    return;
  }
  std::vector<double> p50 = joined(p50_values(into), p50_values(more));
  std::vector<double> p99 = joined(p99_values(into), p99_values(more));
  std::vector<double> tput = joined(throughput_values(into), throughput_values(more));
  std::vector<double> cpu = joined(cpu_per_msg_values(into), cpu_per_msg_values(more));
  const std::size_t listed = p50.size();
  const double median = spread(by_throughput(into) ? tput : p50).median;
  Histogram histogram = into.histogram;
  histogram.merge(more.histogram);
  std::vector<std::string> warnings = into.warnings;
  for (std::string& w : more.warnings)
    if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) warnings.push_back(std::move(w));
  const std::uint64_t dropped = std::max(into.messages_dropped, more.messages_dropped);
  const int repetitions = into.repetitions + more.repetitions;
  if (const double theirs = primary_of(more); std::abs(theirs - median) < std::abs(primary - median)) {
    primary = theirs;
    into = std::move(more);
  }
  into.histogram = histogram;
  into.latency_ns = summarize(into.histogram);
  into.warnings = std::move(warnings);
  into.messages_dropped = dropped;
  into.repetitions = repetitions;
  into.set_repetition_spreads(std::move(p50), std::move(p99), std::move(tput), std::move(cpu), by_throughput(into));
  std::erase_if(into.warnings,
                [](const std::string& w) { return w == kNoisyWarning || w.starts_with(kPartialWarning); });
  if (into.noisy) into.warnings.emplace_back(kNoisyWarning);
  // A file written before per-repetition figures lists one figure for several repetitions:
  // the tests over the repetitions then see fewer than ran, and the cell says so.
  if (listed < static_cast<std::size_t>(repetitions))
    into.warnings.push_back(
        fmt::format("{} {} of its {} repetitions (a file written before per-repetition figures "
                    "were recorded lists only its median)",
                    kPartialWarning, listed, repetitions));
}

}  // namespace

PartHeader header_of(const MergePart& p) {
  const nlohmann::json* plan = plan_of(p.result);
  if (plan == nullptr)
    throw BadInput(p.name + ": no plan recorded (written before `--shard` existed, or not by a run): cannot merge");
  PartHeader h;
  h.name = p.name;
  h.plan_hash = (*plan)["hash"].get<std::string>();
  if (plan->contains("shard")) {
    const nlohmann::json& shard = (*plan)["shard"];
    const auto integer = [&](const char* key) -> std::optional<std::int64_t> {
      if (!shard.is_object() || !shard.contains(key) || !shard[key].is_number_integer()) return std::nullopt;
      return shard[key].get<std::int64_t>();
    };
    const auto index = integer("index"), count = integer("count");
    // The bounds --shard itself keeps (runner/shard.hpp).
    if (!index || !count || *count < 1 || *count > kMaxShards || *index < 0 || *index >= *count)
      throw BadInput(
          fmt::format("{}: environment.plan.shard is not a part of the plan ({}): cannot merge", p.name, shard.dump()));
    h.shard_index = static_cast<int>(*index);
    h.shard_count = static_cast<int>(*count);
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
  }
  // A part is whole when any of its files ran to the end (an interrupted run and its rerun).
  part_whole_[h.shard_index] = part_whole_[h.shard_index] || r.complete;
  out_.environment["merged_from"].push_back({{"file", part.name},
                                             {"shard", fmt::format("{}/{}", h.shard_index, h.shard_count)},
                                             {"started_at", r.started_at},
                                             {"elapsed_s", r.elapsed_s}});
  out_.elapsed_s = std::max(out_.elapsed_s, r.elapsed_s);
  for (std::string& w : r.warnings)
    if (std::find(out_.warnings.begin(), out_.warnings.end(), w) == out_.warnings.end())
      out_.warnings.push_back(std::move(w));
  for (CellResult& c : r.cells) {
    std::string id = cell_id(c);
    const auto it = cells_.find(id);
    if (it == cells_.end()) {
      const double primary = primary_of(c);
      cells_.emplace(std::move(id), Slot{out_.cells.size(), h.shard_index, false, primary});
      out_.cells.push_back(std::move(c));
      continue;
    }
    Slot& slot = it->second;
    if (slot.part != h.shard_index)
      throw BadInput(fmt::format("{}: cell {} is in part {} and in part {} of {}: the parts of one plan are disjoint",
                                 part.name, it->first, h.shard_index, slot.part, count_));
    pool(out_.cells[slot.at], std::move(c), part.name, slot.primary);
    slot.pooled = true;
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
  out_.environment["pooled_cells"] =
      std::count_if(cells_.begin(), cells_.end(), [](const auto& kv) { return kv.second.pooled; });
  std::vector<int> missing, interrupted;
  for (int i = 0; i < count_; ++i) {
    const auto it = part_whole_.find(i);
    if (it == part_whole_.end())
      missing.push_back(i);
    else if (!it->second)
      interrupted.push_back(i);
  }
  out_.complete = missing.empty() && interrupted.empty();
  if (!missing.empty())
    out_.warnings.push_back(
        fmt::format("incomplete merge: part(s) {} of {} missing; {} of the plan's {} cells are here",
                    fmt::join(missing, ", "), count_, out_.cells.size(), plan_order_.size()));
  if (!interrupted.empty())
    out_.warnings.push_back(
        fmt::format("incomplete merge: part(s) {} of {} interrupted in every file given (rerun "
                    "them and merge the reruns too)",
                    fmt::join(interrupted, ", "), count_));
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
