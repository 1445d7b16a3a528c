// Portable build of the kernels: plain C++ the compiler vectorises for the baseline target.
#include "table.h"
#define KNS blu_portable
#define KNAME "portable C++"
#include "kernels.h"
