#include "ipcmatrix/model/vocabulary.hpp"

#include <charconv>
#include <cmath>

#include "ipcmatrix/model/format_units.hpp"

namespace ipcmatrix {

std::string LoadPoint::label() const {
  switch (kind) {
    case Kind::sporadic:
      return "sporadic";
    case Kind::fraction:
      return format_number(value * 100) + "%";
    case Kind::rate:
      if (value >= 1e6 && std::fmod(value, 1e5) == 0) return format_number(value / 1e6) + "M";
      if (value >= 1e3 && std::fmod(value, 100) == 0) return format_number(value / 1e3) + "k";
      return format_number(value);
  }
  return "?";
}

std::string LoadPoint::id_part() const {
  // A load point is named by how it was asked for: "50%" of a saturation that differs from
  // run to run is still the same cell to compare.
  std::string l = label();
  if (kind == Kind::fraction) l.replace(l.size() - 1, 1, "pct");
  return l;
}

std::optional<LoadPoint> parse_load_label(std::string_view label) noexcept {
  if (label == "sporadic") return LoadPoint{LoadPoint::Kind::sporadic, kSporadicRate};
  if (label.empty()) return std::nullopt;
  LoadPoint p;
  double scale = 1;
  if (label.back() == '%') {
    p.kind = LoadPoint::Kind::fraction;
    label.remove_suffix(1);
  } else if (label.back() == 'k') {
    scale = 1e3;
    label.remove_suffix(1);
  } else if (label.back() == 'M') {
    scale = 1e6;
    label.remove_suffix(1);
  }
  double v = 0;
  const auto [ptr, ec] = std::from_chars(label.data(), label.data() + label.size(), v);
  if (label.empty() || ec != std::errc{} || ptr != label.data() + label.size() || !std::isfinite(v) || !(v > 0))
    return std::nullopt;
  // A fraction divides as parse_percent() does, so a label read back equals the point asked for.
  p.value = p.kind == LoadPoint::Kind::fraction ? v / 100 : v * scale;
  return p;
}

void to_json(nlohmann::json& j, const LoadPoint& p) { j = p.label(); }

void from_json(const nlohmann::json& j, LoadPoint& p) {
  const auto parsed = j.is_string() ? parse_load_label(j.get_ref<const std::string&>()) : std::nullopt;
  if (!parsed) throw std::invalid_argument("expected a load label (10k, 50%, sporadic), got " + j.dump());
  p = *parsed;
}

}  // namespace ipcmatrix
