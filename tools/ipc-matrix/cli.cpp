#include "cli.hpp"

#include <array>
#include <cstdio>
#include <string_view>

#include <CLI/CLI.hpp>

namespace ipcmatrix {
namespace {


template <class T>
std::string join_numbers(const std::vector<T>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += std::to_string(item);
  }
  return out;
}

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// One row per flag that carries a value. The help default is computed from a
// default-constructed RunConfig so it cannot drift from the real default.
struct RunFlag {
  const char* names;      // CLI11 spelling; the first name is the one error messages use
  const char* type_name;  // shown in --help
  const char* help;
  std::string (*default_text)(const RunConfig&);
  void (*apply)(RunConfig&, const std::string& text, std::string_view flag);
};

using C = RunConfig;
using S = const std::string&;
using F = std::string_view;

const std::array kRunFlags = {
    RunFlag{"--sizes", "LIST",
            "message body sizes, comma list; K, M, G are binary multiples (64, 4K, 64KiB, 1M; at most 1G)",
            [](const C& c) { return join_numbers(c.sizes); },
            [](C& c, S t, F f) { c.sizes = parse_size_list(t, f); }},
    RunFlag{"--patterns", "LIST",
            "patterns, comma list or all: pingpong, stream, fan-out, fan-in, pipeline, broadcast, mesh",
            [](const C& c) { return join(c.patterns, ","); },
            [](C& c, S t, F f) { c.patterns = parse_choices(t, all_patterns(), f); }},
    RunFlag{"--mechanisms", "LIST", "mechanisms, comma list or all",
            [](const C& c) { return "all (" + join(c.mechanisms, ",") + ")"; },
            [](C& c, S t, F f) { c.mechanisms = parse_mechanisms(t, f); }},
    RunFlag{"--serializers", "LIST",
            "serializers, comma list or all: raw, binary, json, msgpack, cbor, zstd+<any of them>",
            [](const C& c) { return "all (" + join(c.serializers, ",") + ")"; },
            [](C& c, S t, F f) { c.serializers = parse_serializers(t, f); }},
    RunFlag{"--procs", "N",
            "participants in fan-out, fan-in, pipeline, broadcast and mesh cells (2..64); "
            "0 = 3 on machines with <= 4 CPUs, else min(8, CPUs)",
            [](const C& c) { return std::to_string(c.procs); },
            [](C& c, S t, F f) { c.procs = parse_int(t, f); }},
    RunFlag{"--duration", "TIME",
            "measured-phase cap per cell (10, 10s, 500ms, 2min); with --messages, whichever "
            "comes first; given alone, no message count applies; 0 = no time cap",
            [](const C& c) { return format_number(c.duration_s); },
            [](C& c, S t, F f) { c.duration_s = parse_duration(t, f); }},
    RunFlag{"--messages", "N",
            "measured messages per producer per cell; given alone, no time cap applies "
            "(the default caps both: 20000 messages or 1 s)",
            [](const C& c) { return std::to_string(c.messages); },
            [](C& c, S t, F f) { c.messages = parse_uint(t, f); }},
    RunFlag{"--warmup", "N", "unrecorded messages per producer before measuring",
            [](const C& c) { return std::to_string(c.warmup); },
            [](C& c, S t, F f) { c.warmup = parse_uint(t, f); }},
    RunFlag{"--repetitions", "N", "runs of every cell (1..100); spread across runs is reported",
            [](const C& c) { return std::to_string(c.repetitions); },
            [](C& c, S t, F f) { c.repetitions = parse_int(t, f); }},
    RunFlag{"--rate", "MSGS/S", "open-loop send rate per producer; 0 = closed loop (as fast as possible)",
            [](const C& c) { return format_number(c.rate); },
            [](C& c, S t, F f) { c.rate = parse_number(t, f); }},
    RunFlag{"--wait,--waits", "LIST",
            "how shm endpoints wait: spin, block, hybrid (comma list or all; other mechanisms always block)",
            [](const C& c) { return join(c.waits, ","); },
            [](C& c, S t, F f) { c.waits = parse_choices(t, all_waits(), f); }},
    RunFlag{"--placement,--placements", "LIST",
            "CPU placement: unpinned, same-core, cross-core (comma list or all)",
            [](const C& c) { return join(c.placements, ","); },
            [](C& c, S t, F f) { c.placements = parse_choices(t, all_placements(), f); }},
    RunFlag{"--batch,--batches", "LIST", "messages per send call, comma list of 1..4096",
            [](const C& c) { return join_numbers(c.batches); },
            [](C& c, S t, F f) { c.batches = parse_int_list(t, f); }},
    RunFlag{"--content", "MODE",
            "message body content: random (incompressible), text, records (very compressible)",
            [](const C& c) { return c.content; }, [](C& c, S t, F) { c.content = t; }},
    RunFlag{"--zstd-level", "N", "zstd compression level for zstd+* serializers (1..19)",
            [](const C& c) { return std::to_string(c.zstd_level); },
            [](C& c, S t, F f) { c.zstd_level = parse_int(t, f); }},
    RunFlag{"--ring-bytes", "SIZE", "shm ring capacity, a power of two >= 4K; 0 = mechanism default",
            [](const C& c) { return std::to_string(c.ring_bytes); },
            [](C& c, S t, F f) { c.ring_bytes = parse_buffer_size(t, f); }},
    RunFlag{"--pipe-bytes", "SIZE", "pipe buffer size (F_SETPIPE_SZ), >= 4K; 0 = kernel default",
            [](const C& c) { return std::to_string(c.pipe_bytes); },
            [](C& c, S t, F f) { c.pipe_bytes = parse_buffer_size(t, f); }},
    RunFlag{"--cell-timeout", "TIME", "watchdog per cell: a cell still running after this is killed and "
            "recorded as an error",
            [](const C& c) { return format_number(c.cell_timeout_s); },
            [](C& c, S t, F f) { c.cell_timeout_s = parse_duration(t, f); }},
    RunFlag{"--seed", "N", "seed of the message content generator",
            [](const C& c) { return std::to_string(c.seed); },
            [](C& c, S t, F f) { c.seed = parse_uint(t, f); }},
    RunFlag{"--out", "DIR", "write results.json, results.csv, *.hgrm and PERFORMANCE_REPORT.md here",
            [](const C&) { return std::string(); }, [](C& c, S t, F) { c.out_dir = t; }},
    RunFlag{"--json", "FILE|-", "write the results JSON to FILE, or to stdout with -",
            [](const C&) { return std::string(); }, [](C& c, S t, F) { c.json_path = t; }},
};

constexpr std::string_view kPresetFlag = "--preset";

std::string_view primary_name(const char* names) {
  std::string_view s(names);
  return s.substr(0, s.find(','));
}


}  // namespace

void add_run_options(CLI::App& app, CliState& st) {
  const RunConfig defaults;
  // Sized once: CLI11 binds references to these strings.
  st.texts_.assign(kRunFlags.size() + 1, std::string());
  st.options_.assign(kRunFlags.size() + 1, nullptr);

  const auto presets = preset_names();
  std::string preset_help = "apply a preset (bench/presets/NAME.json, or a path) first; explicit flags override it";
  if (!presets.empty()) preset_help += " (available: " + join(presets, ", ") + ")";
  st.options_[0] = app.add_option(std::string(kPresetFlag), st.texts_[0], preset_help)
                       ->type_name("NAME|PATH")
                       ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  for (std::size_t i = 0; i < kRunFlags.size(); ++i) {
    const RunFlag& flag = kRunFlags[i];
    // Text, not typed options: our parsers give messages that name the value and the flag.
    st.options_[i + 1] = app.add_option(flag.names, st.texts_[i + 1], flag.help)
                             ->type_name(flag.type_name)
                             ->default_str(flag.default_text(defaults))
                             ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  st.quiet_option_ = app.add_flag("--quiet,-q", st.quiet_, "no progress output on the console");
}

RunConfig finish_run_config(const CliState& st) {
  // A state that never went through add_run_options has no flags given.
  if (st.options_.size() != kRunFlags.size() + 1) {
    RunConfig cfg;
    validate(cfg);
    return cfg;
  }
  RunConfig cfg;
  nlohmann::json preset = nlohmann::json::object();  // loaded once: it is read again below
  if (st.options_[0]->count() > 0) {
    cfg.preset = st.texts_[0];
    preset = load_preset(cfg.preset);
    apply_preset(cfg, preset);
  }
  for (std::size_t i = 0; i < kRunFlags.size(); ++i) {
    if (st.options_[i + 1]->count() == 0) continue;
    kRunFlags[i].apply(cfg, st.texts_[i + 1], primary_name(kRunFlags[i].names));
  }
  if (st.quiet_option_->count() > 0) cfg.quiet = st.quiet_;
  // Count or time: the default bounds each cell by both (20,000 messages or 1 s, whichever
  // comes first) so a sweep that includes 1 MiB JSON still ends. Naming only one of them
  // (flag or preset) means exactly that one.
  auto flag_given = [&st](std::string_view name) {
    for (std::size_t i = 0; i < kRunFlags.size(); ++i)
      if (primary_name(kRunFlags[i].names) == name) return st.options_[i + 1]->count() > 0;
    return false;
  };
  const bool gave_messages = flag_given("--messages") || preset.contains("messages");
  const bool gave_duration = flag_given("--duration") || preset.contains("duration_s");
  if (gave_messages && !gave_duration) cfg.duration_s = 0;
  if (gave_duration && !gave_messages) cfg.messages = 0;
  validate(cfg);
  return cfg;
}

}  // namespace ipcmatrix
