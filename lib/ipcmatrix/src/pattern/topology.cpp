#include "ipcmatrix/pattern/topology.hpp"

#include <cstdint>

#include "ipcmatrix/error.hpp"

namespace ipcmatrix {

std::string_view to_string(RoleKind r) noexcept {
  switch (r) {
    case RoleKind::initiator: return "initiator";
    case RoleKind::echo: return "echo";
    case RoleKind::producer: return "producer";
    case RoleKind::consumer: return "consumer";
    case RoleKind::forwarder: return "forwarder";
    case RoleKind::peer: return "peer";
  }
  return "?";
}

namespace {
int connect(Topology& t, int from, int to) {
  t.channels.push_back({from, to});
  const int c = static_cast<int>(t.channels.size()) - 1;
  t.participants[from].outs.push_back(c);
  t.participants[to].ins.push_back(c);
  return c;
}
}  // namespace

std::uint64_t Topology::deliveries(std::uint64_t per_producer) const {
  if (pattern == "pingpong" || pattern == "pipeline" || pattern == "stream" || pattern == "fan-out")
    return per_producer;  // one source; echoes and forwards are not new messages
  if (pattern == "fan-in" || pattern == "mesh")
    return per_producer * (participants.size() - (pattern == "fan-in" ? 1 : 0));
  if (pattern == "broadcast") return per_producer * (participants.size() - 1);
  return 0;
}

Topology make_topology(std::string_view pattern, int procs) {
  Topology t;
  t.pattern = std::string(pattern);
  auto add = [&](RoleKind r, int n) {
    for (int i = 0; i < n; ++i) t.participants.push_back({r, {}, {}});
  };
  if (pattern == "pingpong") {
    add(RoleKind::initiator, 1);
    add(RoleKind::echo, 1);
    connect(t, 0, 1);
    connect(t, 1, 0);
    return t;
  }
  if (pattern == "stream") {
    add(RoleKind::producer, 1);
    add(RoleKind::consumer, 1);
    connect(t, 0, 1);
    return t;
  }
  // Two is enough for every N-process pattern (a pipeline of two is source and sink).
  constexpr int kMinProcs = 2;
  if (procs < kMinProcs)
    throw Error("pattern", pattern, "needs at least " + std::to_string(kMinProcs) + " participants");
  if (pattern == "fan-out" || pattern == "broadcast") {
    add(RoleKind::producer, 1);
    add(RoleKind::consumer, procs - 1);
    for (int i = 1; i < procs; ++i) connect(t, 0, i);
    t.distribution = pattern == "broadcast" ? Distribution::all : Distribution::round_robin;
    return t;
  }
  if (pattern == "fan-in") {
    add(RoleKind::producer, procs - 1);
    add(RoleKind::consumer, 1);
    for (int i = 0; i < procs - 1; ++i) connect(t, i, procs - 1);
    return t;
  }
  if (pattern == "pipeline") {
    add(RoleKind::producer, 1);
    add(RoleKind::forwarder, procs - 2);
    add(RoleKind::consumer, 1);
    for (int i = 0; i + 1 < procs; ++i) connect(t, i, i + 1);
    return t;
  }
  if (pattern == "mesh") {
    add(RoleKind::peer, procs);
    for (int i = 0; i < procs; ++i)
      for (int j = 0; j < procs; ++j)
        if (i != j) connect(t, i, j);
    return t;
  }
  throw Error("pattern", pattern,
              "unknown pattern (valid: pingpong, stream, fan-out, fan-in, pipeline, broadcast, mesh)");
}

}  // namespace ipcmatrix
