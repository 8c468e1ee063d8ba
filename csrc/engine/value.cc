// Value storage (value.h).
#include "engine/value.h"

#include "engine/dtypes.h"

#include <cstdint>
#include <new>
#include <string>

#include "core/checked_math.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

int64_t shape_numel(const Shape& shape) {
  // The common case without building the error text (numel() is called in
  // loops: a string per call made the builder's first calibration batch on
  // PP-OCR det take 20 s); checked_numel says what is wrong otherwise.
  // The overflow test is the multiply's own flag, not a division per dim
  // (the executor asks every layer input's numel on every run: a division
  // per dim was 1% of MobileNetV2's batch-1 run).
  int64_t n = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && __builtin_mul_overflow(n, d, &n))) {
      return checked_numel(shape, "tensor shape " + shape_str(shape));
    }
    empty = empty || d == 0;
  }
  return empty ? 0 : n;
}

size_t dtype_size(DataType dtype) { return element_size(dtype); }

const char* dtype_name(DataType dtype) { return data_type_name(dtype); }

bool is_float_dtype(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat64 || t == DataType::kFloat16;
}

bool is_integer_dtype(DataType t) {
  switch (t) {
    case DataType::kInt8: case DataType::kUInt8: case DataType::kInt16: case DataType::kUInt16:
    case DataType::kInt32: case DataType::kUInt32: case DataType::kInt64: case DataType::kUInt64: return true;
    default: return false;
  }
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void Value::assign_shape(DataType dtype, const Shape& shape) {
  // Forms the byte size once, checked, so numel() and nbytes() never wrap;
  // the error text only when it does (every run resets every tensor: a
  // string per reset was a third of a run's allocations).
  const int64_t numel = shape_numel(shape);
  int64_t bytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(dtype)), &bytes)) {
    checked_bytes(numel, dtype_size(dtype), "tensor shape " + shape_str(shape));
  }
  dtype_ = dtype;
  if (&shape != &shape_) shape_.assign(shape.begin(), shape.end());  // keeps shape_'s capacity
}

void Value::set_shape(DataType dtype, Shape shape) {
  assign_shape(dtype, shape);
  storage_.reset();
}

void Value::share_storage_with(Value& other) {
  if (!other.storage_) other.storage_ = std::make_shared<Storage>();
  storage_ = other.storage_;
}

void Value::borrow(DataType dtype, const Shape& shape, const void* data) {
  assign_shape(dtype, shape);
  // An owned buffer of this Value's alone is parked, not freed: a run that
  // borrows one input array and copies the next (can_borrow depends on
  // where the caller's array lies) switches between the two with no
  // allocation. The record of the last borrow is reused where it is this
  // Value's alone (a run borrows its inputs on every call).
  if (storage_ && !borrowed() && storage_.use_count() == 1) std::swap(storage_, parked_);
  if (!storage_ || !borrowed() || storage_.use_count() != 1) storage_ = std::make_shared<Storage>();
  storage_->data = std::unique_ptr<void, Free>(const_cast<void*>(data), Free{false});
  storage_->capacity = nbytes();
}

bool Value::can_borrow(const void* data, size_t nbytes) {
  constexpr uintptr_t kPage = 4096, kSlack = 64;
  const uintptr_t last = reinterpret_cast<uintptr_t>(data) + (nbytes ? nbytes - 1 : 0);
  return data && nbytes > 0 && last / kPage == (last + kSlack) / kPage;
}

void Value::release_borrowed() {
  if (!borrowed()) return;
  storage_->data.reset();  // not freed: the caller's
  storage_->capacity = 0;
}

void Value::reset(DataType dtype, const Shape& shape) {
  assign_shape(dtype, shape);
  size_t need = nbytes();
  if (borrowed()) {  // never writes a borrowed buffer: back to the parked owned one, the borrow record parked
    const bool own_parked = parked_ && parked_.use_count() == 1 && parked_->data.get_deleter().owned;
    std::swap(storage_, parked_);
    if (!own_parked) storage_.reset();
  }
  if (!storage_) storage_ = std::make_shared<Storage>();
  if (need > storage_->capacity || !storage_->data) {
    size_t bytes = ((need + 63) / 64) * 64 + 64;  // aligned size, plus slack for vector tails
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    storage_->data.reset(p);
    storage_->capacity = bytes - 64;
  }
}

}  // namespace engine
}  // namespace int8rt
