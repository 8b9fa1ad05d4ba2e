#include "ipcmatrix/runner/protocol.hpp"

#include <array>
#include <utility>

#include <nlohmann/json.hpp>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/runner/control.hpp"
#include "ipcmatrix/serialize/message.hpp"
#include "ipcmatrix/stats/histogram_json.hpp"
#include "ipcmatrix/sys/process.hpp"

// The JSON mapping of every struct that crosses the control socket. The macros name each
// member once; enums travel as their to_string() names and unknown names throw.

namespace ipcmatrix::sys {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ClockCalibration, tsc, tsc0, mono0, mult)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Usage, user_s, sys_s, voluntary_ctx, involuntary_ctx, max_rss_kb)
}  // namespace ipcmatrix::sys

namespace ipcmatrix {

namespace {

std::string_view to_string(TaskKind k) noexcept { return k == TaskKind::role ? "role" : "idle_probe"; }

template <class E, std::size_t N>
E enum_from(const nlohmann::json& j, const std::array<E, N>& values, std::string_view what) {
  const auto name = j.get<std::string>();
  for (const E v : values)
    if (to_string(v) == name) return v;
  throw Error("protocol", name, "unknown " + std::string(what));
}

constexpr std::array kRoles = {RoleKind::initiator, RoleKind::echo,      RoleKind::producer,
                               RoleKind::consumer,  RoleKind::forwarder, RoleKind::peer};
constexpr std::array kDistributions = {Distribution::round_robin, Distribution::all};
constexpr std::array kContentModes = {ContentMode::random, ContentMode::text, ContentMode::records};
constexpr std::array kApis = {Api::copy, Api::loan};
constexpr std::array kVerifies = {Verify::full, Verify::sampled, Verify::off};
constexpr std::array kFaults = {Fault::none, Fault::corrupt, Fault::drop, Fault::duplicate};

constexpr std::array kTaskKinds = {TaskKind::role, TaskKind::idle_probe};

}  // namespace

void to_json(nlohmann::json& j, RoleKind r) { j = to_string(r); }
void from_json(const nlohmann::json& j, RoleKind& r) { r = enum_from(j, kRoles, "role"); }
void to_json(nlohmann::json& j, Distribution d) { j = to_string(d); }
void from_json(const nlohmann::json& j, Distribution& d) { d = enum_from(j, kDistributions, "distribution"); }
void to_json(nlohmann::json& j, ContentMode m) { j = to_string(m); }
void from_json(const nlohmann::json& j, ContentMode& m) { m = enum_from(j, kContentModes, "content mode"); }
void to_json(nlohmann::json& j, Api a) { j = to_string(a); }
void from_json(const nlohmann::json& j, Api& a) { a = enum_from(j, kApis, "api"); }
void to_json(nlohmann::json& j, Verify v) { j = to_string(v); }
void from_json(const nlohmann::json& j, Verify& v) { v = enum_from(j, kVerifies, "verify mode"); }
void to_json(nlohmann::json& j, Fault f) { j = to_string(f); }
void from_json(const nlohmann::json& j, Fault& f) { f = enum_from(j, kFaults, "fault"); }
void to_json(nlohmann::json& j, TaskKind k) { j = to_string(k); }
void from_json(const nlohmann::json& j, TaskKind& k) { k = enum_from(j, kTaskKinds, "task kind"); }

// Channel specs already have a flat text form (transport.hpp); the protocol reuses it.
void to_json(nlohmann::json& j, const ChannelSpec& s) { j = nlohmann::json::parse(to_text(s)); }
void from_json(const nlohmann::json& j, ChannelSpec& s) { s = channel_spec_from_text(j.dump()); }

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ChannelCount, count, in_order, corrupted, hashed, dropped)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RoleParams, role, distribution, index, origins, out_lanes, shared_in, shared_out, lossy, minimum_max_s, min_messages, size_bytes, serializer,
                                   zstd_level, content, seed, messages, warmup, duration_s, rate, batch,
                                   record_hops, api, verify, latency_sample, fault, fault_at)

namespace {
nlohmann::json optional_usage(const std::optional<sys::Usage>& u) { return u ? nlohmann::json(*u) : nlohmann::json(); }
std::optional<sys::Usage> optional_usage(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<sys::Usage>();
}
}  // namespace

// Not the macro: it defines inline functions, and these two are declared in the header for
// other translation units (the round-trip test).
void to_json(nlohmann::json& j, const WorkerTask& t) {
  j = {{"kind", t.kind}, {"params", t.params}, {"cpu", t.cpu}, {"clock", t.clock}, {"outs", t.outs}, {"ins", t.ins}};
}

void from_json(const nlohmann::json& j, WorkerTask& t) {
  j.at("kind").get_to(t.kind);
  j.at("params").get_to(t.params);
  j.at("cpu").get_to(t.cpu);
  j.at("clock").get_to(t.clock);
  j.at("outs").get_to(t.outs);
  j.at("ins").get_to(t.ins);
}

void to_json(nlohmann::json& j, const RoleReport& r) {
  j = {{"sent", r.sent},
       {"received", r.received},
       {"latency", to_json(*r.latency)},
       {"uncorrected", to_json(*r.uncorrected)},
       {"hop", to_json(*r.hop)},
       {"encode_ns", r.encode_ns},
       {"encode_samples", r.encode_samples},
       {"decode_ns", r.decode_ns},
       {"decode_samples", r.decode_samples},
       {"wire_bytes", r.wire_bytes},
       {"wire_msgs", r.wire_msgs},
       {"measured_sent", r.measured_sent},
       {"measured_received", r.measured_received},
       {"loan_fallbacks", r.loan_fallbacks},
       {"first_send_ns", r.first_send_ns},
       {"first_recv_ns", r.first_recv_ns},
       {"last_recv_ns", r.last_recv_ns},
       {"window_msgs", r.window_msgs},
       {"negative_diffs", r.negative_diffs},
       {"most_negative_ns", r.most_negative_ns},
       {"pacer_spin_ns", r.pacer_spin_ns},
       {"usage_start", optional_usage(r.usage_start)},
       {"usage_end", optional_usage(r.usage_end)},
       {"phase_start_ns", r.phase_start_ns},
       {"phase_end_ns", r.phase_end_ns},
       {"error", r.error}};
}

void from_json(const nlohmann::json& j, RoleReport& r) {
  j.at("sent").get_to(r.sent);
  j.at("received").get_to(r.received);
  *r.latency = histogram_from_json(j.at("latency"));
  *r.uncorrected = histogram_from_json(j.at("uncorrected"));
  *r.hop = histogram_from_json(j.at("hop"));
  j.at("encode_ns").get_to(r.encode_ns);
  j.at("encode_samples").get_to(r.encode_samples);
  j.at("decode_ns").get_to(r.decode_ns);
  j.at("decode_samples").get_to(r.decode_samples);
  j.at("wire_bytes").get_to(r.wire_bytes);
  j.at("wire_msgs").get_to(r.wire_msgs);
  j.at("measured_sent").get_to(r.measured_sent);
  j.at("measured_received").get_to(r.measured_received);
  j.at("loan_fallbacks").get_to(r.loan_fallbacks);
  j.at("first_send_ns").get_to(r.first_send_ns);
  j.at("first_recv_ns").get_to(r.first_recv_ns);
  j.at("last_recv_ns").get_to(r.last_recv_ns);
  j.at("window_msgs").get_to(r.window_msgs);
  j.at("negative_diffs").get_to(r.negative_diffs);
  j.at("most_negative_ns").get_to(r.most_negative_ns);
  j.at("pacer_spin_ns").get_to(r.pacer_spin_ns);
  r.usage_start = optional_usage(j.at("usage_start"));
  r.usage_end = optional_usage(j.at("usage_end"));
  j.at("phase_start_ns").get_to(r.phase_start_ns);
  j.at("phase_end_ns").get_to(r.phase_end_ns);
  j.at("error").get_to(r.error);
}

void to_json(nlohmann::json& j, const WorkerReport& r) {
  j = {{"role", nlohmann::json(r.role)}, {"usage", r.usage}, {"cpu", r.cpu}, {"wall_s", r.wall_s}};
}

void from_json(const nlohmann::json& j, WorkerReport& r) {
  from_json(j.at("role"), r.role);
  j.at("usage").get_to(r.usage);
  j.at("cpu").get_to(r.cpu);
  j.at("wall_s").get_to(r.wall_s);
}

namespace {

constexpr std::string_view kTask = "task";
constexpr std::string_view kStart = "start";
constexpr std::string_view kReady = "ready";
constexpr std::string_view kReport = "report";
constexpr std::string_view kFailure = "failure";

void send_typed(int fd, std::string_view type, nlohmann::json body) {
  send_record(fd, {{"type", type}, {"body", std::move(body)}});
}

// A record's type and body; a record that is not of this shape is a protocol error.
std::pair<std::string, nlohmann::json> split(nlohmann::json record) {
  if (!record.is_object() || !record.contains("type") || !record.at("type").is_string() || !record.contains("body"))
    throw Error("protocol", "record", "a control record must be {\"type\": ..., \"body\": ...}");
  return {record.at("type").get<std::string>(), std::move(record.at("body"))};
}

// nlohmann reports a missing key or a wrong type as its own exception; the protocol's
// callers expect Error naming the record.
template <class T>
T body_as(const nlohmann::json& body, std::string_view type) {
  try {
    T value;
    from_json(body, value);
    return value;
  } catch (const nlohmann::json::exception& e) {
    throw Error("protocol", type, std::string("malformed record: ") + e.what());
  } catch (const std::invalid_argument& e) {
    throw Error("protocol", type, std::string("malformed record: ") + e.what());
  }
}

}  // namespace

void send_task(int fd, const WorkerTask& task) { send_typed(fd, kTask, task); }
void send_start(int fd) { send_typed(fd, kStart, nlohmann::json::object()); }
void send_ready(int fd) { send_typed(fd, kReady, {{"pid", sys::current_pid()}}); }
void send_report(int fd, const WorkerReport& report) { send_typed(fd, kReport, report); }
void send_failure(int fd, std::string_view error) { send_typed(fd, kFailure, {{"error", error}}); }

std::optional<WorkerTask> recv_task(int fd, std::int64_t timeout_ms) {
  auto record = recv_record(fd, timeout_ms);
  if (!record) return std::nullopt;
  auto [type, body] = split(std::move(*record));
  if (type != kTask) throw Error("protocol", type, "expected a task");
  return body_as<WorkerTask>(body, type);
}

bool recv_start(int fd, std::int64_t timeout_ms) {
  auto record = recv_record(fd, timeout_ms);
  return record && split(std::move(*record)).first == kStart;
}

std::optional<WorkerReply> recv_reply(int fd, std::int64_t timeout_ms, bool* timed_out) {
  auto record = recv_record(fd, timeout_ms, timed_out);
  if (!record) return std::nullopt;
  auto [type, body] = split(std::move(*record));
  WorkerReply reply;
  try {
    if (type == kReady) {
      reply.kind = WorkerReply::Kind::ready;
      reply.pid = body.at("pid").get<int>();
    } else if (type == kReport) {
      reply.kind = WorkerReply::Kind::report;
      reply.report = body_as<WorkerReport>(body, type);
    } else if (type == kFailure) {
      reply.kind = WorkerReply::Kind::failure;
      reply.error = body.at("error").get<std::string>();
    } else {
      throw Error("protocol", type, "unexpected record from a worker");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error("protocol", type, std::string("malformed record: ") + e.what());
  }
  return reply;
}

}  // namespace ipcmatrix
