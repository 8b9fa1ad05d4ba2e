// The worker protocol: every struct that crosses the control socket survives a JSON round
// trip, a real child process speaks it end to end, and malformed records are refused.
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/runner/control.hpp"
#include "ipcmatrix/runner/protocol.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "support/test_support.hpp"

using namespace ipcmatrix;

namespace {

WorkerTask sample_task() {
  WorkerTask t;
  t.kind = TaskKind::role;
  t.params.role = RoleKind::forwarder;
  t.params.distribution = Distribution::all;
  t.params.index = 3;
  t.params.size_bytes = 65536;
  t.params.serializer = "zstd+json";
  t.params.zstd_level = 7;
  t.params.content = ContentMode::text;
  t.params.seed = 42;
  t.params.messages = 1234;
  t.params.warmup = 56;
  t.params.duration_s = 2.5;
  t.params.rate = 1e5;
  t.params.batch = 16;
  t.params.record_hops = true;
  t.cpu = 1;
  t.clock = {true, 123456789, 987654321, 4242};
  ChannelSpec out;
  out.mechanism = "shm";
  out.name = "ipcm-abc";
  out.wait = Wait::spin;
  out.spin_ns = 1000;
  ChannelSpec in;
  in.mechanism = "unix";
  in.name = "/tmp/x/sock";
  in.token = "t0k";
  in.fd = 7;
  in.aux_fd = 9;
  t.outs = {out};
  t.ins = {in, in};
  return t;
}

WorkerReport sample_report() {
  WorkerReport r;
  r.role.sent = {{10, true, 0, 0}};
  r.role.received = {{7, false, 2, 5}, {3, true, 0, 1}};
  r.role.latency->record(1500);
  r.role.latency->record(250'000);
  r.role.uncorrected->record(42);
  r.role.hop->record(7);
  r.role.encode_ns = 11;
  r.role.encode_samples = 2;
  r.role.decode_ns = 13;
  r.role.decode_samples = 3;
  r.role.wire_bytes = 8800;
  r.role.wire_msgs = 100;
  r.role.measured_sent = 100;
  r.role.measured_received = 98;
  r.role.first_send_ns = 1'000;
  r.role.last_recv_ns = 9'000;
  r.role.error = "recv on channel 0: timeout";
  r.usage = {0.5, 0.25, 12, 3, 4096};
  r.cpu = 1;
  r.wall_s = 0.75;
  return r;
}

void check_same(const WorkerReport& a, const WorkerReport& b) {
  CHECK(nlohmann::json(a) == nlohmann::json(b));
  CHECK(*a.role.latency == *b.role.latency);
  CHECK(*a.role.hop == *b.role.hop);
  CHECK(a.role.received.size() == b.role.received.size());
  CHECK(a.role.received[0].in_order == b.role.received[0].in_order);
  CHECK(a.usage.max_rss_kb == b.usage.max_rss_kb);
  CHECK(a.role.error == b.role.error);
}

}  // namespace

TEST_SUITE("runner protocol") {
  TEST_CASE("protocol: a task survives a JSON round trip field for field") {
    const WorkerTask t = sample_task();
    const nlohmann::json j = t;
    const WorkerTask back = j.get<WorkerTask>();
    CHECK(nlohmann::json(back) == j);
    CHECK(back.params.role == RoleKind::forwarder);
    CHECK(back.params.distribution == Distribution::all);
    CHECK(back.params.content == ContentMode::text);
    CHECK(back.params.record_hops);
    CHECK(back.clock.mult == 4242);
    REQUIRE(back.ins.size() == 2);
    CHECK(back.ins[1].token == "t0k");
    CHECK(back.ins[1].fd == 7);
    CHECK(back.ins[1].aux_fd == 9);
    CHECK(back.outs[0].aux_fd == -1);
    CHECK(back.outs[0].wait == Wait::spin);
    CHECK(j.at("params").at("role") == "forwarder");  // enums travel as names
  }

  TEST_CASE("protocol: a report survives a JSON round trip, histograms included") {
    const WorkerReport r = sample_report();
    const WorkerReport back = nlohmann::json(r).get<WorkerReport>();
    check_same(r, back);
    CHECK(back.role.latency->count() == 2);
  }

  TEST_CASE("protocol: a missing key, a wrong type or an unknown enum name is an error") {
    nlohmann::json j = sample_task();
    j.at("params").erase("seed");
    CHECK_THROWS((void)j.get<WorkerTask>());
    j = sample_task();
    j["params"]["role"] = "spectator";
    CHECK_THROWS_AS((void)j.get<WorkerTask>(), Error);
    j = sample_task();
    j["cpu"] = "one";
    CHECK_THROWS((void)j.get<WorkerTask>());
  }

  TEST_CASE("protocol: a real child process receives its task and reports back") {
    sys::Fd parent_end, child_end;
    sys::make_socketpair(parent_end, child_end);
    const int cfd = child_end.get();
    auto child = sys::fork_child([cfd] {
      const auto task = recv_task(cfd, 10'000);
      if (!task) return 10;
      send_ready(cfd);
      if (!recv_start(cfd, 10'000)) return 11;
      WorkerReport r = sample_report();
      r.role.measured_sent = task->params.messages;  // proves the task arrived intact
      r.role.error = task->params.serializer;
      send_report(cfd, r);
      return 0;
    });
    child_end.reset();
    send_task(parent_end.get(), sample_task());
    auto ready = recv_reply(parent_end.get(), 10'000);
    REQUIRE(ready);
    CHECK(ready->kind == WorkerReply::Kind::ready);
    CHECK(ready->pid == child.pid());
    send_start(parent_end.get());
    auto report = recv_reply(parent_end.get(), 10'000);
    REQUIRE(report);
    REQUIRE(report->kind == WorkerReply::Kind::report);
    CHECK(report->report.role.measured_sent == 1234);
    CHECK(report->report.role.error == "zstd+json");
    CHECK(report->report.role.latency->count() == 2);
    const auto st = child.wait_for(std::chrono::milliseconds(10'000));
    REQUIRE(st);
    CHECK(st->ok());
    CHECK(test::no_children_left());
  }

  TEST_CASE("protocol: a failure record reaches the coordinator, a malformed one is refused") {
    sys::Fd a, b;
    sys::make_socketpair(a, b);
    send_failure(b.get(), "cannot open channel");
    auto f = recv_reply(a.get(), 1000);
    REQUIRE(f);
    CHECK(f->kind == WorkerReply::Kind::failure);
    CHECK(f->error == "cannot open channel");

    send_record(b.get(), {{"type", "report"}, {"body", nlohmann::json::object()}});
    CHECK_THROWS_AS((void)recv_reply(a.get(), 1000), Error);
    send_record(b.get(), {{"kind", "report"}});
    CHECK_THROWS_AS((void)recv_reply(a.get(), 1000), Error);
    send_record(b.get(), {{"type", "gossip"}, {"body", nlohmann::json::object()}});
    CHECK_THROWS_AS((void)recv_reply(a.get(), 1000), Error);
    send_start(b.get());
    CHECK_THROWS_AS((void)recv_task(a.get(), 1000), Error);
  }
}
