#pragma once
/// @file fleet.hpp
/// The report across machines that `ipc-matrix merge` writes when its files came from more
/// than one machine (report/merge.hpp keeps machines apart). Each machine's answer is its
/// summary picks (decisions.hpp), computed from that machine's merged results alone; this
/// module sets the answers side by side: one table of the machines (grouped into classes:
/// the same machine facts but the hostname) and one table that says, per use case,
/// serializer and evidence (the measurement that decides it), whether the pick holds on every machine or which machine
/// changes it. A pick holds when every machine that measured the use case deploys the same mechanism; a change where
/// that machine calls its own pick a tie is marked so (the answer there is "either"). Pure functions: they read only
/// their arguments. Thread-safe.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

/// One machine's answer.
struct MachineAnswer {
  std::string label;                                ///< unique, file-name safe (machine_labels())
  nlohmann::json facts = nlohmann::json::object();  ///< machine_facts() values (report/merge.hpp)
  std::size_t cells = 0, ok_cells = 0;
  bool complete = true;
  struct Pick {
    std::string use_case, serializer, basis;
    std::string mechanism;      ///< what a team chooses: the row's verdict compares these
    std::string configuration;  ///< mechanism/serializer and its settings
    std::string figure;         ///< the deciding figure of the pick
    std::string margin;         ///< "lead 3.1x", "tie", "untested (1 rep)", "alone"
    bool tie = false;           ///< the machine could not tell best from runner-up
  };
  std::vector<Pick> picks;
};

/// The answer of one machine's merged results.
[[nodiscard]] MachineAnswer machine_answer(std::string label, const RunResult& r);

/// Labels for machines from their hostnames (in order): characters other than
/// [A-Za-z0-9._-] become '_', an empty or absent hostname becomes "machine", and a label
/// already taken gets "-2", "-3", ...
[[nodiscard]] std::vector<std::string> machine_labels(const std::vector<std::string>& hostnames);

/// The across-machines PERFORMANCE_REPORT.md: the machines, then the picks side by side with
/// each row's verdict. `plan_hash` is the plan every machine ran. Deterministic.
[[nodiscard]] std::string fleet_markdown(const std::vector<MachineAnswer>& machines, const std::string& plan_hash);

/// The same as JSON (fleet.json): {"plan", "machines": [{label, facts, cells, ok_cells,
/// complete, picks: [...]}], "verdicts": [{use_case, serializer, holds, changes_on: [...]}]}.
[[nodiscard]] nlohmann::json fleet_json(const std::vector<MachineAnswer>& machines, const std::string& plan_hash);

}  // namespace ipcmatrix
