#include "core/size_class.h"

#include <gtest/gtest.h>

using namespace arenalloc;

TEST(SizeClass, SizesIncreaseAndEndAtTheLargestClass) {
  for (size_t c = 1; c < kClassCount; ++c) EXPECT_GT(class_size(c), class_size(c - 1)) << c;
  EXPECT_EQ(class_size(0), 16u);
  EXPECT_EQ(class_size(kClassCount - 1), kMaxClassSize);
}

TEST(SizeClass, EveryMultipleOf16UpTo128) {
  for (size_t c = 0; c < kSmallClasses; ++c) EXPECT_EQ(class_size(c), (c + 1) * 16);
}

TEST(SizeClass, BlocksOfSixteenBytesOrMoreAreSixteenAligned) {
  for (size_t c = 0; c < kClassCount; ++c) EXPECT_EQ(class_size(c) % 16, 0u) << c;
}

TEST(SizeClass, AtMostOneEighthApartAbove128) {
  for (size_t c = kSmallClasses; c < kClassCount; ++c) {
    double waste = double(class_size(c) - class_size(c - 1) - 1) / double(class_size(c));
    EXPECT_LE(waste, 0.125) << "class " << c << " size " << class_size(c);
  }
}

TEST(SizeClass, ClassOfIsTheSmallestClassThatFits) {
  for (size_t n = 0; n <= kMaxClassSize; ++n) {
    size_t c = class_of(n);
    ASSERT_LT(c, kClassCount);
    ASSERT_GE(class_size(c), n) << n;
    if (c > 0) {
      ASSERT_LT(class_size(c - 1), n) << n;
    }
  }
}

TEST(SizeClass, PowersOfTwoAreClasses) {
  for (size_t p = 16; p <= kMaxClassSize; p *= 2) EXPECT_EQ(class_size(class_of(p)), p);
}

TEST(SizeClass, DirectRangesCoverTheTableOnce) {
  std::vector<int> covered(kDirectCount, 0);
  for (size_t c = 0; c < kClassCount && class_size(c) <= kDirectMax; ++c)
    for (size_t i = class_direct_first(c); i <= class_direct_last(c); ++i) {
      ++covered[i];
      EXPECT_EQ(kDirectClass[i], c);
    }
  for (size_t i = 0; i < kDirectCount; ++i) EXPECT_EQ(covered[i], 1) << i;
}

TEST(SizeClass, PagesHoldSeveralBlocks) {
  for (size_t c = 0; c < kClassCount; ++c) {
    size_t slices = class_page_slices(c);
    EXPECT_GE(slices, 1u);
    EXPECT_LE(slices, 8u);
    EXPECT_GE(slices * kSliceSize / class_size(c), 4u) << c;
  }
}

// aligned_request's claim: the class of the smallest multiple of the alignment that holds the
// request is the smallest class that is a multiple of the alignment (the search the aligned paths
// made before, class by class).
TEST(SizeClass, AlignedRequestIsTheSmallestClassThatIsAMultipleOfTheAlignment) {
  for (size_t align = 16; align <= kSliceSize; align *= 2) {
    for (size_t n = 0; n <= kMaxClassSize; n += (n < 4096 ? 1 : 61)) {
      size_t want = class_of(n);
      while (want < kClassCount && class_size(want) % align != 0) ++want;
      ASSERT_LT(want, kClassCount) << n << " at " << align;
      size_t request = aligned_request(n, align);
      ASSERT_EQ(class_of(request), want) << n << " at " << align;
      ASSERT_LE(request, class_size(want)) << n << " at " << align;
    }
  }
}
