// Fuzz target: the results loader (what `report` and `compare` read), and the reporters
// that render what it accepts. Contract checked: bad input is a BadInput or a
// std::invalid_argument naming the field; whatever loads also renders.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "ipcmatrix/report/markdown.hpp"
#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/report/writers.hpp"
#include "ipcmatrix/util/json_file.hpp"

using namespace ipcmatrix;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  RunResult r;
  try {
    r = run_result_from_json(parse_json_text(text, kMaxResultsBytes, "results file"));
  } catch (const BadInput&) {
    return 0;
  } catch (const std::invalid_argument&) {
    return 0;
  }
  std::ostringstream csv;
  write_csv(csv, r);
  (void)markdown_report(r);
  return 0;
}
