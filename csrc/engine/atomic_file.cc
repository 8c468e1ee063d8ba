// Atomic file writes with unique temporary names, and their clean-up after a
// killed save (atomic_file.h). POSIX: open(O_EXCL), fsync, rename, kill(pid, 0).
#include "engine/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

// This machine's name with every character but [A-Za-z0-9-] replaced by '-',
// so the dots of a temporary name separate its fields unambiguously.
std::string host_tag() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == 0) return "host";
  std::string tag(buf);
  for (char& c : tag) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) c = '-';
  }
  return tag;
}

// 16 hex digits that differ between threads, calls and processes.
std::string random_hex() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  v ^= counter.fetch_add(1) * 0x9E3779B97F4A7C15ull;
  v ^= std::hash<std::thread::id>()(std::this_thread::get_id());
  v ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char out[17];
  std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(v));
  return out;
}

void split_path(const std::string& path, std::string& dir, std::string& base) {
  size_t slash = path.rfind('/');
  dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  base = slash == std::string::npos ? path : path.substr(slash + 1);
}

bool all_of(const std::string& s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

// Whether process `pid` may still be running (EPERM: it exists, owned by someone else).
bool process_exists(long pid) {
  if (pid <= 0 || pid != static_cast<pid_t>(pid)) return true;  // not ours to judge
  if (pid == ::getpid()) return true;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

// Writes all of bytes to fd (retrying short writes and EINTR) and flushes it to disk.
bool write_all(int fd, const std::string& bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return ::fsync(fd) == 0;
}

}  // namespace

int remove_stale_temporaries(const std::string& path) {
  std::string dir, base;
  split_path(path, dir, base);
  const std::string prefix = base + ".tmp." + host_tag() + ".";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    // What follows the prefix must be exactly "<pid>.<16 hex>".
    const std::string rest = name.substr(prefix.size());
    const size_t dot = rest.find('.');
    if (dot == std::string::npos) continue;
    const std::string pid = rest.substr(0, dot), hex = rest.substr(dot + 1);
    if (!all_of(pid, is_digit) || pid.size() > 9 || hex.size() != 16 || !all_of(hex, is_hex)) continue;
    if (process_exists(std::stol(pid))) continue;
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  remove_stale_temporaries(path);
  const std::string stem = path + ".tmp." + host_tag() + "." + std::to_string(::getpid()) + ".";
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    tmp = stem + random_hex();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  const bool written = write_all(fd, bytes);
  const int write_err = errno;
  if (::close(fd) != 0 || !written) {
    const int err = written ? errno : write_err;
    ::unlink(tmp.c_str());
    throw Error("writing '" + path + "' failed: " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot move the engine into place at '" + path + "': " + std::strerror(err));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace engine
}  // namespace int8rt
