// Fuzz target: the preset loader, from the bytes of a file to a validated RunConfig.
// Contract checked: bad input is a BadInput or a UsageError (exit 2 in the tool), nothing else.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/presets.hpp"
#include "ipcmatrix/util/json_file.hpp"

using namespace ipcmatrix;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json preset = parse_json_text(text, kMaxPresetBytes, "preset", /*allow_comments=*/true);
    RunConfig cfg;
    apply_preset(cfg, preset);
    validate(cfg);
  } catch (const BadInput&) {
  } catch (const UsageError&) {
  }
  return 0;
}
