#pragma once
/// @file topology.hpp
/// Who talks to whom in one cell. A topology is pure data built by a pattern (pattern.hpp):
/// the runner creates one channel per edge and one process per participant; the role loops
/// (roles.hpp) never know which pattern or mechanism they run in.

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
  /// Threads that wait on a channel: a mesh peer runs one per in channel plus its sender.
  [[nodiscard]] std::size_t threads() const noexcept {
    return role == RoleKind::peer ? ins.size() + 1 : 1;
  }
};

struct Edge {
  int from = 0, to = 0;
};

struct Topology {
  std::vector<Participant> participants;
  std::vector<Edge> channels;
  Distribution distribution = Distribution::round_robin;

  /// Appends n participants playing `role`.
  void add(RoleKind role, int n);
  /// Adds a channel from participant `from` to participant `to`; returns its index.
  int connect(int from, int to);
  /// For each in channel of participant p, in order, the participant that originated the
  /// messages arriving on it: followed back through forwarders and echoes.
  [[nodiscard]] std::vector<int> origins(std::size_t p) const;
  /// Deliveries (messages received at the end of their path, summed over receivers) when
  /// every originating participant emits `per_producer` measured messages: one per message
  /// under round_robin, one per out channel under all. Echoes and forwards are not new.
  [[nodiscard]] std::uint64_t deliveries(std::uint64_t per_producer) const noexcept;
  /// Participants that originate measured messages (producers, initiators, peers).
  [[nodiscard]] int originators() const noexcept;
};

}  // namespace ipcmatrix
