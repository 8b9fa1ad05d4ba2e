#include "ipcmatrix/pattern/topology.hpp"

#include <algorithm>

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

bool originates(RoleKind r) noexcept {
  return r == RoleKind::initiator || r == RoleKind::producer || r == RoleKind::peer;
}

std::string_view to_string(Distribution d) noexcept {
  switch (d) {
    case Distribution::round_robin: return "round_robin";
    case Distribution::all: return "all";
  }
  return "?";
}

void Topology::add(RoleKind role, int n) {
  for (int i = 0; i < n; ++i) participants.push_back({role, {}, {}, -1, -1});
}

int Topology::connect(int from, int to) {
  channels.push_back({from, to, static_cast<int>(endpoints_++), 0});
  const int c = static_cast<int>(channels.size()) - 1;
  participants[static_cast<std::size_t>(from)].outs.push_back(c);
  participants[static_cast<std::size_t>(to)].ins.push_back(c);
  return c;
}

int Topology::connect_shared(int from, int to) {
  Participant& dest = participants[static_cast<std::size_t>(to)];
  if (dest.shared_in < 0) dest.shared_in = static_cast<int>(endpoints_++);
  std::uint32_t lane = 0;
  for (const int ch : dest.ins) lane += channels[static_cast<std::size_t>(ch)].endpoint == dest.shared_in ? 1 : 0;
  channels.push_back({from, to, dest.shared_in, lane});
  const int c = static_cast<int>(channels.size()) - 1;
  participants[static_cast<std::size_t>(from)].outs.push_back(c);
  dest.ins.push_back(c);
  return c;
}

int Topology::connect_fan_out(int from, int to) {
  Participant& src = participants[static_cast<std::size_t>(from)];
  if (src.shared_out < 0) src.shared_out = static_cast<int>(endpoints_++);
  channels.push_back({from, to, src.shared_out, 0});
  const int c = static_cast<int>(channels.size()) - 1;
  src.outs.push_back(c);
  participants[static_cast<std::size_t>(to)].ins.push_back(c);
  return c;
}

bool Topology::fans_out() const noexcept {
  return std::any_of(participants.begin(), participants.end(), [](const Participant& p) { return p.shared_out >= 0; });
}

bool Topology::is_fan_out(int endpoint) const noexcept {
  return endpoint >= 0 && std::any_of(participants.begin(), participants.end(),
                                      [&](const Participant& p) { return p.shared_out == endpoint; });
}

int Topology::fan_out_receivers(int endpoint) const noexcept {
  for (const Participant& p : participants) {
    if (p.shared_out != endpoint || endpoint < 0) continue;
    return static_cast<int>(std::count_if(p.outs.begin(), p.outs.end(), [&](int ch) {
      return channels[static_cast<std::size_t>(ch)].endpoint == endpoint;
    }));
  }
  return 0;
}

int Topology::fan_out_receivers() const noexcept {
  int most = 0;
  for (const Participant& p : participants) most = std::max(most, fan_out_receivers(p.shared_out));
  return most;
}

bool Topology::sends_fan_out(std::size_t p) const noexcept {
  const Participant& part = participants[p];
  if (part.shared_out < 0 || part.outs.empty()) return false;
  return std::all_of(part.outs.begin(), part.outs.end(), [&](int ch) {
    return channels[static_cast<std::size_t>(ch)].endpoint == part.shared_out;
  });
}

bool Topology::shares_endpoints() const noexcept {
  return std::any_of(participants.begin(), participants.end(), [](const Participant& p) { return p.shared_in >= 0; });
}

bool Topology::receives_shared(std::size_t p) const noexcept {
  const Participant& part = participants[p];
  if (part.shared_in < 0 || part.ins.empty()) return false;
  return std::all_of(part.ins.begin(), part.ins.end(), [&](int ch) {
    return channels[static_cast<std::size_t>(ch)].endpoint == part.shared_in;
  });
}

std::vector<int> Topology::origins(std::size_t p) const {
  std::vector<int> out;
  for (const int ch : participants[p].ins) {
    int from = channels[static_cast<std::size_t>(ch)].from;
    // Bounded: a well-formed topology reaches an originator in fewer hops than participants.
    for (std::size_t hops = 0; hops < participants.size(); ++hops) {
      const Participant& hop = participants[static_cast<std::size_t>(from)];
      if (originates(hop.role) || hop.ins.empty()) break;
      from = channels[static_cast<std::size_t>(hop.ins[0])].from;
    }
    out.push_back(from);
  }
  return out;
}

std::uint64_t Topology::deliveries(std::uint64_t per_producer) const noexcept {
  std::uint64_t n = 0;
  for (const Participant& p : participants) {
    if (!originates(p.role)) continue;
    n += per_producer * (distribution == Distribution::all ? p.outs.size() : 1);
  }
  return n;
}

int Topology::originators() const noexcept {
  int n = 0;
  for (const Participant& p : participants) n += originates(p.role) ? 1 : 0;
  return n;
}

}  // namespace ipcmatrix
