// The public kernel-selection and device queries a C++ program uses
// (int8rt/isa.h, int8rt/engine.h), checked against the registry they wrap
// (kernels/registry.h): the cap set by name is the cap the registry applies,
// an unknown name is refused listing the tiers, and the device list starts
// with the CPU, which is always usable.
#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <vector>

#include "int8rt/int8rt.h"
#include "kernels/registry.h"

namespace int8rt {
namespace {

// Restores "no programmatic cap" however a test ends.
struct CapGuard {
  ~CapGuard() { set_max_isa(std::nullopt); }
};

TEST(PublicDispatchApi, CapByNameIsTheRegistrysCap) {
  CapGuard guard;
  set_max_isa(std::string("REF"));  // names are case-insensitive
  EXPECT_EQ(get_max_isa(), "ref");
  EXPECT_EQ(kernels::max_isa(), kernels::Isa::kRef);
  set_max_isa(std::nullopt);
  EXPECT_EQ(get_max_isa(), kernels::isa_name(kernels::max_isa()));
}

TEST(PublicDispatchApi, UnknownTierIsRefused) {
  CapGuard guard;
  try {
    set_max_isa(std::string("sse9"));
    FAIL() << "set_max_isa(\"sse9\") did not throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("avx512vnni"), std::string::npos) << e.what();
  }
}

TEST(PublicDispatchApi, IsaInfoListsEveryTierLowestFirst) {
  CapGuard guard;
  set_max_isa(std::string("ref"));
  const std::vector<IsaInfo> info = isa_info();
  ASSERT_EQ(info.size(), std::size(kernels::kAllIsas));
  for (size_t i = 0; i < info.size(); ++i) {
    const kernels::Isa isa = kernels::kAllIsas[i];
    EXPECT_EQ(info[i].name, kernels::isa_name(isa));
    EXPECT_EQ(info[i].cpu, kernels::cpu_supports_isa(isa)) << info[i].name;
    EXPECT_EQ(info[i].compiled, kernels::isa_compiled(isa)) << info[i].name;
    EXPECT_EQ(info[i].enabled, isa == kernels::Isa::kRef) << info[i].name << " under cap ref";
  }
}

TEST(PublicDispatchApi, DevicesStartWithTheCpu) {
  const std::vector<std::string> devices = known_devices();
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(devices[0], "cpu");
  EXPECT_NO_THROW(require_device("cpu"));
  EXPECT_THROW(require_device("tpu"), NotSupported);
}

}  // namespace
}  // namespace int8rt
