// Text taken from the caller or from a file, shown in an error message.
//
// The one rule for showing input in messages (issue 9): the text is put in
// single quotes (quoted) or not (clipped, for an op type in parentheses) and cut to at most kMaxQuotedBytes bytes, with "..." and the
// full size after the cut, so a 10 MB hex value or tensor name gives a short
// message. The cut never splits a UTF-8 sequence; bytes that are not UTF-8
// pass through unchanged (the Python bindings decode messages with
// errors="replace", csrc/python/bind_errors.cc).
// bounded_message() is the backstop for a whole message (the bindings apply
// it to every exception text), for messages built from several quoted parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace int8rt {

constexpr size_t kMaxQuotedBytes = 80;
constexpr size_t kMaxMessageBytes = 4096;

namespace quote_detail {

// The longest prefix of s of at most max bytes that ends on a UTF-8 boundary.
inline size_t utf8_cut(const std::string& s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t cut = max;
  // Step back over continuation bytes (10xxxxxx), at most 3: a lead byte
  // starts the sequence that the cut would split.
  for (int back = 0; back < 3 && cut > 0; ++back) {
    if ((static_cast<unsigned char>(s[cut]) & 0xC0) != 0x80) break;
    --cut;
  }
  return cut;
}

}  // namespace quote_detail

// True when s is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF). Names and text in int8rt's files are
// UTF-8, as ONNX's strings are; Python can only receive such text as str.
inline bool is_utf8(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// text, or "first bytes... (N bytes)" when longer than max_bytes.
inline std::string clipped(const std::string& text, size_t max_bytes = kMaxQuotedBytes) {
  if (text.size() <= max_bytes) return text;
  return text.substr(0, quote_detail::utf8_cut(text, max_bytes)) + "... (" + std::to_string(text.size()) +
         " bytes)";
}

// 'text', or 'first bytes...' (N bytes) when longer than max_bytes.
inline std::string quoted(const std::string& text, size_t max_bytes = kMaxQuotedBytes) {
  if (text.size() <= max_bytes) return "'" + text + "'";
  return "'" + text.substr(0, quote_detail::utf8_cut(text, max_bytes)) + "...' (" +
         std::to_string(text.size()) + " bytes)";
}

// A whole message cut to max_bytes, saying how much was left out.
inline std::string bounded_message(const std::string& message, size_t max_bytes = kMaxMessageBytes) {
  if (message.size() <= max_bytes) return message;
  return message.substr(0, quote_detail::utf8_cut(message, max_bytes)) + "... (message cut, " +
         std::to_string(message.size()) + " bytes)";
}

}  // namespace int8rt
