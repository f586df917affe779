// Our JSON string escaper (the answer, patches and log lines go through it) against
// rapidjson::Writer, the reference it must match byte for byte; the patch's Base64 against RFC
// 4648.

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <random>
#include <string>

#include "policy/review.h"

namespace palisade::policy {
namespace {

std::string WithWriter(const std::string& text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return {buffer.GetString(), buffer.GetSize()};
}

std::string WithOurs(const std::string& text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

TEST(JsonString, EveryAsciiByteAsWriterEscapesIt) {
  for (int c = 1; c < 0x80; ++c) {
    const std::string text = "a" + std::string(1, static_cast<char>(c)) + "bcdefghij";
    EXPECT_EQ(WithOurs(text), WithWriter(text)) << c;
  }
  EXPECT_EQ(WithOurs(""), "\"\"");
  EXPECT_EQ(WithOurs("say \"hi\"\\\n"), R"("say \"hi\"\\\n")");
}

TEST(JsonString, RandomTextMatchesWriter) {
  // Control characters, quotes, backslashes, ASCII and UTF-8 in runs of every length, so the
  // escaper's sixteen-at-a-time scan meets escapes at every offset.
  const std::string alphabet = std::string("\x01\x1f\"\\/ azAZ09\t\n", 15) + "\xc3\xa9\xe2\x82\xac";
  std::mt19937 random(20261128);
  for (int round = 0; round < 20000; ++round) {
    std::string text(random() % 100, ' ');
    for (char& c : text) c = alphabet[random() % alphabet.size()];
    ASSERT_EQ(WithOurs(text), WithWriter(text)) << round;
    // Appended after what the answer already holds, as EncodeResponse does.
    std::string after = "{\"message\":";
    AppendJsonString(after, text);
    ASSERT_EQ(after, "{\"message\":" + WithWriter(text)) << round;
  }
}

TEST(JsonString, AnEscapeAfterAnyLengthOfPlainText) {
  // Plain text is appended whole; text with an escape is copied up to it, then escaped: the
  // escape at every offset of every length up to 80, in and past the sixteen-byte blocks.
  for (std::size_t size = 0; size <= 80; ++size) {
    const std::string plain(size, 'p');
    ASSERT_EQ(WithOurs(plain), WithWriter(plain)) << size;
    for (std::size_t at = 0; at < size; ++at) {
      for (const char escape : {'"', '\\', '\n', '\x01'}) {
        std::string text = plain;
        text[at] = escape;
        ASSERT_EQ(WithOurs(text), WithWriter(text)) << size << " " << at;
      }
    }
  }
}

TEST(JsonString, EveryByteAtEveryOffsetOfShortText) {
  // Short text and the tail of long text are tested as words: every byte, beside bytes that are
  // one off an escape ('!', '#', '[', ']', ' ') or not ASCII, at every offset.
  for (const char background : {'p', '!', '#', '[', ']', ' ', '\x7f', '\x80', '\xff'}) {
    for (std::size_t size = 1; size <= 33; ++size) {
      const std::string plain(size, background);
      ASSERT_EQ(WithOurs(plain), WithWriter(plain)) << size << " " << int{background};
      for (std::size_t at = 0; at < size; ++at) {
        for (int c = 1; c < 0x100; ++c) {
          std::string text = plain;
          text[at] = static_cast<char>(c);
          ASSERT_EQ(WithOurs(text), WithWriter(text)) << size << " " << at << " " << c;
        }
      }
    }
  }
}

// The patch's Base64 against the definition (RFC 4648, six bits at a time), for every length up to
// 100 (the six-at-a-time loop, the three-at-a-time rest and both paddings) and every byte value.
std::string Base64BitByBit(const std::string& data) {
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t bit = 0; bit < 8 * data.size(); bit += 6) {
    unsigned index = 0;
    for (std::size_t k = bit; k < bit + 6; ++k) {
      const bool set = k < 8 * data.size() &&
                       ((static_cast<unsigned char>(data[k / 8]) >> (7 - k % 8)) & 1) != 0;
      index = (index << 1) | (set ? 1 : 0);
    }
    out += kAlphabet[index];
  }
  while (out.size() % 4 != 0) out += '=';
  return out;
}

TEST(Base64, EveryLengthAndByteAsTheDefinitionHasIt) {
  std::mt19937 random(20261202);
  for (std::size_t size = 0; size <= 100; ++size) {
    for (int round = 0; round < 20; ++round) {
      std::string data(size, '\0');
      for (char& c : data) c = static_cast<char>(random());
      ASSERT_EQ(Base64(data), Base64BitByBit(data)) << size;
    }
  }
  std::string every(256, '\0');
  for (int c = 0; c < 256; ++c) every[static_cast<std::size_t>(c)] = static_cast<char>(c);
  EXPECT_EQ(Base64(every), Base64BitByBit(every));
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
}

}  // namespace
}  // namespace palisade::policy
