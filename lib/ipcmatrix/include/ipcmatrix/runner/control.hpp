#pragma once
/// @file control.hpp
/// The control channel between the coordinator and a worker: an inherited Unix socket
/// carrying JSON records, each prefixed by its 4-byte little-endian length.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

namespace ipcmatrix {

inline constexpr std::uint32_t kMaxControlRecord = 64u << 20;

/// Sends one record. Throws Error.
void send_record(int fd, const nlohmann::json& j);
/// Receives one record within timeout_ms; nullopt on a clean EOF or a timeout (timed_out
/// tells which). Throws Error on a malformed or oversized record.
std::optional<nlohmann::json> recv_record(int fd, std::int64_t timeout_ms, bool* timed_out = nullptr);

}  // namespace ipcmatrix
