// fan-out: one producer spreads its messages round-robin over N-1 consumers.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

namespace {
constexpr UseCase kUseCases[] = {
    {"Fan-out work distribution", UseCaseCells::closed_loop_smallest, Objective::highest_throughput,
     "closed loop, most msgs/s", 40},
};
}  // namespace

extern const PatternSpec kFanOutPattern{
    .name = "fan-out",
    .description = "1 producer spreads its messages round-robin over N-1 consumers",
    .participants = {.fixed = 0, .min = 2},
    .build =
        [](Topology& t, int procs) {
          t.add(RoleKind::producer, 1);
          t.add(RoleKind::consumer, procs - 1);
          for (int i = 1; i < procs; ++i) t.connect(0, i);
          t.distribution = Distribution::round_robin;
        },
    .use_cases = kUseCases,
};

}  // namespace ipcmatrix
