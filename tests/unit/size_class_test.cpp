#include "core/size_class.h"

#include "core/alloc.h"

#include <gtest/gtest.h>

#include <vector>

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

// The reference: every class in use, as the table is once each packing class has come into use.
TEST(SizeClass, ClassOfComputedIsTheSmallestClassThatFits) {
  for (size_t n = 0; n <= kMaxClassSize; ++n) {
    size_t c = class_of_computed(n);
    ASSERT_LT(c, kClassCount);
    ASSERT_GE(class_size(c), n) << n;
    if (c > 0) {
      ASSERT_LT(class_size(c - 1), n) << n;
    }
  }
}

// At start the table leaves every packing class out (size_class.h): a request of its sizes gets
// the class above it, the smallest class that fits otherwise. use_packing_class brings them in,
// one at a time; then class_of is the smallest class that fits. (In a process of its own, as
// ctest runs each test: no page of those sizes has filled before.)
TEST(SizeClass, ClassOfLeavesPackingClassesOutUntilTheyComeIntoUse) {
  for (size_t n = 0; n <= kMaxClassSize; ++n) {
    size_t c = class_of(n), want = class_of_computed(n);
    ASSERT_EQ(c, is_packing_class(want) ? want + 1 : want) << n;
  }
  size_t sqlite_page = class_of_computed(4368);
  ASSERT_TRUE(is_packing_class(sqlite_page));
  EXPECT_EQ(class_size(class_of(4368)), 4608u);
  use_packing_class(sqlite_page);
  EXPECT_EQ(class_size(class_of(4368)), 4368u);
  EXPECT_EQ(class_size(class_of(4369)), 4608u);
  EXPECT_EQ(class_size(class_of(4096)), 4096u);
  EXPECT_EQ(class_size(class_of(8200)), 9216u);  // another packing class, still out
  for (size_t c = 0; c < kClassCount; ++c)
    if (is_packing_class(c)) use_packing_class(c);
  for (size_t n = 0; n <= kMaxClassSize; ++n) ASSERT_EQ(class_of(n), class_of_computed(n)) << n;
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

// aligned_class's claim: the class of the smallest multiple of the alignment that holds the
// request, or the class above it where that is a packing class, is the smallest class that is a
// multiple of the alignment (the search the aligned paths made before, class by class).
TEST(SizeClass, AlignedRequestIsTheSmallestClassThatIsAMultipleOfTheAlignment) {
  for (size_t align = 16; align <= kSliceSize; align *= 2) {
    for (size_t n = 0; n <= kMaxClassSize; n += (n < 4096 ? 1 : 61)) {
      size_t want = class_of(n);
      while (want < kClassCount && class_size(want) % align != 0) ++want;
      ASSERT_LT(want, kClassCount) << n << " at " << align;
      size_t request = aligned_request(n, align);
      ASSERT_EQ(aligned_class(n, align), want) << n << " at " << align;
      ASSERT_LE(request, class_size(want)) << n << " at " << align;
    }
  }
}

// Below each series class above 4 KiB whose page could hold one block more of a smaller size
// above the class before, a packing class of that size (size_class.h): its page has the same
// slices and one block more.
TEST(SizeClass, PackingClassesHoldOneBlockMoreInTheSamePage) {
  size_t packing = 0;
  for (size_t c = 1; c + 1 < kClassCount; ++c) {
    if (class_size(c) <= kPackingMin || class_size(c) % 512 == 0) continue;
    ++packing;
    size_t next = c + 1;  // its series class
    EXPECT_EQ(class_size(next) % 512, 0u) << class_size(c);
    EXPECT_EQ(class_page_slices(c), class_page_slices(next)) << class_size(c);
    size_t page = class_page_slices(c) * kSliceSize;
    EXPECT_EQ(page / class_size(c), page / class_size(next) + 1) << class_size(c);
    EXPECT_EQ(page / (class_size(c) + 16), page / class_size(next)) << class_size(c);  // largest
  }
  EXPECT_EQ(packing, kClassCount - kSeriesClasses);
  EXPECT_GE(packing, 20u);
  // sqlite's page cache: a 4096-byte page and its 272-byte header.
  EXPECT_EQ(class_size(class_of_computed(4368)), 4368u);
  EXPECT_EQ(class_size(class_of_computed(4369)), 4608u);
  EXPECT_EQ(class_size(class_of_computed(8192 + 64)), 8736u);
}
