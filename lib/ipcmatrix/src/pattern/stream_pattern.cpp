// stream: one producer, one consumer, as fast as the consumer keeps up (or at --rate).
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

namespace {
constexpr UseCase kUseCases[] = {
    {"Bulk transfer", UseCaseCells::closed_loop_largest_64k, Objective::highest_throughput,
     "closed loop, most msgs/s", 30},
    {"Low CPU budget", UseCaseCells::fixed_rate_smallest, Objective::lowest_cpu_per_msg,
     "least CPU per message", 80},
};
}  // namespace

extern const PatternSpec kStreamPattern{
    .name = "stream",
    .description = "1 producer -> 1 consumer, as fast as the consumer keeps up (or at --rate)",
    .participants = {.fixed = 2, .min = 2},
    .build =
        [](Topology& t, int) {
          t.add(RoleKind::producer, 1);
          t.add(RoleKind::consumer, 1);
          t.connect(0, 1);
        },
    .use_cases = kUseCases,
    .chart = ChartRole::throughput,
};

}  // namespace ipcmatrix
