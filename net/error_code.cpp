// Wire names of error_code. Kept in one table so to_string and parsing agree.
#include "net/error_code.hpp"

#include <array>
#include <utility>

namespace castellan::net {
namespace {

constexpr std::array<std::pair<error_code, std::string_view>, 9> names{{
  {error_code::bad_credentials, "bad_credentials"},
  {error_code::rate_limited, "rate_limited"},
  {error_code::invalid_token, "invalid_token"},
  {error_code::expired, "expired"},
  {error_code::malformed, "malformed"},
  {error_code::too_large, "too_large"},
  {error_code::unavailable, "unavailable"},
  {error_code::forbidden, "forbidden"},
  {error_code::unknown_op, "unknown_op"},
}};

}  // namespace

std::string_view to_string(error_code code) {
  for (auto& [c, name] : names)
    if (c == code)
      return name;
  return "unavailable";
}

std::optional<error_code> error_code_from_string(std::string_view text) {
  for (auto& [c, name] : names)
    if (name == text)
      return c;
  return std::nullopt;
}

}  // namespace castellan::net
