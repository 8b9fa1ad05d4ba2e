#pragma once
/// @file markdown.hpp
/// PERFORMANCE_REPORT.md: a human-readable report of one run for an engineer choosing an
/// IPC setup. Built only from a RunResult (normally loaded from results.json).

#include <string>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

/// GitHub-flavoured Markdown with, in order: title and provenance, how to read the figures,
/// the environment (r.environment flattened to dotted keys, sorted), warnings (run-wide,
/// per-cell, noisy cells; only when there are any), recommendations (per pattern, message
/// size, procs and load: the best ok cell by p50 latency and by msgs/s, with the ratio to the
/// best cell of a different mechanism/serializer), one results table per pattern (rows by
/// size, then p50), failed cells with their errors, and method notes (command line from
/// r.config["command_line"], string or array of strings, and the effective configuration).
/// Every number comes from r; nothing is estimated. Deterministic: the same r gives the
/// same bytes. Unresolved percentiles print as "—". Thread-safe.
[[nodiscard]] std::string markdown_report(const RunResult& r);

}  // namespace ipcmatrix
