// broadcast: one producer sends every message to each of N-1 consumers.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

extern const PatternSpec kBroadcastPattern{
    .name = "broadcast",
    .description = "1 producer sends every message to each of N-1 consumers",
    .participants = {.fixed = 0, .min = 2},
    .build =
        [](Topology& t, int procs) {
          t.add(RoleKind::producer, 1);
          t.add(RoleKind::consumer, procs - 1);
          for (int i = 1; i < procs; ++i) t.connect(0, i);
          t.distribution = Distribution::all;
        },
};

}  // namespace ipcmatrix
