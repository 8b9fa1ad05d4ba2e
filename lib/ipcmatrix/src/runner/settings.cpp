// The settings table: one row per `run` setting. See settings.hpp for what is derived from it.
#include "ipcmatrix/runner/settings.hpp"

#include "ipcmatrix/runner/shard.hpp"

#include <cmath>
#include <string>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/runner/placement.hpp"
#include "ipcmatrix/runner/presets.hpp"
#include "ipcmatrix/serialize/message.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "ipcmatrix/util/text.hpp"
#include "usage_errors.hpp"

namespace ipcmatrix {

namespace {

using detail::check_names;
using detail::fail_usage;
using detail::quote;

constexpr int kMinProcs = 2;
constexpr int kMaxProcs = 64;
constexpr int kMaxRepetitions = 100;
constexpr double kMaxDurationS = 3600;
constexpr double kMaxBudgetS = 7 * 24 * 3600;
constexpr std::uint64_t kMaxWarmup = 1'000'000'000;
constexpr int kMaxBatch = 4096;
constexpr int kMinZstdLevel = 1;
constexpr int kMaxZstdLevel = 19;
constexpr std::size_t kMinPipeBytes = 4096;
constexpr std::uint64_t kMaxLatencySample = 1 << 20;
static_assert(kAutoLatencySample == 64, "the --latency-sample help text states the auto value");


template <class T>
std::string join_numbers(const std::vector<T>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += std::to_string(item);
  }
  return out;
}

std::string range_text(long long lo, long long hi) { return std::to_string(lo) + ".." + std::to_string(hi); }

using Check = std::function<void(const RunConfig&, std::string_view)>;

/// A row whose value is the RunConfig member `field`: its JSON form is the member itself.
template <class T, class Parse, class Show>
Setting field(std::string_view key, std::string_view flags, std::string_view type_name,
              std::string_view help, SettingKind kind, T RunConfig::*member, Parse parse, Show show,
              Check check = {}) {
  Setting s;
  s.key = key;
  s.flags = flags;
  s.type_name = type_name;
  s.help = help;
  s.kind = kind;
  s.parse = [member, parse](RunConfig& c, std::string_view text, std::string_view where) {
    c.*member = parse(text, where);
  };
  s.to_json = [member](const RunConfig& c) { return nlohmann::json(c.*member); };
  s.show = [member, show](const RunConfig& c) { return show(c.*member); };
  s.check = std::move(check);
  return s;
}

/// A name list checked against `valid` (a registry) at parse and at validation.
template <class Valid>
Setting names(std::string_view key, std::string_view flags, std::string_view help,
              std::vector<std::string> RunConfig::*member, Valid valid, bool show_all) {
  return field(
      key, flags, "LIST", help, SettingKind::list, member,
      [valid](std::string_view t, std::string_view f) { return parse_choices(t, valid(), f); },
      [show_all](const std::vector<std::string>& v) {
        return show_all ? "all (" + join(v, ",") + ")" : join(v, ",");
      },
      [member, valid](const RunConfig& c, std::string_view f) { check_names(c.*member, valid(), f); });
}

/// A comma list of a vocabulary enum's values (or "all": every value `accepts` takes), by
/// the enum's name table.
template <Named E>
Setting enum_list(std::string_view key, std::string_view flags, std::string_view help,
                  std::vector<E> RunConfig::*member, bool (*accepts)(E) = nullptr) {
  const auto valid = [accepts] {
    std::vector<std::string> out;
    for (const E e : all_values<E>())
      if (accepts == nullptr || accepts(e)) out.emplace_back(to_string(e));
    return out;
  };
  return field(
      key, flags, "LIST", help, SettingKind::list, member,
      [valid](std::string_view t, std::string_view f) {
        std::vector<E> out;
        for (const std::string& name : parse_choices(t, valid(), f)) out.push_back(*parse_name<E>(name));
        return out;
      },
      [](const std::vector<E>& v) {
        std::vector<std::string> names;
        for (const E e : v) names.emplace_back(to_string(e));
        return join(names, ",");
      },
      [member, accepts, valid](const RunConfig& c, std::string_view f) {
        if ((c.*member).empty()) fail_usage(f, "the list is empty");
        for (const E e : c.*member)
          if (accepts != nullptr && !accepts(e))
            fail_usage(f, quote(to_string(e)) + " cannot be chosen (valid: " + join(valid(), ", ") + ")");
      });
}

/// One value of a vocabulary enum, by its name table.
template <Named E>
Setting enum_value(std::string_view key, std::string_view flags, std::string_view help, E RunConfig::*member) {
  return field(
      key, flags, "MODE", help, SettingKind::text, member,
      [](std::string_view t, std::string_view f) {
        const auto v = parse_name<E>(t);
        if (!v) fail_usage(f, "unknown " + quote(t) + " (valid: " + names_text<E>() + ")");
        return *v;
      },
      [](const E& v) { return std::string(to_string(v)); });
}

std::string text_value(std::string_view t, std::string_view) { return std::string(t); }
template <class T>
std::string show_integer(const T& v) {
  return std::to_string(v);
}
std::string show_number(const double& v) { return format_number(v); }

std::vector<Setting> make_settings() {
  using C = RunConfig;
  using F = std::string_view;
  std::vector<Setting> t;
  t.push_back(field(
      "sizes", "--sizes", "LIST",
      "message body sizes, comma list; K, M, G are binary multiples (64, 4K, 64KiB, 1M; at most 1G)",
      SettingKind::list, &C::sizes, [](F text, F f) { return parse_size_list(text, f); },
      [](const std::vector<std::uint64_t>& v) { return join_numbers(v); },
      [](const C& c, F f) {
        if (c.sizes.empty()) fail_usage(f, "the list is empty");
        for (const auto size : c.sizes) {
          if (size == 0 || size > kMaxSizeBytes)
            fail_usage(f, std::to_string(size) + " bytes is outside 1.." + detail::size_limit_text());
        }
      }));
  t.push_back(names("patterns", "--patterns",
                    "patterns, comma list or all: pingpong, stream, fan-out, fan-in, pipeline, broadcast, mesh",
                    &C::patterns, [] { return pattern_names(); }, false));
  t.push_back(field(
      "mechanisms", "--mechanisms", "LIST", "mechanisms, comma list or all", SettingKind::list, &C::mechanisms,
      [](F text, F f) { return parse_mechanisms(text, f); },
      [](const std::vector<std::string>& v) { return "all (" + join(v, ",") + ")"; },
      [](const C& c, F f) { check_names(c.mechanisms, mechanism_names(), f); }));
  t.push_back(field(
      "serializers", "--serializers", "LIST",
      "serializers, comma list or all: raw, binary, json, msgpack, cbor, zstd+<any of them>", SettingKind::list,
      &C::serializers, [](F text, F f) { return parse_serializers(text, f); },
      [](const std::vector<std::string>& v) { return "all (" + join(v, ",") + ")"; },
      [](const C& c, F f) { check_names(c.serializers, valid_serializer_names(), f); }));
  t.push_back(field(
      "procs", "--procs", "N",
      "participants in fan-out, fan-in, pipeline, broadcast and mesh cells (2..64); "
      "0 = 3 on machines with <= 4 CPUs, else min(8, CPUs)",
      SettingKind::scalar, &C::procs, [](F text, F f) { return parse_int(text, f); }, show_integer<int>,
      [](const C& c, F f) {
        if (c.procs != 0 && (c.procs < kMinProcs || c.procs > kMaxProcs))
          fail_usage(f, "must be 0 (fit the machine) or " + range_text(kMinProcs, kMaxProcs) + ", got " +
                            std::to_string(c.procs));
      }));
  t.push_back(field(
      "duration_s", "--duration", "TIME",
      "measured phase per cell (10, 10s, 500ms, 2min): by default the window, at least --min-messages "
      "long; with --messages, whichever comes first; 0 = no time cap (count only)",
      SettingKind::scalar, &C::duration_s, [](F text, F f) { return parse_duration(text, f); }, show_number,
      [](const C& c, F f) {
        if (!std::isfinite(c.duration_s) || c.duration_s < 0 || c.duration_s > kMaxDurationS)
          fail_usage(f, "must be 0 (count messages) up to " + format_number(kMaxDurationS) + " s, got " +
                            format_number(c.duration_s));
      }));
  t.push_back(field("messages", "--messages", "N",
                    "measured messages per producer per cell; given alone, no time cap applies "
                    "(0 = none: the default measures for --duration, at least --min-messages)",
                    SettingKind::scalar, &C::messages, [](F text, F f) { return parse_uint(text, f); },
                    show_integer<std::uint64_t>));
  // The help names the cap (pattern/roles.hpp), which a string_view cannot format in.
  static_assert(kMinMessagesExtraS == 0.3, "--min-messages' help says 0.3 s");
  t.push_back(field("min_messages", "--min-messages", "N",
                    "with a time window, measured messages per producer before a round trip or a paced cell may "
                    "end: a slow cell measures longer than --duration rather than report a p99 from a handful, "
                    "by 0.3 s at most: past it, a percentile its samples cannot resolve is left out",
                    SettingKind::scalar, &C::min_messages, [](F text, F f) { return parse_uint(text, f); },
                    show_integer<std::uint64_t>));
  t.push_back(field("rate_min_messages", "--rate-min-messages", "N",
                    "the same for closed-loop throughput cells, whose figure is a rate (their latency is "
                    "sampled): fewer than --min-messages serve, shared by the cell's producers (the rate counts "
                    "their arrivals together), with no time cap",
                    SettingKind::scalar, &C::rate_min_messages, [](F text, F f) { return parse_uint(text, f); },
                    show_integer<std::uint64_t>));
  t.push_back(field(
      "warmup", "--warmup", "N", "unrecorded messages per producer before measuring", SettingKind::scalar,
      &C::warmup, [](F text, F f) { return parse_uint(text, f); }, show_integer<std::uint64_t>,
      [](const C& c, F f) {
        if (c.warmup >= kMaxWarmup)
          fail_usage(f, "must be below " + std::to_string(kMaxWarmup) + ", got " + std::to_string(c.warmup));
      }));
  t.push_back(field(
      "repetitions", "--repetitions", "N", "runs of every cell (1..100); spread across runs is reported",
      SettingKind::scalar, &C::repetitions, [](F text, F f) { return parse_int(text, f); }, show_integer<int>,
      [](const C& c, F f) {
        if (c.repetitions < 1 || c.repetitions > kMaxRepetitions)
          fail_usage(f, "must be " + range_text(1, kMaxRepetitions) + ", got " + std::to_string(c.repetitions));
      }));
  t.push_back(field(
      "race", "--race", "N",
      "racing: after --repetitions rounds of every cell, further rounds only for cells whose place in their "
      "group is still open (a lead not yet significant, a tie not yet established), up to N repetitions "
      "each; 0 = no racing (every cell runs --repetitions times)",
      SettingKind::scalar, &C::race, [](F text, F f) { return parse_int(text, f); }, show_integer<int>,
      [](const C& c, F f) {
        if (c.race < 0 || c.race > kMaxRepetitions)
          fail_usage(f, "must be 0 (no racing) or " + range_text(1, kMaxRepetitions) + ", got " +
                            std::to_string(c.race));
      }));
  t.push_back(field(
      "budget_s", "--budget", "TIME",
      "time budget of the run (10min, 600s): racing rounds stop when the next repetition would not fit; the "
      "first pass always runs whole; 0 = no budget",
      SettingKind::scalar, &C::budget_s, [](F text, F f) { return parse_duration(text, f); }, show_number,
      [](const C& c, F f) {
        if (!std::isfinite(c.budget_s) || c.budget_s < 0 || c.budget_s > kMaxBudgetS)
          fail_usage(f, "must be 0 (no budget) up to " + format_number(kMaxBudgetS) + " s, got " +
                            format_number(c.budget_s));
      }));
  t.push_back(field(
      "rate", "--rate", "MSGS/S", "open-loop send rate per producer; 0 = closed loop (as fast as possible)",
      SettingKind::scalar, &C::rate, [](F text, F f) { return parse_number(text, f); }, show_number,
      [](const C& c, F f) {
        if (!std::isfinite(c.rate) || c.rate < 0)
          fail_usage(f, "must be >= 0 (0 = closed loop), got " + format_number(c.rate));
      }));
  t.push_back(field(
      "loads", "--load", "LIST",
      "load sweep: after each stream, fan-out, fan-in, pipeline, broadcast or mesh cell runs closed loop, run it "
      "open loop at each of these per-producer rates: msgs/s (10,1k,100k), fractions of that cell's own "
      "saturation (10%,50%,90%) and/or sporadic (200 msgs/s: 5 ms gaps, where wake-ups after idle show)",
      SettingKind::list, &C::loads, [](F text, F f) { return parse_load_list(text, f); },
      [](const std::vector<LoadPoint>& v) {
        std::vector<std::string> labels;
        for (const auto& p : v) labels.push_back(p.label());
        return join(labels, ",");
      }));
  t.push_back(enum_list("waits", "--wait,--waits",
                        "how shm endpoints wait: spin, block, hybrid, eventfd (hybrid, sleeping on an eventfd an event loop "
                        "can poll; comma list or all; other mechanisms "
                        "always sleep in the kernel, recorded as wait kernel)",
                        &C::waits, +[](Wait w) { return is_chosen_wait(w); }));
  t.push_back(enum_list("placements", "--placement,--placements",
                        "CPU placement: unpinned, same-core, cross-core (comma list or all)", &C::placements));
  t.push_back(field(
      "batches", "--batch,--batches", "LIST", "messages per send call, comma list of 1..4096", SettingKind::list,
      &C::batches, [](F text, F f) { return parse_int_list(text, f); },
      [](const std::vector<int>& v) { return join_numbers(v); },
      [](const C& c, F f) {
        if (c.batches.empty()) fail_usage(f, "the list is empty");
        for (const int b : c.batches)
          if (b < 1 || b > kMaxBatch) fail_usage(f, std::to_string(b) + " is outside " + range_text(1, kMaxBatch));
      }));
  t.push_back(enum_list("apis", "--api,--apis",
                        "how the role loops use the mechanism: copy (send/recv), loan (write and read in the "
                        "channel's own memory, where the mechanism lends it; the others run copy), comma list "
                        "or all",
                        &C::apis));
  t.push_back(field(
      "loan_from_bytes", "--loan-from", "SIZE",
      "raw cells of at least SIZE also run with --api loan on the mechanisms that lend memory (shm, memfd, "
      "iceoryx), so the summary compares each at its best and names the api that made it so (behind an "
      "encoder the copy a loan saves is a small share: --api loan runs every serializer); 0 = only the "
      "--api values",
      SettingKind::scalar, &C::loan_from_bytes, [](F text, F f) { return parse_buffer_size(text, f); },
      show_integer<std::uint64_t>));
  t.push_back(enum_value(
      "verify", "--verify",
      "content check per message: full (hash every message), sampled (every message's length and "
      "first and last 8 body bytes, the whole message of 1 in 64), off (counts and order only)",
      &C::verify));
  t.push_back(field(
      "latency_sample", "--latency-sample", "N",
      "closed-loop throughput cells timestamp 1 message in N (pingpong and open loop: every one); "
      "0 = auto (64)",
      SettingKind::scalar, &C::latency_sample, [](F text, F f) { return parse_uint(text, f); },
      show_integer<std::uint64_t>, [](const C& c, F f) {
        if (c.latency_sample > kMaxLatencySample)
          fail_usage(f, "must be 0 (auto) up to " + std::to_string(kMaxLatencySample) + ", got " +
                            std::to_string(c.latency_sample));
      }));
  t.push_back(enum_value("content", "--content",
                         "message body content: random (incompressible), text, records (very compressible)",
                         &C::content));
  t.push_back(field(
      "zstd_level", "--zstd-level", "N", "zstd compression level for zstd+* serializers (1..19)",
      SettingKind::scalar, &C::zstd_level, [](F text, F f) { return parse_int(text, f); }, show_integer<int>,
      [](const C& c, F f) {
        if (c.zstd_level < kMinZstdLevel || c.zstd_level > kMaxZstdLevel)
          fail_usage(f, "must be " + range_text(kMinZstdLevel, kMaxZstdLevel) + ", got " +
                            std::to_string(c.zstd_level));
      }));
  t.push_back(field(
      "ring_bytes", "--ring-bytes", "SIZE", "shm ring capacity for every cell (and the unix-seqpacket / unix-dgram send buffer), a power of two >= 4K; 0 = "
      "sized per cell (see --ring-max)",
      SettingKind::scalar, &C::ring_bytes,
      [](F text, F f) { return static_cast<std::size_t>(parse_buffer_size(text, f)); },
      show_integer<std::size_t>, [](const C& c, F f) {
        const bool power_of_two = (c.ring_bytes & (c.ring_bytes - 1)) == 0;
        if (c.ring_bytes != 0 && (c.ring_bytes < kMinRingBytes || !power_of_two || c.ring_bytes > kMaxSizeBytes))
          fail_usage(f, "must be 0 (default) or a power of two from 4K to 1G, got " + std::to_string(c.ring_bytes));
      }));
  t.push_back(field(
      "ring_max_bytes", "--ring-max", "SIZE",
      "largest shm ring sized per cell (when --ring-bytes is 0, a ring holds two messages, "
      "at least 256K), a power of two",
      SettingKind::scalar, &C::ring_max_bytes,
      [](F text, F f) { return static_cast<std::size_t>(parse_size(text, f)); }, show_integer<std::size_t>,
      [](const C& c, F f) {
        const bool power_of_two = (c.ring_max_bytes & (c.ring_max_bytes - 1)) == 0;
        if (c.ring_max_bytes < kMinRingBytes || !power_of_two || c.ring_max_bytes > kMaxSizeBytes)
          fail_usage(f, "must be a power of two from 4K to 1G, got " + std::to_string(c.ring_max_bytes));
      }));
  t.push_back(field(
      "pipe_bytes", "--pipe-bytes", "SIZE", "pipe buffer size (F_SETPIPE_SZ), >= 4K; 0 = kernel default",
      SettingKind::scalar, &C::pipe_bytes,
      [](F text, F f) { return static_cast<std::size_t>(parse_buffer_size(text, f)); },
      show_integer<std::size_t>, [](const C& c, F f) {
        if (c.pipe_bytes != 0 && (c.pipe_bytes < kMinPipeBytes || c.pipe_bytes > kMaxSizeBytes))
          fail_usage(f, "must be 0 (kernel default) or 4K..1G, got " + std::to_string(c.pipe_bytes));
      }));
  t.push_back(field(
      "queue_messages", "--queue-messages", "N",
      "zmq and nng: messages a channel queues (zmq's high-water marks ZMQ_SNDHWM/RCVHWM at each end; nng's "
      "send queue NNG_OPT_SENDBUF, at most 8192); 0 = the library's default (zmq 1000, nng unbuffered)",
      SettingKind::scalar, &C::queue_messages,
      [](F text, F f) { return static_cast<std::size_t>(parse_uint(text, f)); }, show_integer<std::size_t>,
      [](const C& c, F f) {
        if (c.queue_messages > kMaxQueueMessages)
          fail_usage(f, "must be 0 (the library's default) up to " + std::to_string(kMaxQueueMessages) + ", got " +
                            std::to_string(c.queue_messages));
      }));
  t.push_back(field(
      "io_threads", "--io-threads", "N", "zmq: I/O threads of each end's context (ZMQ_IO_THREADS); 0 = ZeroMQ's 1",
      SettingKind::scalar, &C::io_threads, [](F text, F f) { return parse_int(text, f); }, show_integer<int>,
      [](const C& c, F f) {
        if (c.io_threads < 0 || c.io_threads > kMaxIoThreads)
          fail_usage(f, "must be 0 (ZeroMQ's default) up to " + std::to_string(kMaxIoThreads) + ", got " +
                            std::to_string(c.io_threads));
      }));
  t.push_back(field(
      "cell_timeout_s", "--cell-timeout", "TIME",
      "watchdog per cell: a cell still running after this is killed and recorded as an error",
      SettingKind::scalar, &C::cell_timeout_s, [](F text, F f) { return parse_duration(text, f); }, show_number,
      [](const C& c, F f) {
        if (!std::isfinite(c.cell_timeout_s) || c.cell_timeout_s <= 0)
          fail_usage(f, "must be > 0 seconds, got " + format_number(c.cell_timeout_s));
      }));
  t.push_back(field("seed", "--seed", "N",
                    "seed of the message content generator and of the order of each round of repetitions",
                    SettingKind::scalar,
                    &C::seed, [](F text, F f) { return parse_uint(text, f); }, show_integer<std::uint64_t>));
  t.push_back(field("shard", "--shard", "i/N|auto",
                    "run part i of N of the plan (0-based), split deterministically and balanced by expected cost; "
                    "auto reads a Slurm array's or a Kubernetes Indexed Job's environment (IPCMATRIX_SHARD_COUNT "
                    "gives a Job's count); `ipc-matrix merge` joins the parts",
                    SettingKind::text, &C::shard, text_value, [](const std::string&) { return std::string(); },
                    [](const C& c, F /*f*/) { check_shard_text(c.shard); }));
  t.push_back(field("out_dir", "--out", "DIR",
                    "write results.json, results.csv, *.hgrm and PERFORMANCE_REPORT.md here", SettingKind::text,
                    &C::out_dir, text_value, [](const std::string&) { return std::string(); }));
  t.push_back(field("json_path", "--json", "FILE|-", "write the results JSON to FILE, or to stdout with -",
                    SettingKind::text, &C::json_path, text_value, [](const std::string&) { return std::string(); }));
  t.push_back(field(
      "quiet", "--quiet,-q", "", "no progress output on the console", SettingKind::toggle, &C::quiet,
      [](F text, F f) {
        if (text == "true") return true;
        if (text == "false") return false;
        fail_usage(f, quote(text) + " is not true or false");
      },
      [](const bool& v) { return std::string(v ? "true" : "false"); }));
  return t;
}

}  // namespace

std::string_view Setting::primary_flag() const noexcept { return flags.substr(0, flags.find(',')); }

const std::vector<Setting>& run_settings() {
  static const std::vector<Setting> kSettings = make_settings();
  return kSettings;
}

const Setting* find_setting(std::string_view key) noexcept {
  for (const Setting& s : run_settings())
    if (s.key == key) return &s;
  return nullptr;
}

RunConfig build_run_config(const std::optional<std::string>& preset, const std::vector<GivenSetting>& given) {
  RunConfig cfg;
  nlohmann::json preset_json = nlohmann::json::object();
  if (preset) {
    cfg.preset = *preset;
    preset_json = load_preset(*preset);
    apply_preset(cfg, preset_json);
  }
  for (const GivenSetting& g : given) g.setting->parse(cfg, g.text, g.setting->primary_flag());

  const auto named = [&](std::string_view key) {
    for (const GivenSetting& g : given)
      if (g.setting->key == key) return true;
    return preset_json.contains(key);
  };
  const bool gave_messages = named("messages");
  const bool gave_duration = named("duration_s");
  if (gave_messages && !gave_duration) cfg.duration_s = 0;
  if (gave_duration && !gave_messages) cfg.messages = 0;
  validate(cfg);
  return cfg;
}

}  // namespace ipcmatrix
