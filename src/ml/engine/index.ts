/** Public API of the binary inference engine for packed BLU-Net files (see docs/design/engine.md). */
export { loadEngineModel, parseEngineModel, type EngineModel, type EngineLoadError } from './model.js';
export { runEngine, runEngineLogits, sizeMultiple } from './forward.js';
export type { EngineImage, EngineKernels } from './kernels.js';
export { referenceKernels } from './reference.js';
export { instantiateWasmKernels, loadWasmKernels, type WasmKernels, type WasmLoadError } from './wasm.js';
export { loadEngineKernels, loadNativeKernels, nativeEngineInfo, type NativeKernels, type NativeLoadError } from './native.js';
export { ENGINE_CHOICES, isEngineChoice, type EngineChoice } from './choice.js';
