#pragma once
/// @file semantics.hpp
/// A mechanism's semantics card: what a team deploying it must know besides its speed. Can an
/// event loop wait on it, does it keep message boundaries, what happens when the receiver
/// falls behind or dies, where the channel is visible and to whom, how large a message may
/// be, and which limits need a sysctl or root. Each TransportSpec carries one
/// (transport.hpp); `list` prints them, the results environment records them under
/// "mechanisms", and the report shows the card of each mechanism it picks.
///
/// The typed facts are checked by the conformance suite where a test can check them: a
/// pollable receiver's fd becomes readable when a message arrives, a mechanism that blocks
/// when full loses nothing to a slow receiver, a killed peer is reported, and a message of
/// max_message_bytes arrives. The text fields say how, for a reader.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "ipcmatrix/model/name_table.hpp"

namespace ipcmatrix {

/// Whether the receiving end offers a file descriptor that epoll, poll or an Asio loop can
/// wait on for "a message is ready".
enum class Pollable : std::uint8_t {
  fd,    ///< yes: the receiver's own fd becomes readable
  none,  ///< no: the receiver waits in its own call (a futex, a spin, a library's wait)
  /// only when a channel option asks for it (shm's --wait eventfd); poll_note says which
  opt_in,
};
inline constexpr NameTable<Pollable, 3> kPollableNames{
    {{{Pollable::fd, "fd"}, {Pollable::none, "none"}, {Pollable::opt_in, "fd with an option"}}}};
constexpr const auto& names_of(Pollable) noexcept { return kPollableNames; }

/// Whether one send arrives as one receive without framing by the user.
enum class Boundaries : std::uint8_t {
  kept,    ///< the mechanism delivers whole messages (a queue, a ring of frames, a datagram)
  framed,  ///< a byte stream: ipc-matrix writes a length before each message, as a user must
};
inline constexpr NameTable<Boundaries, 2> kBoundariesNames{
    {{{Boundaries::kept, "kept"}, {Boundaries::framed, "framed"}}}};
constexpr const auto& names_of(Boundaries) noexcept { return kBoundariesNames; }

/// What a send does when the receiver has fallen behind and the channel is full.
enum class WhenFull : std::uint8_t {
  blocks,        ///< the sender waits: nothing is lost (back-pressure)
  drops_newest,  ///< the message being sent is dropped
  drops_oldest,  ///< the oldest queued message is overwritten
  errors,        ///< the send fails and the caller decides
};
inline constexpr NameTable<WhenFull, 4> kWhenFullNames{{{{WhenFull::blocks, "blocks"},
                                                         {WhenFull::drops_newest, "drops newest"},
                                                         {WhenFull::drops_oldest, "drops oldest"},
                                                         {WhenFull::errors, "errors"}}}};
constexpr const auto& names_of(WhenFull) noexcept { return kWhenFullNames; }

/// Where the channel can be found by another process.
enum class Visibility : std::uint8_t {
  fd_only,      ///< nowhere: only a process handed the fd (inherited) has it
  path,         ///< a path in the file system
  global_name,  ///< a name in a machine-wide namespace (/dev/shm, /dev/mqueue)
  port,         ///< a TCP port: any process of the machine (or network) can connect
};
inline constexpr NameTable<Visibility, 4> kVisibilityNames{{{{Visibility::fd_only, "fd only"},
                                                             {Visibility::path, "path"},
                                                             {Visibility::global_name, "global name"},
                                                             {Visibility::port, "port"}}}};
constexpr const auto& names_of(Visibility) noexcept { return kVisibilityNames; }

struct SemanticsCard {
  Pollable pollable = Pollable::none;
  std::string poll_note;  ///< what to wait on, or why there is nothing
  Boundaries boundaries = Boundaries::framed;
  WhenFull when_full = WhenFull::blocks;
  std::string dead_peer;  ///< what a dead peer leaves behind and how the survivor learns of it
  Visibility visibility = Visibility::fd_only;
  std::string access;                   ///< who may open it: permissions, tokens
  std::uint64_t max_message_bytes = 0;  ///< the largest message ipc-matrix sends over it
  /// Several processes may send on one end at once (a multi-producer queue: fan-in-shared);
  /// filled from Capabilities::shared_sender like max_message_bytes
  bool shared_sender = false;
  std::string limits;  ///< limits that need a sysctl or root to raise

  /// Whether a slow or stuck receiver can make messages disappear.
  [[nodiscard]] bool may_lose() const noexcept { return when_full != WhenFull::blocks; }
  bool operator==(const SemanticsCard&) const = default;
};

/// JSON form: {"pollable", "poll_note", "boundaries", "when_full", "may_lose", "dead_peer",
/// "visibility", "access", "max_message_bytes", "shared_sender", "limits"}, enums by their
/// names.
void to_json(nlohmann::json& j, const SemanticsCard& c);
/// Reads that form; a missing key keeps its default, a bad one throws
/// std::invalid_argument naming it.
void from_json(const nlohmann::json& j, SemanticsCard& c);

/// One line for a report or `list`: "pollable fd (the socket); boundaries framed; full:
/// blocks; dead peer: ...".
[[nodiscard]] std::string summary_line(const SemanticsCard& c);

}  // namespace ipcmatrix
