#pragma once
/// @file deployment.hpp
/// A measured configuration to deploy, as written by `ipc-matrix recommend --emit-config`:
/// which mechanism and serializer, and the ChannelOptions to open it with. Loading it is the
/// first step towards measuring exactly what you deploy: the same options the matrix cell ran
/// with. Thread-safe (no shared state).
///
///   const Deployment d = load_deployment("ipc.json");
///   auto channel = find_transport(d.mechanism).create(d.channel);

#include <nlohmann/json.hpp>
#include <string>

#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

struct Deployment {
  std::string mechanism;   ///< a registered mechanism (find_transport)
  std::string serializer;  ///< a registered serializer (make_serializer)
  Api api = Api::copy;
  int batch = 1;
  Placement placement = Placement::unpinned;
  /// wait (Wait::kernel for a mechanism that cannot spin, else spin, block or hybrid), spin_ns,
  /// capacity_bytes (0 = the mechanism's default), pipe_bytes, queue_messages, io_threads,
  /// receivers (a publish/subscribe channel's, fan_out_endpoint mechanisms only).
  ChannelOptions channel;
};

/// Parses the emitted form; its names are the results file's (model/vocabulary.hpp), so a
/// cell's settings load as they were measured. An unknown mechanism, api, placement or wait,
/// a wait the mechanism cannot honour (kernel on shm; spin, block or hybrid on a mechanism
/// that always sleeps in the kernel) or a malformed field throws std::invalid_argument
/// naming the field.
[[nodiscard]] Deployment deployment_from_json(const nlohmann::json& j);
/// Reads a file of that form (at most 1 MiB). Throws BadInput naming the path.
[[nodiscard]] Deployment load_deployment(const std::string& path);

}  // namespace ipcmatrix
