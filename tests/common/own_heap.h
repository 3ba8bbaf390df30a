// Shared by the test folders: run a test body on a thread of its own, so that it works on a heap
// of its own (a new thread's heap is made on its first allocation) and leaves the test process's
// heaps as they were.
#pragma once

#include <thread>

namespace testcommon {

template <class F>
void in_new_thread(F f) {
  std::thread t(f);
  t.join();
}

}  // namespace testcommon
