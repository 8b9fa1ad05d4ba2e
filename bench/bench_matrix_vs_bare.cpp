// The matrix's own figure, next to the same transport bare and the machine's floor, measured
// interleaved in one run: does ipc-matrix rank mechanisms, or its own bookkeeping?
//
//   bench_matrix_vs_bare [--reps 5] [--messages 2000000] [--sizes 64,1M] [--only 'stream shm,pingpong']
//   bench_matrix_vs_bare --sizes 16M,64M --only 'stream unix,stream memfd'   # large messages handed over
//   bench_matrix_vs_bare --reps 3 --only ' zmq ,  nng '   # the message libraries against themselves, bare
//   bench_matrix_vs_bare --reps 3 --only 'iceoryx,pingpong shm 64B copy,stream shm 1MiB loan'
//
// Each repetition runs, for every case, the matrix cell through the library (run_matrix:
// real worker processes, verification, timestamps, the floor at its start and end) and then
// the bare transport between two pinned processes with nothing of the harness. Bare messages
// are as long as the matrix's on the wire (body + the 8-byte envelope of an unstamped
// message; + 32 for a stamped round trip), so both move the same bytes. The table gives the
// median of the repetitions with [min - max], and ratios taken per repetition from the
// back-to-back pair (a VM that changes mode between repetitions moves both figures of a
// pair alike), so their median is not thrown off by a mode switch.
//
// The message libraries (zmq, nng) are held to their own API used bare, the way their
// documentation shows it (bare_libraries.hpp), not to the mechanism's Transport: what the
// mechanism adds around the library (liveness pipes, the end marker) is part of what is
// measured.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>

#include "bare_libraries.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/runner/coordinator.hpp"
#include "ipcmatrix/runner/floor.hpp"
#include "ipcmatrix/runner/parsers.hpp"
#include "ipcmatrix/runner/worker.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "bare_iceoryx.hpp"

using namespace ipcmatrix;

namespace {

struct Case {
  std::string pattern, mechanism, api;
  std::uint64_t size = 64;
  Wait wait = Wait::spin;  ///< shm only: the others always wait in the kernel
  [[nodiscard]] std::string name() const {
    const bool chosen = find_transport(mechanism).caps.spin_wait && wait != Wait::spin;
    return fmt::format("{} {} {} {}{}", pattern, mechanism, format_size(size), api,
                       chosen ? " " + std::string(to_string(wait)) : std::string());
  }
  [[nodiscard]] bool round_trip() const { return pattern == "pingpong"; }
};

/// One repetition's figures; a pair measured back to back shares the machine's mode.
struct Samples {
  std::vector<double> matrix, bare, floor;
  std::vector<double> ratio, vs_floor;  ///< per repetition, from back-to-back measurements
};

std::string figure(double v, bool round_trip) {
  return round_trip ? fmt::format("{:.2f} us", v / 1e3) : fmt::format("{:.3g} msgs/s", v);
}

std::string cell(const std::vector<double>& v, bool round_trip) {
  if (v.empty()) return "failed";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format("{} [{} - {}]", figure(median(v), round_trip), figure(*lo, round_trip), figure(*hi, round_trip));
}

}  // namespace

/// The malloc settings both sides of a comparison run with (see main()): no mmap below
/// 32 MiB and no trimming below 256 MiB, so a large message's block is reused.
constexpr const char* kMallocTunables = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456";

int main(int argc, char** argv) {
  // The matrix re-executes this binary for its worker processes, and the message libraries'
  // bare loops for theirs.
  if (const int rc = maybe_run_worker(argc, argv); rc >= 0) return rc;
  if (const int rc = bench::maybe_run_library_bare(argc, argv); rc >= 0) return rc;
  // Both sides of every pair run under the same malloc settings, inherited by every process:
  // by default glibc gives a 1 MiB block its own mmap until a free raises its threshold, and
  // trims the heap behind a freed one, so a process that copies 1 MiB messages through a
  // library (zmq, nng) pays page faults on each or on none, depending on its history: zmq
  // 1 MiB streams measured 469 or 1,450 msgs/s in the matrix and 432 bare, a ratio of 2.46
  // [1.22-3.37]; with both thresholds fixed, 1.01 [1.00-1.06] (nng: 0.83 -> 1.01). The
  // comparison is of the harness, not of malloc's state. --default-malloc keeps glibc's.
  const bool default_malloc = std::any_of(argv + 1, argv + argc, [](const char* a) {
    return std::string_view(a) == "--default-malloc";
  });
  if (!default_malloc && std::getenv("GLIBC_TUNABLES") == nullptr) {
    ::setenv("GLIBC_TUNABLES", kMallocTunables, 1);
    ::execv("/proc/self/exe", argv);
    std::perror("bench_matrix_vs_bare: re-executing with GLIBC_TUNABLES");
    return 1;
  }
  int reps = 5;
  std::uint64_t messages = 2'000'000;
  std::string sizes_text = "64,1M";
  CLI::App app{"ipc-matrix figures next to the bare transports and the machine's floor, interleaved"};
  app.add_option("--reps", reps, "interleaved repetitions (medians are reported)")->check(CLI::Range(1, 50));
  app.add_option("--messages", messages, "messages per matrix stream cell (1 s cap)")->check(CLI::PositiveNumber);
  app.add_option("--sizes", sizes_text, "stream message sizes, as the tool spells them (64,4K,1M,64M)");
  std::vector<std::string> only;
  app.add_option("--only", only, "run only the cases whose name contains one of these (e.g. 'stream shm')")
      ->delimiter(',');
  bool keep_malloc = false;
  app.add_flag("--default-malloc", keep_malloc,
               "keep glibc's malloc thresholds (by default both sides run with GLIBC_TUNABLES fixing them, so "
               "neither pays an mmap or a trimmed heap per large message while the other does not)");
  CLI11_PARSE(app, argc, argv);
  fmt::print("malloc: {}\n", std::getenv("GLIBC_TUNABLES") ? fmt::format("GLIBC_TUNABLES={}", std::getenv("GLIBC_TUNABLES"))
                                                           : std::string("glibc's defaults"));
  std::vector<std::uint64_t> sizes;
  try {
    sizes = parse_size_list(sizes_text);
  } catch (const UsageError& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 2;
  }

  const std::vector<int> cpus = sys::allowed_cpus();
  const int cpu_a = cpus.empty() ? -1 : cpus[0];
  const int cpu_b = cpus.size() > 1 ? cpus[1] : cpu_a;

  std::vector<Case> cases;
  for (const auto size : sizes) {
    for (const char* m : {"pipe", "unix", "shm", "posix-mq", "unix-seqpacket", "unix-dgram", "memfd"})
      cases.push_back({"stream", m, "copy", size});
    for (const char* m : {"shm", "memfd"}) cases.push_back({"stream", m, "loan", size});
    // --wait eventfd against the futex waits it replaces, each against its own bare ring.
    for (const Wait w : {Wait::hybrid, Wait::eventfd}) cases.push_back({"stream", "shm", "copy", size, w});
  }
  cases.push_back({"pingpong", "shm", "copy", 64});
  cases.push_back({"pingpong", "pipe", "copy", 64});
  cases.push_back({"pingpong", "posix-mq", "copy", 64});
  cases.push_back({"pingpong", "memfd", "copy", 64});
  for (const Wait w : {Wait::block, Wait::hybrid, Wait::eventfd}) cases.push_back({"pingpong", "shm", "copy", 64, w});
  // The datagram mechanisms' round trips at every size: a datagram's size limit bites at 1 MiB.
  for (const auto size : sizes)
    for (const char* m : {"unix-seqpacket", "unix-dgram"}) cases.push_back({"pingpong", m, "copy", size});
  // The message libraries, streams and round trips at every size.
  for (const char* pattern : {"stream", "pingpong"})
    for (const auto size : sizes)
      for (const char* m : {"zmq", "nng"}) cases.push_back({pattern, m, "copy", size});
  // iceoryx (spinning receivers) against a bare loop on iceoryx's own API, both ways, at every size.
  for (const auto size : sizes) {
    for (const char* api : {"copy", "loan"}) {
      cases.push_back({"stream", "iceoryx", api, size});
      cases.push_back({"pingpong", "iceoryx", api, size});
    }
  }
  if (!only.empty()) {
    std::erase_if(cases, [&](const Case& c) {
      return std::none_of(only.begin(), only.end(), [&](const std::string& o) { return c.name().find(o) != std::string::npos; });
    });
  }

  std::map<std::string, Samples> samples;
  for (int r = 0; r < reps; ++r) {
    for (const Case& c : cases) {
      fmt::print(stderr, "\r\033[Krep {}/{}: {}", r + 1, reps, c.name());
      RunConfig cfg;
      cfg.sizes = {c.size};
      cfg.patterns = {c.pattern};
      cfg.mechanisms = {c.mechanism};
      cfg.serializers = {"raw"};
      cfg.apis = {parse_or_throw<Api>(c.api)};
      cfg.loan_from_bytes = 0;  // the case names its api
      cfg.waits = {c.wait};
      cfg.placements = {Placement::cross_core};
      cfg.batches = {c.round_trip() ? 1 : 64};
      cfg.messages = c.round_trip() ? 100'000 : messages;
      cfg.duration_s = 1;
      cfg.warmup = 10'000;
      cfg.quiet = true;
      const RunResult res = run_matrix(cfg);
      Samples& s = samples[c.name()];
      std::optional<double> matrix, floor_value;
      if (res.cells.size() == 1 && res.cells[0].status == CellStatus::ok) {
        const CellResult& m = res.cells[0];
        matrix = c.round_trip() ? static_cast<double>(m.latency_ns.p50.value_or(0)) : m.throughput.msgs_per_s;
        s.matrix.push_back(*matrix);
        const auto& floor = res.environment.at("floor").at("start");
        // The floor is a 64 B figure: streams of other sizes are held to their bare ring instead.
        if (floor.is_object() && (c.round_trip() || c.size == 64)) {
          floor_value = c.round_trip() ? floor.at("cacheline_rtt_ns").get<double>()
                                       : floor.at("ring_msgs_per_s").get<double>();
          s.floor.push_back(*floor_value);
          s.vs_floor.push_back(*matrix / *floor_value);
        }
      }
      ChannelOptions o;
      o.wait = c.wait;
      const TransportSpec& t = find_transport(c.mechanism);
      // The same ring the matrix cell got.
      Cell as_planned;
      as_planned.pattern = &find_pattern(c.pattern);
      as_planned.mechanism = &t;
      as_planned.serializer = "raw";
      as_planned.size_bytes = c.size;
      o.capacity_bytes = ring_bytes_for(as_planned, cfg, 1, sys::free_bytes("/dev/shm"));
      // Large round trips take a millisecond each: fewer of them keep the bare run near the
      // matrix cell's 1 s cap.
      const std::uint64_t bare_rounds = c.size <= 4096 ? 100'000 : 1'000;
      std::optional<double> bare;
      if (c.mechanism == "iceoryx") {
        // Its own RouDi around the bare run (the matrix run above stopped its own).
        std::string why;
        if (const auto roudi = iceoryx::Roudi::start(iceoryx::default_config(), &why)) {
          const bool copy_out = c.api == "copy";
          bare = c.round_trip()
                     ? bare_iceoryx::pingpong_p50_ns(c.size + kEnvelopeBytes, copy_out, bare_rounds, cpu_a, cpu_b)
                     : bare_iceoryx::stream(c.size + kSeqEnvelopeBytes, copy_out, cpu_a, cpu_b, 1'000'000'000);
        } else {
          fmt::print(stderr, "\niceoryx bare run skipped: {}\n", why);
        }
      } else if (bench::has_library_bare(c.mechanism)) {
        bare = c.round_trip() ? bench::library_bare_pingpong_p50_ns(c.mechanism, c.size + kEnvelopeBytes,
                                                                     bare_rounds, cpu_a, cpu_b)
                              : bench::library_bare_stream(c.mechanism, c.size + kSeqEnvelopeBytes, cpu_a, cpu_b,
                                                           1'000'000'000);
      } else {
        bare = c.round_trip() ? bare_pingpong_p50_ns(t, o, c.size + kEnvelopeBytes, bare_rounds, cpu_a, cpu_b)
                              : bare_stream(t, o, c.size + kSeqEnvelopeBytes, 64, cpu_a, cpu_b, 1'000'000'000);
      }
      if (bare) s.bare.push_back(*bare);
      // For a round trip lower is better: bare/matrix, so 1.0 is "as fast" either way.
      if (bare && matrix && *matrix > 0) s.ratio.push_back(c.round_trip() ? *bare / *matrix : *matrix / *bare);
    }
  }
  fmt::print(stderr, "\r\033[K");

  fmt::print("{:<28} {:<42} {:<42} {:>18} {:>20}\n", "case (raw, cross-core)", "ipc-matrix", "bare transport",
             "ratio", "vs floor");
  for (const Case& c : cases) {
    const Samples& s = samples[c.name()];
    const bool rt = c.round_trip();
    const auto spread_of = [](const std::vector<double>& v, const char* unit) {
      if (v.empty()) return std::string("-");
      const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      return fmt::format("{:.2f}{} [{:.2f}-{:.2f}]", median(v), unit, *lo, *hi);
    };
    fmt::print("{:<28} {:<42} {:<42} {:>18} {:>20}\n", c.name(), cell(s.matrix, rt), cell(s.bare, rt),
               spread_of(s.ratio, ""), spread_of(s.vs_floor, rt ? "x" : ""));
  }
  // ipc-matrix's own shm ring against iceoryx, both through the matrix in the same run, both
  // spinning: per repetition (back to back), then the median.
  const auto versus = [&](const Case& shm, const Case& iox) {
    const Samples& a = samples[shm.name()];
    const Samples& b = samples[iox.name()];
    std::vector<double> r;
    for (std::size_t i = 0; i < std::min(a.matrix.size(), b.matrix.size()); ++i)
      if (a.matrix[i] > 0 && b.matrix[i] > 0) r.push_back(a.matrix[i] / b.matrix[i]);
    if (r.empty()) return;
    const auto [lo, hi] = std::minmax_element(r.begin(), r.end());
    fmt::print("{:<28} vs {:<28} {:.2f} [{:.2f}-{:.2f}]  ({} / {})\n", shm.name(), iox.name(), median(r), *lo, *hi,
               shm.round_trip() ? "round trip" : "msgs/s", shm.round_trip() ? "round trip" : "msgs/s");
  };
  fmt::print("\nshm (ipc-matrix's ring) vs iceoryx, both through the matrix, spin:\n");
  versus({"pingpong", "shm", "copy", 64}, {"pingpong", "iceoryx", "copy", 64});
  for (const auto size : sizes) versus({"stream", "shm", "loan", size}, {"stream", "iceoryx", "loan", size});
  fmt::print("\nratio: per repetition, from the matrix cell and the bare run measured back to back: matrix / bare "
             "for streams, bare / matrix for round trips (1.00 = the harness costs nothing); median [min-max]. vs "
             "floor: per repetition, a 64 B stream's msgs/s as a fraction of the bare ring's 64 B rate, a round trip "
             "as a multiple of one cache line's, both measured by the same matrix run (other sizes: -, see the "
             "bare column). shm spins unless a wait is named; the others wait in the kernel.\n");
  return 0;
}
