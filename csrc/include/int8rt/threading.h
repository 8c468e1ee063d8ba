// The library-wide thread count. int8rt uses its own pool (no OpenMP, which
// clashes with the OpenMP runtimes PyTorch and ONNX Runtime load into the same
// process). Thread safety: both functions may be called from any thread; a
// change applies to parallel work started after it.
#pragma once

namespace int8rt {

// Number of threads parallel work may use, the calling thread included.
// Defaults to the number of CPUs this process may run on.
int get_num_threads();

// Sets that number; n < 1 restores the default.
void set_num_threads(int n);

}  // namespace int8rt
