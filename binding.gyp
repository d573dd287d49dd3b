{
  "targets": [
    {
      "target_name": "bundlebase_arrow",
      "sources": ["native/arrow_chunk.c", "native/index_scan.c", "native/function_source.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-ldl", "-lpthread", "-lm"]
    }
  ]
}
