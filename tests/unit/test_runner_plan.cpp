// Planning and aggregation decisions that do not need processes: ring sizes per cell, the
// latency sampling of each kind of cell, cells over a mechanism's message limit, and which
// repetition represents a cell.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/runner/dev_shm.hpp"
#include "ipcmatrix/runner/plan.hpp"
#include "ipcmatrix/runner/settings.hpp"
#include "runner/aggregate.hpp"
#include "support/test_support.hpp"
#include "transport/datagram_socket.hpp"

using namespace ipcmatrix;

namespace {

Cell cell(const char* pattern, const char* mechanism, const char* serializer, std::uint64_t size) {
  Cell c;
  c.pattern = &find_pattern(pattern);
  c.mechanism = &find_transport(mechanism);
  c.serializer = serializer;
  c.size_bytes = size;
  return c;
}

CellResult rep(double msgs_per_s, std::uint64_t p50_ns) {
  CellResult r;
  r.throughput.msgs_per_s = msgs_per_s;
  r.histogram.record(p50_ns);
  return r;
}

}  // namespace

TEST_SUITE("runner plan") {
  TEST_CASE("ring_bytes_for: small messages keep the 256 KiB ring, large ones get room for two") {
    RunConfig cfg;
    const std::uint64_t plenty = std::uint64_t{16} << 30;
    CHECK(ring_bytes_for(cell("stream", "shm", "raw", 64), cfg, 1, plenty) == kDefaultRingBytes);
    CHECK(ring_bytes_for(cell("stream", "shm", "raw", 64 << 10), cfg, 1, plenty) == kDefaultRingBytes);
    CHECK(ring_bytes_for(cell("stream", "shm", "raw", 1 << 20), cfg, 1, plenty) == (std::size_t{4} << 20));
    CHECK(ring_bytes_for(cell("stream", "shm", "json", 1 << 20), cfg, 1, plenty) == (std::size_t{4} << 20));
    // Capped by --ring-max, and by free /dev/shm shared among the cell's rings.
    cfg.ring_max_bytes = 1 << 20;
    CHECK(ring_bytes_for(cell("stream", "shm", "raw", 8 << 20), cfg, 1, plenty) == (std::size_t{1} << 20));
    cfg.ring_max_bytes = std::size_t{64} << 20;
    // 24 MiB free, half of it over 6 rings: 2 MiB each.
    CHECK(ring_bytes_for(cell("mesh", "shm", "raw", 8 << 20), cfg, 6, std::uint64_t{24} << 20) == (std::size_t{2} << 20));
    // --ring-bytes given: exactly that; other mechanisms: their own default.
    cfg.ring_bytes = 1 << 16;
    CHECK(ring_bytes_for(cell("stream", "shm", "raw", 1 << 20), cfg, 1, plenty) == (std::size_t{1} << 16));
    CHECK(ring_bytes_for(cell("stream", "pipe", "raw", 1 << 20), RunConfig{}, 1, plenty) == 0);
  }

  TEST_CASE("latency sampling: closed-loop throughput cells sample, round trips and open loop never") {
    RunConfig cfg;
    CHECK(latency_sample_for(cell("stream", "shm", "raw", 64), cfg) == kAutoLatencySample);
    CHECK(latency_sample_for(cell("pingpong", "shm", "raw", 64), cfg) == 1);
    cfg.latency_sample = 8;
    CHECK(latency_sample_for(cell("fan-in", "pipe", "raw", 64), cfg) == 8);
    // A sender dealing round robin over lanes samples at an interval coprime with their
    // number, so every lane gets stamps; the record says what the senders used.
    Cell fan_out = cell("fan-out", "shm", "raw", 64);
    fan_out.procs = 3;  // one producer, two lanes
    CHECK(latency_sample_for(fan_out, cfg) == 9);
    fan_out.procs = 4;  // three lanes: 8 is coprime with 3 already
    CHECK(latency_sample_for(fan_out, cfg) == 8);
    cfg.latency_sample = 0;
    fan_out.procs = 3;
    CHECK(latency_sample_for(fan_out, cfg) == kAutoLatencySample + 1);
    CHECK(sample_interval_over(64, 2) == 65);
    CHECK(sample_interval_over(6, 4) == 7);
    CHECK(sample_interval_over(64, 1) == 64);
    CHECK(sample_interval_over(1, 2) == 1);
    cfg.latency_sample = 8;
    cfg.rate = 1000;
    CHECK(latency_sample_for(cell("fan-in", "pipe", "raw", 64), cfg) == 1);
    CHECK_FALSE(closed_loop_throughput(cell("stream", "shm", "raw", 64), cfg));
  }

  TEST_CASE("min_messages_for: a rate needs --rate-min-messages, a latency cell's p99 --min-messages") {
    RunConfig cfg;
    REQUIRE(cfg.min_messages > kRateMinMessages);
    REQUIRE(cfg.rate_min_messages == kRateMinMessages);
    REQUIRE(kRateMinMessages % 3 != 0);  // so that sharing it rounds up
    CHECK(min_messages_for(cell("stream", "shm", "json", 1 << 20), cfg) == kRateMinMessages);
    CHECK(min_messages_for(cell("fan-in", "pipe", "raw", 64), cfg) == kRateMinMessages);
    // The rate counts every producer's arrivals: they share the minimum, rounded up.
    Cell fan_in = cell("fan-in", "pipe", "raw", 64);
    fan_in.procs = 4;
    REQUIRE(make_topology(*fan_in.pattern, fan_in.procs).originators() == 3);
    CHECK(min_messages_for(fan_in, cfg) == (kRateMinMessages + 2) / 3);  // 4 of 10
    Cell mesh = cell("mesh", "unix", "json", 1 << 20);
    mesh.procs = 3;
    REQUIRE(make_topology(*mesh.pattern, mesh.procs).originators() == 3);
    CHECK(min_messages_for(mesh, cfg) == (kRateMinMessages + 2) / 3);
    CHECK(min_messages_for(cell("pingpong", "shm", "json", 1 << 20), cfg) == cfg.min_messages);
    Cell paced = cell("stream", "unix", "raw", 64);
    const LoadPoint half{LoadPoint::Kind::fraction, 0.5};
    paced.load = half;
    CHECK(min_messages_for(paced, cfg) == cfg.min_messages);
    cfg.min_messages = 5;
    cfg.rate_min_messages = 500;  // each as given
    CHECK(min_messages_for(cell("stream", "shm", "raw", 64), cfg) == 500);
    CHECK(min_messages_for(cell("pingpong", "shm", "raw", 64), cfg) == 5);
    cfg.messages = 1000;  // a count bounds the phase
    CHECK(min_messages_for(cell("pingpong", "shm", "raw", 64), cfg) == 0);
    CHECK(min_messages_for(cell("stream", "shm", "raw", 64), cfg) == 0);
  }

  TEST_CASE("repetitions: the median is chosen by the cell's primary figure, noisy by the figures it is judged by") {
    const auto reps = [] {
      std::vector<CellResult> v;
      v.push_back(rep(10e6, 900));
      v.push_back(rep(30e6, 100));
      v.push_back(rep(20e6, 500));
      return v;
    };
    const CellResult by_tput = detail::combine_repetitions(reps(), /*by_throughput=*/true);
    CHECK(by_tput.throughput.msgs_per_s == doctest::Approx(20e6));
    const CellResult by_p50 = detail::combine_repetitions(reps(), /*by_throughput=*/false);
    CHECK(by_p50.histogram.max() == 500);
    // Ordered by p50 the middle repetition differs from the one by msgs/s.
    std::vector<CellResult> skew;
    skew.push_back(rep(10e6, 100));
    skew.push_back(rep(20e6, 900));
    skew.push_back(rep(30e6, 500));
    CHECK(detail::combine_repetitions(std::move(skew), false).throughput.msgs_per_s == doctest::Approx(30e6));
    CHECK(by_tput.repetitions == 3);
    CHECK(by_tput.noisy);

    // Same throughput and p50, p99 far apart: a latency cell (a round trip, a paced cell) is
    // noisy through p99 alone; a closed-loop throughput cell, whose latency is its queue's
    // depth, is not (its p99 spread is kept and shown all the same).
    const auto tails = [] {
      std::vector<CellResult> v;
      for (const std::uint64_t tail : {1000u, 5000u}) {
        CellResult r = rep(10e6, 100);
        for (int i = 0; i < 98; ++i) r.histogram.record(100);
        r.histogram.record(tail);
        r.histogram.record(tail);
        v.push_back(std::move(r));
      }
      return v;
    };
    const CellResult latency = detail::combine_repetitions(tails(), false);
    REQUIRE(latency.p99_spread);
    CHECK(latency.p99_spread->rel_spread > 0.10);
    CHECK(latency.throughput_spread->rel_spread == doctest::Approx(0.0));
    CHECK(latency.noisy);
    const CellResult saturated = detail::combine_repetitions(tails(), true);
    REQUIRE(saturated.p99_spread);
    CHECK(saturated.p99_spread->rel_spread > 0.10);
    CHECK_FALSE(saturated.noisy);
  }

  TEST_CASE("plan: cells over a mechanism's message limit are not planned, and one warning says why and how to raise it") {
    // As an unprivileged user on a kernel with Debian's default wmem_max would plan it.
    const test::ScopedEnv wmem(detail::kWmemMaxEnv, "212992");
    RunConfig cfg;
    cfg.patterns = {"stream"};
    cfg.mechanisms = {"unix-dgram", "shm"};
    cfg.serializers = {"raw"};
    cfg.sizes = {64, 1 << 20};
    cfg.waits = {Wait::hybrid};
    cfg.placements = {Placement::unpinned};
    cfg.batches = {1};
    cfg.apis = {Api::copy};
    cfg.loan_from_bytes = 0;
    std::map<std::string, std::vector<std::uint64_t>> sizes;
    for (const Cell& c : plan_cells(cfg, 2)) sizes[std::string(c.mechanism->name)].push_back(c.size_bytes);
    CHECK(sizes["unix-dgram"] == std::vector<std::uint64_t>{64});
    CHECK(sizes["shm"] == std::vector<std::uint64_t>{64, 1 << 20});
    const auto warnings = plan_warnings(cfg);
    REQUIRE(warnings.size() == 1);
    const std::string& w = warnings.front();
    CAPTURE(w);
    CHECK(w.find("unix-dgram carries at most 416.0KiB per message here") == 0);
    CHECK(w.find("2 x net.core.wmem_max") != std::string::npos);
    CHECK(w.find("its 1MiB cells were not run") != std::string::npos);
    // The 1 MiB body, its 32-byte envelope and the kernel's 32 bytes, halved and rounded up.
    CHECK(w.find("sysctl -w net.core.wmem_max=524320") != std::string::npos);
    // The card reports the same limit.
    CHECK(semantics_of(find_transport("unix-dgram")).max_message_bytes == 2 * 212992 - 32);

    // A size only some serializers grow past the limit: those cells alone are refused.
    cfg.mechanisms = {"unix-seqpacket"};
    cfg.serializers = {"raw", "json"};
    cfg.sizes = {320 << 10};
    const auto planned = plan_cells(cfg, 2);
    REQUIRE(planned.size() == 1);
    CHECK(planned.front().serializer == "raw");
    const auto json_refused = plan_warnings(cfg);
    REQUIRE(json_refused.size() == 1);
    CHECK_MESSAGE(json_refused.front().find("its 320KiB (json) cells were not run") != std::string::npos,
                  json_refused.front());

    // Everything fits: no warning.
    cfg.sizes = {64};
    CHECK(plan_warnings(cfg).empty());
  }

  TEST_CASE("plan: from --loan-from up, the mechanisms that lend memory also run loan cells, and no warning says so") {
    RunConfig cfg;
    cfg.patterns = {"stream"};
    cfg.mechanisms = {"unix", "shm", "memfd"};
    cfg.serializers = {"raw"};
    cfg.sizes = {64, 64 << 10, 1 << 20};
    const auto apis_of = [&] {
      std::map<std::string, std::vector<std::string>> out;
      for (const Cell& c : plan_cells(cfg, 2))
        out[std::string(c.mechanism->name)].push_back(format_size(c.size_bytes) + "/" + std::string(to_string(c.api)));
      return out;
    };
    REQUIRE(cfg.apis == std::vector<Api>{Api::copy});  // the defaults: copy, loan from 64 KiB
    auto planned = apis_of();
    CHECK(planned["unix"] == std::vector<std::string>{"64B/copy", "64KiB/copy", "1MiB/copy"});
    const std::vector<std::string> lending{"64B/copy", "64KiB/copy", "64KiB/loan", "1MiB/copy", "1MiB/loan"};
    CHECK(planned["shm"] == lending);
    CHECK(planned["memfd"] == lending);
    CHECK(plan_warnings(cfg).empty());  // defaults must not trip the tool's own warnings

    // Behind an encoder the copy a loan saves is a small share: json runs copy only.
    cfg.serializers = {"json"};
    planned = apis_of();
    CHECK(planned["shm"] == std::vector<std::string>{"64B/copy", "64KiB/copy", "1MiB/copy"});
    cfg.serializers = {"raw"};

    // --api loan,copy already runs both everywhere: nothing twice.
    cfg.apis = {Api::copy, Api::loan};
    planned = apis_of();
    CHECK(planned["shm"] == std::vector<std::string>{"64B/copy", "64B/loan", "64KiB/copy", "64KiB/loan", "1MiB/copy",
                                                     "1MiB/loan"});
    // 0: only --api's values.
    cfg.apis = {Api::copy};
    cfg.loan_from_bytes = 0;
    planned = apis_of();
    CHECK(planned["shm"] == std::vector<std::string>{"64B/copy", "64KiB/copy", "1MiB/copy"});
    cfg.loan_from_bytes = 1 << 20;
    planned = apis_of();
    CHECK(planned["shm"] == std::vector<std::string>{"64B/copy", "64KiB/copy", "1MiB/copy", "1MiB/loan"});
  }

  TEST_CASE("plan: a shared-endpoint pattern runs only where senders can share an end, and says which did not") {
    RunConfig cfg;
    cfg.patterns = {"fan-in", "fan-in-shared"};
    cfg.mechanisms = {"pipe", "unix-dgram", "shm"};
    cfg.serializers = {"raw"};
    cfg.sizes = {64};
    cfg.waits = {Wait::hybrid};
    cfg.placements = {Placement::unpinned};
    cfg.batches = {1};
    cfg.apis = {Api::copy};
    cfg.loads = {};
    std::map<std::string, std::vector<std::string>> planned;
    for (const Cell& c : plan_cells(cfg, 2)) planned[std::string(c.pattern->name)].emplace_back(c.mechanism->name);
    CHECK(planned["fan-in"] == std::vector<std::string>{"pipe", "unix-dgram", "shm"});
    CHECK(planned["fan-in-shared"] == std::vector<std::string>{"unix-dgram"});
    const auto warnings = plan_warnings(cfg);
    REQUIRE(warnings.size() == 1);
    const std::string& w = warnings.front();
    CAPTURE(w);
    CHECK(w.find("fan-in-shared needs one sending end that several processes share") == 0);
    CHECK(w.find("pipe, shm do not offer") != std::string::npos);
    CHECK(w.find("unix-dgram, unix-seqpacket (not asked for)") != std::string::npos);
    // Every mechanism asked for offers it: nothing to say.
    cfg.mechanisms = {"unix-seqpacket"};
    CHECK(plan_warnings(cfg).empty());
  }

  TEST_CASE("plan: largest_message_bytes is the envelope and the body, grown by serializers that are not body-only") {
    CHECK(largest_message_bytes("raw", 1 << 20) == (1 << 20) + kEnvelopeBytes);
    CHECK(largest_message_bytes("json", 3000) > 3000 + 3000 / 3);
  }

  TEST_CASE("dev_shm_bytes_needed: the largest cell's rings in /dev/shm, plus RouDi's segments with iceoryx cells") {
    RunConfig cfg;
    cfg.patterns = {"stream", "fan-in"};
    cfg.serializers = {"raw"};
    cfg.sizes = {64, 1u << 20};
    cfg.mechanisms = {"pipe"};
    // Nothing in /dev/shm but the floor's ring.
    CHECK(dev_shm_bytes_needed(plan_cells(cfg, 2), cfg) == kDefaultRingBytes + kSegmentOverheadBytes);
    cfg.mechanisms = {"pipe", "shm"};
    const std::uint64_t shm = dev_shm_bytes_needed(plan_cells(cfg, 2), cfg);
    // A 1 MiB fan-in of 3 processes: two 4 MiB rings (two frames each), not a sum over cells.
    CHECK(shm == 2 * ((std::uint64_t{4} << 20) + kSegmentOverheadBytes));
    cfg.mechanisms = {"shm", "iceoryx"};
    const std::uint64_t both = dev_shm_bytes_needed(plan_cells(cfg, 2), cfg);
    CHECK(both > shm + kRoudiManagementBytes);
  }
}
