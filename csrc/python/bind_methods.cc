// Bindings for the calibration methods API (filled in by its implementation).
#include "python/bindings.h"

namespace int8rt {
namespace python {

void bind_methods(pybind11::module_& m) { (void)m; }

}  // namespace python
}  // namespace int8rt
