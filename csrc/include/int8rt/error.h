// int8rt's exception types. Every error the library raises is one of these;
// the Python bindings map each to a Python exception of the same name
// (int8rt.Error, int8rt.InvalidArgumentError, int8rt.FormatError,
// int8rt.NotSupportedError). Messages name the layer, tensor or file involved.
#pragma once

#include <stdexcept>
#include <string>

namespace int8rt {

// Base of all int8rt errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed a bad value: wrong shape, dtype, NaN in data, unknown name.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file or byte string (calibration cache, engine file, model) is malformed.
class FormatError : public Error {
 public:
  using Error::Error;
};

// The request is well formed but int8rt does not implement it.
class NotSupported : public Error {
 public:
  using Error::Error;
};

}  // namespace int8rt
