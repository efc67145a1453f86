{
  "targets": [
    {
      "target_name": "immiscible_lsa",
      "type": "static_library",
      "sources": ["src/lsa.cc"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=x86-64-v2", "-mtune=generic", "-fPIC"]
    },
    {
      "target_name": "immiscible_kernels",
      "dependencies": ["immiscible_lsa"],
      "sources": ["src/kernels.cc"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=x86-64-v2", "-mtune=generic", "-ffast-math", "-fexceptions", "-fopenmp"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
