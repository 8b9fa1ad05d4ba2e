// The environment section of the Markdown report (markdown_parts.hpp): the facts that decide
// whether the figures apply to a reader's machine, in reading order, then every other recorded
// key; the machine's floor measured in the run; and the warnings (run-wide, per cell, noisy
// cells) that can distort the figures.
#include "markdown_parts.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipcmatrix/model/format_units.hpp"

namespace ipcmatrix::detail::markdown {

namespace {

// One environment value on one line. Keys ending in "_bytes" (and the cache sizes) are
// shown in binary units; nested objects as "key: value" lists.
std::string render(const nlohmann::json& j, bool bytes) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "unknown";
  if (bytes && j.is_number_unsigned()) return format_bytes(j.get<std::uint64_t>());
  if (bytes && j.is_number_integer() && j.get<std::int64_t>() >= 0) {
    return format_bytes(j.get<std::uint64_t>());
  }
  if (j.is_object()) {
    std::string out;
    for (const auto& [k, v] : j.items()) {
      if (!out.empty()) out += ", ";
      out += k + ": " + render(v, bytes || k.ends_with("_bytes"));
    }
    return out;
  }
  if (j.is_array()) {
    std::string out;
    for (const auto& e : j) {
      if (!out.empty()) out += e.is_object() ? "; " : ", ";
      out += render(e, bytes);
    }
    return out;
  }
  return j.dump();
}

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
    return;
  }
  out.emplace_back(prefix, render(j, prefix.ends_with("_bytes")));
}

// The facts an engineer needs to judge whether these numbers apply to their machine, in
// reading order, under the keys sys::capture_environment() writes.
struct EnvFact {
  const char* key;
  const char* label;
};
constexpr std::array<EnvFact, 20> kEnvFacts = {{
    {"cpu_model", "CPU model"},
    {"topology", "Topology"},
    {"cores", "Cores"},
    {"logical_cpus", "Logical CPUs"},
    {"allowed_cpu_count", "CPUs usable (affinity)"},
    {"caches", "Caches (CPU 0)"},
    {"memory_total_bytes", "Memory"},
    {"kernel", "Kernel"},
    {"arch", "Architecture"},
    {"virtualization", "Virtualization"},
    {"clock_source", "Clock source"},
    {"cpu_governor", "CPU governor"},
    {"load_average", "Load average (1, 5, 15 min)"},
    {"dev_shm_bytes", "/dev/shm size"},
    {"dev_shm_free_bytes", "/dev/shm free"},
    {"compiler", "Compiler"},
    {"build_type", "Build type"},
    {"git_revision", "Git revision"},
    {"gpu", "GPU"},
    {"hostname", "Host"},
}};

}  // namespace

std::optional<Floor> run_floor(const RunResult& r) {
  if (!r.environment.is_object()) return std::nullopt;
  const auto f = r.environment.find("floor");
  if (f == r.environment.end() || !f->is_object()) return std::nullopt;
  const auto start = f->find("start");
  if (start == f->end() || !start->is_object()) return std::nullopt;
  const auto rtt = start->find("cacheline_rtt_ns"), ring = start->find("ring_msgs_per_s");
  if (rtt == start->end() || ring == start->end() || !rtt->is_number() || !ring->is_number()) return std::nullopt;
  const auto mech = start->find("ring_mechanism");
  Floor out{rtt->get<double>(), ring->get<double>(),
            mech != start->end() && mech->is_string() ? mech->get<std::string>() : std::string("shm")};
  if (!(out.rtt_ns > 0) || !(out.ring_msgs_per_s > 0)) return std::nullopt;
  return out;
}

void environment_section(std::string& md, const RunResult& r) {
  add(md, "## Environment\n\n");
  if (!r.environment.is_object() || r.environment.empty()) {
    add(md, "No environment was recorded for this run.\n\n");
    return;
  }
  add(md, "| Property | Value |\n|---|---|\n");
  for (const EnvFact& f : kEnvFacts) {
    const auto it = r.environment.find(f.key);
    // A missing GPU is the normal case, not an unknown fact.
    if (it == r.environment.end() || (it->is_null() && std::string_view(f.key) == "gpu")) continue;
    const bool bytes =
        std::string_view(f.key).ends_with("_bytes") || std::string_view(f.key) == "caches";
    add(md, "| {} | {} |\n", f.label, esc(render(*it, bytes)));
  }
  if (const auto floor = run_floor(r)) {
    add(md, "| Machine floor (this run, at its start) | one cache line round trip {}, bare shm ring {} msgs/s of 64 B |\n",
        format_ns(floor->rtt_ns), format_rate(floor->ring_msgs_per_s));
  }
  std::vector<std::pair<std::string, std::string>> rest;
  for (const auto& item : r.environment.items()) {
    const std::string& k = item.key();
    const bool known = std::any_of(kEnvFacts.begin(), kEnvFacts.end(),
                                   [&k](const EnvFact& f) { return k == f.key; });
    if (!known) flatten(item.value(), k, rest);
  }
  add(md, "\n");
  if (rest.empty()) return;
  add(md, "<details><summary>Other recorded facts</summary>\n\n| Key | Value |\n|---|---|\n");
  for (const auto& [k, v] : rest) add(md, "| {} | {} |\n", esc(k), esc(v));
  add(md, "\n</details>\n\n");
}

namespace {

/// A cell warning's kind: its text up to the first ':' or ';' (the runner words each warning
/// as "kind: details"), or, without either, the text with its numbers blanked, so warnings
/// that differ only in their figures group together.
std::string warning_kind(std::string_view w) {
  const auto colon = w.find_first_of(":;");
  if (colon != std::string_view::npos && colon > 0) return std::string(w.substr(0, colon));
  std::string k;
  for (const char ch : w) {
    const bool digit = ch >= '0' && ch <= '9';
    if (digit || ((ch == '.' || ch == ',') && !k.empty() && k.back() == '#')) {
      if (k.empty() || k.back() != '#') k += '#';
    } else {
      k += ch;
    }
  }
  return k;
}

}  // namespace

// Run-wide warnings one per line; the cells' warnings grouped by kind, one line per kind
// with its count, one example and the affected cells folded away, so the section stays a
// screen long however many cells share a condition.
void warnings_section(std::string& md, const RunResult& r) {
  struct Group {
    std::string example;               // the first cell's id and text, as Markdown
    std::vector<std::string> cells;    // cell ids, in run order
  };
  std::vector<std::pair<std::string, Group>> groups;  // by kind, in the order first met
  const auto note = [&](const CellResult& c, const std::string& w) {
    const std::string kind = warning_kind(w);
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == kind; });
    if (it == groups.end()) {
      groups.emplace_back(kind, Group{fmt::format("`{}`: {}", cell_id(c), esc(w)), {}});
      it = groups.end() - 1;
    }
    // A cell counts once per kind (a noisy cell's own warning and its spread are one fact).
    if (it->second.cells.empty() || it->second.cells.back() != cell_id(c)) it->second.cells.push_back(cell_id(c));
  };
  for (const CellResult& c : r.cells) {
    for (const std::string& w : c.warnings) note(c, w);
    if (c.ok() && c.noisy) {
      std::string detail;
      for (const auto& [name, spread] :
           {std::pair{"p50", &c.p50_spread}, std::pair{"p99", &c.p99_spread},
            std::pair{"msgs/s", &c.throughput_spread}}) {
        if (!*spread) continue;
        detail += fmt::format("{}{} ±{:.0f}%", detail.empty() ? " (" : ", ", name, (*spread)->rel_spread * 100);
      }
      if (!detail.empty()) detail += ")";
      note(c, fmt::format("noisy: its repetitions disagree{}; treat its figures with care", detail));
    }
  }
  if (r.warnings.empty() && groups.empty()) return;
  add(md, "## ⚠ Warnings\n\nThese conditions can distort the figures below. Cell warnings are grouped by "
          "kind: the count of cells, one example, and the cells (folded).\n\n");
  for (const std::string& w : r.warnings) add(md, "- {}\n", esc(w));
  for (const auto& [kind, g] : groups) {
    if (g.cells.size() == 1) {
      add(md, "- {}\n", g.example);
      continue;
    }
    std::string ids;
    for (const std::string& id : g.cells) ids += fmt::format("{}`{}`", ids.empty() ? "" : ", ", id);
    add(md, "- **{}** in {} cells, e.g. {} <details><summary>the {} cells</summary>{}</details>\n", esc(kind),
        g.cells.size(), g.example, g.cells.size(), ids);
  }
  add(md, "\n");
}

}  // namespace ipcmatrix::detail::markdown
