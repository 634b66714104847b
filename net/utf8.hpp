// Text the node sends must be UTF-8: a msgpack str is UTF-8 by the spec, and
// a strict decoder refuses a whole reply over one bad byte. Most of what the
// node says is its own text, but some echoes a client's bytes (an unknown op,
// a revoke_user's user), and a client may send any bytes. Every such echo goes
// through utf8_safe, the one place that makes text safe to send; log lines
// that name something a peer sent go through log_safe. Well-formedness is
// Unicode's (Table 3-7): no overlongs, no surrogates, nothing past U+10FFFF.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace castellan::net {

// The length (1-4) of the well-formed UTF-8 character at the start of `s`,
// or 0 if `s` is empty or does not start with one.
size_t utf8_char_length(std::string_view s);

// True when all of `s` is well-formed UTF-8.
bool is_utf8(std::string_view s);

// `text` as valid UTF-8 of at most `max_bytes` bytes: each ill-formed
// sequence (its maximal subpart, as Unicode and the WHATWG decoder count
// them) becomes U+FFFD, and a cut falls between characters, never inside one.
std::string utf8_safe(std::string_view text,
                      size_t max_bytes = std::numeric_limits<size_t>::max());

// `text` for a log line: valid UTF-8 kept, control characters and ill-formed
// bytes written as \xNN (so a line stays one line and shows what came), at
// most `max_bytes` of input shown, then "...".
std::string log_safe(std::string_view text, size_t max_bytes = 64);

}  // namespace castellan::net
