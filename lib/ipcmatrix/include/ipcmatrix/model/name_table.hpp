#pragma once
/// @file name_table.hpp
/// One table of names per enum, and everything derived from it: to_string, parsing, the list
/// of accepted values a CLI or an error message shows, and the JSON mapping. An enum joins by
/// declaring, next to itself, `constexpr const auto& names_of(E)` returning its NameTable
/// (found by argument-dependent lookup); nothing else spells its values.
///
///   enum class Api : std::uint8_t { copy, loan };
///   inline constexpr NameTable<Api, 2> kApiNames{{{{Api::copy, "copy"}, {Api::loan, "loan"}}}};
///   constexpr const auto& names_of(Api) noexcept { return kApiNames; }
///
/// Every function here is pure, noexcept where it cannot allocate, and thread-safe.

#include <array>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ipcmatrix {

/// The names of enum E's values, in the order lists show them. Aliases parse but never print.
template <class E, std::size_t N, std::size_t A = 0>
struct NameTable {
  struct Entry {
    E value;
    std::string_view name;
  };
  std::array<Entry, N> entries;
  std::array<Entry, A> aliases{};  ///< old or alternative spellings that parse to a value

  /// The value's name; "?" for a value outside the table (a programmer error).
  [[nodiscard]] constexpr std::string_view name(E e) const noexcept {
    for (const Entry& x : entries)
      if (x.value == e) return x.name;
    return "?";
  }
  /// The value named s (case-sensitive), aliases included; nullopt for anything else.
  [[nodiscard]] constexpr std::optional<E> parse(std::string_view s) const noexcept {
    for (const Entry& x : entries)
      if (x.name == s) return x.value;
    for (const Entry& x : aliases)
      if (x.name == s) return x.value;
    return std::nullopt;
  }
};

/// An enum with a name table (see the file comment).
template <class E>
concept Named = std::is_enum_v<E> && requires(E e) {
  { names_of(e).name(e) } -> std::same_as<std::string_view>;
};

template <Named E>
[[nodiscard]] constexpr std::string_view to_string(E e) noexcept {
  return names_of(e).name(e);
}

/// The value named s, or nullopt.
template <Named E>
[[nodiscard]] constexpr std::optional<E> parse_name(std::string_view s) noexcept {
  return names_of(E{}).parse(s);
}

/// Every value of E, in table order.
template <Named E>
[[nodiscard]] std::vector<E> all_values() {
  std::vector<E> out;
  for (const auto& x : names_of(E{}).entries) out.push_back(x.value);
  return out;
}

/// Every name of E, in table order (aliases left out): what a CLI lists as accepted.
template <Named E>
[[nodiscard]] std::vector<std::string> all_names() {
  std::vector<std::string> out;
  for (const auto& x : names_of(E{}).entries) out.emplace_back(x.name);
  return out;
}

/// "spin, block, hybrid": the accepted names for an error message.
template <Named E>
[[nodiscard]] std::string names_text() {
  std::string out;
  for (const auto& x : names_of(E{}).entries) {
    if (!out.empty()) out += ", ";
    out += x.name;
  }
  return out;
}

/// The value named s. @throws std::invalid_argument "expected one of a, b, c; got 'x'".
template <Named E>
[[nodiscard]] E parse_or_throw(std::string_view s) {
  if (const auto v = parse_name<E>(s)) return *v;
  throw std::invalid_argument("expected one of " + names_text<E>() + "; got '" + std::string(s) + "'");
}

// The JSON mapping: a value is its name. nlohmann finds these by argument-dependent lookup
// and prefers them to its own enum-as-integer mapping (they are more specialised).
template <Named E>
void to_json(nlohmann::json& j, E e) {
  j = std::string(to_string(e));
}
/// @throws std::invalid_argument for a non-string or an unknown name.
template <Named E>
void from_json(const nlohmann::json& j, E& e) {
  if (!j.is_string()) throw std::invalid_argument("expected one of " + names_text<E>() + " as a string");
  e = parse_or_throw<E>(j.get_ref<const std::string&>());
}

}  // namespace ipcmatrix
