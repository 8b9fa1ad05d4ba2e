#include "verify.hpp"

namespace ipcmatrix::detail {

std::string verify_deliveries(const Topology& topo, const std::vector<WorkerReport>& reports, const RunConfig& cfg,
                              std::uint64_t& dropped, std::uint64_t& lossy_sent) {
  dropped = lossy_sent = 0;
  if (reports.size() != topo.participants.size()) {
    return "expected " + std::to_string(topo.participants.size()) + " reports, got " + std::to_string(reports.size());
  }
  // A participant's out and in channels are reported in topology order, so the k-th out
  // channel of `from` is the k-th entry of its report's `sent`.
  std::vector<std::size_t> out_pos(topo.participants.size()), in_pos(topo.participants.size());
  for (const Edge& e : topo.channels) {
    const auto from = static_cast<std::size_t>(e.from), to = static_cast<std::size_t>(e.to);
    const std::string name = "channel " + std::to_string(e.from) + "->" + std::to_string(e.to);
    const auto& sent = reports[from].role.sent;
    const auto& received = reports[to].role.received;
    if (out_pos[from] >= sent.size() || in_pos[to] >= received.size()) return name + ": not reported by both ends";
    const ChannelCount& s = sent[out_pos[from]++];
    const ChannelCount& r = received[in_pos[to]++];
    if (topo.is_fan_out(e.endpoint)) {
      // r.count is one past the last sequence number seen; the gaps before it are r.dropped.
      if (r.count > s.count || r.dropped > r.count)
        return name + ": received sequence numbers up to " + std::to_string(r.count) + " of " +
               std::to_string(s.count) + " sent";
      // Nothing at all is not a subscriber that fell behind but one that never subscribed.
      if (s.count > 0 && r.count == r.dropped)
        return name + ": the subscriber received none of " + std::to_string(s.count) + " messages";
      dropped += s.count - (r.count - r.dropped);
      lossy_sent += s.count;
    } else if (s.count != r.count) {
      return name + ": sent " + std::to_string(s.count) + " messages, received " + std::to_string(r.count);
    }
    if (!r.in_order) return name + ": messages out of order, lost or duplicated";
    if (r.corrupted != 0) {
      return name + ": " + std::to_string(r.corrupted) + " message(s) with wrong content (corrupted bytes)";
    }
  }
  if (cfg.duration_s == 0) {
    std::uint64_t delivered = 0;
    for (const auto& r : reports) delivered += r.role.measured_received;
    const std::uint64_t want = topo.deliveries(cfg.messages);
    if (delivered != want && !(topo.fans_out() && delivered < want)) {
      return "expected " + std::to_string(want) + " measured deliveries, got " + std::to_string(delivered);
    }
  }
  return {};
}

}  // namespace ipcmatrix::detail
