#pragma once
/// @file merge.hpp
/// `ipc-matrix merge`: the parts of one sharded plan (runner/shard.hpp), measured on one
/// machine, become one results file, as if one run had measured them all. Pure function;
/// thread-safe.
///
/// Refused (BadInput, which the tool turns into exit 2, naming the file): a file without a
/// plan (written before plans were recorded), parts of different plans (their plan hashes
/// differ), of different part counts, the same part twice, a cell in two parts, and parts
/// measured on different machines (the machine facts `compare` checks differ): figures of
/// two machines are two answers, not one, and pooling them would hide which machine changes
/// the answer. Parts that are missing are named in a warning, and the result is then
/// incomplete.
///
/// The merged file: the cells in plan order, the first part's environment (the machine is
/// the same) with `merged_from` listing every part (file, shard, start time, length), the
/// plan without a shard, the union of the warnings, complete only when every part is
/// complete and none is missing, the longest part's elapsed time (parts run side by side).

#include <string>
#include <vector>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

struct MergePart {
  std::string name;  ///< the file it came from, for messages
  RunResult result;
};

/// The machine facts two parts must share to be merged (those `compare` warns about).
[[nodiscard]] const std::vector<std::string>& machine_facts();

/// The merged result of the parts; throws BadInput naming the file and the reason.
[[nodiscard]] RunResult merge_parts(std::vector<MergePart> parts);

}  // namespace ipcmatrix
