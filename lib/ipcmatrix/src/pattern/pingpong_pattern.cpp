// pingpong: the initiator sends one message, the echo decodes, re-encodes and returns it;
// the round trip is recorded. Always closed loop and one message at a time.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

namespace {
constexpr UseCase kUseCases[] = {
    {"Latency-critical small messages", UseCaseCells::latency_smallest, Objective::lowest_p50,
     "lowest p50 round trip", 10},
};
}  // namespace

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
    .use_cases = kUseCases,
    .chart = ChartRole::latency,
};

}  // namespace ipcmatrix
