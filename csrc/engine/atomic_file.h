// Whole-file reads and atomic writes (the engine file's save and load).
//
// write_file_atomically writes to a temporary file in the target's folder,
// named "<target>.tmp.<host>.<pid>.<16 hex random>" and created with O_EXCL
// (so two threads or processes saving to one path never share one), flushes
// it to disk and renames it into place: a reader sees the old file or the new
// one, never a part. A failure removes the temporary file. A save that was
// killed cannot remove its own; the next save to the same path removes every
// "<target>.tmp.<host>.<pid>.*" whose host is this machine and whose process
// no longer exists (a live pid, or another machine's file on a shared
// folder, is left alone: it may be a save in progress).
#pragma once

#include <string>

namespace int8rt {
namespace engine {

// Throws int8rt::Error naming `path` when the file cannot be written or moved.
void write_file_atomically(const std::string& path, const std::string& bytes);
// Temporary files of dead saves to `path` (see above) are removed; returns how many.
int remove_stale_temporaries(const std::string& path);
// Throws int8rt::Error naming `path` when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace engine
}  // namespace int8rt
