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
