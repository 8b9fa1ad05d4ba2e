// pingpong: the initiator sends one message, the echo decodes, re-encodes and returns it;
// the round trip is recorded. Always closed loop and one message at a time.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

extern const PatternSpec kPingpongPattern{
    .name = "pingpong",
    .description = "2 processes, request and echo (the echo decodes and re-encodes)",
    .participants = {.fixed = 2, .min = 2},
    .build =
        [](Topology& t, int) {
          t.add(RoleKind::initiator, 1);
          t.add(RoleKind::echo, 1);
          t.connect(0, 1);
          t.connect(1, 0);
        },
    .latency = LatencyKind::round_trip,
    .loop = LoopKind::closed,
    .batches = false,
};

}  // namespace ipcmatrix
