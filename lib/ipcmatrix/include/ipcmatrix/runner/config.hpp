#pragma once
/// @file config.hpp
/// What one `ipc-matrix run` measures: the RunConfig and its final validation. The text that
/// fills it is parsed by parsers.hpp (flags) and presets.hpp (bench/presets/*.json).
/// Everything here runs before any process is spawned; a bad value throws UsageError, which
/// the tool turns into exit code 2 with the message.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipcmatrix/model/vocabulary.hpp"
#include "ipcmatrix/runner/parsers.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {

/// Names of every registered mechanism (transport registry order): the default of --mechanisms.
[[nodiscard]] std::vector<std::string> mechanism_names();

/// Arrivals a rate needs to be precise within a few percent: RunConfig::rate_min_messages'
/// default, and under it a closed-loop throughput cell's window is called short. 10, not 20
/// (until 2026-12-06): the rate's spread between repetitions is the machine's, not the
/// window's. Sixteen 1 MiB json and zstd+json stream and fan-in cells, 5 repetitions each,
/// two runs of each default interleaved, spread 27% (median over cells) with 10 arrivals
/// and with 20 alike, at the same medians, in 55-62 s against 74-76 s.
inline constexpr std::uint64_t kRateMinMessages = 10;

/// The whole description of one run. Default-constructed it is the tool's default matrix
/// (mechanisms and serializers filled from the registries), and passes validate().
struct RunConfig {
  std::vector<std::uint64_t> sizes{64, 4096};       ///< message body sizes, bytes
  std::vector<std::string> patterns{"pingpong", "stream"};  ///< pattern registry names
  std::vector<std::string> mechanisms = mechanism_names();   ///< default: all registered
  std::vector<std::string> serializers = default_serializer_names();
  int procs = 0;               ///< participants of N-process patterns; 0 = fit the machine
  /// Measured phase per cell, seconds; 0 = none (count only). By default windows are sized
  /// by time: long enough for a precise msgs/s whatever the cell's speed (a 64 B stream
  /// measures for this long, not for 3 ms of 20000 messages), and never shorter than
  /// min_messages (a slow cell measures longer). 150 ms: 1.5x the short-window threshold
  /// (100 ms, runner/aggregate.cpp); on a machine that changes speed from minute to minute,
  /// repetitions spread over the run decide more than longer windows do, and 200 ms left the
  /// headline command no time to repeat any cell within 12 minutes.
  double duration_s = 0.15;
  std::uint64_t messages = 0;  ///< per producer per cell, a cap; 0 = no count (duration only)
  /// With a time window: the phase of a round trip or a paced cell does not end before this
  /// many measured messages per producer (enough to resolve a p99). Ignored when `messages`
  /// bounds the phase.
  std::uint64_t min_messages = 100;
  /// The same for closed-loop throughput cells. Their figure is a rate over the window,
  /// within a few percent from kRateMinMessages arrivals, and their latency is sampled (1 in
  /// latency_sample), so a p99 is not theirs to resolve: a 1 MiB JSON stream (30 ms a
  /// message here) measured 3 s for 100 messages.
  std::uint64_t rate_min_messages = kRateMinMessages;
  std::uint64_t warmup = 2000;     ///< per producer, sent first and not recorded
  int repetitions = 1;             ///< runs of every cell: the first pass (rounds over every cell)
  /// Racing (runner/race.hpp): after the first pass, further rounds only for the cells whose
  /// place in their group is still open, up to this many repetitions each; 0 = no racing.
  /// 7: the summary's waves race to kWaveRepetitions (5: enough for Mann-Whitney to call a
  /// lead of 5 against 5 at p = 0.10 with one overlap), then its groups still open to 7.
  int race = 7;
  /// Wall-time budget of the run, seconds: racing rounds stop when the next repetition would
  /// not fit (the first pass always runs whole); 0 = none. 11.5 minutes: the headline
  /// command's target is 12, and its first pass alone takes about 9.5 here.
  double budget_s = 690;
  double rate = 0;                 ///< open loop, messages/s per producer; 0 = closed loop
  /// Load sweep: after each open-loop-capable cell runs closed loop, it runs again at each of
  /// these offered loads. Empty: no sweep.
  std::vector<LoadPoint> loads;
  std::vector<Wait> waits{Wait::hybrid};        ///< shm endpoints' waits (is_chosen_wait())
  std::vector<Placement> placements{Placement::unpinned};
  std::vector<int> batches{1};                  ///< messages per send_batch, 1..4096
  std::vector<Api> apis{Api::copy};             ///< loan only where the mechanism supports it
  /// Raw cells (a body-only serializer) of at least this many bytes also run with Api::loan
  /// on the mechanisms that lend memory, whatever `apis` says, so a summary compares each
  /// mechanism at its best; 0 = only `apis`. 64 KiB: below it a loan saves little (a 64 B
  /// loan stream moves 0.66-0.69 of the copy's messages); at 1 MiB shm's raw loan stream
  /// moves about 3x its copy's. Why raw only: plan.cpp apis_for().
  std::uint64_t loan_from_bytes = std::uint64_t{64} << 10;
  Verify verify = Verify::sampled;              ///< content check per message
  std::uint64_t latency_sample = 0;  ///< closed-loop throughput cells stamp 1 in N; 0 = auto
  ContentMode content = ContentMode::records;
  int zstd_level = 1;                               ///< 1..19
  std::size_t ring_bytes = 0;  ///< shm ring capacity (power of two >= 4096); 0 = sized per cell
  std::size_t ring_max_bytes = std::size_t{64} << 20;  ///< cap of a per-cell ring size
  std::size_t pipe_bytes = 0;  ///< F_SETPIPE_SZ; 0 = kernel default
  std::size_t queue_messages = 0;  ///< zmq / nng queue per end, messages; 0 = the library's default
  int io_threads = 0;              ///< zmq I/O threads per end; 0 = ZeroMQ's default (1)
  double cell_timeout_s = 120;  ///< watchdog per cell, seconds
  std::string out_dir;    ///< results.json, results.csv, *.hgrm, PERFORMANCE_REPORT.md; "" = none
  std::string json_path;  ///< results JSON; "-" = stdout; "" = none
  bool quiet = false;     ///< no progress table on the console
  std::string preset;     ///< the name or path the preset came from, "" if none
  std::uint64_t seed = 1;  ///< message content generator seed
  /// This process's part of the plan (runner/shard.hpp): "" = all of it, "i/N", or "auto"
  /// (from a Slurm array's or a Kubernetes Indexed Job's environment).
  std::string shard;

  /// The effective config for the results file: every setting of the settings table under
  /// its key, and "preset".
  [[nodiscard]] nlohmann::json to_json() const;
};

/// Final validation of a whole config: every setting's own check (settings.hpp: names valid,
/// lists non-empty, procs 0 or 2..64, repetitions 1..100, duration_s 0..3600, warmup < 10^9,
/// rate >= 0, batches 1..4096, zstd_level 1..19, ring_bytes 0 or a power of two >= 4096,
/// pipe_bytes 0 or >= 4096, queue_messages <= 10^6, io_threads 0..64, cell_timeout_s > 0), then the rules between settings: messages
/// >= 1 when duration_s is 0, cell_timeout_s above duration_s. Throws UsageError.
void validate(const RunConfig& cfg);

}  // namespace ipcmatrix
