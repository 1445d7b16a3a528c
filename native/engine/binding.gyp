{
  "targets": [
    {
      "target_name": "blu_engine",
      "sources": ["src/addon.cc", "src/kernels_portable.cc", "src/kernels_avx2.cc", "src/kernels_avx512.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=off", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "cflags_cc!": ["-fno-rtti"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=off"] },
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
