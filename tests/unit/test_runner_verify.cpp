// verify_deliveries: every channel delivers exactly what was sent, except a publish/subscribe
// (fan-out) channel, which may miss messages but never reorders, repeats or invents them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ipcmatrix/pattern/pattern.hpp"
#include "runner/verify.hpp"

using namespace ipcmatrix;

namespace {

// Reports for `topo` with every channel's sender count `sent` and receiver count as given
// per in-edge (received[p] for participant p's in channels, in order).
std::vector<WorkerReport> reports_for(const Topology& topo, std::uint64_t sent,
                                      const std::vector<std::vector<ChannelCount>>& received) {
  std::vector<WorkerReport> reports(topo.participants.size());
  for (std::size_t p = 0; p < topo.participants.size(); ++p) {
    for (std::size_t k = 0; k < topo.participants[p].outs.size(); ++k) reports[p].role.sent.push_back({sent});
    if (p < received.size()) reports[p].role.received = received[p];
  }
  return reports;
}

RunConfig timed() {
  RunConfig cfg;
  cfg.duration_s = 1;  // no exact delivery count to hold the cell to
  return cfg;
}

}  // namespace

TEST_SUITE("runner") {
  TEST_CASE("verify: a channel of its own must deliver exactly what was sent, in order") {
    const Topology t = make_topology(find_pattern("broadcast"), 3);
    std::uint64_t dropped = 7, lossy_sent = 7;
    CHECK(detail::verify_deliveries(t, reports_for(t, 100, {{}, {{100}}, {{100}}}), timed(), dropped, lossy_sent)
              .empty());
    CHECK(dropped == 0);
    CHECK(lossy_sent == 0);
    CHECK(detail::verify_deliveries(t, reports_for(t, 100, {{}, {{100}}, {{99}}}), timed(), dropped, lossy_sent)
              .find("sent 100 messages, received 99") != std::string::npos);
    ChannelCount gap{100};
    gap.dropped = 1;  // a gap on a channel that must not have one is still a loss
    gap.in_order = false;
    CHECK(detail::verify_deliveries(t, reports_for(t, 100, {{}, {{100}}, {gap}}), timed(), dropped, lossy_sent)
              .find("out of order") != std::string::npos);
  }

  TEST_CASE("verify: a publish/subscribe channel may miss messages, counted with the tail, never go back") {
    const Topology t = make_topology(find_pattern("broadcast-shared"), 3);
    std::uint64_t dropped = 0, lossy_sent = 0;
    // Receiver 1 saw up to seq 94 with 10 gaps (85 arrived), receiver 2 all 100.
    ChannelCount behind{95};
    behind.dropped = 10;
    CHECK(detail::verify_deliveries(t, reports_for(t, 100, {{}, {behind}, {{100}}}), timed(), dropped, lossy_sent)
              .empty());
    CHECK(dropped == 15);  // 10 gaps and the 5 after the last one it saw
    CHECK(lossy_sent == 200);
    // Nothing arrived: a subscriber that never subscribed, not one that fell behind.
    ChannelCount none{100};
    none.dropped = 100;
    CHECK(detail::verify_deliveries(t, reports_for(t, 100, {{}, {none}, {{100}}}), timed(), dropped, lossy_sent)
              .find("received none of 100") != std::string::npos);
    // More than was sent, or back in time, is never a drop.
    CHECK(detail::verify_deliveries(t, reports_for(t, 100, {{}, {{101}}, {{100}}}), timed(), dropped, lossy_sent)
              .find("up to 101 of 100") != std::string::npos);
    ChannelCount back{100};
    back.in_order = false;
    CHECK(detail::verify_deliveries(t, reports_for(t, 100, {{}, {back}, {{100}}}), timed(), dropped, lossy_sent)
              .find("out of order") != std::string::npos);
  }
}
