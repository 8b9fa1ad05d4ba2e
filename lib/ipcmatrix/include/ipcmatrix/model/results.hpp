#pragma once
/// @file results.hpp
/// The results model of one matrix run and its JSON form (results.json), the versioned
/// contract between the runner and every reader (report, compare, recommend, scripts).
/// docs/results.schema.json describes the same form as a JSON Schema.
///
/// JSON conventions (schema_version 1):
/// - Field names are exactly the member names below; units are in the names (_ns, _s, _kb).
/// - An unresolved percentile (too few samples, see Histogram::resolves) is written as null
///   and its key is always present, so a reader never mistakes it for a number.
/// - Absent optional objects (latency_uncorrected_ns, hop_latency_ns, p50_spread,
///   p99_spread, throughput_spread) are omitted. Readers accept both omitted and null.
/// - Readers require the identity fields and status of each cell; any other missing field
///   takes the default of its member. A present field of the wrong type is an error.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/vocabulary.hpp"
#include "ipcmatrix/stats/histogram.hpp"
#include "ipcmatrix/util/output_file.hpp"

namespace ipcmatrix {

/// Version of the results.json layout written by this build. Readers reject larger values;
/// bump it when a field changes meaning or a required field is added.
inline constexpr int kResultsSchemaVersion = 1;

/// Percentile summary of a histogram, in nanoseconds. A percentile the sample count cannot
/// resolve (Histogram::resolves(p) false) is written as JSON null, never as a number.
struct LatencySummary {
  std::uint64_t count = 0;
  double mean = 0, stddev = 0;
  std::optional<std::uint64_t> p50, p90, p99, p99_9, p99_99;
  std::uint64_t min = 0, max = 0;
};

/// Count, mean, stddev, exact min/max and the percentiles h can resolve (others nullopt).
/// An empty histogram gives all zeros and no percentiles. Thread-safe (reads h only).
[[nodiscard]] LatencySummary summarize(const Histogram& h);

/// Rates over the measured phase, per second. Payload bytes are the message sizes the user
/// asked for; wire bytes are what the serializer actually put on the transport.
struct Throughput {
  double msgs_per_s = 0, payload_bytes_per_s = 0, wire_bytes_per_s = 0;
};

/// CPU time of all participants over the measured phase, and per message received. An
/// open-loop pacer's own spinning until send times is reported apart (pacer_s) and left out
/// of per_msg_ns.
struct CpuCost {
  double user_s = 0, sys_s = 0, per_msg_ns = 0;
  double pacer_s = 0;
};

/// One participant process of a cell.
struct ProcessStats {
  std::string role;  ///< "producer", "consumer", "echo", "forwarder", "peer", "initiator"
  int index = 0;     ///< index among the participants of the same role
  int cpu = -1;      ///< pinned CPU, -1 unpinned
  double user_s = 0, sys_s = 0;
  std::int64_t voluntary_ctx = 0, involuntary_ctx = 0;
  std::int64_t max_rss_kb = 0;
  std::uint64_t sent = 0, received = 0;
};

/// Spread of one figure over repetitions, in the figure's own unit.
struct FigureSpread {
  double median = 0, min = 0, max = 0;
  double rel_spread = 0;  ///< (max - min) / median
  int n = 0;              ///< number of repetitions
  /// The figure of each repetition, in the order they ran: what significance tests take
  /// (stats/significance.hpp). Empty in files written before it was recorded.
  std::vector<double> values;
};

/// The spread of one figure over repetitions, from the value of each (kept, in order).
[[nodiscard]] FigureSpread figure_spread(std::vector<double> values);

/// The warning a noisy cell carries (the coordinator adds it; merge keeps it in step).
inline constexpr std::string_view kNoisyWarning = "noisy: repetitions differ by more than 10%";

/// One cell of the matrix: its identity, outcome and figures.
struct CellResult {
  // identity: the dimensions of the matrix (registry names, and the vocabulary's enums)
  std::string pattern, mechanism, serializer;
  Wait wait = Wait::hybrid;  ///< Wait::kernel for mechanisms that cannot spin
  Placement placement = Placement::unpinned;
  ContentMode content = ContentMode::random;  ///< files without it: random
  std::uint64_t size_bytes = 0;
  int procs = 0, batch = 1;
  double rate = 0;  ///< open-loop msgs/s per producer; 0 = closed loop
  /// The load sweep point this cell ran at (rate holds the msgs/s it came to); absent when
  /// it was not a load point. JSON: its label, "" when absent.
  std::optional<LoadPoint> load;
  Api api = Api::copy;
  /// The buffer sizes its channels were created with (ChannelOptions): what a deployment of
  /// this cell sets. 0 = the mechanism's default (or a knob it does not have). Files without
  /// it: zeros.
  struct Channel {
    std::uint64_t capacity_bytes = 0;  ///< shm ring or bipc-mq queue bytes
    std::uint64_t pipe_bytes = 0;      ///< F_SETPIPE_SZ
    std::uint64_t queue_messages = 0;  ///< zmq high-water marks / nng buffers, messages per end
    std::uint64_t io_threads = 0;      ///< zmq I/O threads per end
    std::uint64_t receivers = 0;       ///< a fan-out channel's receivers (publish/subscribe); 0: one
  } channel;
  // how it was measured
  Verify verify = Verify::full;      ///< files without it were written when every message was hashed
  std::uint64_t latency_sample = 1;  ///< one message in this many carried a timestamp
  // outcome
  CellStatus status = CellStatus::ok;
  std::string error;                  ///< empty when ok
  std::vector<std::string> warnings;  ///< e.g. "6 spinning participants on 2 cores"
  // figures (of the median repetition when repetitions > 1)
  std::uint64_t messages_sent = 0, messages_received = 0;
  /// Publish/subscribe cells (broadcast-shared): messages a subscriber that fell behind never
  /// got, warm-up included, in the repetition that lost the most; 0 = lost nothing (every
  /// other cell: a lost message fails the cell). Files without it: 0.
  std::uint64_t messages_dropped = 0;
  /// Whether the cell lost no message in any repetition: what a loss-free pick needs.
  [[nodiscard]] bool loss_free() const noexcept { return messages_dropped == 0; }
  /// One-way (round trip for pingpong); open loop: from intended send time (corrected).
  LatencySummary latency_ns;
  /// Open loop only: from the actual send time (not corrected for coordinated omission).
  std::optional<LatencySummary> latency_uncorrected_ns;
  /// Pipeline only: per hop.
  std::optional<LatencySummary> hop_latency_ns;
  Throughput throughput;
  CpuCost cpu;
  double wire_bytes_per_msg = 0;
  double encode_ns_per_msg = 0, decode_ns_per_msg = 0;  ///< serialization, apart from transport
  double idle_cpu_percent = -1;        ///< CPU% of a waiting endpoint with no traffic; -1 = not measured
  double duration_s = 0;               ///< throughput window: first to last measured receive, seconds
  std::uint64_t negative_one_way = 0;  ///< one-way differences below zero (clock skew), recorded as 0
  /// What the harness alone can do for this pattern, size, serializer and api: its role
  /// loops over an in-process channel. Absent when not measured.
  std::optional<double> harness_ceiling_msgs_per_s;
  /// msgs/s of the cell's mechanism with none of the harness (runner/harness_ceiling.hpp
  /// bare_transport()), measured right after the first repetition that came near the
  /// ceiling, for one-producer, one-consumer cells. Absent when not measured.
  std::optional<double> bare_msgs_per_s;
  /// Throughput reached 70% of the ceiling and stayed under 90% of bare_msgs_per_s (or that
  /// was not measured): the harness, not the mechanism, may be the limit, so the figure is a
  /// lower bound for the mechanism.
  bool harness_bound = false;
  std::vector<ProcessStats> processes;
  /// The largest peak resident set of the cell's processes, KiB: each its own image's since
  /// its exec (VmHWM), shared memory it mapped included; its median repetition's. -1 = not
  /// measured, as in files before it was recorded (their processes' max_rss_kb also counted
  /// the coordinator's memory, carried across exec: too large to report).
  std::int64_t peak_rss_kb = -1;
  int repetitions = 1;
  std::optional<FigureSpread> p50_spread, p99_spread, throughput_spread;  ///< repetitions > 1
  std::optional<FigureSpread> cpu_per_msg_spread;                         ///< repetitions > 1: cpu.per_msg_ns of each
  bool noisy = false;
  /// Why its repetitions ended: the race's verdict on it (runner/race.hpp), or fixed.
  RaceOutcome race = RaceOutcome::fixed;
  Histogram histogram;  ///< merged, of latency_ns

  /// Sets the spreads of p50, p99, msgs/s and CPU per message from the figures of each
  /// repetition, and `noisy` when a figure the cell is judged by spreads by more than 10%
  /// (stats/statistics.hpp is_noisy): msgs/s for a closed-loop throughput cell
  /// (`by_throughput`), whose latency is the queue's depth, not the mechanism's (in 188 of the
  /// 565 cells a headline run called noisy, p50 or p99 spread 39% (median; up to 34x) between
  /// repetitions whose msgs/s held within 10%); p50, p99 and msgs/s otherwise. Every spread is
  /// kept and shown either way. What one run's repetitions and pooled runs share.
  void set_repetition_spreads(std::vector<double> p50, std::vector<double> p99, std::vector<double> tput,
                              std::vector<double> cpu, bool by_throughput);

  [[nodiscard]] bool ok() const noexcept { return status == CellStatus::ok; }
};

/// Everything one run of the matrix produced.
struct RunResult {
  int schema_version = kResultsSchemaVersion;
  std::string tool_version;
  std::string started_at;  ///< ISO-8601 UTC
  double elapsed_s = 0;
  nlohmann::json environment = nlohmann::json::object();  ///< free-form (CPU, kernel, ...)
  nlohmann::json config = nlohmann::json::object();       ///< the effective configuration
  std::vector<std::string> warnings;                      ///< run-wide
  std::vector<CellResult> cells;
  /// false when the run was interrupted: cells holds only the cells that finished.
  bool complete = true;
  std::string interrupted_by;  ///< "SIGINT", "SIGTERM" or "SIGHUP" when !complete
};

/// JSON form of r (see the file comment); cells[].histogram uses the stats to_json() form.
/// Allocates; thread-safe.
[[nodiscard]] nlohmann::json to_json(const RunResult& r);

/// JSON form of one cell, as it sits in cells[] (report/writers.hpp's CSV projects it).
[[nodiscard]] nlohmann::json to_json(const CellResult& c);

/// JSON form of one latency summary; unresolved percentiles are null.
[[nodiscard]] nlohmann::json to_json(const LatencySummary& s);

/// Parses and validates the form written by to_json(const RunResult&).
/// @throws std::invalid_argument with the path of the bad field ("cells[2].pattern: missing"),
/// including for schema_version > kResultsSchemaVersion or < 1.
[[nodiscard]] RunResult run_result_from_json(const nlohmann::json& j);

/// The largest results file read (a cell of a real run takes 5-7 KB). Bigger is refused as
/// it is read.
inline constexpr std::size_t kMaxResultsBytes = std::size_t{1} << 30;
/// The most cells a results file may hold. What bounds memory: each cell read keeps its
/// latency Histogram whole (about 34 KiB, however few buckets the file listed), so this is
/// at most about 2.3 GiB, whatever the file, where a cap on bytes alone would let a file of
/// minimal cells claim hundreds of times its size. 64 Ki cells: six sweeps of every
/// mechanism, all patterns, two sizes.
inline constexpr std::size_t kMaxResultsCells = std::size_t{1} << 16;

/// The most of a results file one cell may take (a real one takes 5-7 KB), and the most
/// the rest (environment, config, warnings) may: what the parser builds of them is many
/// times their text, so they are capped as they are read.
inline constexpr std::size_t kMaxCellBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxResultsHeaderBytes = std::size_t{32} << 20;

/// Reads and parses a results.json file (at most kMaxResultsBytes and kMaxResultsCells,
/// nesting at most kMaxJsonDepth levels) a cell at a time: its memory is the cells read,
/// never the file's text or its whole JSON tree.
/// @throws BadInput (util/json_file.hpp) naming the path, for I/O, size, JSON syntax and
/// validation errors.
[[nodiscard]] RunResult load_results(const std::string& path);

/// The text save_results() writes (to_json(r).dump(2) and a newline), a cell at a time.
/// The pieces refer to r, which must outlive them.
[[nodiscard]] TextPieces results_text(const RunResult& r);
TextPieces results_text(const RunResult&& r) = delete;  // the pieces would outlive it

/// Writes r as pretty-printed JSON (2-space indent, trailing newline) with
/// write_output_file(): atomic for a regular file, a stream for a FIFO or device; a cell's
/// text at a time, never the whole file's.
/// @throws std::runtime_error naming the path on any I/O failure (the temporary is removed).
/// follow_symlink: true for a path the user named (--json), false inside --out.
void save_results(const RunResult& r, const std::string& path, bool follow_symlink = false);

/// Which parts of a cell's identity cell_id() spells.
enum class CellIdParts : std::uint8_t {
  full,           ///< every dimension: unique within a run, the same across runs
  configuration,  ///< without the offered load (rate or load point): one configuration's load curve
};

/// The one spelling of a cell's identity, used for file names and for matching cells across
/// runs, e.g. "pingpong_shm_raw_64B_p2_hybrid_cross-core_b1": pattern, mechanism, serializer,
/// format_size(size) (format_units.hpp), p<procs>, wait, placement, b<batch>, then "_<content>" unless random
/// (what files from before content was recorded measured, so their ids still match; the
/// tool's default, records, does appear), "_loan" for the loan api, and (full only)
/// "_load<point>" ("_load50pct",
/// "_load10k", "_loadsporadic") for a load point or "_r<rate>" for an open-loop cell.
/// Characters outside [A-Za-z0-9._-] become '-'.
[[nodiscard]] std::string cell_id(const CellResult& c, CellIdParts parts = CellIdParts::full);

}  // namespace ipcmatrix
