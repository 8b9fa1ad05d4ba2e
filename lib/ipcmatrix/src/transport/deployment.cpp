#include "ipcmatrix/transport/deployment.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "ipcmatrix/util/json_file.hpp"

namespace ipcmatrix {

namespace {

constexpr std::size_t kMaxDeploymentBytes = std::size_t{1} << 20;

[[noreturn]] void bad(const std::string& field, const std::string& what) {
  throw std::invalid_argument(field + ": " + what);
}

const nlohmann::json* field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string text(const nlohmann::json& j, const char* key, const std::string& path, bool required) {
  const nlohmann::json* v = field(j, key);
  if (v == nullptr) {
    if (required) bad(path + key, "missing");
    return {};
  }
  if (!v->is_string()) bad(path + key, "expected a string");
  return v->get<std::string>();
}

template <Named E>
void name(const nlohmann::json& j, const char* key, const std::string& path, E& out) {
  const nlohmann::json* v = field(j, key);
  if (v == nullptr) return;
  if (!v->is_string()) bad(path + key, "expected a string");
  try {
    out = parse_or_throw<E>(v->get_ref<const std::string&>());
  } catch (const std::invalid_argument& e) {
    bad(path + key, e.what());
  }
}

std::uint64_t count(const nlohmann::json& j, const char* key, const std::string& path, std::uint64_t fallback) {
  const nlohmann::json* v = field(j, key);
  if (v == nullptr) return fallback;
  // A parsed file holds non-negative integers as unsigned, a json built in code as signed.
  if (!v->is_number_integer() || (!v->is_number_unsigned() && v->get<std::int64_t>() < 0))
    bad(path + key, "expected a non-negative integer");
  return v->get<std::uint64_t>();
}

}  // namespace

Deployment deployment_from_json(const nlohmann::json& j) {
  if (!j.is_object()) bad("document", "expected an object");
  Deployment d;
  d.mechanism = text(j, "mechanism", "", true);
  const TransportSpec& mechanism = find_transport(d.mechanism);  // throws naming the registered ones
  d.serializer = text(j, "serializer", "", true);
  name(j, "api", "", d.api);
  const std::uint64_t batch = count(j, "batch", "", 1);
  if (batch < 1 || batch > 4096) bad("batch", "expected 1..4096");
  d.batch = static_cast<int>(batch);
  name(j, "placement", "", d.placement);
  // What a cell of this mechanism records when no wait is given.
  if (!mechanism.caps.spin_wait) d.channel.wait = Wait::kernel;
  if (const nlohmann::json* ch = field(j, "channel")) {
    if (!ch->is_object()) bad("channel", "expected an object");
    name(*ch, "wait", "channel.", d.channel.wait);
    if (mechanism.caps.spin_wait != is_chosen_wait(d.channel.wait))
      bad("channel.wait", fmt::format("{} {}, got {}", d.mechanism,
                                      mechanism.caps.spin_wait ? "waits spin, block or hybrid"
                                                               : "always sleeps in the kernel: expected kernel",
                                      to_string(d.channel.wait)));
    d.channel.spin_ns = static_cast<std::int64_t>(count(*ch, "spin_ns", "channel.", static_cast<std::uint64_t>(d.channel.spin_ns)));
    d.channel.capacity_bytes = count(*ch, "capacity_bytes", "channel.", 0);
    d.channel.pipe_bytes = count(*ch, "pipe_bytes", "channel.", 0);
    d.channel.queue_messages = count(*ch, "queue_messages", "channel.", 0);
    if (d.channel.queue_messages > kMaxQueueMessages)
      bad("channel.queue_messages", fmt::format("expected 0..{}", kMaxQueueMessages));
    const std::uint64_t threads = count(*ch, "io_threads", "channel.", 0);
    if (threads > static_cast<std::uint64_t>(kMaxIoThreads))
      bad("channel.io_threads", fmt::format("expected 0..{}", kMaxIoThreads));
    d.channel.io_threads = static_cast<int>(threads);
    // A publish/subscribe channel: each receiving process opens the same receiving end.
    const std::uint64_t receivers = count(*ch, "receivers", "channel.", 0);
    if (receivers == 1 || receivers > kMaxReceivers)
      bad("channel.receivers", fmt::format("expected 0 (one receiver) or 2..{}", kMaxReceivers));
    if (receivers >= 2 && !mechanism.caps.fan_out_endpoint)
      bad("channel.receivers", d.mechanism + " has one receiver per channel (no publish/subscribe)");
    d.channel.receivers = static_cast<int>(receivers);
    // What the mechanism itself would refuse (nng queues at most 8192 messages, ...).
    if (mechanism.preflight) {
      if (const std::string problem = mechanism.preflight(d.channel); !problem.empty()) bad("channel", problem);
    }
  }
  return d;
}

Deployment load_deployment(const std::string& path) {
  const nlohmann::json j = read_json_file(path, kMaxDeploymentBytes, "deployment config");
  try {
    return deployment_from_json(j);
  } catch (const std::exception& e) {
    throw BadInput(path + ": " + e.what());
  }
}

}  // namespace ipcmatrix
