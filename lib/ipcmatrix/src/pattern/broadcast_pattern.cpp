// broadcast: one producer sends every message to each of N-1 consumers: the fan-out
// topology with every message on every channel.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

extern const PatternSpec kFanOutPattern;

namespace {
constexpr UseCase kUseCases[] = {
    {"Broadcast", UseCaseCells::closed_loop_smallest, Objective::highest_throughput, "closed loop, most msgs/s", 60},
};
}  // namespace

extern const PatternSpec kBroadcastPattern{
    .name = "broadcast",
    .description = "1 producer sends every message to each of N-1 consumers",
    .participants = {.fixed = 0, .min = 2},
    .build =
        [](Topology& t, int procs) {
          kFanOutPattern.build(t, procs);
          t.distribution = Distribution::all;
        },
    .use_cases = kUseCases,
};

}  // namespace ipcmatrix
