#include "ipcmatrix/report/fleet.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/report/merge.hpp"
#include "markdown_parts.hpp"

namespace ipcmatrix {
namespace {

using detail::markdown::add;
using detail::markdown::esc;

std::string configuration(const CellResult& c) {
  std::string s = c.mechanism + "/" + c.serializer;
  if (c.api != Api::copy) s += fmt::format(", api {}", to_string(c.api));
  if (c.wait != Wait::kernel) s += fmt::format(", wait {}", to_string(c.wait));
  if (c.placement != Placement::unpinned) s += fmt::format(", {}", to_string(c.placement));
  if (c.batch > 1) s += fmt::format(", batch {}", c.batch);
  return s;
}

std::string figure_of(const CellResult& c, Objective o) {
  switch (o) {
    case Objective::lowest_p50:
      return c.latency_ns.p50 ? format_ns(static_cast<double>(*c.latency_ns.p50)) + " p50" : "—";
    case Objective::lowest_p99:
      return c.latency_ns.p99 ? format_ns(static_cast<double>(*c.latency_ns.p99)) + " p99" : "—";
    case Objective::highest_throughput:
      return format_rate(c.throughput.msgs_per_s) + " msgs/s";
    case Objective::lowest_cpu_per_msg:
      return format_ns(c.cpu.per_msg_ns) + " CPU/msg";
  }
  return "—";
}

std::string margin_of(const Pick& p) {
  switch (p.margin) {
    case Pick::Margin::alone:
      return "alone";
    case Pick::Margin::incomparable:
      return "incomparable";
    case Pick::Margin::tie:
      return fmt::format("tie with {}", p.next ? p.next->mechanism : std::string("?"));
    case Pick::Margin::untested:
      if (p.p_value)
        return fmt::format("{} ahead, undecided (p = {:.2f}, {} rep)", format_ratio(p.ratio), *p.p_value,
                           p.repetitions);
      return fmt::format("{} ahead, {} ({} rep)", format_ratio(p.ratio), open_margin_word(p), p.repetitions);
    case Pick::Margin::lead:
      return fmt::format("lead {}", format_ratio(p.ratio));
  }
  return "";
}

/// The facts that make a machine's class: every machine fact but the hostname.
std::string class_key(const nlohmann::json& facts) {
  std::string k;
  for (const std::string& f : machine_facts())
    if (f != "hostname") k += (facts.contains(f) ? facts[f].dump() : std::string("(absent)")) + "\n";
  return k;
}

std::string fact_text(const nlohmann::json& facts, const std::string& key) {
  if (!facts.contains(key) || facts[key].is_null()) return "—";
  const nlohmann::json& v = facts[key];
  if (v.is_string()) return v.get<std::string>();
  // virtualization: {"virtual": bool, "product_name", "sys_vendor", ...} (sys/environment)
  if (v.is_object() && v.contains("virtual") && v["virtual"].is_boolean()) {
    if (!v["virtual"].get<bool>()) return "bare metal";
    for (const char* name : {"product_name", "sys_vendor"})
      if (v.contains(name) && v[name].is_string()) return "virtual (" + v[name].get<std::string>() + ")";
    return "virtual";
  }
  if (v.is_object() && v.contains("virtual") && v["virtual"].is_null()) return "unknown";
  return v.dump();
}

/// Rows of the side-by-side table: (use case, serializer, evidence) in the order the machines
/// met them. The evidence is part of the key: a machine whose results decide a use case from
/// another measurement (an incomplete run: another size) is not set against the others.
struct Row {
  std::string use_case, serializer, basis;
  std::vector<const MachineAnswer::Pick*> per_machine;  ///< null: not measured there
  std::string holds;                                    ///< the mechanism when it holds
  std::vector<std::size_t> changes;                     ///< machines that deploy another one
};

std::vector<Row> rows_of(const std::vector<MachineAnswer>& machines) {
  std::vector<Row> rows;
  for (std::size_t m = 0; m < machines.size(); ++m)
    for (const MachineAnswer::Pick& p : machines[m].picks) {
      auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) {
        return r.use_case == p.use_case && r.serializer == p.serializer && r.basis == p.basis;
      });
      if (it == rows.end()) {
        rows.push_back(
            {p.use_case, p.serializer, p.basis, std::vector<const MachineAnswer::Pick*>(machines.size()), {}, {}});
        it = std::prev(rows.end());
      }
      it->per_machine[m] = &p;
    }
  for (Row& r : rows) {
    // The answer of the first machine that measured it is the reference; the others agree or
    // change it.
    const MachineAnswer::Pick* ref = nullptr;
    for (std::size_t m = 0; m < machines.size(); ++m) {
      const MachineAnswer::Pick* p = r.per_machine[m];
      if (p == nullptr) continue;
      if (ref == nullptr)
        ref = p;
      else if (p->mechanism != ref->mechanism)
        r.changes.push_back(m);
    }
    if (r.changes.empty() && ref != nullptr) r.holds = ref->mechanism;
  }
  return rows;
}

std::string verdict(const Row& r, const std::vector<MachineAnswer>& machines) {
  const auto measured = static_cast<std::size_t>(
      std::count_if(r.per_machine.begin(), r.per_machine.end(), [](const auto* p) { return p != nullptr; }));
  const std::string where =
      measured == machines.size() ? "every machine" : fmt::format("the {} machines that measured it", measured);
  if (r.changes.empty()) return fmt::format("**holds**: {} on {}", r.holds, where);
  std::string s = "**changes**:";
  for (const std::size_t m : r.changes) {
    const MachineAnswer::Pick& p = *r.per_machine[m];
    s += fmt::format(" {} deploys {}{};", machines[m].label, p.mechanism, p.tie ? " (a tie there)" : "");
  }
  s.pop_back();
  return s;
}

}  // namespace

MachineAnswer machine_answer(std::string label, const RunResult& r) {
  MachineAnswer a;
  a.label = std::move(label);
  for (const std::string& f : machine_facts())
    if (const auto it = r.environment.find(f); it != r.environment.end()) a.facts[f] = *it;
  a.cells = r.cells.size();
  a.ok_cells = static_cast<std::size_t>(
      std::count_if(r.cells.begin(), r.cells.end(), [](const CellResult& c) { return c.ok(); }));
  a.complete = r.complete;
  for (const Decision& d : decisions(r)) {
    if (d.pick.best == nullptr) continue;
    MachineAnswer::Pick p;
    p.use_case = d.use_case;
    p.serializer = d.serializer;
    p.basis = d.basis;
    p.mechanism = d.pick.best->mechanism;
    p.configuration = configuration(*d.pick.best);
    p.figure = figure_of(*d.pick.best, d.objective);
    p.margin = margin_of(d.pick);
    p.tie = d.pick.margin == Pick::Margin::tie;
    a.picks.push_back(std::move(p));
  }
  return a;
}

std::vector<std::string> machine_labels(const std::vector<std::string>& hostnames) {
  std::vector<std::string> out;
  std::set<std::string> taken;
  for (const std::string& h : hostnames) {
    std::string base;
    for (const char ch : h)
      base += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-') ? ch : '_';
    if (base.empty() || base.front() == '.') base.insert(0, "machine");
    std::string label = base;
    for (int n = 2; taken.count(label); ++n) label = fmt::format("{}-{}", base, n);
    taken.insert(label);
    out.push_back(label);
  }
  return out;
}

std::string fleet_markdown(const std::vector<MachineAnswer>& machines, const std::string& plan_hash) {
  std::string md = "# IPC performance across machines\n\n";
  add(md,
      "{} machines ran plan `{}`. Each machine's figures are its own: they were merged machine by machine, never "
      "pooled across machines, and each has its full report in `machines/<machine>/PERFORMANCE_REPORT.md`. "
      "A pick *holds* when every machine that measured its use case deploys the same mechanism; otherwise the "
      "machines that change the answer are named.\n\n",
      machines.size(), plan_hash);

  // Machines, with their class: the same facts but the hostname.
  std::vector<std::string> classes;
  md +=
      "## Machines\n\n| machine | class | CPU | logical CPUs | CPUs allowed | kernel | virtualization | cells ok | "
      "complete |\n"
      "|---|---|---|---|---|---|---|---|---|\n";
  for (const MachineAnswer& m : machines) {
    const std::string key = class_key(m.facts);
    auto it = std::find(classes.begin(), classes.end(), key);
    if (it == classes.end()) it = classes.insert(classes.end(), key);
    // A, B, ... Z, then 27, 28, ...: never two classes under one name.
    const auto n = static_cast<std::size_t>(it - classes.begin());
    const std::string cls = n < 26 ? std::string(1, static_cast<char>('A' + n)) : std::to_string(n + 1);
    add(md, "| [{}](machines/{}/PERFORMANCE_REPORT.md) | {} | {} | {} | {} | {} | {} | {} of {} | {} |\n", m.label,
        m.label, cls, esc(fact_text(m.facts, "cpu_model")), fact_text(m.facts, "logical_cpus"),
        fact_text(m.facts, "allowed_cpu_count"), esc(fact_text(m.facts, "kernel")),
        esc(fact_text(m.facts, "virtualization")), m.ok_cells, m.cells, m.complete ? "yes" : "**no**");
  }

  const std::vector<Row> rows = rows_of(machines);
  const auto changed = static_cast<std::size_t>(
      std::count_if(rows.begin(), rows.end(), [](const Row& r) { return !r.changes.empty(); }));
  add(md, "\n## Does each pick hold on every machine?\n\n{} of {} picks hold on every machine that measured them.\n\n",
      rows.size() - changed, rows.size());
  md += "| use case | serializer | verdict |";
  for (const MachineAnswer& m : machines) add(md, " {} |", m.label);
  md += "\n|---|---|---|";
  for (std::size_t i = 0; i < machines.size(); ++i) md += "---|";
  md += "\n";
  for (const Row& r : rows) {
    add(md, "| {} | {} | {} |", esc(r.use_case), esc(r.serializer), verdict(r, machines));
    for (const MachineAnswer::Pick* p : r.per_machine) {
      if (p == nullptr)
        md += " not measured |";
      else
        add(md, " {}: {} ({}) |", esc(p->configuration), esc(p->figure), esc(p->margin));
    }
    md += "\n";
  }
  md += "\nEvidence of each row (the same on every machine):\n\n";
  for (const Row& r : rows) add(md, "- {} ({}): {}\n", r.use_case, r.serializer, r.basis);
  return md;
}

nlohmann::json fleet_json(const std::vector<MachineAnswer>& machines, const std::string& plan_hash) {
  nlohmann::json j = {
      {"plan", plan_hash}, {"machines", nlohmann::json::array()}, {"verdicts", nlohmann::json::array()}};
  for (const MachineAnswer& m : machines) {
    nlohmann::json picks = nlohmann::json::array();
    for (const MachineAnswer::Pick& p : m.picks)
      picks.push_back({{"use_case", p.use_case},
                       {"serializer", p.serializer},
                       {"mechanism", p.mechanism},
                       {"configuration", p.configuration},
                       {"figure", p.figure},
                       {"margin", p.margin},
                       {"tie", p.tie}});
    j["machines"].push_back({{"label", m.label},
                             {"facts", m.facts},
                             {"cells", m.cells},
                             {"ok_cells", m.ok_cells},
                             {"complete", m.complete},
                             {"picks", std::move(picks)}});
  }
  for (const Row& r : rows_of(machines)) {
    nlohmann::json changes = nlohmann::json::array();
    for (const std::size_t m : r.changes)
      changes.push_back(
          {{"machine", machines[m].label}, {"mechanism", r.per_machine[m]->mechanism}, {"tie", r.per_machine[m]->tie}});
    j["verdicts"].push_back({{"use_case", r.use_case},
                             {"serializer", r.serializer},
                             {"holds", r.changes.empty()},
                             {"changes_on", std::move(changes)}});
  }
  return j;
}

}  // namespace ipcmatrix
