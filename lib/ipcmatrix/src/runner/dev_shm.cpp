#include "ipcmatrix/runner/dev_shm.hpp"

#include <algorithm>
#include <limits>

#include "ipcmatrix/pattern/pattern.hpp"
#include "roudi_for_run.hpp"

namespace ipcmatrix {

std::uint64_t dev_shm_bytes_needed(const std::vector<Cell>& cells, const RunConfig& cfg) {
  constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();
  // The floor's bare ring (runner/floor.hpp), between cells.
  std::uint64_t largest = kDefaultRingBytes + kSegmentOverheadBytes;
  for (const Cell& c : cells) {
    if (!c.mechanism->caps.in_dev_shm) continue;
    const std::size_t channels = make_topology(*c.pattern, c.procs).channels.size();
    std::uint64_t ring = ring_bytes_for(c, cfg, channels, kUnlimited);
    if (ring == 0) ring = kDefaultRingBytes;  // the mechanism's own default (bipc-mq's is the ring's)
    largest = std::max(largest, (ring + kSegmentOverheadBytes) * channels);
  }
  std::uint64_t roudi = 0;
  if (std::any_of(cells.begin(), cells.end(),
                  [](const Cell& c) { return c.mechanism->name == detail::kIceoryxMechanism; })) {
    // Each chunk also carries iceoryx's chunk header: a kilobyte per chunk covers it.
    const iceoryx::RoudiConfig pools = detail::roudi_config_for(cells);
    std::uint64_t chunks = 0;
    for (const iceoryx::Mempool& p : pools.pools) chunks += p.count;
    roudi = kRoudiManagementBytes + pools.bytes() + chunks * 1024;
  }
  return roudi + largest;
}

}  // namespace ipcmatrix
