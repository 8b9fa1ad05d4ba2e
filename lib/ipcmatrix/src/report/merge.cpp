#include "ipcmatrix/report/merge.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "ipcmatrix/util/json_file.hpp"

namespace ipcmatrix {

const std::vector<std::string>& machine_facts() {
  static const std::vector<std::string> facts = {"cpu_model", "logical_cpus",   "allowed_cpu_count",
                                                 "kernel",    "virtualization", "hostname"};
  return facts;
}

namespace {

const nlohmann::json* plan_of(const MergePart& p) {
  const auto it = p.result.environment.find("plan");
  if (it == p.result.environment.end() || !it->is_object() || !it->contains("hash") || !it->contains("cells") ||
      !(*it)["cells"].is_array())
    return nullptr;
  return &*it;
}

std::string fact(const RunResult& r, const std::string& key) {
  const auto it = r.environment.find(key);
  return it == r.environment.end() ? std::string("(absent)") : it->dump();
}

}  // namespace

RunResult merge_parts(std::vector<MergePart> parts) {
  if (parts.empty()) throw BadInput("merge: no results files given");
  const MergePart& first = parts.front();
  const nlohmann::json* plan = plan_of(first);
  if (plan == nullptr)
    throw BadInput(first.name + ": no plan recorded (written before `--shard` existed, or not by a run): cannot merge");
  const std::string hash = (*plan)["hash"].get<std::string>();
  const auto shard_of = [](const nlohmann::json& p) -> std::pair<int, int> {
    if (!p.contains("shard") || !p["shard"].is_object()) return {0, 1};
    return {p["shard"].value("index", 0), p["shard"].value("count", 1)};
  };
  const int count = shard_of(*plan).second;
  std::set<int> seen_parts;
  std::map<std::string, std::string> cell_file;  // cell id -> the file it came from
  for (const MergePart& p : parts) {
    const nlohmann::json* pp = plan_of(p);
    if (pp == nullptr) throw BadInput(p.name + ": no plan recorded: cannot merge");
    if ((*pp)["hash"] != hash)
      throw BadInput(
          fmt::format("{}: a part of another plan (plan {} where {} has {}): merge joins the parts of "
                      "one plan; compare tells two plans apart",
                      p.name, (*pp)["hash"].get<std::string>(), first.name, hash));
    const auto [index, n] = shard_of(*pp);
    if (n != count)
      throw BadInput(fmt::format("{}: split in {} parts where {} was split in {}", p.name, n, first.name, count));
    if (!seen_parts.insert(index).second)
      throw BadInput(fmt::format("{}: part {}/{} is given twice", p.name, index, count));
    for (const std::string& f : machine_facts())
      if (fact(p.result, f) != fact(first.result, f))
        throw BadInput(
            fmt::format("{}: measured on another machine ({} {} where {} has {}): the figures of two "
                        "machines are two answers; merge the parts of each machine apart",
                        p.name, f, fact(p.result, f), first.name, fact(first.result, f)));
    for (const CellResult& c : p.result.cells) {
      const auto [it, fresh] = cell_file.emplace(cell_id(c), p.name);
      if (!fresh)
        throw BadInput(
            fmt::format("{}: cell {} is also in {}: parts of one plan are disjoint", p.name, cell_id(c), it->second));
    }
  }
  // The plan's order, and what no part measured.
  std::map<std::string, std::size_t> order;
  for (const auto& id : (*plan)["cells"]) order.emplace(id.get<std::string>(), order.size());
  RunResult out;
  out.tool_version = first.result.tool_version;
  out.started_at = first.result.started_at;
  out.config = first.result.config;
  if (out.config.is_object()) out.config.erase("shard");
  out.environment = first.result.environment;
  out.environment["plan"].erase("shard");
  out.environment["merged_from"] = nlohmann::json::array();
  out.complete = true;
  for (MergePart& p : parts) {
    const auto [index, n] = shard_of(*plan_of(p));
    out.environment["merged_from"].push_back({{"file", p.name},
                                              {"shard", fmt::format("{}/{}", index, n)},
                                              {"started_at", p.result.started_at},
                                              {"elapsed_s", p.result.elapsed_s}});
    out.elapsed_s = std::max(out.elapsed_s, p.result.elapsed_s);
    out.complete = out.complete && p.result.complete;
    for (std::string& w : p.result.warnings)
      if (std::find(out.warnings.begin(), out.warnings.end(), w) == out.warnings.end())
        out.warnings.push_back(std::move(w));
    for (CellResult& c : p.result.cells) out.cells.push_back(std::move(c));
  }
  std::stable_sort(out.cells.begin(), out.cells.end(), [&](const CellResult& a, const CellResult& b) {
    const auto ia = order.find(cell_id(a)), ib = order.find(cell_id(b));
    const std::size_t oa = ia == order.end() ? order.size() : ia->second;
    const std::size_t ob = ib == order.end() ? order.size() : ib->second;
    return oa < ob;
  });
  std::vector<int> missing;
  for (int i = 0; i < count; ++i)
    if (!seen_parts.count(i)) missing.push_back(i);
  if (!missing.empty()) {
    out.complete = false;
    out.warnings.push_back(
        fmt::format("incomplete merge: part(s) {} of {} missing; {} of the plan's {} cells are "
                    "here",
                    fmt::join(missing, ", "), count, out.cells.size(), order.size()));
  }
  return out;
}

}  // namespace ipcmatrix
