#pragma once
/// @file topology.hpp
/// Who talks to whom in each concurrency pattern. A topology is pure data: the runner
/// creates one channel per edge and one process per participant; the role loops
/// (roles.hpp) never know which pattern or mechanism they run in.

#include <string>
#include <string_view>
#include <vector>

namespace ipcmatrix {

/// What a participant does with its channels.
enum class RoleKind {
  initiator,  ///< pingpong: sends, waits for the echo, records the round trip
  echo,       ///< pingpong: receives, decodes, re-encodes, sends back
  producer,   ///< sends its messages over its out channels (see Distribution)
  consumer,   ///< receives from its in channels in turn until all are closed
  forwarder,  ///< pipeline stage: receive, decode, re-encode, forward; records per-hop latency
  peer,       ///< mesh: a producer thread and one receiver thread per in channel
};
[[nodiscard]] std::string_view to_string(RoleKind r) noexcept;

/// How a producer spreads messages over several out channels.
enum class Distribution {
  round_robin,  ///< message i goes to out[i % outs] (fan-out, mesh)
  all,          ///< every message goes to every out (broadcast)
};

struct Participant {
  RoleKind role;
  std::vector<int> outs;  ///< channel indexes this participant sends on
  std::vector<int> ins;   ///< channel indexes it receives on
};

struct Edge {
  int from = 0, to = 0;
};

struct Topology {
  std::string pattern;
  std::vector<Participant> participants;
  std::vector<Edge> channels;
  Distribution distribution = Distribution::round_robin;
  /// Deliveries (messages received, summed over receivers) for `per_producer` messages
  /// emitted by each sending participant, counting neither echoes nor forwards.
  [[nodiscard]] std::uint64_t deliveries(std::uint64_t per_producer) const;
};

/// Builds the topology for a pattern with `procs` participants (pingpong and stream
/// always use 2). Throws Error for an unknown pattern or too few participants.
[[nodiscard]] Topology make_topology(std::string_view pattern, int procs);

}  // namespace ipcmatrix
