// broadcast: one producer sends every message to each of N-1 consumers: the fan-out
// topology with every message on every channel.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

extern const PatternSpec kFanOutPattern;

extern const PatternSpec kBroadcastPattern{
    .name = "broadcast",
    .description = "1 producer sends every message to each of N-1 consumers",
    .participants = {.fixed = 0, .min = 2},
    .build =
        [](Topology& t, int procs) {
          kFanOutPattern.build(t, procs);
          t.distribution = Distribution::all;
        },
};

}  // namespace ipcmatrix
