#include "proxy/allocator.hpp"

#if defined(CERTGATE_TCMALLOC)
#include <gperftools/malloc_extension_c.h>
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

namespace certgate::proxy {

void release_free_memory() {
#if defined(CERTGATE_TCMALLOC)
    MallocExtension_ReleaseFreeMemory();
#elif defined(__GLIBC__)
    // glibc returns memory to the system only from the top of a heap, unless trimmed.
    ::malloc_trim(0);
#endif
}

}  // namespace certgate::proxy
