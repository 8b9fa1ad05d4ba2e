#include "ipcmatrix/runner/race.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/stats/significance.hpp"
#include "ipcmatrix/stats/statistics.hpp"

namespace ipcmatrix {

namespace {

bool comparable(const RaceEntry& e) {
  return !e.values.empty() &&
         std::all_of(e.values.begin(), e.values.end(), [](double v) { return std::isfinite(v) && v > 0; });
}

/// How many times better `a` is than `b` (>= 1 when a is the better), for the entry's direction.
double better_by(double a, double b, bool higher_is_better) { return higher_is_better ? a / b : b / a; }

/// true when best is ahead of other beyond doubt: beyond the tie threshold, and significant
/// over the repetitions or clearly apart (far apart, where both ran in one mode).
bool beats(const RaceEntry& best, const RaceEntry& other, double ratio) {
  if (ratio < kTieRatio) return false;
  if (testable(best.values.size(), other.values.size()) &&
      mann_whitney(best.values, other.values).p_value <= kSignificanceLevel + 1e-12)
    return true;
  if (best.mode >= 0 && best.mode == other.mode && far_apart(best.values, other.values, best.higher_is_better))
    return true;
  return clearly_apart(best.values, other.values, best.higher_is_better);
}

}  // namespace

std::vector<std::size_t> racing_waves(const std::vector<double>& cost, const std::vector<std::string>& name,
                                      double wave_s) {
  std::vector<std::size_t> order(cost.size());
  for (std::size_t g = 0; g < order.size(); ++g) order[g] = g;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return cost[a] != cost[b] ? cost[a] < cost[b] : name[a] < name[b]; });
  std::vector<std::size_t> out(cost.size(), 0);
  std::size_t wave = 0;
  double held = 0;
  for (const std::size_t g : order) {
    out[g] = wave;
    held += cost[g];
    if (held >= wave_s) {
      ++wave;
      held = 0;
    }
  }
  return out;
}

std::vector<RaceVerdict> judge_race(const std::vector<RaceEntry>& entries) {
  std::vector<RaceVerdict> out(entries.size());
  std::map<std::string, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (comparable(entries[i])) groups[entries[i].group].push_back(i);
  for (const auto& [name, members] : groups) {
    std::vector<double> medians(entries.size());
    for (const std::size_t i : members) medians[i] = median(entries[i].values);
    // The best among those still in the race: a cell dropped before stays dropped even where
    // its rival's later repetitions came out slower.
    std::size_t best = members.front();
    for (const std::size_t i : members)
      if (!entries[i].beaten_before) {
        best = i;
        break;
      }
    for (const std::size_t i : members)
      if (!entries[i].beaten_before && better_by(medians[i], medians[best], entries[i].higher_is_better) > 1) best = i;
    if (members.size() == 1) {
      out[best] = {RaceOutcome::alone, false};
      continue;
    }
    bool any_open = false, any_tied = false;
    for (const std::size_t i : members) {
      if (i == best) continue;
      const double ratio = better_by(medians[best], medians[i], entries[best].higher_is_better);
      const std::size_t fewer = std::min(entries[i].values.size(), entries[best].values.size());
      if (entries[i].beaten_before || beats(entries[best], entries[i], ratio)) {
        out[i] = {RaceOutcome::beaten, false};
      } else if (ratio < kTieRatio && fewer >= kTieRepetitions) {
        out[i] = {RaceOutcome::tied, false};
        any_tied = true;
      } else {
        out[i] = {RaceOutcome::undecided, true};
        any_open = true;
      }
    }
    out[best] = any_open ? RaceVerdict{RaceOutcome::undecided, true}
                         : RaceVerdict{any_tied ? RaceOutcome::tied : RaceOutcome::leading, false};
  }
  return out;
}

}  // namespace ipcmatrix
