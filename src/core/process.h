// Process-wide life cycle: lazy initialisation (safe from inside the first malloc), the
// thread-exit hook, and fork handlers.
#pragma once

namespace arenalloc {

// Idempotent; false only if the thread-exit key could not be created.
bool process_init() noexcept;
// The same, plus the fork handlers: before the first heap (a thread's or a private one).
bool process_init_for_heaps() noexcept;

}  // namespace arenalloc
