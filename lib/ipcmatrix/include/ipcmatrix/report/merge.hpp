#pragma once
/// @file merge.hpp
/// `ipc-matrix merge`: results files of one plan (runner/shard.hpp) become one results file
/// per machine, as if one run on that machine had measured every cell. Pure functions;
/// thread-safe.
///
/// - **One plan.** Every file must record a plan and the same plan hash, split in the same
///   number of parts. Refused (BadInput, which the tool turns into exit 2, naming the file):
///   a file without a plan (written before plans were recorded), another plan, another part
///   count, and the same file twice (same part, same machine, same start time: pooling a
///   file with itself would count its repetitions twice).
/// - **Machines are a dimension, never pooled.** Files whose machine facts (machine_facts(),
///   those `compare` names) differ are measured on different machines and stay apart: each
///   machine gets its own merged result with its own environment. Figures of two machines
///   are two answers; averaging them would hide which machine changes the answer
///   (report/fleet.hpp sets the machines' answers side by side).
/// - **Shards join; reruns pool.** On one machine, the parts of a split plan join into the
///   whole. A cell measured by several files (a part run twice, or two whole runs) is pooled:
///   its latency histograms are merged bucket by bucket and the latency figures recomputed
///   from the merged histogram; the per-repetition figures (p50, p99, msgs/s, CPU per
///   message) are concatenated, and the spreads, the noise flag and the repetition count
///   recomputed from them. Percentiles are never averaged. The figures no histogram or
///   repetition list holds (counts, CPU, processes, throughput, hop latency) are those of the
///   file whose primary figure (msgs/s for closed-loop cells, else p50) is nearest the pooled
///   median: a measured figure, not an average. A cell that failed in one file and is ok in
///   another is the ok one, with a warning naming the failure; the most messages any file
///   dropped are kept.
/// - **Bounded memory.** MachineMerge holds one machine's cells (each cell once, however many
///   files pool into it) and takes one file at a time; the tool reads each file once to learn
///   its machine (PartHeader), then merges machine by machine, so memory is one machine's
///   cells plus one file, whatever the number of files or machines.
///
/// A merged result: cells in plan order, the first file's environment (the machine is the
/// same) with `merged_from` listing every file (file, shard, start time, length) and
/// `pooled_cells` (cells measured by more than one file), the plan without a shard, the union
/// of the warnings, complete only when every file is complete and no part is missing, the
/// longest file's elapsed time (parts run side by side). Missing parts are named in a
/// warning.

#include <map>
#include <string>
#include <vector>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

struct MergePart {
  std::string name;  ///< the file it came from, for messages
  RunResult result;
};

/// The machine facts that tell two machines apart (those `compare` warns about).
[[nodiscard]] const std::vector<std::string>& machine_facts();

/// What merge needs to know of a file before its cells: its plan, part and machine.
struct PartHeader {
  std::string name;
  std::string plan_hash;
  int shard_index = 0, shard_count = 1;
  std::string machine;   ///< machine_facts() values, as one comparable string
  std::string hostname;  ///< the environment's, "" when absent: what the machine is called
  std::string started_at;
};

/// The header of a part; throws BadInput when it records no plan.
[[nodiscard]] PartHeader header_of(const MergePart& p);

/// Checks that the parts are of one plan, split alike, and none is given twice (BadInput
/// naming the file otherwise); returns the parts' indices grouped by machine, machines in the
/// order their first part was given.
[[nodiscard]] std::vector<std::vector<std::size_t>> group_by_machine(const std::vector<PartHeader>& parts);

/// The parts of one machine merged one at a time (see the file comment). Parts must have
/// passed group_by_machine() together, and belong to one of its groups.
class MachineMerge {
 public:
  void add(MergePart part);
  /// The merged result; the object is spent.
  [[nodiscard]] RunResult finish() &&;

 private:
  RunResult out_;
  std::map<std::string, std::size_t> plan_order_;  ///< cell id -> its place in the plan
  std::map<std::string, std::size_t> cell_at_;     ///< cell id -> its index in out_.cells
  std::vector<int> parts_seen_;
  int count_ = 1;
  std::size_t pooled_ = 0;
  bool started_ = false;
};

/// Every part at once: one merged result per machine, in group_by_machine()'s order.
[[nodiscard]] std::vector<RunResult> merge_parts(std::vector<MergePart> parts);

}  // namespace ipcmatrix
