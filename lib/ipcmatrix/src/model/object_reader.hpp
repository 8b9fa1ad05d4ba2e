#pragma once
// Private to model/: reads the fields of one JSON object, remembering where it sits in the
// document so every error names the full path of the offending field
// ("cells[2].latency_ns.p99"). Errors throw std::invalid_argument("results json: <path>:
// <what>").

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ipcmatrix/model/name_table.hpp"

namespace ipcmatrix::detail {

[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw std::invalid_argument("results json: " + where + ": " + what);
}

inline std::string join_path(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : where + "." + key;
}

class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail(where_.empty() ? "document" : where_, "expected an object");
  }

  // Null counts as absent so that writers may emit null for "not applicable".
  [[nodiscard]] const nlohmann::json* find(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  [[nodiscard]] const nlohmann::json& need(const char* key) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) fail(path(key), "missing");
    return *v;
  }
  [[nodiscard]] std::string path(const char* key) const { return join_path(where_, key); }

  void str(const char* key, std::string& out, bool required = false) const {
    const nlohmann::json* v = required ? &need(key) : find(key);
    if (v == nullptr) return;
    if (!v->is_string()) fail(path(key), "expected a string");
    out = v->get<std::string>();
  }
  /// A value of a named enum (model/vocabulary.hpp), by its name. An empty name counts as
  /// absent: older writers left unset text fields empty.
  template <Named E>
  void name(const char* key, E& out, bool required = false) const {
    const nlohmann::json* v = find(key);
    if (v != nullptr && v->is_string() && v->get_ref<const std::string&>().empty()) v = nullptr;
    if (v == nullptr) {
      if (required) fail(path(key), "missing");
      return;
    }
    if (!v->is_string()) fail(path(key), "expected a string");
    const auto parsed = parse_name<E>(v->get_ref<const std::string&>());
    if (!parsed) fail(path(key), "must be one of " + names_text<E>() + " (got \"" + v->get<std::string>() + "\")");
    out = *parsed;
  }
  void u64(const char* key, std::uint64_t& out, bool required = false) const {
    const nlohmann::json* v = required ? &need(key) : find(key);
    if (v != nullptr) out = as_u64(*v, path(key));
  }
  void i64(const char* key, std::int64_t& out) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return;
    if (v->is_number_unsigned()) {
      if (v->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail(path(key), "out of range");
      }
      out = v->get<std::int64_t>();
    } else if (v->is_number_integer()) {
      out = v->get<std::int64_t>();
    } else {
      fail(path(key), "expected an integer");
    }
  }
  void i32(const char* key, int& out, bool required = false) const {
    const nlohmann::json* v = required ? &need(key) : find(key);
    if (v == nullptr) return;
    std::int64_t x = 0;
    i64(key, x);
    if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max()) {
      fail(path(key), "out of range");
    }
    out = static_cast<int>(x);
  }
  void f64(const char* key, double& out) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_number()) fail(path(key), "expected a number");
    out = v->get<double>();
  }
  void boolean(const char* key, bool& out) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) fail(path(key), "expected true or false");
    out = v->get<bool>();
  }
  void opt_u64(const char* key, std::optional<std::uint64_t>& out) const {
    const nlohmann::json* v = find(key);
    out = v == nullptr ? std::nullopt : std::optional<std::uint64_t>(as_u64(*v, path(key)));
  }
  void strings(const char* key, std::vector<std::string>& out) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_array()) fail(path(key), "expected an array of strings");
    out.clear();
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) fail(fmt::format("{}[{}]", path(key), i), "expected a string");
      out.push_back((*v)[i].get<std::string>());
    }
  }

 private:
  // nlohmann keeps a parsed 5 unsigned but a C++-built 5 signed; both are fine.
  static std::uint64_t as_u64(const nlohmann::json& v, const std::string& where) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer()) {
      if (v.get<std::int64_t>() < 0) fail(where, "must not be negative");
      return v.get<std::uint64_t>();
    }
    fail(where, "expected a non-negative integer");
  }

  const nlohmann::json& j_;
  std::string where_;
};

}  // namespace ipcmatrix::detail
