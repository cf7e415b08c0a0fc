{
  "targets": [
    {
      "target_name": "ordo",
      "dependencies": ["ordo_avx2"],
      "sources": ["<!@(node scripts/native-sources.cjs kernels cudaStub addon)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "ORDO_HAVE_AVX2_KERNELS=1"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden", "-fvisibility-inlines-hidden"],
      "conditions": [
        ["OS=='linux'", {
          "ldflags": ["-Wl,--version-script=<(module_root_dir)/native/napi/exports.map"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_ENABLE_CPP_RTTI": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        ["OS=='win'", {
          "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] } }
        }]
      ]
    },
    {
      "target_name": "ordo_avx2",
      "type": "static_library",
      "sources": ["<!@(node scripts/native-sources.cjs avx2)"],
      "include_dirs": ["native"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-fPIC", "-mavx2", "-mfma"]
    }
  ]
}
