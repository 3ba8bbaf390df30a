// Process-wide life cycle: lazy initialisation (safe from inside the first malloc), the
// thread-exit hook, and fork handlers.
#pragma once

namespace arenalloc {

// Idempotent; false only if the thread-exit key could not be created.
bool process_init() noexcept;

}  // namespace arenalloc
