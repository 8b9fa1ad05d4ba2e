#include "ipcmatrix/model/semantics.hpp"

#include <fmt/format.h>

#include "ipcmatrix/model/format_units.hpp"
#include "object_reader.hpp"

namespace ipcmatrix {

void to_json(nlohmann::json& j, const SemanticsCard& c) {
  j = {{"pollable", to_string(c.pollable)},     {"poll_note", c.poll_note}, {"boundaries", to_string(c.boundaries)},
       {"when_full", to_string(c.when_full)},   {"may_lose", c.may_lose()}, {"dead_peer", c.dead_peer},
       {"visibility", to_string(c.visibility)}, {"access", c.access},       {"max_message_bytes", c.max_message_bytes},
       {"shared_sender", c.shared_sender},      {"limits", c.limits}};
}

void from_json(const nlohmann::json& j, SemanticsCard& c) {
  const detail::ObjectReader r(j, "semantics");
  r.name("pollable", c.pollable);
  r.str("poll_note", c.poll_note);
  r.name("boundaries", c.boundaries);
  r.name("when_full", c.when_full);
  r.str("dead_peer", c.dead_peer);
  r.name("visibility", c.visibility);
  r.str("access", c.access);
  r.u64("max_message_bytes", c.max_message_bytes);
  r.boolean("shared_sender", c.shared_sender);
  r.str("limits", c.limits);
}

std::string summary_line(const SemanticsCard& c) {
  return fmt::format(
      "pollable: {} ({}); boundaries {}; when full: {}{}; dead peer: {}; visible: {} ({}); "
      "senders: {}; largest message {}; limits: {}",
      to_string(c.pollable), c.poll_note, to_string(c.boundaries), to_string(c.when_full),
      c.may_lose() ? " (messages can be lost)" : ", nothing lost", c.dead_peer, to_string(c.visibility), c.access,
      c.shared_sender ? "several processes may share one sending end" : "one per sending end",
      format_size(c.max_message_bytes), c.limits);
}

}  // namespace ipcmatrix
