// stream: one producer, one consumer, as fast as the consumer keeps up (or at --rate).
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

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
};

}  // namespace ipcmatrix
