// broadcast: one producer sends every message to each of N-1 consumers, over a channel each
// (`broadcast`: the fan-out topology with every message on every channel, nothing lost) or
// published once on one endpoint they all subscribe to (`broadcast-shared`: publish/
// subscribe, where a consumer that falls behind loses messages, counted). Both answer one
// question, so they share its use case; the summary picks only from cells that lost nothing.
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

// The publish/subscribe a team reaches for first (ZeroMQ PUB/SUB, nng pub0/sub0): one send
// reaches every subscriber. Only mechanisms whose channel takes several receivers
// (Capabilities::fan_out_endpoint) run it.
extern const PatternSpec kBroadcastSharedPattern{
    .name = "broadcast-shared",
    .description = "1 producer publishes every message once to one endpoint N-1 consumers subscribe to (may drop, "
                   "counted)",
    .participants = {.fixed = 0, .min = 3},
    .build =
        [](Topology& t, int procs) {
          t.add(RoleKind::producer, 1);
          t.add(RoleKind::consumer, procs - 1);
          for (int i = 1; i < procs; ++i) t.connect_fan_out(0, i);
          t.distribution = Distribution::all;
        },
    .use_cases = kUseCases,
};

}  // namespace ipcmatrix
