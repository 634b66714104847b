// UTF-8 checks and the safe forms of foreign text; see utf8.hpp. One scanner
// (scan_char) serves all four functions, so what is_utf8 accepts is exactly
// what utf8_safe keeps.
#include "net/utf8.hpp"

#include <algorithm>

namespace castellan::net {
namespace {

// Unicode Table 3-7: a lead byte fixes the character's length and the range
// of its second byte (narrowed for E0, ED, F0 and F4 to exclude overlongs,
// surrogates and code points past U+10FFFF); later bytes are 80..BF.
struct lead_rule {
  size_t length = 0;  // 0: never a lead byte (80..C1, F5..FF)
  unsigned char lo = 0x80, hi = 0xBF;
};

constexpr lead_rule rule_of(unsigned char b) {
  if (b < 0x80)
    return {1};
  if (b >= 0xC2 && b <= 0xDF)
    return {2};
  if (b == 0xE0)
    return {3, 0xA0, 0xBF};
  if (b == 0xED)
    return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF)
    return {3};
  if (b == 0xF0)
    return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3)
    return {4};
  if (b == 0xF4)
    return {4, 0x80, 0x8F};
  return {};
}

// The bytes at the start of `s` (not empty) that follow the rules: a whole
// character, or the maximal subpart of an ill-formed one (at least 1 byte),
// which is what one U+FFFD stands for.
struct char_scan {
  size_t bytes = 1;
  bool whole = false;
};

char_scan scan_char(std::string_view s) {
  auto rule = rule_of(static_cast<unsigned char>(s[0]));
  if (rule.length <= 1)
    return {1, rule.length == 1};
  size_t i = 1;
  for (; i < rule.length && i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    bool fits = i == 1 ? c >= rule.lo && c <= rule.hi : c >= 0x80 && c <= 0xBF;
    if (!fits)
      return {i, false};
  }
  return {i, i == rule.length};
}

// C0 controls, DEL and C1 controls (U+0080-U+009F, C2 80..C2 9F): a terminal
// may act on them, so a log line shows them escaped. So is the backslash,
// which keeps the escapes unambiguous.
bool needs_escape(std::string_view ch) {
  auto b = static_cast<unsigned char>(ch[0]);
  if (ch.size() == 1)
    return b < 0x20 || b == 0x7F || b == '\\';
  return ch.size() == 2 && b == 0xC2 && static_cast<unsigned char>(ch[1]) < 0xA0;
}

void append_escaped(std::string& out, std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  for (unsigned char b : bytes) {
    out += "\\x";
    out += digits[b >> 4];
    out += digits[b & 15];
  }
}

}  // namespace

size_t utf8_char_length(std::string_view s) {
  if (s.empty())
    return 0;
  auto scan = scan_char(s);
  return scan.whole ? scan.bytes : 0;
}

bool is_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;  // ASCII, the common case, without a scan
      continue;
    }
    size_t n = utf8_char_length(s.substr(i));
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

std::string utf8_safe(std::string_view text, size_t max_bytes) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (size_t i = 0; i < text.size();) {
    auto scan = scan_char(text.substr(i));
    auto piece = scan.whole ? text.substr(i, scan.bytes) : replacement;
    if (piece.size() > max_bytes - out.size())
      break;  // the next character does not fit whole: cut before it
    out += piece;
    i += scan.bytes;
  }
  return out;
}

std::string log_safe(std::string_view text, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    auto scan = scan_char(text.substr(i));
    if (i + scan.bytes > max_bytes)
      break;
    auto piece = text.substr(i, scan.bytes);
    if (scan.whole && !needs_escape(piece))
      out += piece;
    else
      append_escaped(out, piece);
    i += scan.bytes;
  }
  if (i < text.size())
    out += "...";
  return out;
}

}  // namespace castellan::net
