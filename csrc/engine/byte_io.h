// Little-endian binary writer and bounds-checked reader for the engine file.
// Every read checks the remaining length, so a truncated or corrupted file
// becomes a FormatError naming what was being read, never a crash.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/quote.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

class ByteWriter {
 public:
  template <typename T> void pod(T v) {
    const char* p = reinterpret_cast<const char*>(&v);
    out_.append(p, sizeof(T));
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    out_.append(s);
  }
  void raw(const void* data, size_t n) { out_.append(static_cast<const char*>(data), n); }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  ByteReader(const char* data, size_t size, std::string what) : p_(data), end_(data + size), what_(std::move(what)) {}

  template <typename T> T pod(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  std::string str(const char* field) {
    uint64_t n = pod<uint64_t>(field);
    need(n, field);
    std::string s(p_, p_ + n);
    p_ += n;
    // Every string of the format is text that reaches Python as str.
    if (!is_utf8(s)) fail(std::string(field) + " " + ::int8rt::quoted(s) + " is not UTF-8");
    return s;
  }
  void raw(void* dst, size_t n, const char* field) {
    need(n, field);
    if (n == 0) return;  // dst may be the null data() of an empty vector
    std::memcpy(dst, p_, n);
    p_ += n;
  }
  // A count that must fit in what is left when each item takes >= min_item bytes.
  uint64_t count(const char* field, size_t min_item) {
    uint64_t n = pod<uint64_t>(field);
    if (min_item > 0 && n > remaining() / min_item) fail(std::string("implausible ") + field + " count");
    return n;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  [[noreturn]] void fail(const std::string& msg) const { throw FormatError(what_ + ": " + msg); }

 private:
  void need(uint64_t n, const char* field) const {
    if (n > remaining()) fail(std::string("truncated while reading ") + field);
  }
  const char* p_;
  const char* end_;
  std::string what_;
};

}  // namespace engine
}  // namespace int8rt
