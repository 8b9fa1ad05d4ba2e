#pragma once
/// @file shard.hpp
/// One run's plan split over N machines or jobs (`--shard i/N`, `--shard auto`), so the
/// engines a team already runs (a Kubernetes Indexed Job, a Slurm array) can measure a plan
/// in parts that `ipc-matrix merge` puts back together (report/merge.hpp).
///
/// The split is deterministic (the same plan and N give the same parts on every machine)
/// and balanced by each cell's expected cost: units (a closed-loop cell with its load
/// points, which are paced from it and so must run with it) go, most expensive first, to
/// the part with the least expected time so far (longest-processing-time first). Every
/// result file records the hash of the whole plan, its cell ids and its shard, which is
/// what merge checks.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/runner/plan.hpp"

namespace ipcmatrix {

struct Shard {
  int index = 0;  ///< 0-based
  int count = 1;
  std::string source;  ///< "--shard", "kubernetes", "slurm"
};

/// The environment variables `--shard auto` reads: a Kubernetes Indexed Job sets the index
/// (its count, the Job's completions, is not given to the pod: the manifest sets
/// kShardCountEnv); a Slurm array sets both (the index is the task id minus the array's
/// minimum).
inline constexpr const char* kShardCountEnv = "IPCMATRIX_SHARD_COUNT";

/// The most parts a plan is split in (--shard i/N with N <= this).
inline constexpr int kMaxShards = 10000;

/// "" -> nullopt; "i/N" (0 <= i < N <= 10000) or "auto" (from the environment). Throws
/// UsageError naming --shard and what is missing or wrong.
[[nodiscard]] std::optional<Shard> resolve_shard(std::string_view text);

/// Checks the text's form only (what `run --shard` accepts); throws UsageError.
void check_shard_text(std::string_view text);

/// Seconds one repetition of c is expected to take: its window (or the sporadic point's),
/// the warm-up, a fixed set-up cost, and its bytes at a serializer-dependent rate. Only
/// ratios matter: it balances the parts, it promises nothing.
[[nodiscard]] double expected_cost_s(const Cell& c, const RunConfig& cfg);

/// The planned cells' indexes that part `s` runs, in plan order.
[[nodiscard]] std::vector<std::size_t> shard_cells(const std::vector<Cell>& cells, const RunConfig& cfg,
                                                   const Shard& s);

/// The FNV-1a 64 hash of the plan's cell ids in order, as 16 hex digits.
[[nodiscard]] std::string plan_hash(const std::vector<std::string>& cell_ids);

}  // namespace ipcmatrix
