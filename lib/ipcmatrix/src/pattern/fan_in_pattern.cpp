// fan-in: N-1 producers feed one consumer, which drains its inputs in turn.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

namespace {
constexpr UseCase kUseCases[] = {
    {"Fan-in collection", UseCaseCells::closed_loop_smallest, Objective::highest_throughput,
     "closed loop, most msgs/s", 50},
};
}  // namespace

extern const PatternSpec kFanInPattern{
    .name = "fan-in",
    .description = "N-1 producers -> 1 consumer, which drains its inputs in turn",
    .participants = {.fixed = 0, .min = 2},
    .build =
        [](Topology& t, int procs) {
          t.add(RoleKind::producer, procs - 1);
          t.add(RoleKind::consumer, 1);
          for (int i = 0; i < procs - 1; ++i) t.connect(i, procs - 1);
        },
    .use_cases = kUseCases,
};

}  // namespace ipcmatrix
