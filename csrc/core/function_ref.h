// A non-owning reference to a callable (C++26's std::function_ref, in
// small): two pointers, never allocates. For calls that run the callable
// before they return (parallel_for), where a std::function parameter made
// every lambda capturing more than two variables a heap allocation per call
// (a few hundred per ResNet-50 run). The referenced callable must outlive
// every call through the reference; a temporary lambda passed straight to
// such a function lives until the call returns.
#pragma once

#include <type_traits>
#include <utility>

namespace int8rt {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                                     std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): binds like a std::function parameter
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* obj, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(obj))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

}  // namespace int8rt
