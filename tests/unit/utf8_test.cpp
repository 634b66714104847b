// net/utf8.hpp: what the node echoes of a client's text must be UTF-8 (issue
// 13, item 5). The checker is compared with an arithmetic decoder over every
// sequence of up to three bytes; utf8_safe is cut at every position of 2-,
// 3- and 4-byte characters and fed Unicode's own ill-formed examples.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "net/utf8.hpp"

namespace castellan::net {
namespace {

const std::string fffd = "\xEF\xBF\xBD";

// A second, independent reading of UTF-8: decode by bit arithmetic, then
// refuse what Unicode forbids. Returns the length of the character at the
// start of `s`, or 0.
size_t reference_length(const std::string& s) {
  if (s.empty())
    return 0;
  auto b0 = static_cast<unsigned char>(s[0]);
  size_t n = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
  if (n == 0 || s.size() < n)
    return 0;
  uint32_t cp = n == 1 ? b0 : b0 & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    auto b = static_cast<unsigned char>(s[i]);
    if ((b >> 6) != 2)
      return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < smallest[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
    return 0;
  return n;
}

std::string bytes(std::initializer_list<int> list) {
  std::string out;
  for (int b : list)
    out += static_cast<char>(b);
  return out;
}

TEST(Utf8, AgreesWithAnArithmeticDecoderOnEverySequenceUpToThreeBytes) {
  std::string s(3, '\0');
  size_t disagreements = 0;
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c = 0; c < 256; ++c) {
        s[0] = static_cast<char>(a), s[1] = static_cast<char>(b), s[2] = static_cast<char>(c);
        disagreements += utf8_char_length(s) != reference_length(s);
      }
  EXPECT_EQ(disagreements, 0u);
}

TEST(Utf8, AgreesWithAnArithmeticDecoderOnFourByteLeads) {
  std::string s(4, '\0');
  size_t checked = 0;
  for (int a = 0xF0; a < 0x100; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c : {0x00, 0x7F, 0x80, 0xA5, 0xBF, 0xC0})
        for (int d : {0x41, 0x80, 0xBF, 0xC0}) {
          s = bytes({a, b, c, d});
          ASSERT_EQ(utf8_char_length(s), reference_length(s))
              << a << " " << b << " " << c << " " << d;
          ++checked;
        }
  EXPECT_GT(checked, 0u);
}

TEST(Utf8, CodePointBoundariesAreAccepted) {
  for (auto s : {bytes({0x00}), bytes({0x7F}), bytes({0xC2, 0x80}), bytes({0xDF, 0xBF}),
                 bytes({0xE0, 0xA0, 0x80}), bytes({0xED, 0x9F, 0xBF}), bytes({0xEE, 0x80, 0x80}),
                 bytes({0xEF, 0xBF, 0xBF}), bytes({0xF0, 0x90, 0x80, 0x80}),
                 bytes({0xF4, 0x8F, 0xBF, 0xBF})}) {
    EXPECT_TRUE(is_utf8(s)) << s.size();
    EXPECT_EQ(utf8_char_length(s), s.size());
    EXPECT_EQ(utf8_safe(s), s);
  }
}

TEST(Utf8, OverlongsSurrogatesAndPastTheLastCodePointAreRefused) {
  for (auto s : {bytes({0xC0, 0x80}), bytes({0xC1, 0xBF}), bytes({0xE0, 0x80, 0xAF}),
                 bytes({0xE0, 0x9F, 0xBF}), bytes({0xF0, 0x80, 0x80, 0x80}),
                 bytes({0xF0, 0x8F, 0xBF, 0xBF}),                           // overlongs
                 bytes({0xED, 0xA0, 0x80}), bytes({0xED, 0xBF, 0xBF}),      // surrogates
                 bytes({0xF4, 0x90, 0x80, 0x80}), bytes({0xF5, 0x80, 0x80, 0x80}),
                 bytes({0xF7, 0xBF, 0xBF, 0xBF}),                           // > U+10FFFF
                 bytes({0xF8, 0x88, 0x80, 0x80, 0x80}), bytes({0xFF}), bytes({0xFE}),
                 bytes({0x80}), bytes({0xBF})}) {                           // no lead byte
    EXPECT_FALSE(is_utf8(s)) << s.size();
    auto safe = utf8_safe(s);
    EXPECT_TRUE(is_utf8(safe));
    EXPECT_NE(safe.find(fffd), std::string::npos);
  }
}

// Unicode 15, section 3.9, Table 3-8: one U+FFFD per maximal subpart.
TEST(Utf8, IllFormedSequencesBecomeOneReplacementPerMaximalSubpart) {
  auto in = bytes({0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64});
  EXPECT_EQ(utf8_safe(in), "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
  // Surrogates and overlongs: each byte is its own maximal subpart.
  EXPECT_EQ(utf8_safe(bytes({0xED, 0xA0, 0x80})), fffd + fffd + fffd);
  EXPECT_EQ(utf8_safe(bytes({0xC0, 0xAF})), fffd + fffd);
  EXPECT_EQ(utf8_safe(bytes({0xF4, 0x90, 0x80, 0x80})), fffd + fffd + fffd + fffd);
}

const std::string two = "\xC3\xA9";             // é
const std::string three = "\xE2\x82\xAC";       // €
const std::string four = "\xF0\x9F\x98\x80";    // 😀

// A character cut anywhere inside is one maximal subpart: one U+FFFD, and
// what follows it is kept.
TEST(Utf8, ACharacterSplitAtEveryPositionBecomesOneReplacement) {
  for (const auto& ch : {two, three, four})
    for (size_t cut = 1; cut < ch.size(); ++cut) {
      auto head = ch.substr(0, cut);
      EXPECT_FALSE(is_utf8(head));
      EXPECT_EQ(utf8_safe(head), fffd) << ch.size() << "/" << cut;
      EXPECT_EQ(utf8_safe(head + "x" + ch), fffd + "x" + ch);
      EXPECT_EQ(utf8_safe(head + head), fffd + fffd);
    }
}

// Cut at every byte budget, after every possible offset: the result is
// valid, within the budget, a prefix of the input, and as long as the last
// character boundary allows.
TEST(Utf8, CutsFallBetweenCharactersAtEveryLength) {
  for (const auto& ch : {two, three, four})
    for (size_t offset = 0; offset < ch.size(); ++offset) {
      std::string text = std::string(offset, 'a');
      for (int i = 0; i < 5; ++i)
        text += ch;
      for (size_t max = 0; max <= text.size() + 1; ++max) {
        auto cut = utf8_safe(text, max);
        ASSERT_TRUE(is_utf8(cut));
        ASSERT_LE(cut.size(), max);
        ASSERT_EQ(text.compare(0, cut.size(), cut), 0);
        size_t boundary = max <= offset ? max
                                        : std::min(text.size(),
                                                   offset + (max - offset) / ch.size() * ch.size());
        ASSERT_EQ(cut.size(), boundary) << ch.size() << " offset " << offset << " max " << max;
      }
    }
}

// The issue's own case: 11 euro signs are 33 bytes; 32 used to split the last.
TEST(Utf8, ElevenEuroSignsCutAtThirtyTwoBytesKeepTen) {
  std::string op;
  for (int i = 0; i < 11; ++i)
    op += three;
  auto cut = utf8_safe(op, 32);
  EXPECT_EQ(cut.size(), 30u);
  EXPECT_TRUE(is_utf8(cut));
}

TEST(Utf8, AReplacementThatDoesNotFitIsCutToo) {
  EXPECT_EQ(utf8_safe("ab\xFF", 4), "ab");
  EXPECT_EQ(utf8_safe("ab\xFF", 5), "ab" + fffd);
  EXPECT_EQ(utf8_safe("", 0), "");
  EXPECT_EQ(utf8_safe("abc", 0), "");
}

TEST(Utf8, LogLinesEscapeControlsAndIllFormedBytes) {
  EXPECT_EQ(log_safe("node-1"), "node-1");
  EXPECT_EQ(log_safe("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(log_safe("a\nb\x1b[31m"), "a\\x0ab\\x1b[31m");
  EXPECT_EQ(log_safe("x\xFFy\xE2\x82"), "x\\xffy\\xe2\\x82");
  EXPECT_EQ(log_safe("\xC2\x9B" "1m"), "\\xc2\\x9b1m");  // C1 control (CSI)
  EXPECT_EQ(log_safe("back\\slash"), "back\\x5cslash");
  EXPECT_EQ(log_safe(std::string(100, 'z'), 10), std::string(10, 'z') + "...");
  EXPECT_EQ(log_safe(three + three, 4), three + "...");  // never half a character
}

}  // namespace
}  // namespace castellan::net
