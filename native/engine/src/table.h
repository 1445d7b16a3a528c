// The engine's row kernels as one table per instruction set (kernels.h is compiled once per set
// by kernels_*.cc). Every function takes the memory's base address and its arguments as the
// doubles JavaScript passed: offsets into that memory (0 = none) and integers, exactly the
// arguments of the same-named exports of src/ml/engine/assembly/kernels.ts.
#ifndef BLU_ENGINE_TABLE_H
#define BLU_ENGINE_TABLE_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

typedef int (*RowKernel)(uint8_t* base, const double* args);

// Order = the function ids src/ml/engine/native.ts passes.
enum KernelId { FIRST_ROWS, XNOR_ROWS, XNOR_ROWS_MASKED, SEPARABLE_ROWS, MAX_POOL_ROWS, MAX_POOL_ORDERED_ROWS, BINARISE_ROW, BINARY_CONV_ROW, PEAK_FMA, PEAK_XNOR, KERNEL_COUNT };

struct KernelTable {
  const char* name;
  /** Filters per pointwise panel strip the GEMM expects (pointwisePanels in wasm.ts). */
  int panelStrip;
  RowKernel kernels[KERNEL_COUNT];
};

// Optional profile (bench:engine): nanoseconds per kernel stage, summed over threads.
enum Stage { STAGE_FIRST, STAGE_XNOR, STAGE_DECODE, STAGE_DEPTHWISE, STAGE_GEMM, STAGE_BINARISE, STAGE_POOL, STAGE_COUNT };
extern int bluProfiling;
extern uint64_t bluProfileNs[STAGE_COUNT];
uint64_t bluNowNs();

namespace blu_avx512 { extern const KernelTable table; }
namespace blu_avx2 { extern const KernelTable table; }
namespace blu_portable { extern const KernelTable table; }

#endif
