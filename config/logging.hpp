// Logging for every library and program: spdlog, with fmt's formatting
// engine called in libfmt rather than compiled again in each file that logs.
//
// Why this header exists: fmt 9 declares detail::vformat_to<char> in core.h
// and defines it in format.h, and libfmt exports the one instantiation every
// log call needs, but fmt 9 does not declare it `extern template`. Each file
// that logged therefore compiled and optimised its own copy of the whole
// formatter, about 5 s of an -O2 build per file. Declaring the instantiation
// extern makes those files call libfmt's copy instead. Include this header,
// never <spdlog/spdlog.h> directly.
#pragma once

#include <spdlog/spdlog.h>

#if defined(SPDLOG_FMT_EXTERNAL) && !defined(FMT_HEADER_ONLY) && FMT_VERSION >= 90000 && \
    FMT_VERSION < 100000
FMT_BEGIN_NAMESPACE
namespace detail {
extern template void vformat_to<char>(buffer<char>&, basic_string_view<char>,
                                      basic_format_args<buffer_context<char>>, locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
#endif
