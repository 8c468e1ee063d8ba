// core/quote.h: input shown in messages is cut to a bounded length, never
// inside a UTF-8 sequence.
#include <gtest/gtest.h>

#include <string>

#include "core/quote.h"

namespace int8rt {
namespace {

TEST(Quote, ShortTextIsQuotedWhole) {
  EXPECT_EQ(quoted("conv_1"), "'conv_1'");
  EXPECT_EQ(quoted(""), "''");
  EXPECT_EQ(clipped("Conv"), "Conv");
}

TEST(Quote, LongTextIsCutWithItsSize) {
  std::string s(200, 'x');
  EXPECT_EQ(quoted(s, 10), "'xxxxxxxxxx...' (200 bytes)");
  EXPECT_EQ(clipped(s, 4), "xxxx... (200 bytes)");
  EXPECT_EQ(quoted(std::string(10, 'y'), 10), "'yyyyyyyyyy'");  // exactly the limit: whole
}

TEST(Quote, CutNeverSplitsAUtf8Sequence) {
  // "ab" then U+00E9 (2 bytes) then U+20AC (3 bytes): cuts at 3..5 back off to a boundary.
  const std::string s = "ab\xC3\xA9\xE2\x82\xAC" + std::string(20, 'z');
  EXPECT_EQ(quoted(s, 3).substr(0, 3), "'ab");
  EXPECT_EQ(quoted(s, 3).substr(3, 3), "...");
  EXPECT_EQ(quoted(s, 4).substr(0, 5), "'ab\xC3\xA9");
  EXPECT_EQ(quoted(s, 5).substr(0, 5), "'ab\xC3\xA9");
  EXPECT_EQ(quoted(s, 6).substr(0, 8), "'ab\xC3\xA9...");
  EXPECT_EQ(quoted(s, 7).substr(0, 8), "'ab\xC3\xA9\xE2\x82\xAC");
  // Bytes that are not UTF-8 pass through (the bindings decode with errors="replace").
  EXPECT_EQ(quoted("\xff\xfe"), "'\xff\xfe'");
}

TEST(Quote, WholeMessagesAreBounded) {
  std::string m(10000, 'm');
  std::string b = bounded_message(m, 100);
  EXPECT_EQ(b.substr(0, 100), std::string(100, 'm'));
  EXPECT_EQ(b.substr(100), "... (message cut, 10000 bytes)");
  EXPECT_EQ(bounded_message("short"), "short");
}

TEST(Quote, Utf8Validation) {
  for (const char* ok : {"", "conv1/weight", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBF"}) {
    EXPECT_TRUE(is_utf8(ok)) << ok;
  }
  for (const char* bad : {"\xff", "\xC3", "\xC3(", "\xC0\xAF" /* overlong '/' */, "\xE0\x80\xAF",
                          "\xED\xA0\x80" /* surrogate */, "\xF4\x90\x80\x80" /* > U+10FFFF */, "\x80",
                          "ab\xF0\x9F\x98"}) {
    EXPECT_FALSE(is_utf8(bad)) << bad;
  }
}

}  // namespace
}  // namespace int8rt
