// The process's allocator: tcmalloc (gperftools) in the product build, glibc's malloc in the
// sanitizer builds, whose allocators replace it. See README, "Choices".
#pragma once

namespace certgate::proxy {

// Hands the memory the allocator holds free back to the system (after a burst of
// connections, or when expired TLS sessions were swept).
void release_free_memory();

}  // namespace certgate::proxy
