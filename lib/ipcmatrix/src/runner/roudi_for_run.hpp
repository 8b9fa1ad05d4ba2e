#pragma once
// A run's own RouDi (iceoryx_roudi.hpp has the daemon's contract): started by run_matrix()
// before the first cell when the plan has iceoryx cells, with mempools fitted to them, and
// stopped when the run ends (normally, by a first Ctrl-C/SIGTERM, or by an exception: it is
// owned by run_matrix's scope; a second signal stops it through abort_owned_roudi()).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ipcmatrix/runner/plan.hpp"
#include "ipcmatrix/transport/iceoryx_roudi.hpp"

namespace ipcmatrix::detail {

/// The name of the mechanism that needs the daemon.
inline constexpr std::string_view kIceoryxMechanism = "iceoryx";

/// The cell's processes need the run's RouDi (its mechanism is iceoryx).
[[nodiscard]] bool needs_roudi(const Cell& c) noexcept;

/// The mempool bytes an iceoryx cell needs: kChunksPerChannel chunks of its largest message
/// for each of its channels.
[[nodiscard]] std::uint64_t roudi_pool_bytes(const Cell& c);

/// The mempools the iceoryx cells among `cells` need (those within iceoryx::kMaxPoolBytes). Pure.
[[nodiscard]] iceoryx::RoudiConfig roudi_config_for(const std::vector<Cell>& cells);

/// Starts the run's RouDi when `cells` has iceoryx cells. Cells it cannot serve (another RouDi
/// runs, the lock is held, a pool too large, the daemon failed) are removed from `cells`, with
/// one warning saying why. Records {"pid", "startup_ms", "pools", "pool_bytes", "lock"} or
/// {"skipped": why} under environment["iceoryx_roudi"]. nullptr when no daemon runs.
[[nodiscard]] std::unique_ptr<iceoryx::Roudi> start_run_roudi(std::vector<Cell>& cells, nlohmann::json& environment,
                                                              std::vector<std::string>& warnings);

}  // namespace ipcmatrix::detail
