// The kernel registry (kernels/registry.h) across families: the one walk logs
// the choice and every decline the same way for conv, an element-wise op
// and SGEMM; a provider may supply a subset of the element-wise ops and the
// reference provider fills the rest; every family's list ends with its
// reference kernel; the by-name lookup is the same for every family.
// (Registry.WalksListInOrderAndLogs in test_ref_kernels.cc covers conv.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "int8rt/error.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/eltwise_s8.h"
#include "kernels/gemm_bf16.h"
#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"

namespace k = int8rt::kernels;

namespace {

void never_runs(int64_t, const int8_t*, const int8_t*, const k::AddParams&, int8_t*) {
  throw int8rt::NotSupported("fake");
}

// An add kernel of a fixed tier that declines with `reason` ("" accepts).
class FakeAdd final : public k::AddS8Kernel {
 public:
  FakeAdd(const char* name, k::Isa isa, std::string reason)
      : AddS8Kernel(name, isa, never_runs), reason_(std::move(reason)) {}
  std::string supports() const override { return reason_; }

 private:
  std::string reason_;
};

// Runs choose() under a cap with INT8RT_LOG=dispatch; returns the log.
template <class Choose>
std::string logged(std::optional<k::Isa> cap, Choose choose) {
  k::set_max_isa(cap);
  setenv("INT8RT_LOG", "dispatch", 1);
  testing::internal::CaptureStderr();
  choose();
  std::string log = testing::internal::GetCapturedStderr();
  unsetenv("INT8RT_LOG");
  k::set_max_isa(std::nullopt);
  return log;
}

// The "; passed over: ..." tail the walk must print for `list` when it
// chooses the last entry (every other one declined for the reason given).
template <class K>
std::string passed_over(const std::vector<const K*>& list) {
  std::string tail;
  for (size_t i = 0; i + 1 < list.size(); ++i) {
    tail += (tail.empty() ? "; passed over: " : "; ") + std::string(list[i]->name()) + ": " +
            k::decline_reason(*list[i]);
  }
  return tail;
}

TEST(Registry, EltwiseWalkLogsDeclinesLikeConv) {
  // The library's add_s8 list under the ref cap: every vector kernel is
  // passed over with its ISA reason, in the conv line's format (no problem).
  const std::vector<const k::AddS8Kernel*> list = k::candidates<k::AddS8Kernel>();
  std::string tail;
  const std::string log = logged(k::Isa::kRef, [&] {
    tail = passed_over(list);  // under the cap, as the walk sees it
    EXPECT_STREQ(k::choose<k::AddS8Kernel>().name(), "add_s8_ref");
  });
  EXPECT_EQ(log, "int8rt dispatch: add_s8 -> add_s8_ref (ref)" + tail + "\n");

  // A candidate's own supports() reason, from a caller-given list.
  FakeAdd picky("add_s8_fake_ref", k::Isa::kRef, "only even sizes");
  const std::vector<const k::AddS8Kernel*> mine = {&picky, &k::reference_kernel<k::AddS8Kernel>()};
  const std::string log2 = logged(std::nullopt, [&] {
    EXPECT_STREQ(k::choose_from<k::AddS8Kernel>(mine).name(), "add_s8_ref");
  });
  EXPECT_EQ(log2, "int8rt dispatch: add_s8 -> add_s8_ref (ref); passed over: add_s8_fake_ref: "
                  "only even sizes\n");
  EXPECT_THROW(k::choose_from<k::AddS8Kernel>({&picky}), int8rt::NotSupported);
}

TEST(Registry, SgemmWalkLogsDeclinesLikeConv) {
  const std::vector<const k::SgemmKernel*> list = k::candidates<k::SgemmKernel>();
  std::string tail;
  const std::string log = logged(k::Isa::kRef, [&] {
    tail = passed_over(list);
    EXPECT_STREQ(k::choose<k::SgemmKernel>().name(), "sgemm_6x8_portable");
  });
  EXPECT_EQ(log, "int8rt dispatch: sgemm_f32 -> sgemm_6x8_portable (ref)" + tail + "\n");
  for (const k::SgemmKernel* s : list) {
    if (s->isa() != k::Isa::kRef) {
      EXPECT_NE(tail.find(s->name()), std::string::npos) << tail;
    }
  }
}

TEST(Registry, ProviderMaySupplyASubsetOfElementwiseOps) {
  // A provider with one element-wise op (add), then the reference provider.
  static const FakeAdd fast_add("add_s8_fake_avx2", k::Isa::kAvx2, "");
  k::KernelRegistry r;
  r.add(fast_add);
  k::register_ref_kernels(r);

  const auto adds = r.candidates<k::AddS8Kernel>();
  ASSERT_EQ(adds.size(), 2u);
  EXPECT_EQ(adds[0], &fast_add);
  EXPECT_STREQ(adds[1]->name(), "add_s8_ref");
  // Every other op has the reference kernel only, and the walk takes it.
  k::for_each_eltwise_s8_op([&](auto family) {
    using K = typename decltype(family)::Family;
    const std::vector<const K*> list = r.candidates<K>();
    ASSERT_FALSE(list.empty()) << K::kKey.name();
    EXPECT_EQ(list.back()->isa(), k::Isa::kRef) << K::kKey.name();
    EXPECT_EQ(list.back()->name(), K::kKey.name() + "_ref");
    if (K::kKey == k::AddS8Kernel::kKey) return;
    EXPECT_EQ(list.size(), 1u) << K::kKey.name();
    EXPECT_EQ(&k::choose_from<K>(list), list.back()) << K::kKey.name();
  });
  // add: the provider's kernel wherever AVX2 may run, else the reference.
  const k::AddS8Kernel& chosen = k::choose_from<k::AddS8Kernel>(adds);
  EXPECT_EQ(&chosen, k::isa_enabled(k::Isa::kAvx2) ? adds[0] : adds[1]);
}

TEST(Registry, EveryFamilyEndsWithItsReferenceAndNamesAreUnique) {
  auto check = [](auto family) {
    using K = typename decltype(family)::Family;
    const std::vector<const K*> list = k::candidates<K>();
    ASSERT_FALSE(list.empty()) << K::kKey.name();
    EXPECT_EQ(list.back()->isa(), k::Isa::kRef) << K::kKey.name();
    std::set<std::string> names;
    int previous = static_cast<int>(k::Isa::kAmx) + 1;
    // The kernels registry.cc lists ahead of every tier (each declines all
    // but the shapes of its measured rule, RESULTS.md section 178): first.
    const std::set<std::string> ahead = {"conv_s8_igemm_narrow_16c4_avx512vnni", "conv_s8_igemv_8x32c4_avx512vnni",
                                         "conv_s8_igemm_6x64c4_c16_avx512vnni"};
    bool leading = true;
    for (const K* c : list) {
      EXPECT_TRUE(names.insert(c->name()).second) << "duplicate " << c->name();
      if (ahead.count(c->name())) {
        EXPECT_TRUE(leading) << c->name() << " is listed after a tier's kernels";
        continue;
      }
      leading = false;
      // Best ISA first: tiers never rise along the list.
      EXPECT_LE(static_cast<int>(c->isa()), previous) << c->name();
      previous = static_cast<int>(c->isa());
    }
  };
  check(k::FamilyTag<k::ConvKernel>{});
  check(k::FamilyTag<k::GemmKernel>{});
  check(k::FamilyTag<k::SgemmKernel>{});
  check(k::FamilyTag<k::GemmBf16Kernel>{});
  k::for_each_eltwise_s8_op(check);
  for (const k::Kernel* kern : k::kernel_registry().candidates(k::QuantizeS8Kernel::kKey)) {
    const std::string name = kern->name();
    EXPECT_EQ(name.rfind("quantize_s8_", 0), 0u) << name;
  }
}

TEST(Registry, ByNameIsOneLookupForEveryFamily) {
  EXPECT_STREQ(k::kernel_by_name<k::LookupS8Kernel>("lookup_s8_ref").name(), "lookup_s8_ref");
  EXPECT_STREQ(k::kernel_by_name<k::SgemmKernel>("sgemm_6x8_portable").name(),
               "sgemm_6x8_portable");
  try {
    k::kernel_by_name<k::LookupS8Kernel>("nope");
    ADD_FAILURE() << "no exception";
  } catch (const int8rt::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("lookup_s8: unknown kernel 'nope' (known: "),
              std::string::npos) << e.what();
  }
  // A vector kernel above the cap: NotSupported naming the reason.
  for (const k::SgemmKernel* s : k::candidates<k::SgemmKernel>()) {
    if (s->isa() == k::Isa::kRef) continue;
    k::set_max_isa(k::Isa::kRef);
    EXPECT_THROW(k::kernel_by_name<k::SgemmKernel>(s->name()), int8rt::NotSupported);
    k::set_max_isa(std::nullopt);
  }
}

}  // namespace
