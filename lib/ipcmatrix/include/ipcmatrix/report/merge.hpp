#pragma once
/// @file merge.hpp
/// `ipc-matrix merge`: results files of one plan (runner/shard.hpp) become one results file
/// per machine, as if one run on that machine had measured every cell. Pure functions;
/// thread-safe.
///
/// - **One plan.** Every file must record a plan and the same plan hash, split in the same
///   number of parts. Refused (BadInput, which the tool turns into exit 2, naming the file):
///   a file without a plan (written before plans were recorded), a part that is not one
///   (index or count not integers with 0 <= index < count <= kMaxShards), another plan,
///   another part count, the same file twice (same part, same machine, same start time:
///   pooling a file with itself would count its repetitions twice), and a cell in two
///   different parts (the parts of one plan are disjoint).
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
///   recomputed from them (with the "noisy" warning kept in step). A file written before
///   per-repetition figures were recorded lists only its median: the cell then says how
///   many of its repetitions the spreads cover. Percentiles are never averaged. The figures no histogram or
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
/// of the warnings, complete only when every part has a file that ran to its end (an
/// interrupted part and its rerun make a whole), the longest file's elapsed time (parts run
/// side by side). Missing and interrupted parts are named in an "incomplete merge" warning.

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

/// The header of a part; throws BadInput naming the file when it records no plan or a part
/// that is not one.
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
  /// Where a cell sits and which part it belongs to.
  struct Slot {
    std::size_t at = 0;   ///< index in out_.cells
    int part = 0;         ///< the part that measured it: a cell is in one part
    bool pooled = false;  ///< measured by more than one file
    double primary = 0;   ///< the primary figure of the file whose scalar figures it holds
  };
  RunResult out_;
  std::map<std::string, std::size_t> plan_order_;  ///< cell id -> its place in the plan
  std::map<std::string, Slot> cells_;              ///< cell id -> its slot
  std::map<int, bool> part_whole_;                 ///< part -> some file of it ran to the end
  int count_ = 1;
  bool started_ = false;
};

/// Every part at once: one merged result per machine, in group_by_machine()'s order.
[[nodiscard]] std::vector<RunResult> merge_parts(std::vector<MergePart> parts);

}  // namespace ipcmatrix
