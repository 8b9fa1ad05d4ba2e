#include "ipcmatrix/transport/transport.hpp"

#include <algorithm>
#include <cstring>
#include <future>
#include <nlohmann/json.hpp>

#include "ipcmatrix/error.hpp"

namespace ipcmatrix {

std::string_view to_string(IoStatus s) noexcept {
  switch (s) {
    case IoStatus::ok: return "ok";
    case IoStatus::would_block: return "would_block";
    case IoStatus::timeout: return "timeout";
    case IoStatus::peer_closed: return "peer_closed";
    case IoStatus::error: return "error";
  }
  return "?";
}

std::string_view to_string(Role r) noexcept { return r == Role::sender ? "sender" : "receiver"; }

std::string to_text(const ChannelSpec& s) {
  nlohmann::json j{{"mechanism", s.mechanism}, {"name", s.name},
                   {"token", s.token},         {"port", s.port},
                   {"fd", s.fd},               {"aux_fd", s.aux_fd},
                   {"capacity_bytes", s.capacity_bytes},
                   {"msg_bytes", s.msg_bytes}, {"queue_messages", s.queue_messages},
                   {"io_threads", s.io_threads}, {"receivers", s.receivers},
                   {"wait", std::string(to_string(s.wait))},
                   {"spin_ns", s.spin_ns},     {"open_timeout_ms", s.open_timeout_ms}};
  return j.dump();
}

ChannelSpec channel_spec_from_text(std::string_view text) {
  try {
    const auto j = nlohmann::json::parse(text);
    ChannelSpec s;
    s.mechanism = j.at("mechanism").get<std::string>();
    s.name = j.at("name").get<std::string>();
    s.token = j.at("token").get<std::string>();
    s.port = j.at("port").get<int>();
    s.fd = j.at("fd").get<int>();
    s.aux_fd = j.at("aux_fd").get<int>();
    s.capacity_bytes = j.at("capacity_bytes").get<std::size_t>();
    s.msg_bytes = j.at("msg_bytes").get<std::size_t>();
    s.queue_messages = j.at("queue_messages").get<std::size_t>();
    s.io_threads = j.at("io_threads").get<int>();
    s.receivers = j.at("receivers").get<int>();
    const auto wait = parse_name<Wait>(j.at("wait").get<std::string>());
    if (!wait) throw Error("channel", "wait", "unknown wait strategy");
    s.wait = *wait;
    s.spin_ns = j.at("spin_ns").get<std::int64_t>();
    s.open_timeout_ms = j.at("open_timeout_ms").get<std::int64_t>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error("channel", "spec", std::string("malformed channel spec: ") + e.what());
  }
}

IoStatus Transport::send_gather(std::span<const GatherMessage> msgs) noexcept {
  for (const GatherMessage& m : msgs) {
    // Grows once to the largest message, then reuses its capacity: no allocation in a
    // steady stream.
    if (gather_stage_.size() < m.size()) {
      try {
        gather_stage_.resize(m.size());
      } catch (...) {
        return fail(std::make_error_code(std::errc::not_enough_memory));
      }
    }
    if (!m.head.empty()) std::memcpy(gather_stage_.data(), m.head.data(), m.head.size());
    if (!m.body.empty()) std::memcpy(gather_stage_.data() + m.head.size(), m.body.data(), m.body.size());
    if (const IoStatus s = send({gather_stage_.data(), m.size()}); s != IoStatus::ok) return s;
  }
  return IoStatus::ok;
}

IoStatus Transport::loan(std::size_t, LoanedSpace&) noexcept {
  return fail(std::make_error_code(std::errc::operation_not_supported));
}

IoStatus Transport::commit(bool) noexcept { return fail(std::make_error_code(std::errc::operation_not_supported)); }

IoStatus Transport::peek(MessageView&) noexcept { return fail(std::make_error_code(std::errc::operation_not_supported)); }

IoStatus Transport::try_recv(std::span<std::byte>, std::size_t& len) noexcept {
  len = 0;
  return fail(std::make_error_code(std::errc::operation_not_supported));
}

IoStatus Transport::send_batch(std::span<const std::span<const std::byte>> msgs) noexcept {
  for (auto m : msgs) {
    if (auto s = send(m); s != IoStatus::ok) return s;
  }
  return IoStatus::ok;
}

const TransportSpec& find_transport(std::string_view name) {
  std::string valid;
  for (const auto* t : all_transports()) {
    if (t->name == name) return *t;
    if (!valid.empty()) valid += ", ";
    valid += t->name;
  }
  throw Error("mechanism", name, "unknown mechanism (valid: " + valid + ")");
}

LocalPair open_local_pair(const TransportSpec& t, const ChannelOptions& opts) {
  LocalPair p;
  p.channel = t.create(opts);
  // Some mechanisms' receiver open waits for the sender to connect: open it on a thread.
  auto rx_spec = p.channel->take(Role::receiver);
  auto rx = std::async(std::launch::async, [&] { return t.open(rx_spec, Role::receiver); });
  p.sender = t.open(p.channel->take(Role::sender), Role::sender);
  p.receiver = rx.get();
  return p;
}

MessageLimit message_limit_of(const TransportSpec& t, std::size_t wanted_bytes) {
  if (t.message_limit) return t.message_limit(wanted_bytes);
  return {t.caps.max_msg_bytes, {}, {}};
}

SemanticsCard semantics_of(const TransportSpec& t) {
  SemanticsCard c = t.semantics;
  c.max_message_bytes = message_limit_of(t).bytes;
  c.shared_sender = t.caps.shared_sender;
  return c;
}

}  // namespace ipcmatrix
