// mesh: N peers, each sending round-robin to every other and receiving from all of them.
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix {

namespace {
constexpr UseCase kUseCases[] = {
    {"Many-to-many", UseCaseCells::closed_loop_smallest, Objective::highest_throughput, "closed loop, most msgs/s",
     70},
};
}  // namespace

extern const PatternSpec kMeshPattern{
    .name = "mesh",
    .description = "N peers, each sending to every other",
    .participants = {.fixed = 0, .min = 2},
    .build =
        [](Topology& t, int procs) {
          t.add(RoleKind::peer, procs);
          for (int i = 0; i < procs; ++i)
            for (int j = 0; j < procs; ++j)
              if (i != j) t.connect(i, j);
        },
    .use_cases = kUseCases,
};

}  // namespace ipcmatrix
