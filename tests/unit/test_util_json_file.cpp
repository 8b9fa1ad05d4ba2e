// util/json_file: a file the user handed us, read and parsed as it is read; the elements of a
// streamed top-level array handed over one at a time and not kept.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "ipcmatrix/util/json_file.hpp"

namespace fs = std::filesystem;
using ipcmatrix::BadInput;
using ipcmatrix::read_json_file;
using ipcmatrix::StreamedArray;

namespace {

struct TempFile {
  fs::path path = fs::temp_directory_path() / ("ipcmatrix-json-file-test-" + std::to_string(::getpid()) + ".json");
  explicit TempFile(const std::string& text) { std::ofstream(path) << text; }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { fs::remove(path); }
};

/// What read_json_file hands over and keeps, streaming `key`.
struct Streamed {
  std::vector<std::pair<std::size_t, nlohmann::json>> got;
  nlohmann::json kept;
};

Streamed read_streaming(const std::string& text, std::string_view key, std::size_t max_bytes = 1 << 20) {
  const TempFile f(text);
  Streamed s;
  const StreamedArray streamed{key, [&](std::size_t i, nlohmann::json&& e) { s.got.emplace_back(i, std::move(e)); }};
  s.kept = read_json_file(f.path.string(), max_bytes, "test file", false, &streamed);
  return s;
}

}  // namespace

TEST_SUITE("util") {
  TEST_CASE("json_file: a streamed array's elements are handed over in order and not kept") {
    const Streamed s = read_streaming(
        R"({"before": {"cells": [9]}, "cells": [{"a": [1, {"b": 2}]}, 3, [4, 5], "six", null], "after": 7})", "cells");
    REQUIRE(s.got.size() == 5);
    for (std::size_t i = 0; i < s.got.size(); ++i) CHECK(s.got[i].first == i);
    CHECK(s.got[0].second == nlohmann::json::parse(R"({"a": [1, {"b": 2}]})"));
    CHECK(s.got[1].second == 3);
    CHECK(s.got[2].second == nlohmann::json::parse("[4, 5]"));
    CHECK(s.got[3].second == "six");
    CHECK(s.got[4].second.is_null());
    // The rest is kept as it was, a nested "cells" included; the streamed array is empty.
    CHECK(s.kept == nlohmann::json::parse(R"({"before": {"cells": [9]}, "cells": [], "after": 7})"));
  }

  TEST_CASE("json_file: a key that is not an array, or another key, is not streamed") {
    const Streamed object = read_streaming(R"({"cells": {"x": {"y": 1}}})", "cells");
    CHECK(object.got.empty());
    CHECK(object.kept.at("cells") == nlohmann::json::parse(R"({"x": {"y": 1}})"));
    const Streamed other = read_streaming(R"({"rows": [1, 2]})", "cells");
    CHECK(other.got.empty());
    CHECK(other.kept.at("rows").size() == 2);
    const Streamed top_array = read_streaming(R"([{"cells": [1]}, [2]])", "cells");
    CHECK(top_array.got.empty());
  }

  TEST_CASE("json_file: a streamed key that appears twice is refused") {
    CHECK_THROWS_WITH_AS(read_streaming(R"({"cells": [1], "x": 0, "cells": [2]})", "cells"),
                         doctest::Contains("\"cells\" twice"), BadInput);
  }

  TEST_CASE("json_file: the size cap holds while reading, streamed or not") {
    std::string big = R"({"cells": [)";
    for (int i = 0; i < 100'000; ++i) big += "1234567890,";
    big += "0]}";  // about 1.1 MB
    CHECK_THROWS_WITH_AS(read_streaming(big, "cells", 1 << 20), doctest::Contains("larger than the 1 MiB"), BadInput);
    const TempFile f(big);
    CHECK_THROWS_WITH_AS((void)read_json_file(f.path.string(), 1 << 20, "test file"),
                         doctest::Contains("larger than the 1 MiB"), BadInput);
    CHECK(read_streaming(big, "cells", 2 << 20).got.size() == 100'001);
  }

  TEST_CASE("json_file: the size cap holds for a stream, whose size nobody knows up front") {
    const fs::path fifo =
        fs::temp_directory_path() / ("ipcmatrix-json-file-test-" + std::to_string(::getpid()) + ".fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // The writer stops at the first failed write: the reader refused and closed its end.
    const auto old_sigpipe = std::signal(SIGPIPE, SIG_IGN);
    std::thread writer([&] {
      const int fd = ::open(fifo.c_str(), O_WRONLY);
      if (fd < 0) return;
      const std::string chunk(4096, ' ');  // an array that never ends: 4 MiB of blanks after "["
      if (::write(fd, "[", 1) == 1) {
        for (int i = 0; i < 1024 && ::write(fd, chunk.data(), chunk.size()) > 0; ++i) {
        }
      }
      ::close(fd);
    });
    CHECK_THROWS_WITH_AS((void)read_json_file(fifo.string(), 1 << 20, "test file"),
                         doctest::Contains("larger than the 1 MiB"), BadInput);
    writer.join();
    std::signal(SIGPIPE, old_sigpipe);
    fs::remove(fifo);
  }

  TEST_CASE("json_file: one streamed element, and the tree kept beside the array, are capped in bytes") {
    const TempFile f(R"({"cells": [{"a": "short"}, {"b": ")" + std::string(5000, 'x') + R"("}], "rest": 1})");
    StreamedArray capped{"cells", [](std::size_t, nlohmann::json&&) {}};
    capped.max_element_bytes = 4096;
    CHECK_THROWS_WITH_AS((void)read_json_file(f.path.string(), 1 << 20, "test file", false, &capped),
                         doctest::Contains("element 1 of \"cells\" is larger than"), BadInput);
    capped.max_element_bytes = 8192;
    CHECK_NOTHROW((void)read_json_file(f.path.string(), 1 << 20, "test file", false, &capped));
    const TempFile kept(R"({"cells": [1, 2], "warnings": [")" + std::string(5000, 'x') + R"("]})");
    capped.max_kept_bytes = 4096;
    CHECK_THROWS_WITH_AS((void)read_json_file(kept.path.string(), 1 << 20, "test file", false, &capped),
                         doctest::Contains("more than 4 KiB outside \"cells\""), BadInput);
    // Bytes inside the streamed array are not kept, so they do not count.
    const TempFile inside(R"({"cells": [")" + std::string(5000, 'x') + R"("], "rest": 1})");
    CHECK_NOTHROW((void)read_json_file(inside.path.string(), 1 << 20, "test file", false, &capped));
    // One value is buffered whole before the parser reports it: it is capped as it is read.
    const TempFile one_value(R"({"cells": [], "note": ")" + std::string(300'000, 'x') + R"("})");
    capped.max_kept_bytes = 1 << 20;
    capped.max_element_bytes = 64 << 10;
    CHECK_THROWS_WITH_AS((void)read_json_file(one_value.path.string(), 1 << 20, "test file", false, &capped),
                         doctest::Contains("holds one value (or blank) longer than the 64 KiB"), BadInput);
  }

  TEST_CASE("json_file: elements can be counted without being built") {
    const TempFile f(R"({"cells": [{"a": {"b": [1, 2]}}, [3], 4, "five"], "after": true})");
    std::vector<nlohmann::json> got;
    StreamedArray counting{"cells", [&](std::size_t, nlohmann::json&& e) { got.push_back(std::move(e)); }};
    counting.build = false;
    const nlohmann::json kept = read_json_file(f.path.string(), 1 << 20, "test file", false, &counting);
    REQUIRE(got.size() == 4);
    CHECK(got[0] == nlohmann::json::object());  // its kind, not its contents
    CHECK(got[1] == nlohmann::json::array());
    CHECK(got[2] == 4);
    CHECK(got[3] == "five");
    CHECK(kept == nlohmann::json::parse(R"({"cells": [], "after": true})"));
  }

  TEST_CASE("json_file: what the element's handler throws is its own error, not a syntax error") {
    const TempFile f(R"({"cells": [{"a": 1}]})");
    const StreamedArray wrong_type{"cells",
                                   [](std::size_t, nlohmann::json&& e) { (void)e.at("a").get<std::string>(); }};
    try {
      (void)read_json_file(f.path.string(), 1 << 20, "test file", false, &wrong_type);
      FAIL("accepted");
    } catch (const BadInput& e) {
      const std::string what = e.what();
      CHECK(what.find("type must be string") != std::string::npos);
      CHECK(what.find("not valid JSON") == std::string::npos);
    }
  }

  TEST_CASE("json_file: depth, syntax and a missing file are errors that name the file") {
    CHECK_THROWS_WITH_AS(read_streaming(std::string(100, '[') + std::string(100, ']'), "cells"),
                         doctest::Contains("nests deeper than"), BadInput);
    CHECK_THROWS_WITH_AS(read_streaming(R"({"cells": [1, }})", "cells"), doctest::Contains("is not valid JSON"),
                         BadInput);
    CHECK_THROWS_WITH_AS((void)read_json_file("/nonexistent/x.json", 1 << 20, "test file"),
                         doctest::Contains("cannot open test file '/nonexistent/x.json'"), BadInput);
  }
}
