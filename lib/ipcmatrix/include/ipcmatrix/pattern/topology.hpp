#pragma once
/// @file topology.hpp
/// Who talks to whom in one cell. A topology is pure data built by a pattern (pattern.hpp):
/// the runner creates one channel per endpoint and one process per participant; the role
/// loops (roles.hpp) never know which pattern or mechanism they run in.
///
/// An edge (a logical channel: one sender, one receiver, its own sequence and checks) has an
/// endpoint, the channel the mechanism creates for it. Usually each edge has its own. A
/// receiver's in-edges may instead share one endpoint (connect_shared): every sender opens
/// the same sending end, the receiver opens it once, and tells the edges apart by the lane
/// each message carries (roles.hpp). That is a multi-producer queue, what a service with one
/// socket for all its clients runs; only mechanisms with Capabilities::shared_sender offer it.
/// Likewise a sender's out-edges may share one endpoint (connect_fan_out): it opens one
/// sending end and sends each message once, every receiver opens a receiving end of the
/// same channel and gets every message. That is publish/subscribe, which may drop at a slow
/// receiver; only mechanisms with Capabilities::fan_out_endpoint offer it.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ipcmatrix {

/// What a participant does with its channels.
enum class RoleKind : std::uint8_t {
  initiator,  ///< pingpong: sends, waits for the echo, records the round trip
  echo,       ///< pingpong: receives, decodes, re-encodes, sends back
  producer,   ///< sends its messages over its out channels (see Distribution)
  consumer,   ///< receives from its in channels in turn until all are closed
  forwarder,  ///< pipeline stage: receive, decode, re-encode, forward; records per-hop latency
  peer,       ///< mesh: a producer thread and one receiver thread per in channel
};
[[nodiscard]] std::string_view to_string(RoleKind r) noexcept;
/// True for the roles that create new measured messages (initiator, producer, peer); echoes
/// and forwarders only pass messages on.
[[nodiscard]] bool originates(RoleKind r) noexcept;

/// How a producer spreads messages over several out channels.
enum class Distribution : std::uint8_t {
  round_robin,  ///< message i goes to out[i % outs] (fan-out, mesh)
  all,          ///< every message goes to every out (broadcast)
};
[[nodiscard]] std::string_view to_string(Distribution d) noexcept;

struct Participant {
  RoleKind role = RoleKind::producer;
  std::vector<int> outs;  ///< channel indexes this participant sends on
  std::vector<int> ins;   ///< channel indexes it receives on
  int shared_in = -1;     ///< the endpoint its connect_shared() in-edges share; -1: none
  int shared_out = -1;    ///< the endpoint its connect_fan_out() out-edges share; -1: none
  /// Threads that wait on a channel: a mesh peer runs one per in channel plus its sender.
  [[nodiscard]] std::size_t threads() const noexcept {
    return role == RoleKind::peer ? ins.size() + 1 : 1;
  }
};

struct Edge {
  int from = 0, to = 0;
  int endpoint = 0;        ///< the created channel it travels over (Topology::endpoints())
  std::uint32_t lane = 0;  ///< its index among the edges sharing that endpoint (0 when alone)
};

struct Topology {
  std::vector<Participant> participants;
  std::vector<Edge> channels;
  Distribution distribution = Distribution::round_robin;

  /// Appends n participants playing `role`.
  void add(RoleKind role, int n);
  /// Adds a channel from participant `from` to participant `to`, over an endpoint of its
  /// own; returns its index.
  int connect(int from, int to);
  /// Adds a channel from `from` to `to` over the one endpoint that every connect_shared()
  /// edge into `to` shares (made by the first of them); returns its index.
  int connect_shared(int from, int to);
  /// Adds a channel from `from` to `to` over the one endpoint that every connect_fan_out()
  /// edge out of `from` shares (made by the first of them); returns its index.
  int connect_fan_out(int from, int to);
  /// How many channels the runner creates: one per distinct Edge::endpoint.
  [[nodiscard]] std::size_t endpoints() const noexcept { return endpoints_; }
  /// True when some edge was added by connect_shared(): the mechanism must let several
  /// processes send on one sending end (Capabilities::shared_sender).
  [[nodiscard]] bool shares_endpoints() const noexcept;
  /// True when some edge was added by connect_fan_out(): the mechanism must let several
  /// processes receive every message of one sending end (Capabilities::fan_out_endpoint).
  [[nodiscard]] bool fans_out() const noexcept;
  /// True when `endpoint` is a sender's fan-out endpoint (connect_fan_out): its channels are
  /// publish/subscribe, which may drop.
  [[nodiscard]] bool is_fan_out(int endpoint) const noexcept;
  /// The receivers of fan-out endpoint `endpoint` (ChannelOptions::receivers to create it
  /// with); 0 for an endpoint that does not fan out.
  [[nodiscard]] int fan_out_receivers(int endpoint) const noexcept;
  /// The most receivers any fan-out endpoint has; 0: none fans out.
  [[nodiscard]] int fan_out_receivers() const noexcept;
  /// True when participant p's out-edges all travel over one fan-out endpoint (it opens
  /// one sending end and sends each message once for all of them).
  [[nodiscard]] bool sends_fan_out(std::size_t p) const noexcept;
  /// True when participant p's in-edges all travel over one shared endpoint (it opens one
  /// receiving end for all of them).
  [[nodiscard]] bool receives_shared(std::size_t p) const noexcept;
  /// For each in channel of participant p, in order, the participant that originated the
  /// messages arriving on it: followed back through forwarders and echoes.
  [[nodiscard]] std::vector<int> origins(std::size_t p) const;
  /// Deliveries (messages received at the end of their path, summed over receivers) when
  /// every originating participant emits `per_producer` measured messages: one per message
  /// under round_robin, one per out channel under all. Echoes and forwards are not new.
  [[nodiscard]] std::uint64_t deliveries(std::uint64_t per_producer) const noexcept;
  /// Participants that originate measured messages (producers, initiators, peers).
  [[nodiscard]] int originators() const noexcept;

 private:
  std::size_t endpoints_ = 0;  // endpoints handed out so far
};

}  // namespace ipcmatrix
