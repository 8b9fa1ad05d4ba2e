#pragma once
/// @file config.hpp
/// What one `ipc-matrix run` measures: the RunConfig, the parsers that turn flag and preset
/// text into it, presets (bench/presets/*.json), and the final validation. Everything here
/// runs before any process is spawned; a bad value throws UsageError, which the tool turns
/// into exit code 2 with the message.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipcmatrix/model/vocabulary.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {

/// A bad command-line or preset value. The runner exits 2 with what() before spawning
/// anything. Messages name the flag (or preset key) and the offending text.
class UsageError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

/// Names of every registered mechanism (transport registry order): the default of --mechanisms.
[[nodiscard]] std::vector<std::string> mechanism_names();

/// Every name --serializers accepts: the base serializers, "zstd+<base>" for each, and "zstd"
/// alone (which parse_serializers() turns into the registry's default, "zstd+binary").
[[nodiscard]] std::vector<std::string> valid_serializer_names();

/// Largest message body, ring or pipe size parse_size() accepts: 1 GiB.
inline constexpr std::uint64_t kMaxSizeBytes = std::uint64_t{1} << 30;
/// The largest preset file read (presets are a few hundred bytes; 1 MiB is generous).
inline constexpr std::size_t kMaxPresetBytes = std::size_t{1} << 20;

/// Parses "10,1k,100k", "10%,50%,90%", "sporadic" or a mix; duplicates dropped. Throws
/// UsageError naming the flag and item.
[[nodiscard]] std::vector<LoadPoint> parse_load_list(std::string_view text, std::string_view flag);

/// The whole description of one run. Default-constructed it is the tool's default matrix
/// (mechanisms and serializers filled from the registries), and passes validate().
struct RunConfig {
  std::vector<std::uint64_t> sizes{64, 4096};       ///< message body sizes, bytes
  std::vector<std::string> patterns{"pingpong", "stream"};  ///< pattern registry names
  std::vector<std::string> mechanisms = mechanism_names();   ///< default: all registered
  std::vector<std::string> serializers = default_serializer_names();
  int procs = 0;               ///< participants of N-process patterns; 0 = fit the machine
  double duration_s = 1;       ///< measured phase cap per cell, seconds; 0 = none (see finish_run_config)
  std::uint64_t messages = 20000;  ///< per producer per cell; 0 = no count (duration only)
  std::uint64_t warmup = 2000;     ///< per producer, sent first and not recorded
  int repetitions = 1;             ///< runs of each cell
  double rate = 0;                 ///< open loop, messages/s per producer; 0 = closed loop
  /// Load sweep: after each open-loop-capable cell runs closed loop, it runs again at each of
  /// these offered loads. Empty: no sweep.
  std::vector<LoadPoint> loads;
  std::vector<Wait> waits{Wait::hybrid};        ///< shm endpoints' waits (is_chosen_wait())
  std::vector<Placement> placements{Placement::unpinned};
  std::vector<int> batches{1};                  ///< messages per send_batch, 1..4096
  std::vector<Api> apis{Api::copy};             ///< loan only where the mechanism supports it
  Verify verify = Verify::sampled;              ///< content check per message
  std::uint64_t latency_sample = 0;  ///< closed-loop throughput cells stamp 1 in N; 0 = auto
  ContentMode content = ContentMode::records;
  int zstd_level = 1;                               ///< 1..19
  std::size_t ring_bytes = 0;  ///< shm ring capacity (power of two >= 4096); 0 = sized per cell
  std::size_t ring_max_bytes = std::size_t{64} << 20;  ///< cap of a per-cell ring size
  std::size_t pipe_bytes = 0;  ///< F_SETPIPE_SZ; 0 = kernel default
  double cell_timeout_s = 120;  ///< watchdog per cell, seconds
  std::string out_dir;    ///< results.json, results.csv, *.hgrm, PERFORMANCE_REPORT.md; "" = none
  std::string json_path;  ///< results JSON; "-" = stdout; "" = none
  bool quiet = false;     ///< no progress table on the console
  std::string preset;     ///< the name or path the preset came from, "" if none
  std::uint64_t seed = 1;  ///< message content generator seed

  /// The effective config for the results file: every setting of the settings table under
  /// its key, and "preset".
  [[nodiscard]] nlohmann::json to_json() const;
};

/// Parses a size: "64", "4K", "4k", "4KB", "4KiB", "64KiB", "1M", "1MiB", "1G" (K = 1024,
/// case-insensitive, optional B / iB; a bare "B" means bytes). Surrounding spaces are ignored.
/// Throws UsageError naming flag and text for "", "0", "-5", "abc", "99T", "1.5K", overflow and
/// anything above kMaxSizeBytes: "--sizes: '99T' is not a size (examples: 64, 4K, 64KiB, 1M)".
[[nodiscard]] std::uint64_t parse_size(std::string_view text, std::string_view flag = "--sizes");

/// parse_size() that also accepts "0" (meaning "the mechanism's default"): --ring-bytes and
/// --pipe-bytes.
[[nodiscard]] std::uint64_t parse_buffer_size(std::string_view text, std::string_view flag);

/// A comma list of sizes ("64,4K,1M"). Empty items ("64,,1M") throw UsageError naming the list.
[[nodiscard]] std::vector<std::uint64_t> parse_size_list(std::string_view text,
                                                         std::string_view flag = "--sizes");

/// Splits a comma list and trims spaces around items. Throws UsageError naming flag and the
/// whole text when the list or any item is empty.
[[nodiscard]] std::vector<std::string> split_list(std::string_view text, std::string_view flag);

/// Parses a comma list of names, each one of `valid` or "all" (which expands to `valid`).
/// Duplicates are dropped (first one kept). Throws UsageError listing the valid choices.
[[nodiscard]] std::vector<std::string> parse_choices(std::string_view text,
                                                     const std::vector<std::string>& valid,
                                                     std::string_view flag);
/// As above, but "all" expands to `all` (e.g. the default serializers, a subset of `valid`).
[[nodiscard]] std::vector<std::string> parse_choices(std::string_view text,
                                                     const std::vector<std::string>& valid,
                                                     std::string_view flag,
                                                     const std::vector<std::string>& all);

/// --mechanisms: registered names or "all".
[[nodiscard]] std::vector<std::string> parse_mechanisms(std::string_view text,
                                                        std::string_view flag = "--mechanisms");
/// --serializers: valid_serializer_names() or "all" (= default_serializer_names()).
[[nodiscard]] std::vector<std::string> parse_serializers(std::string_view text,
                                                         std::string_view flag = "--serializers");

/// A non-negative decimal integer ("20000"). Throws UsageError naming flag and text.
[[nodiscard]] std::uint64_t parse_uint(std::string_view text, std::string_view flag);
/// A decimal integer that fits int (may be negative; ranges are validate()'s job).
[[nodiscard]] int parse_int(std::string_view text, std::string_view flag);
/// A finite non-negative number ("2.5", "1e6").
[[nodiscard]] double parse_number(std::string_view text, std::string_view flag);
/// A duration in seconds: "10", "10s", "1.5s", "500ms", "250us", "800ns", "2min". Non-negative.
[[nodiscard]] double parse_duration(std::string_view text, std::string_view flag);
/// A message rate in msgs/s: "500", "50k", "1.5M" (k and M are decimal here: rates are
/// counts per second, not buffer sizes). Positive.
[[nodiscard]] double parse_rate(std::string_view text, std::string_view flag);
/// A relative threshold: "10%" or "10" (percent) -> 0.10. Above 0, at most 1000%.
[[nodiscard]] double parse_percent(std::string_view text, std::string_view flag);
/// A comma list of ints ("1,8,64").
[[nodiscard]] std::vector<int> parse_int_list(std::string_view text, std::string_view flag);

/// Directories searched for a preset name, in order: $IPCMATRIX_PRESETS, <exe dir>/../bench/
/// presets, <exe dir>/../share/ipc-matrix/presets, <IPCMATRIX_SOURCE_DIR>/bench/presets (a
/// compile-time define, when set), ./bench/presets. Missing directories are included.
[[nodiscard]] std::vector<std::string> preset_search_path();

/// Loads a preset: a path when the text contains '/' or ends in ".json", otherwise
/// <dir>/<name>.json from the first directory of preset_search_path() that has it. The result
/// is checked by a trial apply_preset(), so a bad key or value is reported here, naming the
/// file. Throws UsageError when not found (listing the search path and the presets there),
/// unreadable, not a JSON object or invalid.
[[nodiscard]] nlohmann::json load_preset(std::string_view name_or_path);

/// Names of the presets found in preset_search_path() (sorted, each listed once).
[[nodiscard]] std::vector<std::string> preset_names();

/// Applies a preset's keys onto cfg. Keys are the settings table's keys (settings.hpp), which
/// are the RunConfig field names; lists may be JSON arrays or comma strings ("all" where the
/// flag accepts it); sizes may be numbers or size strings ("1M"); duration_s and
/// cell_timeout_s may be numbers or duration strings ("500ms"). "description" is ignored.
/// Throws UsageError for an unknown key or a value of the wrong type or text; cfg may be
/// partly updated then. Range checks are validate()'s job.
void apply_preset(RunConfig& cfg, const nlohmann::json& preset);

/// Final validation of a whole config: every setting's own check (settings.hpp: names valid,
/// lists non-empty, procs 0 or 2..64, repetitions 1..100, duration_s 0..3600, warmup < 10^9,
/// rate >= 0, batches 1..4096, zstd_level 1..19, ring_bytes 0 or a power of two >= 4096,
/// pipe_bytes 0 or >= 4096, cell_timeout_s > 0), then the rules between settings: messages
/// >= 1 when duration_s is 0, cell_timeout_s above duration_s. Throws UsageError.
void validate(const RunConfig& cfg);

}  // namespace ipcmatrix
