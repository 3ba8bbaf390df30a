// The class table by steps (size_class.h), and bringing packing classes into use.
#include "core/size_class.h"

namespace arenalloc {
namespace {

// The first of the steps whose smallest request is of class c (a class's steps are consecutive:
// classes grow with requests). Every packing class has one: each spans more than a step.
inline constexpr std::array<uint16_t, kClassCount> kFirstStep = [] {
  std::array<uint16_t, kClassCount> t{};
  for (size_t i = kSteps; i-- > 0;) t[kStepClass[i]] = static_cast<uint16_t>(i);
  return t;
}();
static_assert([] {
  for (size_t c = 0; c < kClassCount; ++c)
    if (is_packing_class(c) && kStepClass[kFirstStep[c]] != c) return false;
  return true;
}());

}  // namespace

// Written only to bring a packing class into use, one byte at a time, so that a reader sees a
// step's old class or its new one.
alignas(64) constinit std::array<uint8_t, kSteps> g_step_class = kStepClassAtStart;

void use_packing_class(size_t c) noexcept {
  size_t i = kFirstStep[c];
  if (__atomic_load_n(&g_step_class[i], __ATOMIC_RELAXED) == c) return;  // in use already
  for (; i < kSteps && kStepClass[i] == c; ++i)
    __atomic_store_n(&g_step_class[i], static_cast<uint8_t>(c), __ATOMIC_RELAXED);
}

}  // namespace arenalloc
