// Runtime tensors of the executor: a dtype, a physical shape and 64-byte
// aligned storage that is reused across runs (it only grows). Several Values
// may share one storage (share_storage_with): the executor's memory plan
// (memory_plan.h) gives tensors whose lifetimes do not overlap one buffer, as
// TensorRT and OpenVINO do, so a batch-8 run cycles through a few buffers
// that stay in cache instead of writing a fresh one per tensor.
//
// Layout is explicit in the shape: float tensors are in the network's (ONNX,
// NCHW) order; int8 activation tensors produced by the int8 lowering are NHWC
// and their shape says so ([N, H, W, C]).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

using Shape = std::vector<int64_t>;

// Product of the dimensions (InvalidArgument on a negative one or on overflow).
int64_t shape_numel(const Shape& shape);
size_t dtype_size(DataType dtype);
// numpy's name of the dtype: "float32", "int8", "int32", "int64", "bool", "float64", "float16", ...
const char* dtype_name(DataType dtype);
std::string shape_str(const Shape& shape);

// Frees a Value's buffer, unless it is borrowed (Value::borrow).
struct ValueBufferFree {
  bool owned = true;
  void operator()(void* p) const { if (owned) std::free(p); }
};

class Value {
 public:
  Value() = default;
  Value(DataType dtype, const Shape& shape) { reset(dtype, shape); }
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  Value(Value&&) = default;
  Value& operator=(Value&&) = default;

  // Sets dtype and shape, growing storage if needed (contents unspecified).
  // A negative dimension or a size that overflows is InvalidArgument.
  // The dims are copied into this Value's shape vector, so a reset to a
  // rank it had before and storage it has allocates nothing (every run
  // resets every tensor).
  void reset(DataType dtype, const Shape& shape);
  // Sets dtype and shape only, with the same checks, and drops the storage:
  // for shape inference, which must not allocate what it sizes. Such a value
  // has no data (has_data() is false).
  void set_shape(DataType dtype, Shape shape);
  // From now on this Value uses `other`'s storage (created if it has none):
  // whichever of them reset() grows, both see the new buffer. Only for
  // Values that are never live at the same time (each clobbers the other).
  void share_storage_with(Value& other);
  // Reads `data` (the caller's, not copied, never written through this
  // Value) as this Value's contents until reset() or release_borrowed():
  // how a run reads the user's input arrays in place. Shape checks as
  // reset(); the caller keeps `data` alive and readable for nbytes() plus
  // the 64 bytes of slack that kernels may read past a vector tail (see
  // can_borrow).
  // Borrowing again after release_borrowed() allocates nothing.
  void borrow(DataType dtype, const Shape& shape, const void* data);
  // Whether nbytes bytes at `data` can be borrowed: the 64 bytes after them
  // lie in the same 4 KiB page as the last one (a vector tail read there
  // cannot fault, and what it reads is discarded, as is reset()'s slack).
  static bool can_borrow(const void* data, size_t nbytes);
  // Drops a borrowed buffer (the Value keeps its shape, and has no data;
  // it keeps its storage record for the next borrow).
  void release_borrowed();
  bool borrowed() const { return storage_ && !storage_->data.get_deleter().owned; }
  // False for a shape-only value (set_shape), whose data<T>() is null.
  bool has_data() const { return storage_ && storage_->data; }

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  template <typename T> T* data() { return storage_ ? reinterpret_cast<T*>(storage_->data.get()) : nullptr; }
  template <typename T> const T* data() const {
    return storage_ ? reinterpret_cast<const T*>(storage_->data.get()) : nullptr;
  }

 private:
  using Free = ValueBufferFree;
  struct Storage {
    std::unique_ptr<void, Free> data;
    size_t capacity = 0;
  };
  void assign_shape(DataType dtype, const Shape& shape);

  DataType dtype_ = DataType::kFloat32;
  Shape shape_;
  std::shared_ptr<Storage> storage_;  // null: none (shape-only, or never reset)
  // The other kind of storage than storage_'s, kept for switching back: an
  // owned buffer while borrowing, a borrow record while owning (borrow()).
  std::shared_ptr<Storage> parked_;
};

}  // namespace engine
}  // namespace int8rt
