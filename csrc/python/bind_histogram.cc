// Bindings for the calibration histogram API (filled in by its implementation).
#include "python/bindings.h"

namespace int8rt {
namespace python {

void bind_histogram(pybind11::module_& m) { (void)m; }

}  // namespace python
}  // namespace int8rt
