#pragma once
/// @file error.hpp
/// The exception a mechanism or component throws when it cannot be set up (create, open,
/// connect, a bad option). Hot paths never throw: they return an IoStatus (see
/// transport/transport.hpp). The other error types each mark one kind of bad input, which
/// the tool reports differently: UsageError (a flag or preset value, runner/parsers.hpp:
/// exit 2), BadInput (a results or config file, util/json_file.hpp), DecodeError (a payload,
/// serialize/serializer.hpp).

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace ipcmatrix {

/// Setup failure (create, open, connect, config parsing). Carries the errno-style
/// code, the mechanism or component ("shm", "pipe", "config") and the object name
/// (segment, path, flag) so a message names what failed and why.
class Error : public std::system_error {
 public:
  Error(std::error_code ec, std::string_view component, std::string_view object,
        std::string_view what)
      : std::system_error(ec, format(component, object, what)),
        component_(component),
        object_(object) {}
  Error(std::string_view component, std::string_view object, std::string_view what)
      : Error(std::make_error_code(std::errc::invalid_argument), component, object, what) {}

  [[nodiscard]] const std::string& component() const noexcept { return component_; }
  [[nodiscard]] const std::string& object() const noexcept { return object_; }

 private:
  static std::string format(std::string_view component, std::string_view object,
                            std::string_view what) {
    std::string s(component);
    if (!object.empty()) {
      s += " '";
      s += object;
      s += "'";
    }
    s += ": ";
    s += what;
    return s;
  }
  std::string component_;
  std::string object_;
};

}  // namespace ipcmatrix
