// The pattern registry, walked the way the conformance suite walks transports: every entry
// gets the same checks, so a new pattern is tested by adding it to the table.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/pattern/pattern.hpp"

using namespace ipcmatrix;

namespace {

// Every participant can reach a receiver and every receiver is fed: a topology whose
// channels leave someone out would measure nothing for them.
void check_shape(const Topology& t, int procs) {
  REQUIRE(t.participants.size() == static_cast<std::size_t>(procs));
  std::vector<std::size_t> outs(t.participants.size()), ins(t.participants.size());
  for (const Edge& e : t.channels) {
    REQUIRE(e.from >= 0);
    REQUIRE(e.to >= 0);
    REQUIRE(e.from < procs);
    REQUIRE(e.to < procs);
    CHECK(e.from != e.to);
    ++outs[static_cast<std::size_t>(e.from)];
    ++ins[static_cast<std::size_t>(e.to)];
  }
  for (std::size_t p = 0; p < t.participants.size(); ++p) {
    const Participant& part = t.participants[p];
    CAPTURE(p);
    CHECK(part.outs.size() == outs[p]);
    CHECK(part.ins.size() == ins[p]);
    CHECK(part.outs.size() + part.ins.size() > 0);
    if (part.role == RoleKind::producer) CHECK(!part.outs.empty());
    if (part.role == RoleKind::consumer) CHECK(!part.ins.empty());
    if (part.role == RoleKind::forwarder || part.role == RoleKind::echo) {
      CHECK(part.ins.size() == 1);
      CHECK(part.outs.size() == 1);
    }
    for (const int c : part.outs) CHECK(t.channels[static_cast<std::size_t>(c)].from == static_cast<int>(p));
    for (const int c : part.ins) CHECK(t.channels[static_cast<std::size_t>(c)].to == static_cast<int>(p));
  }
  CHECK(std::any_of(t.participants.begin(), t.participants.end(),
                    [](const Participant& p) { return originates(p.role); }));
  // Endpoints: each edge's is one of endpoints(); the edges sharing one either all go to
  // one receiver, with lanes 0..k-1 in order (the receiver's in channel k is lane k), or all
  // come from one sender's fan-out endpoint, each to another receiver, on lane 0.
  std::map<int, std::vector<const Edge*>> by_endpoint;
  for (const Edge& e : t.channels) {
    CHECK(e.endpoint >= 0);
    CHECK(static_cast<std::size_t>(e.endpoint) < t.endpoints());
    by_endpoint[e.endpoint].push_back(&e);
  }
  CHECK(by_endpoint.size() == t.endpoints());
  for (const auto& [endpoint, edges] : by_endpoint) {
    const bool fan_out = t.participants[static_cast<std::size_t>(edges.front()->from)].shared_out == endpoint;
    std::set<int> receivers;
    for (std::size_t k = 0; k < edges.size(); ++k) {
      if (fan_out) {
        CHECK(edges[k]->lane == 0);
        CHECK(edges[k]->from == edges.front()->from);
        CHECK(receivers.insert(edges[k]->to).second);
      } else {
        CHECK(edges[k]->lane == k);
        CHECK(edges[k]->to == edges.front()->to);
      }
    }
  }
}

}  // namespace

TEST_SUITE("pattern") {
  TEST_CASE("pattern registry: every entry builds a sound topology at every participant count") {
    std::set<std::string_view> names;
    for (const PatternSpec* spec : all_patterns()) {
      SUBCASE(std::string(spec->name).c_str()) {
        CHECK(names.insert(spec->name).second);
        CHECK(!spec->description.empty());
        CHECK(static_cast<bool>(spec->build));
        CHECK(spec->participants.min >= 2);
        CHECK(&find_pattern(spec->name) == spec);
        CHECK(pattern_or_null(spec->name) == spec);
        const int lo = spec->participants.fixed > 0 ? spec->participants.fixed : spec->participants.min;
        const int hi = spec->participants.fixed > 0 ? spec->participants.fixed : 6;
        for (int procs = lo; procs <= hi; ++procs) {
          CAPTURE(procs);
          const Topology t = make_topology(*spec, procs);
          check_shape(t, procs);
          CHECK(t.deliveries(10) >= 10);
          if (spec->records_hops) {
            CHECK(std::any_of(t.participants.begin(), t.participants.end(),
                              [](const Participant& p) { return p.role == RoleKind::consumer; }));
          }
        }
        if (spec->participants.fixed == 0) {
          CHECK_THROWS_AS((void)make_topology(*spec, spec->participants.min - 1), Error);
        }
        // A round trip is one message out and one back: it can be neither paced nor batched.
        if (spec->latency == LatencyKind::round_trip) {
          CHECK(spec->loop == LoopKind::closed);
          CHECK_FALSE(spec->batches);
        }
      }
    }
    CHECK(pattern_names().size() == all_patterns().size());
  }

  TEST_CASE("pattern registry: unknown names are refused, naming every valid one") {
    CHECK(pattern_or_null("ring") == nullptr);
    try {
      (void)find_pattern("ring");
      FAIL("expected Error");
    } catch (const Error& e) {
      const std::string msg = e.what();
      CHECK(msg.find("'ring'") != std::string::npos);
      for (const auto& n : pattern_names()) CHECK(msg.find(n) != std::string::npos);
    }
  }

  TEST_CASE("pattern registry: deliveries follow the topology, not the name") {
    // Independent oracle: what each shipped pattern delivers for 100 messages per producer.
    const std::vector<std::pair<const char*, std::uint64_t>> want3 = {
        {"pingpong", 100}, {"stream", 100},    {"fan-out", 100}, {"fan-in", 200}, {"fan-in-shared", 200},
        {"pipeline", 100}, {"broadcast", 200}, {"mesh", 300}};
    for (const auto& [name, want] : want3) {
      CAPTURE(name);
      CHECK(make_topology(find_pattern(name), 3).deliveries(100) == want);
    }
    CHECK(make_topology(find_pattern("broadcast"), 5).deliveries(10) == 40);
    CHECK(make_topology(find_pattern("mesh"), 4).deliveries(10) == 40);
    CHECK(make_topology(find_pattern("pipeline"), 2).participants.size() == 2);
  }

  TEST_CASE("topology: fan-in has a channel per producer, fan-in-shared one endpoint whose lanes name them") {
    const Topology separate = make_topology(find_pattern("fan-in"), 4);
    CHECK(separate.endpoints() == 3);
    CHECK_FALSE(separate.shares_endpoints());
    CHECK_FALSE(separate.receives_shared(3));
    for (const Edge& e : separate.channels) CHECK(e.lane == 0);

    const Topology shared = make_topology(find_pattern("fan-in-shared"), 4);
    REQUIRE(shared.channels.size() == 3);  // three logical channels, each with its own counts
    CHECK(shared.endpoints() == 1);        // over one created channel
    CHECK(shared.shares_endpoints());
    CHECK(shared.receives_shared(3));
    for (std::size_t p = 0; p < 3; ++p) CHECK_FALSE(shared.receives_shared(p));
    for (std::uint32_t i = 0; i < 3; ++i) {
      CHECK(shared.channels[i].endpoint == 0);
      CHECK(shared.channels[i].lane == i);  // the k-th in-edge is lane k: the consumer's channel k
      CHECK(shared.channels[i].from == static_cast<int>(i));
    }
    CHECK(shared.origins(3) == std::vector<int>{0, 1, 2});
    // One producer still shares: the mechanism must let it, whatever the count.
    CHECK(make_topology(find_pattern("fan-in-shared"), 2).shares_endpoints());

    // Shared and separate endpoints mix: endpoints are numbered in the order they are made.
    Topology mixed;
    mixed.add(RoleKind::producer, 3);
    mixed.add(RoleKind::consumer, 2);
    CHECK(mixed.connect(0, 3) == 0);
    CHECK(mixed.connect_shared(1, 4) == 1);
    CHECK(mixed.connect_shared(2, 4) == 2);
    CHECK(mixed.endpoints() == 2);
    CHECK(mixed.channels[1].endpoint == mixed.channels[2].endpoint);
    CHECK(mixed.channels[2].lane == 1);
    CHECK_FALSE(mixed.receives_shared(3));
    CHECK(mixed.receives_shared(4));
  }

  TEST_CASE("registry: a pattern is compared with the first one that answers its use case, else with itself") {
    // The race groups cells by it (runner/coordinator.cpp race_group()), as the summary
    // decides fan-in with fan-in-shared and broadcast with broadcast-shared.
    CHECK(compared_with(find_pattern("fan-in-shared")).name == "fan-in");
    CHECK(compared_with(find_pattern("broadcast-shared")).name == "broadcast");
    CHECK(compared_with(find_pattern("pipeline")).name == "pipeline");  // no use case of its own
    for (const PatternSpec* p : all_patterns()) {
      CAPTURE(p->name);
      const PatternSpec& with = compared_with(*p);
      // Never a later pattern: the first that answers the question stands for it.
      const auto& all = all_patterns();
      CHECK(std::find(all.begin(), all.end(), &with) <= std::find(all.begin(), all.end(), p));
      if (&with != p) {
        REQUIRE_FALSE(p->use_cases.empty());
        CHECK(std::any_of(with.use_cases.begin(), with.use_cases.end(),
                          [&](const UseCase& u) { return u.name == p->use_cases.front().name; }));
      }
      CHECK(&compared_with(with) == &with);  // it stands for itself
    }
    for (const char* own : {"pingpong", "stream", "fan-out", "fan-in", "broadcast", "mesh"})
      CHECK(&compared_with(find_pattern(own)) == &find_pattern(own));
  }

  TEST_CASE("topology: broadcast has a channel per consumer, broadcast-shared one publishing endpoint") {
    const Topology separate = make_topology(find_pattern("broadcast"), 4);
    CHECK(separate.endpoints() == 3);
    CHECK_FALSE(separate.fans_out());
    CHECK(separate.fan_out_receivers() == 0);
    CHECK_FALSE(separate.sends_fan_out(0));

    const Topology shared = make_topology(find_pattern("broadcast-shared"), 4);
    REQUIRE(shared.channels.size() == 3);  // three logical channels, each with its own counts
    CHECK(shared.endpoints() == 1);        // over one created channel, opened once by the producer
    CHECK(shared.fans_out());
    CHECK_FALSE(shared.shares_endpoints());  // one sender: nothing for shared_sender to allow
    CHECK(shared.fan_out_receivers() == 3);
    CHECK(shared.sends_fan_out(0));
    for (std::size_t p = 1; p < 4; ++p) {
      CHECK_FALSE(shared.sends_fan_out(p));
      CHECK_FALSE(shared.receives_shared(p));
      CHECK(shared.origins(p) == std::vector<int>{0});
    }
    CHECK(shared.distribution == Distribution::all);
    CHECK(shared.deliveries(10) == 30);  // each message reaches every consumer
    // A fan-out needs two receivers at least: with one it would be a stream.
    CHECK_THROWS_AS((void)make_topology(find_pattern("broadcast-shared"), 2), Error);

    // A fan-out endpoint beside one of its own: numbered in the order they are made.
    Topology mixed;
    mixed.add(RoleKind::producer, 2);
    mixed.add(RoleKind::consumer, 3);
    CHECK(mixed.connect(1, 4) == 0);
    CHECK(mixed.connect_fan_out(0, 2) == 1);
    CHECK(mixed.connect_fan_out(0, 3) == 2);
    CHECK(mixed.endpoints() == 2);
    CHECK(mixed.channels[1].endpoint == mixed.channels[2].endpoint);
    CHECK(mixed.fan_out_receivers() == 2);
    CHECK(mixed.sends_fan_out(0));
    CHECK_FALSE(mixed.sends_fan_out(1));
  }

  TEST_CASE("participants_for: fixed patterns ignore --procs, the others fit the machine or --procs") {
    const PatternSpec& pingpong = find_pattern("pingpong");
    const PatternSpec& stream = find_pattern("stream");
    CHECK(participants_for(pingpong, 0, 64) == 2);
    CHECK(participants_for(stream, 0, 1) == 2);
    CHECK(participants_for(find_pattern("fan-in"), 0, 2) == 3);
    CHECK(participants_for(find_pattern("mesh"), 0, 4) == 3);
    CHECK(participants_for(find_pattern("pipeline"), 0, 6) == 6);
    CHECK(participants_for(find_pattern("broadcast"), 0, 32) == 8);
    CHECK(participants_for(find_pattern("fan-out"), 5, 2) == 5);
    CHECK(participants_for(pingpong, 5, 2) == 2);
  }
}
