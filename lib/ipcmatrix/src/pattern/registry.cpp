// The explicit table of patterns. Not static self-registration: static libraries drop
// unreferenced registrars (google/benchmark#1498) and their init order is unspecified.
#include <algorithm>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

extern const PatternSpec kPingpongPattern;
extern const PatternSpec kStreamPattern;
extern const PatternSpec kFanOutPattern;
extern const PatternSpec kFanInPattern;
extern const PatternSpec kFanInSharedPattern;
extern const PatternSpec kPipelinePattern;
extern const PatternSpec kBroadcastPattern;
extern const PatternSpec kBroadcastSharedPattern;
extern const PatternSpec kMeshPattern;

const std::vector<const PatternSpec*>& all_patterns() {
  static const std::vector<const PatternSpec*> kAll{
      &kPingpongPattern,  &kStreamPattern,    &kFanOutPattern, &kFanInPattern, &kFanInSharedPattern,
      &kPipelinePattern, &kBroadcastPattern, &kBroadcastSharedPattern, &kMeshPattern,
  };
  return kAll;
}

namespace {
// On small machines more participants than CPUs measures the scheduler, not the mechanism;
// 3 is the smallest count that still exercises a fan/pipeline shape.
constexpr int kSmallMachineCpus = 4;
constexpr int kSmallMachineProcs = 3;
constexpr int kMaxDefaultProcs = 8;
}  // namespace

std::string_view to_string(LatencyKind k) noexcept {
  switch (k) {
    case LatencyKind::round_trip: return "round trip";
    case LatencyKind::one_way: return "one-way";
  }
  return "?";
}

std::vector<std::string> pattern_names() {
  std::vector<std::string> names;
  for (const auto* p : all_patterns()) names.emplace_back(p->name);
  return names;
}

const PatternSpec* pattern_or_null(std::string_view name) noexcept {
  for (const auto* p : all_patterns())
    if (p->name == name) return p;
  return nullptr;
}

const PatternSpec& find_pattern(std::string_view name) {
  if (const auto* p = pattern_or_null(name)) return *p;
  throw Error("pattern", name, "unknown pattern (valid: " + join(pattern_names()) + ")");
}

const PatternSpec& compared_with(const PatternSpec& spec) noexcept {
  for (const PatternSpec* p : all_patterns()) {
    for (const UseCase& mine : spec.use_cases)
      if (std::any_of(p->use_cases.begin(), p->use_cases.end(), [&](const UseCase& u) { return u.name == mine.name; }))
        return *p;
  }
  return spec;
}

int participants_for(const PatternSpec& spec, int procs, int cpus) noexcept {
  if (spec.participants.fixed > 0) return spec.participants.fixed;
  if (procs > 0) return procs;
  if (cpus <= kSmallMachineCpus) return std::max(kSmallMachineProcs, spec.participants.min);
  return std::max(std::min(kMaxDefaultProcs, cpus), spec.participants.min);
}

Topology make_topology(const PatternSpec& spec, int procs) {
  const int n = spec.participants.fixed > 0 ? spec.participants.fixed : procs;
  if (n < spec.participants.min) {
    throw Error("pattern", spec.name,
                "needs at least " + std::to_string(spec.participants.min) + " participants");
  }
  Topology t;
  spec.build(t, n);
  return t;
}

}  // namespace ipcmatrix
