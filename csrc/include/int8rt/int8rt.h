// int8rt's umbrella header: the whole public C++ API in one include
// (DESIGN.md, "The user's path": `#include <int8rt/int8rt.h>`, link
// `int8rt::int8rt` through `find_package(int8rt)`).
//
//   network.h      Network IR and the network-definition API (add_input, ...)
//   builder.h      BuilderConfig, IInt8Calibrator, Builder, build_engine
//   engine.h       Engine (create / load / save) and ExecutionContext
//   calibration.h  histograms, threshold methods (their table), TensorRT's calibration cache
//   quantization.h scale = amax / 127, per-channel int8 weights, a scale's cache hex
//   threading.h    the library-wide thread count
//   isa.h          the kernel ISA cap (INT8RT_MAX_ISA's mirror) and CPU features
//   error.h        Error and its subclasses, the only exceptions int8rt throws
//
// Public headers include only each other and the standard library, so this
// one compiles with nothing but the installed include folder on the path.
#pragma once

#include "int8rt/branch_scope.h"
#include "int8rt/builder.h"
#include "int8rt/calibration.h"
#include "int8rt/engine.h"
#include "int8rt/error.h"
#include "int8rt/int8_plan.h"
#include "int8rt/isa.h"
#include "int8rt/network.h"
#include "int8rt/quantization.h"
#include "int8rt/threading.h"
