// pipeline: a chain of N stages (source, N-2 forwarders, sink). Latency is end to end; the
// sink also records its last hop, and each forwarder records the hop into it.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

extern const PatternSpec kPipelinePattern{
    .name = "pipeline",
    .description = "a chain of N stages; each decodes, re-encodes and forwards",
    .participants = {.fixed = 0, .min = 2},  // two stages are a source and a sink
    .build =
        [](Topology& t, int procs) {
          t.add(RoleKind::producer, 1);
          t.add(RoleKind::forwarder, procs - 2);
          t.add(RoleKind::consumer, 1);
          for (int i = 0; i + 1 < procs; ++i) t.connect(i, i + 1);
        },
    .records_hops = true,
    .use_cases = {},
    .chart = ChartRole::none,
};

}  // namespace ipcmatrix
