#pragma once
/// @file writers.hpp
/// Reporters over a RunResult: CSV for spreadsheets and scripts, HdrHistogram .hgrm files
/// for hdr-plot / HistogramLogAnalyzer, and a compact console table. All are pure functions
/// of their input (same result, same bytes) and thread-safe for distinct outputs.

#include <iosfwd>
#include <string>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

/// CSV: a header row, then one row per cell in r.cells order, every row with the same
/// number of columns. Identity columns first (cell_id, pattern, mechanism, serializer, wait,
/// placement, content, size_bytes, procs, batch, rate), then status, error, figures of
/// latency_ns in nanoseconds (p50_ns .. p99_99_ns, min_ns, max_ns, mean_ns, stddev_ns),
/// throughput, CPU cost, serialization cost, idle_cpu_percent, repetitions, noisy, warnings,
/// latency_count, then how it was measured (api, verify, latency_sample, the harness ceiling
/// and harness_bound, negative_one_way): new columns are appended, never inserted.
/// An unresolved percentile and an unmeasured idle_cpu_percent (-1) are empty fields.
/// Fields are quoted per RFC 4180 (when they hold a comma, quote, CR or LF; quotes doubled).
/// Records end with LF rather than RFC 4180's CRLF: every CSV reader accepts LF and line
/// tools (cut, awk) would otherwise keep a stray CR in the last column.
void write_csv(std::ostream& out, const RunResult& r);

/// Writes "<dir>/<cell_id>.hgrm" for every ok cell whose histogram is non-empty, values in
/// microseconds (Histogram::to_hgrm(1000.0), HdrHistogram's usual output scaling). Creates
/// dir (and parents) if needed; existing files of the same name are replaced.
/// @throws std::runtime_error naming the path on any I/O failure.
void write_hgrm_files(const RunResult& r, const std::string& dir);

/// Fixed-width table, one row per cell: pattern, mechanism, serializer, size, p50, p99,
/// p99.9, msgs/s, MB/s (payload, 10^6 bytes), CPU/msg, and a note (noisy, warnings), each
/// figure spelled as model/format_units.hpp spells it.
/// Unresolved percentiles print as "-"; a failed cell prints "ERROR: " and the first 60
/// characters of its message in place of its figures.
void print_table(std::ostream& out, const RunResult& r);

}  // namespace ipcmatrix
