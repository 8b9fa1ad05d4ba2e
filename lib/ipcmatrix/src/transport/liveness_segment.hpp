#pragma once
// The companion /dev/shm segment "<channel>-live" that holds a LivenessBlock for the
// mechanisms whose channel object has no room for one (the queues: bipc-mq, posix-mq).
// Written once here for both; the shm ring keeps its block inside its own segment.

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <new>
#include <string>
#include <string_view>
#include <system_error>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "liveness.hpp"

namespace ipcmatrix::detail {

/// The companion segment's name for the channel named `channel`.
inline std::string liveness_segment_name(const std::string& channel) { return channel + "-live"; }

/// A Boost.Interprocess failure as an Error naming the mechanism, the object and the step.
inline Error interprocess_error(const boost::interprocess::interprocess_exception& e, std::string_view component,
                                const std::string& name, std::string_view what) {
  return Error(std::error_code(e.get_native_error(), std::generic_category()), component, name,
               std::string(what) + ": " + e.what());
}

/// Creates the companion segment exclusively (fail closed: a taken name is someone else's),
/// mode 0600, reserves its page (a full /dev/shm is an Error here, not a SIGBUS in whichever
/// end touches it first) and constructs a LivenessBlock in it. Sets `created` as soon as
/// the segment exists, so a caller that catches removes exactly what it made. Throws
/// boost::interprocess::interprocess_exception or Error.
inline void create_liveness_segment(const std::string& channel, std::string_view component, bool& created) {
  namespace bip = boost::interprocess;
  bip::permissions perm;
  perm.set_permissions(0600);
  const std::string name = liveness_segment_name(channel);
  bip::shared_memory_object live(bip::create_only, name.c_str(), bip::read_write, perm);
  created = true;
  live.truncate(sizeof(LivenessBlock));
  sys::reserve_shared_memory(live.get_mapping_handle().handle, sizeof(LivenessBlock), component, name);
  bip::mapped_region r(live, bip::read_write);
  new (r.get_address()) LivenessBlock{};
}

/// Maps the existing companion segment of `channel`. Throws
/// boost::interprocess::interprocess_exception.
inline boost::interprocess::mapped_region map_liveness_segment(const std::string& channel) {
  namespace bip = boost::interprocess;
  bip::shared_memory_object live(bip::open_only, liveness_segment_name(channel).c_str(), bip::read_write);
  return bip::mapped_region(live, bip::read_write);
}

inline void remove_liveness_segment(const std::string& channel) noexcept {
  boost::interprocess::shared_memory_object::remove(liveness_segment_name(channel).c_str());
}

}  // namespace ipcmatrix::detail
