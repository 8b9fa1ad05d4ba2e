// fan-in: N-1 producers feed one consumer, over a channel each (`fan-in`) or over one
// endpoint they all send to (`fan-in-shared`). Both answer one question, so they share its
// use case and the summary picks between them.
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
    .description = "N-1 producers -> 1 consumer over a channel each, drained in turn",
    .participants = {.fixed = 0, .min = 2},
    .build =
        [](Topology& t, int procs) {
          t.add(RoleKind::producer, procs - 1);
          t.add(RoleKind::consumer, 1);
          for (int i = 0; i < procs - 1; ++i) t.connect(i, procs - 1);
        },
    .use_cases = kUseCases,
};

// The multi-producer queue a service with one socket for all its clients runs: the
// mechanism, not the consumer's loop, interleaves the producers. Only mechanisms whose
// sending end several processes may share (Capabilities::shared_sender) run it.
extern const PatternSpec kFanInSharedPattern{
    .name = "fan-in-shared",
    .description = "N-1 producers -> 1 consumer over one shared endpoint (a multi-producer queue)",
    .participants = {.fixed = 0, .min = 2},
    .build =
        [](Topology& t, int procs) {
          t.add(RoleKind::producer, procs - 1);
          t.add(RoleKind::consumer, 1);
          for (int i = 0; i < procs - 1; ++i) t.connect_shared(i, procs - 1);
        },
    .use_cases = kUseCases,
};

}  // namespace ipcmatrix
